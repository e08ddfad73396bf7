import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Behaviour across processes that follows AOSP's per-release rules: stability carried with
/// forwarded binders, obituaries after dead replies, open enums, the meta transactions, two
/// releases in one process, the lazy-service callbacks, and the executables following the
/// configuration.
@Suite(.requiresBinder) struct ReleaseInteropTests {
    /// A device served by `binder-test-peer aidl` (org.swiftbinder.test.ITestService as context manager).
    final class AIDLPeer {
        let device: TestDevice
        let server: ChildProcess
        let process: BinderProcess
        let service: org.swiftbinder.test.ITestService.Proxy

        init(_ label: String, environment: [String: String] = [:]) throws {
            device = try TestDevice(label)
            server = try ChildProcess(
                ChildProcess.builtProduct("binder-test-peer"), ["aidl", device.path.string], environment: environment)
            let ready = try server.readLine()
            guard ready == "ready" else { throw BinderError.unsupported("the peer said \(ready ?? "nothing")") }
            process = try BinderProcess(path: device.path, release: .android16)
            service = org.swiftbinder.test.ITestService.Proxy(try process.contextObject)
        }

        deinit { process.shutdown() }
    }

    final class VintfObject: BinderObject, @unchecked Sendable {
        override var stability: StabilityLevel? { .vintf }
    }

    /// A binder arrives with its stability and is sent on with it (libs/binder/Parcel.cpp
    /// finishFlattenBinder at android-14.0.0_r1: tryMarkCompilationUnit leaves a proxy's level
    /// as it came, then writes it); a user call on a proxy whose level lacks this process's is
    /// refused before it is sent (BpBinder::transact, Stability::check: BAD_TYPE).
    @Test func forwardedBindersKeepTheirStability() throws {
        let peer = try AIDLPeer("stab-fwd", environment: ["BINDER_TEST_PEER_STABILITY": "vendor"])
        // The peer's callback object is VENDOR; ours arrive as SYSTEM; calls to it are refused.
        let callback = try peer.service.GetCallback(name: "vendor")
        let proxy = try #require((callback as? org.swiftbinder.test.INamedCallback.Proxy)?.binder as? BinderProxy)
        #expect(proxy.stability == .vendor)
        let refused = #expect(throws: RemoteError.self) { _ = try callback.GetName() }
        #expect(refused == .transport(.stabilityRefused(provided: .vendor, required: .system, handle: proxy.handle)))
        try proxy.ping()  // not a user transaction: not checked

        // Sent on, it keeps VENDOR (not this process's SYSTEM).
        var forwarded = try peer.process.contextObject.prepareTransaction()
        forwarded.writeStrongBinder(proxy)
        let written = try forwarded.readBinder()
        #expect(written.stability == .vendor)

        // And the peer sends our VINTF object back as VINTF: RepeatBinder's reply, read raw.
        let object = VintfObject()
        var request = try peer.process.contextObject.prepareTransaction()
        request.writeInterfaceToken(org.swiftbinder.test.ITestService.descriptor)
        request.writeStrongBinder(object)
        var reply = try peer.process.contextObject.transact(code: org.swiftbinder.test.ITestService.Code.RepeatBinder, data: request)
        #expect(try reply.readStatus().isOK)
        let echoed = try reply.readBinder()
        #expect(echoed.reference == .local(NodeIdentity(pointer: object.nodeID, cookie: object.nodeCookie)))
        #expect(echoed.stability == .vintf)
    }

    /// An enumerator this side does not know crosses the proxy, the peer's stub and back.
    @Test func unknownEnumeratorsCrossProcesses() throws {
        let peer = try AIDLPeer("enum-open")
        let newer = org.swiftbinder.test.ByteEnum(rawValue: 99)
        #expect(try peer.service.RepeatByteEnum(token: newer) == newer)
        var repeated: [org.swiftbinder.test.ByteEnum] = []
        let reversed = try peer.service.ReverseByteEnum(input: [.foo, org.swiftbinder.test.ByteEnum(rawValue: -3)], repeated: &repeated)
        #expect(reversed == [org.swiftbinder.test.ByteEnum(rawValue: -3), .foo])
        #expect(try peer.service.RepeatIntEnum(token: org.swiftbinder.test.IntEnum(rawValue: 123_456)) == org.swiftbinder.test.IntEnum(rawValue: 123_456))
    }

    /// A call that fails with a dead reply does not count as the obituary: a death link made
    /// afterwards is accepted and its handler runs when the kernel reports the death
    /// (IPCThreadState.cpp and BpBinder.cpp at android-14.0.0_r1: BR_DEAD_REPLY only clears
    /// mAlive; sendObituary runs on BR_DEAD_BINDER; linkToDeath refuses only after mObitsSent).
    @Test func aDeathIsReportedAfterADeadReply() throws {
        let device = try TestDevice("dead-reply")
        let server = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["serve", device.path.string])
        #expect(try server.readLine() == "ready")
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        process.startThreadPool()
        let service = try process.contextObject
        var request = service.prepareTransaction()
        request.writeString16("hello")
        _ = try service.transact(code: TestServiceCode.echo.rawValue, data: request)
        // A second reference, not handle 0: handle 0 names whoever is context manager next.
        var newObject = try service.transact(code: TestServiceCode.newObject.rawValue, data: service.prepareTransaction())
        let child = try #require(try newObject.readStrongBinder() as? BinderProxy)

        kill(server.pid, SIGKILL)
        _ = try server.waitForExit()
        let failed = #expect(throws: BinderError.self) {
            _ = try child.transact(code: 1, data: child.prepareTransaction())
        }
        guard case .transactionFailed(.deadTarget, _) = failed else {
            Issue.record("expected a dead reply, got \(String(describing: failed))")
            return
        }
        #expect(!child.isAlive)
        let deaths = Atomic<Int>(0)
        _ = try child.linkToDeath { deaths.add(1, ordering: .relaxed) }
        #expect(eventually(within: 5) { deaths.load(ordering: .relaxed) == 1 })
        // Now the obituary has been sent: further links are refused, as libbinder's DEAD_OBJECT.
        #expect(throws: BinderError.transactionFailed(.deadTarget)) { _ = try child.linkToDeath {} }
    }

    /// SHELL_COMMAND: three fds, arguments, a shell callback and a result receiver are read; the
    /// receiver is sent INVALID_OPERATION (IResultReceiver.send, oneway code 1) and the caller
    /// NO_ERROR. SYSPROPS: NO_ERROR. DUMP: argc bounded by the data, negative meaning none
    /// (libs/binder/Binder.cpp BBinder::onTransact at android-13.0.0_r1 and android-16.0.0_r1;
    /// libs/binder/IResultReceiver.cpp).
    @Test func metaTransactionsAreAnsweredAsBBinderAnswersThem() throws {
        final class ResultReceiver: BinderObject, @unchecked Sendable {
            let received = Mutex<[(String, Int32)]>([])
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                let token = try data.enforceInterface("com.android.internal.os.IResultReceiver")
                let result = try data.readInt32()
                received.withLock { $0.append((token.descriptor, result)) }
            }
        }
        let device = try TestDevice("meta")
        let server = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["serve", device.path.string])
        #expect(try server.readLine() == "ready")
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        process.startThreadPool()
        let service = try process.contextObject

        let receiver = ResultReceiver()
        let pipe = try FileDescriptor.pipe()
        defer {
            try? pipe.readEnd.close()
            try? pipe.writeEnd.close()
        }
        var shell = service.prepareTransaction()
        for fd in [pipe.readEnd, pipe.writeEnd, pipe.writeEnd] { shell.writeFileDescriptor(fd) }
        shell.writeStringArray(["help"])
        shell.writeStrongBinder(nil)
        shell.writeStrongBinder(receiver)
        let shellReply = try service.transact(code: ReservedTransactionCode.shellCommand, data: shell)
        #expect(shellReply.dataSize == 0)
        #expect(eventually(within: 5) { receiver.received.withLock { $0.count } == 1 })
        #expect(receiver.received.withLock { $0.first?.1 } == StatusCode.invalidOperation.rawValue)

        let sysprops = try service.transact(code: ReservedTransactionCode.sysprops, data: service.prepareTransaction())
        #expect(sysprops.dataSize == 0)

        // argc −1, then argc 1000 with one argument: both accepted, the arguments read.
        for (argc, arguments, expected) in [(Int32(-1), [String](), ""), (1000, ["all"], "all")] {
            let dumpPipe = try FileDescriptor.pipe()
            defer { try? dumpPipe.readEnd.close() }
            var dump = service.prepareTransaction()
            dump.writeFileDescriptor(dumpPipe.writeEnd, takeOwnership: true)
            dump.writeInt32(argc)
            for argument in arguments { dump.writeString16(argument) }
            _ = try service.transact(code: ReservedTransactionCode.dump, data: dump)
            _ = consume dump
            var bytes = [UInt8](repeating: 0, count: 256)
            let count = try bytes.withUnsafeMutableBytes { try dumpPipe.readEnd.read(into: $0) }
            #expect(String(decoding: bytes[..<count], as: UTF8.self) == "TestService: 0 recorded; arguments: \(expected)\n")
        }
    }

    /// One process speaking Android 10 on one device and Android 13 on another, to two
    /// servicemanagers of those releases, registering the same object with both.
    @Test func oneProcessSpeaksTwoReleasesOnTwoDevices() throws {
        let old = try TestDevice("two-10")
        let new = try TestDevice("two-13")
        var daemons: [ChildProcess] = []
        var managers: [ServiceManager] = []
        var processes: [BinderProcess] = []
        defer { processes.forEach { $0.shutdown() } }
        for (device, release) in [(old, AndroidRelease.android10), (new, .android13)] {
            daemons.append(
                try ChildProcess(
                    ChildProcess.builtProduct("servicemanager"),
                    ["--device", device.path.string, "--protocol", release.rawValue, "--log-level", "warning"]))
            let process = try BinderProcess(path: device.path, release: release)
            processes.append(process)
            var manager: ServiceManager?
            _ = eventually(within: 30) {
                manager = try? ServiceManager(process: process)
                return manager != nil
            }
            managers.append(try #require(manager))
        }
        #expect(processes.map(\.wireFormat) == [.android10, .android13])
        #expect(managers.map(\.release) == [.android10, .android13])
        let object = BinderObject()
        for manager in managers { try manager.addService("test.both", object) }
        #expect(try managers[0].listServices() == ["test.both"])
        #expect(try managers[1].listServices() == ["manager", "test.both"])
        for manager in managers { #expect(try manager.checkService("test.both") === object) }
        _ = daemons
    }

    /// A client configured for another release than servicemanager speaks gets an error naming
    /// both, not a bare status.
    @Test func aMismatchNamesBothReleases() throws {
        let device = try TestDevice("mismatch")
        let daemon = try ChildProcess(
            ChildProcess.builtProduct("servicemanager"),
            ["--device", device.path.string, "--protocol", "android10", "--log-level", "critical"])
        let process = try BinderProcess(path: device.path, release: .android16)
        defer { process.shutdown() }
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        let client = try #require(manager)
        #expect(client.detectRelease() == .android10)
        let error = #expect(throws: RemoteError.self) { try client.addService("test.x", BinderObject()) }
        #expect(error == .transport(.releaseMismatch(configured: .android16, source: "explicit", detected: .android10)))
        #expect(error.map { "\($0)" }?.contains("servicemanager speaks android10's protocol") == true)
        _ = daemon
    }

    /// Client callbacks of a lazy service belong to the name: re-registering keeps them, and a
    /// callback registered while the service has clients hears so at once
    /// (cmds/servicemanager/ServiceManager.cpp at android-14.0.0_r1: mNameToClientCallback,
    /// registerClientCallback's `if (hasClients) cb->onClients(service, true)`).
    @Test func clientCallbacksBelongToTheName() throws {
        let device = try TestDevice("lazy-cb")
        try device.binderfs.setAccess(ofDevice: device.name, mode: FilePermissions(rawValue: 0o666))
        let daemon = try ChildProcess(
            ChildProcess.builtProduct("servicemanager"), ["--device", device.path.string, "--log-level", "critical"])
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        process.startThreadPool()
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        let sm = try #require(manager)
        let first = BinderObject()
        try sm.addService("test.lazy", first)
        let reports = Mutex<[String]>([])
        let kept = try sm.registerClientCallback("test.lazy", service: first) { _, has in
            reports.withLock { $0.append("first:\(has)") }
        }
        // A client in another binder process takes a reference: the callback hears it.
        let clientProcess = try BinderProcess(path: device.path)
        defer { clientProcess.shutdown() }
        let held = try ServiceManager(process: clientProcess).checkService("test.lazy")
        #expect(held != nil)
        #expect(eventually(within: 5) { reports.withLock { $0 }.contains("first:true") })
        // A second callback, registered while there are clients, hears so at once.
        let second = try sm.registerClientCallback("test.lazy", service: first) { _, has in
            reports.withLock { $0.append("second:\(has)") }
        }
        #expect(eventually(within: 5) { reports.withLock { $0 }.contains("second:true") })
        // Unregistering is refused while the client holds it, with AOSP's message.
        let busy = #expect(throws: RemoteError.self) { try sm.tryUnregisterService("test.lazy", service: first) }
        #expect(busy == .exception(Status(exception: .illegalState, message: "Can't unregister, known client.")))
        _ = (kept, second, held, daemon)
    }

    /// servicemanager, the calculator's service and its client take their release from the
    /// configuration (here a libgbinder file named by SWIFTBINDER_GBINDER_CONFIG) without flags.
    @Test func theExecutablesFollowTheConfiguration() throws {
        let device = try TestDevice("config")
        try device.binderfs.setAccess(ofDevice: device.name, mode: FilePermissions(rawValue: 0o666))
        let file = "/tmp/\(device.name).conf"
        let fd = try FileDescriptor.open(FilePath(file), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        _ = try fd.writeAll("[General]\nApiLevel = 30\n".utf8)
        try fd.close()
        defer { unlink(file) }
        let environment = [BinderConfiguration.fileVariable: file]

        let daemon = try ChildProcess(
            ChildProcess.builtProduct("servicemanager"), ["--device", device.path.string, "--log-level", "critical"],
            environment: environment)
        let process = try BinderProcess(path: device.path, release: .android11)
        defer { process.shutdown() }
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        #expect(try #require(manager).detectRelease() == .android11)

        let server = try ChildProcess(
            ChildProcess.builtProduct("calculator"), ["serve", "--device", device.path.string],
            environment: environment, mergeStandardError: true)
        let registered = try server.readLine() ?? ""
        #expect(registered.contains("speaking android11 (\(file): [General] ApiLevel=30)"), "\(registered)")
        let client = try ChildProcess(
            ChildProcess.builtProduct("calculator"), ["add", "--device", device.path.string, "2", "3"],
            environment: environment, mergeStandardError: true)
        let output = try client.readAll()
        #expect(try client.waitForExit() == 0)
        #expect(output.contains("client: add(2, 3) = 5"), "\(output)")

        let config = try ChildProcess(
            ChildProcess.builtProduct("binder"), ["config", "--device", device.path.string, "--probe"],
            environment: environment, mergeStandardError: true)
        let shown = try config.readAll()
        #expect(try config.waitForExit() == 0)
        #expect(shown.contains("\(device.path): android11 (\(file): [General] ApiLevel=30)"), "\(shown)")
        #expect(shown.contains("servicemanager answers as: android11"), "\(shown)")
        // Served under swift-service-lifecycle: SIGTERM stops and joins its loopers, and it exits 0.
        kill(server.pid, SIGTERM)
        #expect(try server.waitForExit() == 0)
        _ = daemon
    }
}

/// Android 10's C servicemanager keeps a dead service's name (svcinfo_death only releases its
/// handle: service_manager.c at android-10.0.0_r1), later releases drop it.
@Suite(.requiresBinder) struct Android10ServiceManagerTests {
    @Test(arguments: [AndroidRelease.android10, .android11]) func aDeadServiceKeepsItsNameOnlyInAndroid10(_ release: AndroidRelease) throws {
        let device = try TestDevice("dead-name-\(release.apiLevel)")
        let environment = [BinderConfiguration.releaseVariable: release.rawValue]
        let daemon = try ChildProcess(
            ChildProcess.builtProduct("servicemanager"), ["--device", device.path.string, "--log-level", "critical"],
            environment: environment)
        let process = try BinderProcess(path: device.path, release: release)
        defer { process.shutdown() }
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        let sm = try #require(manager)
        let server = try ChildProcess(
            ChildProcess.builtProduct("binder-test-peer"), ["sm-serve", device.path.string, "test.doomed"],
            environment: environment)
        #expect(try server.readLine() == "ready")
        #expect(try sm.checkService("test.doomed") != nil)
        kill(server.pid, SIGKILL)
        _ = try server.waitForExit()
        #expect(try eventually(within: 5) { try sm.checkService("test.doomed") == nil })
        #expect(try sm.listServices().contains("test.doomed") == (release == .android10))
        _ = daemon
    }
}
