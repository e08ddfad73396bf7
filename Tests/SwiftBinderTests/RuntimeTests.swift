import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The runtime against the real driver: this process is the client, `binder-test-peer serve`
/// the service (context manager) in another process.
@Suite(.requiresBinder) struct RuntimeTests {
    /// A device, the peer serving on it, and a client process with its proxy to the service.
    final class Setup {
        let device: TestDevice
        let server: ChildProcess
        let client: BinderProcess
        let service: BinderProxy

        init(_ label: String, maxThreads: Int? = nil, clientThreadPool: Bool = false) throws {
            device = try TestDevice(label)
            try device.binderfs.setAccess(ofDevice: device.name, mode: FilePermissions(rawValue: 0o666))
            server = try ChildProcess(
                ChildProcess.builtProduct("binder-test-peer"),
                ["serve", device.path.string] + (maxThreads.map { [String($0)] } ?? []))
            let ready = try server.readLine()
            guard ready == "ready" else { throw BinderError.unsupported("the peer said \(ready ?? "nothing")") }
            client = try BinderProcess(path: device.path)
            if clientThreadPool { client.startThreadPool() }
            service = try client.contextObject
        }

        func call(_ code: TestServiceCode, _ write: (inout Parcel) -> Void = { _ in }) throws -> Parcel {
            var request = Parcel()
            write(&request)
            return try service.transact(code: code.rawValue, data: request)
        }

        deinit {
            client.shutdown()
        }
    }

    @Test func syncCallWithReply() throws {
        let setup = try Setup("sync")
        var reply = try setup.call(.echo) { $0.writeString16("hello, runtime") }
        #expect(try reply.readString16() == "hello, runtime")
        #expect(try setup.service.interfaceDescriptor() == testServiceDescriptor)
        try setup.service.ping()
        #expect(try setup.service.debugPID() == setup.server.pid)
        #expect(setup.service.isAlive)
    }

    @Test func unknownCodeIsAStatusError() throws {
        let setup = try Setup("unknown")
        let error = #expect(throws: BinderError.self) { _ = try setup.service.transact(code: 999, data: Parcel()) }
        #expect(error == .remoteStatus(.unknownTransaction))
    }

    @Test func callerIdentityIsTheKernels() throws {
        let setup = try Setup("identity")
        var reply = try setup.call(.whoAmI)
        #expect(try reply.readInt32() == getpid())
        #expect(try reply.readInteger(as: UInt32.self) == geteuid())
    }

    @Test func callerIdentityOfAProcessThatDroppedToAnotherUid() throws {
        let setup = try Setup("uid")
        let helper = try ChildProcess(
            ChildProcess.builtProduct("binder-test-peer"), ["call-whoami", setup.device.path.string, "1000"])
        let line = try helper.readLine() ?? ""
        #expect(try helper.waitForExit() == 0)
        #expect(line == "\(helper.pid) 1000")
    }

    @Test func thousandOnewayCallsArriveInOrder() throws {
        let setup = try Setup("oneway")
        for value in 0..<1000 {
            var request = Parcel()
            request.writeInt32(Int32(value))
            let delivery = try setup.service.transactOneway(code: TestServiceCode.record.rawValue, data: request)
            #expect(delivery == .delivered)
        }
        var recorded: [Int32] = []
        let complete = try eventually(within: 20) {
            var reply = try setup.call(.recorded)
            recorded = try reply.readIntegerArray(of: Int32.self)
            return recorded.count >= 1000
        }
        #expect(complete)
        #expect(recorded == (0..<1000).map(Int32.init))
    }

    @Test func nestedCallbacksTenLevelsDeep() throws {
        let setup = try Setup("nested")
        let callback = Callback()
        var reply = try setup.call(.nested) { request in
            request.writeStrongBinder(callback)
            request.writeInt32(10)
        }
        #expect(try reply.readInt32() == 10)
        // Five of the ten hops ran in this process, on the thread that made the first call.
        #expect(callback.calls.load(ordering: .relaxed) == 5)
    }

    @Test func fourClientThreadsGrowTheServersPoolUpToItsMaximum() throws {
        let setup = try Setup("pool", maxThreads: 3)
        let failures = Atomic<Int>(0)
        let service = setup.service
        onThreads(4) { _ in
            for _ in 0..<1000 {
                var request = Parcel()
                request.writeInt32(200)
                do {
                    _ = try service.transact(code: TestServiceCode.work.rawValue, data: request)
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        var stats = try setup.call(.threadStats)
        let servingThreads = try stats.readInt32()
        let mostAtOnce = try stats.readInt32()
        let started = try stats.readInt32()
        let maximum = try stats.readInt32()
        #expect(maximum == 3)
        // The pool's main looper plus at most `maximum` threads spawned at the driver's request;
        // the peer's own main thread also joined the pool, as libbinder services do.
        #expect(started > 1)
        #expect(started <= maximum + 1)
        #expect(servingThreads <= maximum + 2)
        #expect(mostAtOnce > 1)
    }

    @Test func deathNotificationFiresWhenTheServerIsKilled() throws {
        let setup = try Setup("death", clientThreadPool: true)
        let died = Atomic<Int>(0)
        _ = try setup.service.linkToDeath { died.add(1, ordering: .relaxed) }
        let killedAt = monotonicSeconds()
        kill(setup.server.pid, SIGKILL)
        #expect(eventually(within: 5) { died.load(ordering: .relaxed) == 1 })
        #expect(monotonicSeconds() - killedAt < 5)
        #expect(!setup.service.isAlive)
        let error = #expect(throws: BinderError.self) { try setup.service.ping() }
        guard case .transactionFailed(.deadTarget, _) = error else {
            Issue.record("expected a dead target, got \(String(describing: error))")
            return
        }
    }

    /// The death as an async sequence: one element when the server is killed, then the end
    /// (the client's thread pool is started by asking for it).
    @Test func deathEventsEndWithTheServersDeath() async throws {
        let setup = try Setup("death-events")
        let events = try setup.service.deathEvents()
        kill(setup.server.pid, SIGKILL)
        let count = try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                var count = 0
                for await _ in events { count += 1 }
                return count
            }
            group.addTask {
                try await Task.sleep(for: .seconds(20))  // only if the notice never comes
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        #expect(count == 1)
        #expect(!setup.service.isAlive)
    }

    @Test func unlinkedDeathNotificationDoesNotFire() throws {
        let setup = try Setup("unlink", clientThreadPool: true)
        let died = Atomic<Int>(0)
        let link = try setup.service.linkToDeath { died.add(1, ordering: .relaxed) }
        let other = Atomic<Int>(0)
        _ = try setup.service.linkToDeath { other.add(1, ordering: .relaxed) }
        try setup.service.unlinkToDeath(link)
        kill(setup.server.pid, SIGKILL)
        // Handlers run in link order, the unlinked one first had it stayed: once the later one
        // ran, the notice has been handled.
        #expect(eventually(within: 5) { other.load(ordering: .relaxed) == 1 })
        #expect(died.load(ordering: .relaxed) == 0)
    }

    @Test(.requiresDriverFeature(\.freezeNotification, "freeze_notification"))
    func freezeNotificationsFollowTheServersState() throws {
        let setup = try Setup("freeze", clientThreadPool: true)
        let states = Mutex<[Bool]>([])
        _ = try setup.service.addFrozenStateCallback { frozen in states.withLock { $0.append(frozen) } }
        #expect(eventually(within: 1) { states.withLock { $0 } == [false] })
        try setup.client.freeze(pid: setup.server.pid, frozen: true, timeoutMilliseconds: 1000)
        #expect(eventually(within: 1) { states.withLock { $0.last } == true })
        let error = #expect(throws: BinderError.self) { try setup.service.ping() }
        guard case .transactionFailed(.frozenTarget, _) = error else {
            Issue.record("expected a frozen target, got \(String(describing: error))")
            return
        }
        try setup.client.freeze(pid: setup.server.pid, frozen: false)
        #expect(eventually(within: 1) { states.withLock { $0.last } == false })
        try setup.service.ping()
    }

    @Test func aPipeCarriesDataBothWays() throws {
        let setup = try Setup("pipe")
        let pipe = try FileDescriptor.pipe()
        _ = try pipe.writeEnd.writeAll(Array("through binder".utf8))
        try pipe.writeEnd.close()
        var reply = try setup.call(.reversePipe) { $0.writeParcelFileDescriptor(transferring: ParcelFileDescriptor(pipe.readEnd)) }
        let back = try reply.readParcelFileDescriptor()
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = try bytes.withUnsafeMutableBytes { try back.fileDescriptor.read(into: $0) }
        #expect(String(decoding: bytes[..<count], as: UTF8.self) == "rednib hguorht")
    }

    @Test func aTransactionLargerThanTheReceiversBufferFails() throws {
        let setup = try Setup("large")
        var request = Parcel()
        request.writeString16("x")
        request.writeByteArray([UInt8](repeating: 7, count: 2 * 1024 * 1024))
        let error = #expect(throws: BinderError.self) { _ = try setup.service.transact(code: TestServiceCode.echo.rawValue, data: request) }
        guard case .transactionFailed(.failed, let extended) = error else {
            Issue.record("expected BR_FAILED_REPLY, got \(String(describing: error))")
            return
        }
        // Where the driver records extended errors, the runtime attaches the kernel's.
        #expect(setup.client.features.extendedError == (extended?.command == .failedReply))
        // The service is still there.
        try setup.service.ping()
    }

    @Test func aDroppedProxyReleasesTheNodeInTheServer() throws {
        let setup = try Setup("release")
        func objectCount() throws -> Int32 {
            var reply = try setup.call(.objectCount)
            return try reply.readInt32()
        }
        let before = try objectCount()
        var child: (any IBinder)?
        do {
            var reply = try setup.call(.newObject)
            child = try reply.readStrongBinder()
        }
        #expect(try child?.interfaceDescriptor() == "org.swiftbinder.test.IChild")
        // The server counts the node when its replying thread handles the kernel's BR_INCREFS and
        // BR_ACQUIRE, which can be after this client's next calls are served by other loopers.
        #expect(try eventually(within: 5) { try objectCount() == before + 1 })
        child = nil
        #expect(try eventually(within: 2) { try objectCount() == before })
    }

    @Test func dumpWritesToTheDescriptorItIsGiven() throws {
        let setup = try Setup("dump")
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        var request = Parcel()
        request.writeFileDescriptor(pipe.writeEnd, takeOwnership: true)
        request.writeStringArray(["--verbose", "all"])
        _ = try setup.service.transact(code: ReservedTransactionCode.dump, data: request)
        _ = consume request  // closes our write end: the service's copy is closed with its parcel
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = try bytes.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) }
        #expect(String(decoding: bytes[..<count], as: UTF8.self) == "TestService: 0 recorded; arguments: --verbose all\n")
    }

    @Test func twoDevicesInOneProcess() throws {
        let first = try Setup("first")
        let second = try Setup("second")
        #expect(first.client !== second.client)
        var one = try first.call(.echo) { $0.writeString16("one") }
        var two = try second.call(.echo) { $0.writeString16("two") }
        #expect(try one.readString16() == "one")
        #expect(try two.readString16() == "two")
        #expect(try first.service.debugPID() == first.server.pid)
        #expect(try second.service.debugPID() == second.server.pid)
    }

    @Test func aLocalObjectCalledInProcessSeesTheBindersItWasSent() throws {
        let callback = Callback()
        let echo = Callback()
        var request = Parcel()
        request.writeStrongBinder(echo)
        request.writeInt32(0)
        var reply = try callback.transact(code: TestServiceCode.nested.rawValue, data: request)
        #expect(try reply.readInt32() == 0)
        #expect(callback.calls.load(ordering: .relaxed) == 1)
    }

    @Test func theSameHandleGivesTheSameProxy() throws {
        let setup = try Setup("cache")
        let again = try setup.client.contextObject
        #expect(again === setup.service)
    }

    /// A task cancelled during an async call gets `CancellationError`; the call itself ends on
    /// its call thread (its reply freed there), and the next call works.
    @Test func aCancelledAsyncCallEndsCleanly() async throws {
        let setup = try Setup("async-cancel")
        let service = setup.service
        let call = Task {
            var request = Parcel()
            request.writeInt32(200_000)  // the service works for 200 ms
            _ = try await service.transact(code: TestServiceCode.work.rawValue, data: request)
        }
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        var request = Parcel()
        request.writeString16("after")
        var reply = try await service.transact(code: TestServiceCode.echo.rawValue, data: request)
        #expect(try reply.readString16() == "after")
        // Shutting down waits for a call thread still in the cancelled call.
        #expect(setup.client.shutdown() == 0)
    }

    @Test func asyncCallsAndAsyncServiceMethods() async throws {
        let setup = try Setup("async")
        let asyncService = try #require(try setup.service.extensionObject())
        var request = Parcel()
        request.writeString16("quiet")
        var reply = try await asyncService.transact(code: TestServiceCode.asyncUppercase.rawValue, data: request)
        #expect(try reply.readString16() == "QUIET")
    }
}

/// The test's side of the nested calls.
final class Callback: BinderObject, @unchecked Sendable {
    let calls = Atomic<Int>(0)

    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        guard code == TestServiceCode.nested.rawValue else { throw StatusCode.unknownTransaction }
        calls.add(1, ordering: .relaxed)
        let other = try data.readStrongBinder()
        let depth = try data.readInt32()
        guard depth > 0 else {
            reply.writeInt32(0)
            return
        }
        var request = Parcel()
        request.writeStrongBinder(self)
        request.writeInt32(depth - 1)
        var answer = try other.transact(code: TestServiceCode.nested.rawValue, data: request)
        reply.writeInt32(try answer.readInt32() + 1)
    }
}
