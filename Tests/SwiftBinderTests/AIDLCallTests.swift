import ScriptedBinderDriver
import Synchronization
import SwiftBinder
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `IBinder.call`, what every generated proxy method is: on a proxy it writes the request into
/// storage its thread lends it and frees the reply's buffer itself, so these check that it
/// sends exactly what the general path (`prepareTransaction`, `transact`) sends, reads the
/// reply the same way, and hands every reply buffer back whatever the reading does.
@Suite struct AIDLCallTests {
    static let descriptor = InterfaceDescriptor("org.swiftbinder.test.IAIDLCall")

    static func process(_ driver: ScriptedDriver, _ release: AndroidRelease = .android16) throws -> BinderProcess {
        try BinderProcess(driver: driver, release: .init(release: release, source: "test"))
    }

    static func bytes(_ build: (inout Parcel) -> Void) -> [UInt8] {
        var parcel = Parcel()
        build(&parcel)
        return parcel.dataBytes
    }

    /// The request the general path builds for the same call.
    static func expectedRequest(_ release: AndroidRelease, _ value: Int32) -> [UInt8] {
        var parcel = Parcel(wireFormat: release.wireFormat)
        parcel.writeInterfaceToken(descriptor)
        parcel.writeInt32(value)
        parcel.writeString16("ünïcode")
        return parcel.dataBytes
    }

    @Test(arguments: AndroidRelease.allCases)
    func aCallSendsWhatTheGeneralPathSendsAndFreesTheReply(_ release: AndroidRelease) throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver, release)
        let proxy = try process.proxy(forHandle: 3)
        for value: Int32 in [7, 8] {  // the second call writes into the storage the first gave back
            driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes { $0.writeInt32(0); $0.writeInt32(value * 10) }))
            let answer = try proxy.call(code: 5, interface: Self.descriptor, flags: []) { request in
                request.writeInt32(value)
                request.writeString16("ünïcode")
            } result: { (reply: inout Parcel) throws(ParcelError) in
                try reply.readInt32()
            }
            #expect(answer == value * 10)
        }
        let written = driver.commands.filter { $0.command == .transaction }
        #expect(written.map(\.data) == [Self.expectedRequest(release, 7), Self.expectedRequest(release, 8)])
        #expect(written.allSatisfy { $0.transaction?.target == 3 && $0.transaction?.code == 5 })
        #expect(driver.commands.filter { $0.command == .freeBuffer }.count == 2)
        #expect(driver.liveBuffers.isEmpty)
        #expect(driver.badFrees.isEmpty)
    }

    enum ReplyCase: String, CaseIterable {
        case exception, empty, statusOnly, truncatedStatus, readerThrows, shortStatusReply
    }

    /// However the reply ends the call (an exception, too little data, a reader that finds a
    /// value it refuses), the caller gets the one error generated code reports (`RemoteError`), the reply's buffer goes
    /// back to the driver, and the next call on the thread works.
    @Test(arguments: ReplyCase.allCases)
    func everyReplyBufferIsFreedWhateverTheReadingDoes(_ replyCase: ReplyCase) throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let proxy = try process.proxy(forHandle: 3)
        let returns: Returns
        switch replyCase {
        case .exception:
            returns = driver.reply(Self.bytes { $0.writeStatus(Status(exception: .illegalArgument, message: "no")) })
        case .empty: returns = driver.reply([])
        case .statusOnly: returns = driver.reply(Self.bytes { $0.writeInt32(0) })
        case .truncatedStatus: returns = driver.reply([0, 0])
        case .readerThrows: returns = driver.reply(Self.bytes { $0.writeInt32(0); $0.writeInt32(1) })
        case .shortStatusReply: returns = driver.reply(Self.bytes { $0.writeInt32(0) }, flags: .statusCode)
        }
        driver.enqueue(Returns().transactionComplete() + returns)
        let error = #expect(throws: (any Error).self) {
            try proxy.call(code: 5, interface: Self.descriptor, flags: []) { $0.writeInt32(1) } result: {
                (reply: inout Parcel) throws(ParcelError) -> Int32 in
                let value = try reply.readInt32()
                if replyCase == .readerThrows { throw .invalidEnumValue(Int64(value), offset: 4) }
                return value
            }
        }
        switch replyCase {
        case .exception:
            guard case .exception(let status)? = error as? RemoteError else { Issue.record("\(String(describing: error))"); return }
            #expect(status.exception == .illegalArgument && status.message == "no")
        case .empty, .statusOnly, .truncatedStatus, .shortStatusReply:
            guard case .transport(.malformedParcel)? = error as? RemoteError else { Issue.record("\(String(describing: error))"); return }
        case .readerThrows:
            #expect(error as? RemoteError == .transport(.malformedParcel(.invalidEnumValue(1, offset: 4))))
        }
        #expect(driver.liveBuffers.isEmpty)
        #expect(driver.badFrees.isEmpty)

        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes { $0.writeInt32(0); $0.writeInt32(5) }))
        #expect(try proxy.call(code: 5, interface: Self.descriptor, flags: []) { _ in } result: { (reply: inout Parcel) throws(ParcelError) in try reply.readInt32() } == 5)
        #expect(driver.liveBuffers.isEmpty)
    }

    /// An object that, called while this thread waits for its own call, makes an AIDL call of
    /// its own: that request is written while the thread's lent storage is out.
    final class CallsOut: BinderObject, @unchecked Sendable {
        let proxy: BinderProxy
        init(proxy: BinderProxy) { self.proxy = proxy }
        var node: NodeIdentity { NodeIdentity(pointer: nodeID, cookie: nodeCookie) }

        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            let value = try data.readInt32()
            let answer = try proxy.call(code: 6, interface: AIDLCallTests.descriptor, flags: []) { request in
                request.writeInt32(value + 1)
                request.writeString16("ünïcode")
            } result: { (reply: inout Parcel) throws(ParcelError) in try reply.readInt32() }
            reply.writeInt32(answer)
        }
    }

    @Test func aCallMadeWhileServingANestedCallWritesItsOwnRequest() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let proxy = try process.proxy(forHandle: 3)
        let object = CallsOut(proxy: proxy)
        var publishing = Parcel()
        publishing.writeStrongBinder(object)
        // The outer call is answered by a call to the object, whose own call is answered with
        // 40; then the outer call gets its reply.
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 1, Self.bytes { $0.writeInt32(20) }))
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes { $0.writeInt32(0); $0.writeInt32(40) }))
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes { $0.writeInt32(0); $0.writeInt32(50) }))
        let answer = try proxy.call(code: 5, interface: Self.descriptor, flags: []) { request in
            request.writeInt32(10)
            request.writeString16("ünïcode")
        } result: { (reply: inout Parcel) throws(ParcelError) in try reply.readInt32() }
        #expect(answer == 50)
        let written = driver.commands.filter { $0.command == .transaction || $0.command == .reply }
        #expect(written.map(\.command) == [.transaction, .transaction, .reply])
        #expect(written[0].data == Self.expectedRequest(.android16, 10))
        #expect(written[1].data == Self.expectedRequest(.android16, 21))
        #expect(written[2].data == Self.bytes { $0.writeInt32(40) })
        #expect(driver.liveBuffers.isEmpty)
        _ = consume publishing
    }

    /// A oneway call sends the same request, flagged oneway, and waits for no reply.
    @Test func aOnewayCallSendsTheSameRequestFlaggedOneway() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let proxy = try process.proxy(forHandle: 3)
        driver.enqueue(Returns().transactionComplete())
        try proxy.callOneway(code: 5, interface: Self.descriptor, flags: []) { request in
            request.writeInt32(9)
            request.writeString16("ünïcode")
        }
        let written = try #require(driver.commands.first { $0.command == .transaction })
        #expect(written.data == Self.expectedRequest(.android16, 9))
        #expect(written.transaction?.flags.contains(.oneWay) == true)
        #expect(!driver.commands.contains { $0.command == .freeBuffer })
    }
}

/// What generated interfaces offer every value: its binder (`asBinder()`), and death links on
/// it without casting to a proxy.
@Suite struct GeneratedInterfaceTests {
    final class Callback: android.os.IServiceCallback.Service, @unchecked Sendable {
        func onRegistration(name: String, binder: any IBinder) throws {}
    }

    @Test func aLocalServiceHasOneBinderThatServesIt() throws {
        let service = Callback()
        let binder = service.asBinder()
        #expect(binder === service.asBinder())
        #expect((binder as? android.os.IServiceCallback.Stub)?.service === service)
        // A local object does not die: linking to it fails, as BBinder::linkToDeath does.
        let error = #expect(throws: BinderError.self) { _ = try binder.linkToDeath {} }
        guard case .unsupported? = error else { Issue.record("\(String(describing: error))"); return }
    }

    final class AsyncCallback: android.os.IServiceCallback.AsyncService, @unchecked Sendable {
        let contexts = Mutex<[CallContext]>([])
        func onRegistration(name: String, binder: any IBinder, context: CallContext) async throws {
            contexts.withLock { $0.append(context) }
        }
    }

    /// Called in place from this process, an async service is told its caller is this process
    /// (not pid 0 and euid 0, which a service could take for root).
    @Test func aLocalCallerIsThisProcess() async throws {
        let service = AsyncCallback()
        try await android.os.IServiceCallback.AsyncProxy(service.asBinder()).onRegistration(name: "local", binder: service.asBinder())
        let context = try #require(service.contexts.withLock { $0.first })
        #expect(context.caller.pid == getpid() && context.caller.euid == geteuid())
        #expect(context.isOneway)
    }

    @Test func anAsyncServiceHasOneStubAndPassesAsAnInterfaceValue() throws {
        let service = AsyncCallback()
        let binder = service.asBinder()
        #expect(binder === service.asBinder())
        #expect((binder as? android.os.IServiceCallback.AsyncStub)?.service === service)
        #expect(service.asService.asBinder() === binder)  // sent as that stub
    }

    @Test func aProxysBinderIsTheRemoteObjectAndTakesDeathLinks() throws {
        let driver = ScriptedDriver()
        let process = try AIDLCallTests.process(driver)
        let remote = try process.proxy(forHandle: 3)
        let service: any android.os.IServiceCallback.Service = android.os.IServiceCallback.Proxy(remote)
        #expect(service.asBinder() === remote)
        let link = try service.asBinder().linkToDeath {}
        #expect(driver.commands.contains { $0.command == .requestDeathNotification })
        try service.asBinder().unlinkToDeath(link)
        #expect(driver.commands.contains { $0.command == .clearDeathNotification })
    }

    @Test func aProcessOpensAPathGivenAsAString() {
        let path: String = "/nonexistent/binder-\(getpid())"
        let error = #expect(throws: BinderError.self) { _ = try BinderProcess(path: path) }
        guard case .systemCall(_, let failedPath, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(failedPath?.string == path)
    }
}
