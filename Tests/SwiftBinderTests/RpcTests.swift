import AIDLTestInterfaces
import SwiftBinder
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bytes from hex digits (spaces ignored).
private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// RPC binder's bytes, pinned to AOSP's structs (libs/binder/RpcWireFormat.h and Parcel.cpp at
/// android-14.0.0_r20; derivations in docs/rpc-protocol-notes.md §8).
@Suite struct RpcWireFormatTests {

    @Test func aNewSessionStartsWithTheHeaderAndCci() {
        #expect(RpcConnectionHeader(version: 1).encoded == hex("01000000 00000000 00000000 00000000"))
        #expect(RpcConnectionInit.encoded == hex("63636900 00000000"))
        #expect(RpcNewSessionResponse(version: 1).encoded == hex("01000000 00000000"))
        // A joining connection names its session; one that serves the server's calls says so.
        let id = [UInt8](repeating: 0xAB, count: 32)
        #expect(RpcConnectionHeader(version: 1, sessionID: id).encoded == hex("01000000 00000000 00000000 00002000") + id)
        #expect(Array(RpcConnectionHeader(version: 1, options: 1, sessionID: id).encoded.prefix(8)) == hex("01000000 01000000"))
    }

    @Test func getRootAndItsReply() {
        let request = RpcWireHeader(command: .transact, bodySize: 40).encoded
            + RpcWireTransaction(address: .special, code: RpcSpecialTransaction.getRoot).encoded(version: 1)
        #expect(request.count == 56 && request[4] == 0x28 && request.enumerated().allSatisfy { $0.offset == 4 || $0.element == 0 })
        // The root: TYPE_BINDER, the server's first address (options 3, counter 0), SYSTEM.
        let root = hex("01000000") + withUnsafeBytes(of: RpcAddress(counter: 0, madeByServer: true).rawValue.littleEndian) { Array($0) }
            + hex("0c000000")
        let reply = RpcWireReply(status: 0, data: root).encoded(version: 1)
        #expect(
            RpcWireHeader(command: .reply, bodySize: UInt32(reply.count)).encoded + reply
                == hex(
                    "01000000 24000000 00000000 00000000 00000000 10000000 00000000 00000000 00000000"
                        + "01000000 03000000 00000000 0c000000"))
        // Version 0: a 4-byte reply header.
        #expect(RpcWireReply(status: 0, data: root).encoded(version: 0).count == 4 + 16)
    }

    @Test func aTransactionAndTheDecStrongBeforeItsReply() {
        let body = RpcWireTransaction(address: RpcAddress(rawValue: 3), code: 1, data: hex("2a000000")).encoded(version: 1)
        #expect(
            RpcWireHeader(command: .transact, bodySize: UInt32(body.count)).encoded + body
                == hex(
                    "00000000 2c000000 00000000 00000000 03000000 00000000 01000000 00000000 00000000 00000000"
                        + "04000000 00000000 00000000 00000000 2a000000"))
        #expect(
            RpcWireHeader(command: .decStrong, bodySize: 16).encoded + RpcDecStrong(address: RpcAddress(rawValue: 3), amount: 1).encoded
                == hex("02000000 10000000 00000000 00000000 03000000 00000000 01000000 00000000"))
    }

    /// Over RPC the interface token is the descriptor alone; a binder is an address with its
    /// stability, null two zero words (Parcel.cpp writeInterfaceToken, flattenBinder).
    @Test func rpcParcelsEncodeTokensAndBindersAsAOSP() {
        var parcel = Parcel(wireFormat: .rpc)
        parcel.writeInterfaceToken("a.IFoo")
        #expect(parcel.dataBytes == hex("06000000 61002e00 49004600 6f006f00 00000000"))
        var binders = Parcel(wireFormat: .rpc)
        binders.writeStrongBinder(nil)
        #expect(binders.dataBytes == hex("00000000 00000000"))
    }

    /// A descriptor in an RPC parcel: `i32 2` and its index, its position in the object table
    /// (Parcel.cpp writeFileDescriptor for RPC, android-14.0.0_r20); a ParcelFileDescriptor
    /// adds the non-null and no-comm-channel words first.
    @Test func descriptorsAreIndexedObjects() throws {
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close(); try? pipe.writeEnd.close() }
        var parcel = Parcel(wireFormat: .rpc)
        parcel.writeParcelFileDescriptor(ParcelFileDescriptor(try pipe.readEnd.duplicate()))
        #expect(parcel.dataBytes == hex("01000000 00000000 02000000 00000000"))
        let body = RpcWireTransaction(address: RpcAddress(rawValue: 3), code: 1, data: parcel.dataBytes, objectTable: [8])
            .encoded(version: 1)
        #expect(RpcWireHeader(command: .transact, bodySize: UInt32(body.count)).encoded.prefix(8) == hex("00000000 3c000000")[...])
        #expect(Array(body.suffix(4)) == hex("08000000"))
        // Read back: the descriptor is the one written (a duplicate the parcel owns).
        var copy = Parcel(wireFormat: .rpc)
        copy.writeFileDescriptor(pipe.writeEnd)
        try copy.moveReaderIndex(to: 0)
        let fd = try copy.takeFileDescriptor()
        defer { try? fd.close() }
        #expect(fd.rawValue != pipe.writeEnd.rawValue)
        _ = try fd.writeAll("x".utf8)
        var byte: [UInt8] = [0]
        _ = try byte.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) }
        #expect(byte == [UInt8(ascii: "x")])
    }

    @Test func malformedBodiesAreTypedErrors() throws {
        // Shorter than a transaction, a parcel size past the body, a ragged object table.
        #expect(throws: RpcError.self) { try RpcWireTransaction.decode(hex("00000000"), version: 1) }
        var body = RpcWireTransaction(address: RpcAddress(rawValue: 3), code: 1, data: [1, 2, 3, 4]).encoded(version: 1)
        body[24] = 200
        #expect(throws: RpcError.self) { try RpcWireTransaction.decode(body, version: 1) }
        body[24] = 2
        #expect(throws: RpcError.self) { try RpcWireTransaction.decode(body, version: 1) }
        #expect(throws: RpcError.self) { try RpcSocketAddress(parsing: "tcp:localhost") }
        #expect(try RpcSocketAddress(parsing: "inet:127.0.0.1:1234") == .inet(host: "127.0.0.1", port: 1234))
        #expect(try RpcSocketAddress(parsing: "vsock:3:5000") == .vsock(cid: 3, port: 5000))
    }
}

/// A server and a client of SwiftBinder's RPC binder in this process, over a unix socket and
/// loopback TCP: AOSP's AIDL test service served as the root object, called through generated
/// proxies exactly as over the kernel driver. No binder driver needed.
@Suite struct RpcSessionTests {
    typealias Tests = android.aidl.tests

    final class Served {
        let server: RpcServer
        let address: String

        init(_ transport: String, root: BinderObject = Tests.ITestService.Stub(TestService()), maxThreads: Int32 = 1) throws {
            if transport == "unix" {
                let path = "/tmp/swiftbinder-rpc-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
                server = try RpcServer(root: root, address: "unix:\(path)", maxThreads: maxThreads)
                address = "unix:\(path)"
            } else if transport == "vsock" {
                // CID 1 is this machine over vsock's loopback transport; a port above the
                // privileged ones, unique to this process.
                address = "vsock:1:\(0x10000 + UInt32(getpid()))"
                server = try RpcServer(root: root, address: address, maxThreads: maxThreads)
            } else {
                server = try RpcServer(root: root, address: "inet:127.0.0.1:0", maxThreads: maxThreads)
                address = "inet:127.0.0.1:\(server.port!)"
            }
            server.start()
        }

        deinit { server.shutdown() }
    }

    /// Whether this kernel has IPv4 sockets.
    static let hasIPv4: Bool = {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }()

    /// Whether this kernel has vsock's loopback transport (CID 1, VMADDR_CID_LOCAL): the
    /// binderfs VM's kernel has it; a host without it skips the vsock case.
    static let hasVsockLoopback: Bool = {
        // Listening at CID 1, on any port (VMADDR_PORT_ANY).
        (try? RpcServer(root: BinderObject(), address: "vsock:1:\(UInt32.max)")) != nil
    }()

    @Test func generatedProxiesCallTheRootObjectOverAUnixSocket() throws {
        try generatedProxiesCallTheRootObject("unix")
    }

    @Test(.enabled(if: RpcSessionTests.hasIPv4, "this kernel has no IPv4 sockets (the binderfs VM's)"))
    func generatedProxiesCallTheRootObjectOverLoopbackTCP() throws {
        try generatedProxiesCallTheRootObject("inet")
    }

    @Test(.enabled(if: RpcSessionTests.hasVsockLoopback, "this kernel has no vsock loopback transport (the binderfs VM's has)"))
    func generatedProxiesCallTheRootObjectOverVsock() throws {
        try generatedProxiesCallTheRootObject("vsock")
    }

    func generatedProxiesCallTheRootObject(_ transport: String) throws {
        let served = try Served(transport)
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        #expect(session.protocolVersion == RpcProtocolVersion.current)
        let root = try #require(try session.rootObject())
        #expect(try root.interfaceDescriptor() == Tests.ITestService.descriptor)
        try root.ping()
        let service = Tests.ITestService.Proxy(root)
        #expect(try service.RepeatInt(token: 1 << 30) == 1 << 30)
        #expect(try service.RepeatString(token: "\u{10437}\u{20AC} over RPC") == "\u{10437}\u{20AC} over RPC")
        var repeated: [Int32] = []
        #expect(try service.ReverseInt(input: [1, 2, 3], repeated: &repeated) == [3, 2, 1])
        #expect(repeated == [1, 2, 3])
        #expect(try service.RepeatNullableStringList(input: ["a", nil]) == ["a", nil])
        var parcelable = Tests.StructuredParcelable()
        parcelable.f = 5
        try service.FillOutStructuredParcelable(parcel: &parcelable)
        #expect(parcelable.shouldContainThreeFs == [5, 5, 5] && parcelable.shouldBeJerry == "Jerry")
        // Errors come back as over the kernel: an exception, and a transport status.
        let thrown = #expect(throws: RemoteError.self) { try service.ThrowServiceException(code: 7) }
        #expect(thrown == .exception(.serviceSpecific(7)))
        let unimplemented = #expect(throws: RemoteError.self) { _ = try service.UnimplementedMethod(arg: 1) }
        #expect(unimplemented == .transport(.remoteStatus(.unknownTransaction)))
        try service.TestOneway()
        #expect(try service.RepeatInt(token: 9) == 9)
    }

    /// Objects the server hands out are proxies of the session; objects of this process the
    /// server calls back while serving a call go back over the same connection.
    @Test func objectsGoBothWays() throws {
        let served = try Served("unix")
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        let callback = try service.GetOtherTestService(name: "Larry")
        #expect(try callback.GetName() == "Larry")
        #expect(try service.VerifyName(service: callback, name: "Larry"))
        // A callback of this process: the server calls it back within VerifyName.
        final class Local: Tests.INamedCallback.Service {
            func GetName() throws -> String { "local" }
        }
        #expect(try service.VerifyName(service: Local(), name: "local"))
        #expect(try !service.VerifyName(service: Local(), name: "other"))
        // The same object twice is the same proxy.
        #expect(try service.GetOtherTestService(name: "Larry").asBinder() === callback.asBinder())
    }

    /// An object that arrives again with another stability level is refused, as libbinder's
    /// `Stability::setRepr` refuses to change a binder's level (BAD_TYPE; libs/binder/Stability.cpp
    /// at android-14.0.0_r21): the proxy keeps the level it first came with.
    @Test func anObjectCannotComeBackWithAnotherStability() throws {
        final class Shifting: BinderObject, @unchecked Sendable {
            let level = Mutex(StabilityLevel.system)
            override var stability: StabilityLevel? { level.withLock { $0 } }
        }
        final class Root: BinderObject, @unchecked Sendable {
            let child = Shifting()
            // Code 1 replies with the child at `system`, code 2 at `vendor`.
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                child.level.withLock { $0 = code == 1 ? .system : .vendor }
                reply.writeStrongBinder(child)
            }
        }
        let served = try Served("unix", root: Root())
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        let root = try #require(try session.rootObject())
        var first = try root.transact(code: 1, data: root.prepareTransaction(), flags: [])
        let child = try #require(try first.readNullableStrongBinder() as? RpcProxy)
        #expect(child.stability == .system)
        var second = try root.transact(code: 2, data: root.prepareTransaction(), flags: [])
        #expect(throws: BinderError.malformedParcel(.invalidStability(Int32(StabilityLevel.vendor.rawValue), offset: 12))) {
            try second.readNullableStrongBinder()
        }
        #expect(child.stability == .system)
        // The same level again is the same proxy.
        var third = try root.transact(code: 1, data: root.prepareTransaction(), flags: [])
        #expect(try third.readNullableStrongBinder() === child)
    }

    /// Descriptors travel over a unix socket session (SCM_RIGHTS with the command's header), both
    /// ways; over TCP they are refused before anything is sent.
    @Test func descriptorsTravelOverUnixSockets() throws {
        let served = try Served("unix")
        let session = try RpcSession.connect(to: served.address, fileDescriptors: true)
        defer { session.shutdown() }
        #expect(session.carriesDescriptors)
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        let returned = try service.RepeatParcelFileDescriptor(read: SharedFileDescriptor(pipe.writeEnd))
        _ = try returned.fileDescriptor.writeAll("over rpc".utf8)
        var bytes = [UInt8](repeating: 0, count: 8)
        _ = try bytes.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) }
        #expect(bytes == Array("over rpc".utf8))
        let pipes = try (0..<3).map { _ in try FileDescriptor.pipe() }
        defer { for pipe in pipes { try? pipe.readEnd.close(); try? pipe.writeEnd.close() } }
        var repeated: [SharedFileDescriptor] = []
        let reversed = try service.ReverseParcelFileDescriptorArray(
            input: try pipes.map { SharedFileDescriptor(try $0.writeEnd.duplicate()) }, repeated: &repeated)
        #expect(repeated.count == 3 && reversed.count == 3)
        _ = try reversed[0].fileDescriptor.writeAll("3".utf8)
        var byte: [UInt8] = [0]
        _ = try byte.withUnsafeMutableBytes { try pipes[2].readEnd.read(into: $0) }
        #expect(byte == [UInt8(ascii: "3")])
    }

    @Test(.enabled(if: RpcSessionTests.hasIPv4, "this kernel has no IPv4 sockets (the binderfs VM's)"))
    func descriptorsAreRefusedOverTCP() throws {
        let served = try Served("inet")
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        #expect(!session.carriesDescriptors)
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        #expect(throws: RemoteError.self) { _ = try service.RepeatParcelFileDescriptor(read: SharedFileDescriptor(pipe.writeEnd)) }
        #expect(try service.RepeatInt(token: 4) == 4)  // the session goes on
    }

    /// Each protocol version a client may offer is spoken: 0 (Android 13: no object table),
    /// 1 (Android 14 to 16.0.0_r3), 2 (16.0.0_r4: binders listed in the object table).
    @Test(arguments: [UInt32(0), 1, 2])
    func everyProtocolVersionCarriesCallsAndObjects(_ version: UInt32) throws {
        let served = try Served("unix")
        let session = try RpcSession.connect(to: served.address, version: version, fileDescriptors: true)
        defer { session.shutdown() }
        #expect(session.protocolVersion == version)
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        #expect(try service.RepeatInt(token: 77) == 77)
        #expect(try service.GetOtherTestService(name: "Curly").GetName() == "Curly")
        final class Local: Tests.INamedCallback.Service {
            func GetName() throws -> String { "v" }
        }
        #expect(try service.VerifyName(service: Local(), name: "v"))
        // Descriptors need version 1 (version 0 has no object table).
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        if version >= 1 {
            _ = try service.RepeatParcelFileDescriptor(read: SharedFileDescriptor(pipe.writeEnd))
        } else {
            #expect(throws: RemoteError.self) { _ = try service.RepeatParcelFileDescriptor(read: SharedFileDescriptor(pipe.writeEnd)) }
        }
    }

    /// Version 2 lists every non-null binder in the object table; a reply binder it does not
    /// list is refused, and at version 1 a listed binder is (android-16.0.0_r4).
    @Test func version2ListsBindersInTheObjectTable() throws {
        let binder = hex("01000000 03000000 00000000 0c000000")
        let body = RpcWireTransaction(address: RpcAddress(rawValue: 3), code: 1, data: binder, objectTable: [0])
            .encoded(version: 2)
        #expect(Array(body.suffix(4)) == [0, 0, 0, 0])  // the table: position 0
        #expect(RpcProtocolVersion.current == 2)
    }

    /// Async code calls over RPC through the generated AsyncProxy, on the session's threads.
    @Test func asyncProxiesWorkOverRPC() async throws {
        let served = try Served("unix")
        let session = try await RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        let root = try #require(try await session.rootObject())
        let service = Tests.ITestService.AsyncProxy(root)
        #expect(try await service.RepeatInt(token: 12) == 12)
        async let first = service.RepeatString(token: "a")
        async let second = service.RepeatString(token: "b")
        #expect(try await [first, second] == ["a", "b"])
    }

    /// Reference counting end to end: an object of this process lives while the server holds
    /// a proxy for it, and goes when the server drops it (its DEC_STRONG).
    @Test func aCallbackGoesWhenTheServerDropsIt() throws {
        final class Local: Tests.INamedCallback.Service {
            func GetName() throws -> String { "local" }
        }
        let served = try Served("unix")
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        weak var first: Local?
        do {
            let callback = Local()
            first = callback
            #expect(try !service.SetOtherTestService(name: "kept", service: callback))
        }
        #expect(first != nil)  // the server's proxy keeps it
        // Replaced: the server drops its proxy for the first one, which returns the reference.
        #expect(try !service.SetOtherTestService(name: "kept", service: Local()))
        #expect(first == nil)
    }

    /// With an incoming connection, the server calls an object of this process on a thread of
    /// its own, outside any call (libbinder's setMaxIncomingThreads).
    @Test func theServerCallsBackOutsideACall() throws {
        final class Later: BinderObject, @unchecked Sendable {
            // Code 1 keeps the binder it is sent; code 2 calls it later, from another thread.
            let kept = Mutex<(any IBinder)?>(nil)
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                if code == 1 { kept.withLock { $0 = try? data.readNullableStrongBinder() } }
                guard code == 2, let target = kept.withLock({ $0 }) else { return }
                onDetachedThread {
                    var request = target.prepareTransaction()
                    request.writeInt32(42)
                    _ = try? target.transact(code: 7, data: request, flags: [])
                }
            }
        }
        final class Called: BinderObject, @unchecked Sendable {
            let value = Mutex<Int32?>(nil)
            let done = ConditionVariableBox()
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                value.withLock { $0 = try? data.readInt32() }
                done.signal()
            }
        }
        let served = try Served("unix", root: Later())
        let session = try RpcSession.connect(to: served.address, maxIncomingThreads: 1)
        defer { session.shutdown() }
        let root = try #require(try session.rootObject())
        let called = Called()
        var keep = root.prepareTransaction()
        keep.writeStrongBinder(called)
        _ = try root.transact(code: 1, data: keep, flags: [])
        _ = try root.transact(code: 2, data: root.prepareTransaction(), flags: [])
        called.done.wait()
        #expect(called.value.withLock { $0 } == 42)
    }

    /// A session that ends (the server shut down) is the death of every proxy of it: the
    /// handlers run, without any message (libbinder's sendObituaries).
    @Test func aSessionsEndIsItsProxiesDeath() throws {
        let served = try Served("unix")
        let session = try RpcSession.connect(to: served.address, maxIncomingThreads: 1)
        let root = try #require(try session.rootObject())
        let died = ConditionVariableBox()
        _ = try root.linkToDeath { died.signal() }
        #expect(root.isAlive)
        served.server.shutdown()
        died.wait()
        #expect(!root.isAlive)
        #expect(throws: BinderError.self) { _ = try root.linkToDeath {} }
    }

    @Test func onewayCallsArriveInOrder() throws {
        final class Recorder: BinderObject, @unchecked Sendable {
            let values = Mutex<[Int32]>([])
            let done = ConditionVariableBox()
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                let value = try data.readInt32()
                values.withLock { $0.append(value) }
                if value == 99 { done.signal() }
            }
        }
        let recorder = Recorder()
        let served = try Served("unix", root: recorder, maxThreads: 4)
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        let root = try #require(try session.rootObject())
        for value in Int32(0)..<100 {
            var request = root.prepareTransaction()
            request.writeInt32(value)
            _ = try root.transact(code: 1, data: request, flags: .oneWay)
        }
        recorder.done.wait()
        #expect(recorder.values.withLock { $0 } == Array(0..<100))
    }

    /// A peer that breaks the protocol loses its connection; the server goes on serving others.
    @Test func badPeersAreCutOffAndTheServerGoesOn() throws {
        let served = try Served("unix")
        let path = String(served.address.dropFirst("unix:".count))
        for garbage in [
            [UInt8](repeating: 0xFF, count: 64),  // a nonsense header
            RpcConnectionHeader(version: 1).encoded + [0x78, 0x78, 0x78, 0, 0, 0, 0, 0],  // not "cci"
            RpcConnectionHeader(version: 1).encoded + RpcConnectionInit.encoded
                + RpcWireHeader(command: .transact, bodySize: 0x7FFF_FFFF).encoded,  // a body too large to allocate
            RpcConnectionHeader(version: 1).encoded + RpcConnectionInit.encoded
                + RpcWireHeader(command: .transact, bodySize: 40).encoded + [1, 2, 3],  // stops mid-body
        ] {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            #expect(withUnixAddress(path) { connect(fd, $0, $1) } == 0)
            _ = garbage.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            // The server closes its end: reading reaches EOF (after any session response).
            var buffer = [UInt8](repeating: 0, count: 64)
            var total = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                total += count
            }
            #expect(total <= RpcNewSessionResponse.size)
            close(fd)
        }
        let session = try RpcSession.connect(to: served.address)
        defer { session.shutdown() }
        #expect(try Tests.ITestService.Proxy(try #require(try session.rootObject())).RepeatInt(token: 5) == 5)
    }

    @Test func aCallAfterTheServerIsGoneFailsWithATypedError() throws {
        let served = try Served("unix")
        let session = try RpcSession.connect(to: served.address)
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        #expect(try service.RepeatInt(token: 1) == 1)
        served.server.shutdown()
        let error = #expect(throws: RemoteError.self) { _ = try service.RepeatInt(token: 2) }
        guard case .transport(.rpc)? = error else {
            Issue.record("expected an RPC transport error, got \(String(describing: error))")
            return
        }
        #expect(!service.binder.isAlive)
    }

    /// A listener that never answers (its backlog completes the connect): setting the session
    /// up runs out of its timeout with a typed error; an async connect without one ends when its
    /// task is cancelled, closing its socket (the listener's end sees EOF, not its own timeout).
    @Test func aSilentServerTimesOutAndCancellingTheConnectClosesIt() async throws {
        let path = "/tmp/swiftbinder-rpc-silent-\(getpid()).sock"
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer {
            close(listener)
            unlink(path)
        }
        try #require(withUnixAddress(path) { bind(listener, $0, $1) } == 0 && listen(listener, 8) == 0)
        #expect(throws: RpcError.timedOut(during: "the session response")) {
            _ = try RpcSession.connect(to: "unix:\(path)", timeout: .milliseconds(200))
        }
        let stale = accept(listener, nil, nil)  // the timed-out attempt's connection
        close(stale)

        let task = Task { try await RpcSession.connect(to: "unix:\(path)", timeout: nil) }
        let accepted = accept(listener, nil, nil)
        defer { close(accepted) }
        var limit = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        // The client's header and "cci" arrive; then it waits for the answer, until cancelled.
        var header = [UInt8](repeating: 0, count: RpcConnectionHeader(version: 1).encoded.count + RpcConnectionInit.encoded.count)
        #expect(header.withUnsafeMutableBytes { recv(accepted, $0.baseAddress, $0.count, Int32(MSG_WAITALL)) } == header.count)
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        var byte: UInt8 = 0
        #expect(recv(accepted, &byte, 1, 0) == 0, "the cancelled connect's socket is closed (errno \(errno))")
    }
}

/// Calls `body` with `path` as a unix socket address.
private func withUnixAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in for (index, byte) in path.utf8.enumerated() { raw[index] = byte } }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// RPC binder between two processes: `aidl-test-service --rpc` serves AOSP's test service as its
/// root object, this process calls it through generated proxies (with callbacks into this
/// process), over a unix socket and, where the kernel has IPv4, loopback TCP. No driver needed.
@Suite struct RpcTwoProcessTests {
    typealias Tests = android.aidl.tests

    final class Peer {
        let process: ChildProcess
        let address: String

        init(_ address: String) throws {
            process = try ChildProcess(ChildProcess.builtProduct("aidl-test-service"), ["--rpc", address])
            let ready = try process.readLine() ?? ""
            guard let at = ready.firstRange(of: " at ") else { throw BinderError.unsupported("aidl-test-service said \(ready)") }
            self.address = String(ready[at.upperBound...])
        }

        deinit {
            kill(process.pid, SIGTERM)
            _ = try? process.waitForExit()
        }
    }

    func exercise(_ peer: Peer) throws {
        let session = try RpcSession.connect(to: peer.address)
        defer { session.shutdown() }
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        #expect(try service.RepeatLong(token: 1 << 60) == 1 << 60)
        var repeated: [String] = []
        #expect(try service.ReverseString(input: ["f", "a", "b"], repeated: &repeated) == ["b", "a", "f"])
        #expect(try service.GetOtherTestService(name: "Moe").GetName() == "Moe")
        final class Local: Tests.INamedCallback.Service {
            func GetName() throws -> String { "from the client" }
        }
        #expect(try service.VerifyName(service: Local(), name: "from the client"))
        let error = #expect(throws: RemoteError.self) { try service.ThrowServiceException(code: -1) }
        #expect(error == .exception(.serviceSpecific(-1)))
        // A oneway call, then a call that finds the connection in order after it.
        try service.TestOneway()
        #expect(try service.RepeatInt(token: 9) == 9)
    }

    @Test func overAUnixSocket() throws {
        let peer = try Peer("unix:/tmp/swiftbinder-rpc-peer-\(getpid()).sock")
        try exercise(peer)
    }

    @Test(.enabled(if: RpcSessionTests.hasIPv4, "this kernel has no IPv4 sockets (the binderfs VM's)"))
    func overLoopbackTCP() throws {
        let peer = try Peer("inet:127.0.0.1:0")
        try exercise(peer)
    }

    @Test(.enabled(if: RpcSessionTests.hasVsockLoopback, "this kernel has no vsock loopback transport (the binderfs VM's has)"))
    func overVsock() throws {
        let peer = try Peer("vsock:1:\(0x20000 + UInt32(getpid()))")
        try exercise(peer)
    }

    /// A descriptor goes to the other process and comes back (SCM_RIGHTS): what is written to
    /// the pipe's write end, through the descriptor the server returned, arrives at the read end.
    @Test func descriptorsCrossToTheOtherProcess() throws {
        let peer = try Peer("unix:/tmp/swiftbinder-rpc-fds-\(getpid()).sock")
        let session = try RpcSession.connect(to: peer.address, fileDescriptors: true)
        defer { session.shutdown() }
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        let returned = try service.RepeatParcelFileDescriptor(read: SharedFileDescriptor(pipe.writeEnd))
        #expect(returned.fileDescriptor != pipe.writeEnd)
        _ = try returned.fileDescriptor.writeAll(Array("across".utf8))
        var bytes = [UInt8](repeating: 0, count: 6)
        #expect(try bytes.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) } == 6)
        #expect(bytes == Array("across".utf8))
    }

    /// The server's process dies mid-session: the death notification comes, calls fail with a
    /// typed error, nothing hangs.
    @Test func aDeadServerIsADeathAndATypedError() throws {
        let peer = try Peer("unix:/tmp/swiftbinder-rpc-dead-\(getpid()).sock")
        let session = try RpcSession.connect(to: peer.address)
        let service = Tests.ITestService.Proxy(try #require(try session.rootObject()))
        #expect(try service.RepeatInt(token: 3) == 3)
        let died = ConditionVariableBox()
        _ = try service.binder.linkToDeath { died.signal() }
        kill(peer.process.pid, SIGKILL)
        _ = try peer.process.waitForExit()
        #expect(throws: RemoteError.self) { _ = try service.RepeatInt(token: 4) }
        #expect(died.wait(seconds: 30))
        #expect(!service.binder.isAlive)
    }
}
