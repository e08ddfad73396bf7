import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// servicemanager as a real process, clients and services as this process and peers.
@Suite(.requiresBinder) struct ServiceManagerTests {
    final class Setup {
        let device: TestDevice
        let daemon: ChildProcess
        let process: BinderProcess
        let manager: ServiceManager

        init(_ label: String, policy: String? = nil, release: AndroidRelease = .android16) throws {
            device = try TestDevice(label)
            try device.binderfs.setAccess(ofDevice: device.name, mode: FilePermissions(rawValue: 0o666))
            var arguments = ["--device", device.path.string, "--protocol", release.rawValue, "--log-level", "warning"]
            if let policy {
                let path = "/tmp/\(device.name).policy"
                let fd = try FileDescriptor.open(
                    FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .otherRead])
                _ = try fd.writeAll(policy.utf8)
                try fd.close()
                arguments += ["--policy", path]
            }
            daemon = try ChildProcess(ChildProcess.builtProduct("servicemanager"), arguments)
            process = try BinderProcess(path: device.path, release: release)
            process.startThreadPool()
            // Until servicemanager is the context manager, handle 0 is dead.
            var manager: ServiceManager?
            let process = self.process
            _ = eventually(within: 30) {
                manager = try? ServiceManager(process: process)
                return manager != nil
            }
            guard let manager else { throw BinderError.unsupported("servicemanager did not come up") }
            self.manager = manager
        }

        func peer(_ arguments: [String]) throws -> ChildProcess {
            try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), arguments)
        }

        deinit { process.shutdown() }
    }

    final class Named: BinderObject, @unchecked Sendable {
        let descriptor: String
        init(_ descriptor: String) { self.descriptor = descriptor }
        override var interfaceDescriptor: String { descriptor }
    }

    /// servicemanager runs under swift-service-lifecycle: SIGTERM (and SIGINT) stop its looper,
    /// which is joined, and it exits 0.
    @Test(arguments: [SIGTERM, SIGINT]) func theDaemonStopsOnASignal(_ signal: Int32) throws {
        let setup = try Setup("signal-\(signal)")
        try setup.manager.addService("test.before", Named("test.IBefore"))
        kill(setup.daemon.pid, signal)
        #expect(try setup.daemon.waitForExit() == 0)
    }

    @Test func addCheckGetAndList() throws {
        let setup = try Setup("basic")
        let echo = Named("test.IEcho")
        try setup.manager.addService("test.echo", echo)
        try setup.manager.addService("test.critical", Named("test.ICritical"), dumpPriority: .critical)
        // Registered from this process: the kernel hands our own object back.
        #expect(try setup.manager.checkService("test.echo") === echo)
        #expect(try setup.manager.getService("test.echo") === echo)
        #expect(try setup.manager.checkService("test.missing") == nil)
        #expect(try setup.manager.getService("test.missing", timeout: .milliseconds(200)) == nil)
        #expect(try setup.manager.listServices() == ["manager", "test.critical", "test.echo"])
        #expect(try setup.manager.listServices(dumpPriority: .critical) == ["test.critical"])
        let manager = try #require(try setup.manager.checkService("manager"))
        #expect(try manager.interfaceDescriptor() == "android.os.IServiceManager")
    }

    @Test func getService2ReturnsTheServiceUnion() throws {
        let setup = try Setup("service2")
        let echo = Named("test.IEcho")
        try setup.manager.addService("test.echo", echo, dumpPriority: [.default, .lazyService])
        var request = Parcel()
        request.writeInterfaceToken(ServiceManagerService.descriptor)
        request.writeString16("test.echo")
        let code = android.os.IServiceManager.Code.getService2
        #expect(code == 2)
        var reply = try setup.process.contextObject.transact(code: code, data: request)
        #expect(try reply.readStatus() == .ok)
        #expect(try reply.readInt32() == 1)
        #expect(try reply.readUnionTag(memberCount: 2) == 0)
        #expect(try reply.readInt32() == 1)
        let (binder, lazy) = try reply.readStructured { (parcel: inout Parcel, frame) throws(ParcelError) in
            (try parcel.readBinder(), try parcel.readBool())
        }
        #expect(binder.reference == .local(NodeIdentity(pointer: echo.nodeID, cookie: echo.nodeCookie)))
        #expect(lazy)
    }

    @Test func notificationsArriveForNewAndExistingServices() throws {
        let setup = try Setup("notify")
        let seen = Mutex<[String]>([])
        let registration = try setup.manager.registerForNotifications("test.later") { name, _ in
            seen.withLock { $0.append(name) }
        }
        try setup.manager.addService("test.later", Named("test.ILater"))
        #expect(eventually(within: 1) { seen.withLock { $0 } == ["test.later"] })
        // Registering for a name that exists fires at once.
        let existing = Atomic<Int>(0)
        _ = try setup.manager.registerForNotifications("test.later") { _, _ in existing.add(1, ordering: .relaxed) }
        #expect(eventually(within: 1) { existing.load(ordering: .relaxed) == 1 })
        // After unregistering, a re-registration is not reported to it.
        try setup.manager.unregisterForNotifications(registration)
        try setup.manager.addService("test.later", Named("test.ILater"))
        #expect(eventually(within: 1) { existing.load(ordering: .relaxed) == 2 })
        #expect(seen.withLock { $0 } == ["test.later"])
        let error = #expect(throws: RemoteError.self) { try setup.manager.unregisterForNotifications(registration) }
        #expect(error == .exception(Status(exception: .illegalState, message: "Nothing to unregister.")))
    }

    /// The async wait and the registrations as an async sequence.
    @Test func asyncWaitAndRegistrationsArriveWhenTheServiceIsAdded() async throws {
        let setup = try Setup("wait-async")
        let server = try setup.peer(["sm-serve", setup.device.path.string, "test.slow"])
        let service = try await setup.manager.waitForService("test.slow", timeout: .seconds(30))
        #expect(try server.readLine() == "ready")
        #expect(try service?.interfaceDescriptor() == testServiceDescriptor)
        #expect(try await setup.manager.waitForService("test.never", timeout: .milliseconds(300)) == nil)

        let announced = try setup.manager.registrations(of: "test.stream")
        let added = Named("test.IStream")
        try setup.manager.addService("test.stream", added)
        var first: (any IBinder)?
        for await service in announced {
            first = service
            break
        }
        #expect(first === added)
    }

    @Test func waitForServiceReturnsWhenTheServiceIsAdded() throws {
        let setup = try Setup("wait")
        let server = try setup.peer(["sm-serve", setup.device.path.string, "test.slow"])
        let started = monotonicSeconds()
        let service = try setup.manager.waitForService("test.slow", timeout: .seconds(30))
        #expect(try server.readLine() == "ready")
        #expect(try service?.interfaceDescriptor() == testServiceDescriptor)
        #expect(monotonicSeconds() - started < 30)
        #expect(try setup.manager.waitForService("test.never", timeout: .milliseconds(300)) == nil)
    }

    @Test func declarationsComeFromThePolicy() throws {
        let setup = try Setup(
            "declared",
            policy: """
                declare android.hardware.foo.IFoo/default
                declare android.hardware.foo.IFoo/backup
                declare android.hardware.bar.IBar/default
                """)
        #expect(try setup.manager.isDeclared("android.hardware.foo.IFoo/default"))
        #expect(try !setup.manager.isDeclared("android.hardware.foo.IFoo/other"))
        #expect(try setup.manager.declaredInstances(of: "android.hardware.foo.IFoo") == ["default", "backup"])
        #expect(try setup.manager.updatableViaApex("anything") == nil)
        #expect(try setup.manager.updatableNames(apex: "com.android.foo") == [])
        #expect(try setup.manager.connectionInfo("anything") == nil)
    }

    @Test func debugInfoNamesTheRegisteringProcess() throws {
        let setup = try Setup("debug")
        try setup.manager.addService("test.mine", Named("test.IMine"))
        let info = try setup.manager.serviceDebugInfo()
        #expect(info.contains(android.os.ServiceDebugInfo(name: "test.mine", debugPid: getpid())))
        #expect(info.contains(android.os.ServiceDebugInfo(name: "manager", debugPid: setup.daemon.pid)))
    }

    @Test func aKilledServiceDisappearsWithinASecond() throws {
        let setup = try Setup("death")
        let server = try setup.peer(["sm-serve", setup.device.path.string, "test.doomed"])
        #expect(try server.readLine() == "ready")
        #expect(try setup.manager.listServices().contains("test.doomed"))
        kill(server.pid, SIGKILL)
        #expect(try eventually(within: 1) { try !setup.manager.listServices().contains("test.doomed") })
    }

    @Test func sixteenProcessesRegisterAndLookUpConcurrently() throws {
        let setup = try Setup("sixteen")
        let peers = try (0..<16).map { index in
            try setup.peer(["sm-concurrent", setup.device.path.string, String(index), "16"])
        }
        for peer in peers { #expect(try peer.readLine() == "ok") }
        #expect(try setup.manager.listServices().filter { $0.hasPrefix("svc-") }.count == 16)
    }

    @Test func thePolicyIsEnforcedOnTheKernelsUid() throws {
        let setup = try Setup(
            "policy",
            policy: """
                # uid 1000 may register demo.*; only root finds "secret" and lists
                add     demo.*  1000
                find    secret  0
                list            0
                """)
        try setup.manager.addService("secret", Named("test.ISecret"))
        try setup.manager.addService("root.owned", Named("test.IRoot"))
        let probe = try setup.peer(["sm-policy-probe", setup.device.path.string, "1000"])
        let lines = try probe.readAll().split(separator: "\n").map(String.init)
        #expect(try probe.waitForExit() == 0)
        #expect(
            lines == [
                "add demo.mine: ok", "add other: EX_SECURITY", "find demo.mine: ok", "find secret: null",
                "list: EX_SECURITY", "replace root.owned: EX_SECURITY", "watch secret: EX_SECURITY",
                "debug info: EX_SECURITY", "lazy callback other: EX_SECURITY", "spoofed find secret: null",
            ])
        // Root is still allowed all of it.
        #expect(try setup.manager.checkService("secret") != nil)
        #expect(try setup.manager.listServices().contains("secret"))
    }

    @Test func invalidNamesAndNullBindersAreRefused() throws {
        let setup = try Setup("invalid")
        for name in ["", "has space", "semi;colon", String(repeating: "n", count: 128)] {
            let error = #expect(throws: RemoteError.self) { try setup.manager.addService(name, Named("x")) }
            guard case .exception(let status) = error else { continue }
            #expect(status.exception == .illegalArgument)
        }
        try setup.manager.addService(String(repeating: "n", count: 127), Named("x"))
        var request = Parcel()
        request.writeInterfaceToken(ServiceManagerService.descriptor)
        request.writeString16("test.null")
        request.writeStrongBinder(nil)
        request.writeBool(false)
        request.writeInt32(DumpPriority.default.rawValue)
        var reply = try setup.process.contextObject.transact(
            code: android.os.IServiceManager.Code.addService, data: request)
        // A null where the interface wants a binder: EX_NULL_POINTER, as AOSP's generated stubs answer.
        #expect(try reply.readStatus().exception == .nullPointer)
    }

    @Test func unknownCodesAndGarbageGetErrorsAndServiceContinues() throws {
        let setup = try Setup("garbage")
        let handleZero = try setup.process.contextObject
        let unknown = #expect(throws: BinderError.self) { _ = try handleZero.transact(code: 999, data: Parcel()) }
        #expect(unknown == .remoteStatus(.unknownTransaction))

        var generator = SystemRandomNumberGenerator()
        for code in 1...16 {
            var garbage = Parcel()
            garbage.writeBytes((0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            #expect(throws: BinderError.self) { _ = try handleZero.transact(code: UInt32(code), data: garbage) }
        }
        // A request with trailing bytes is refused the way Android 13+ services refuse it.
        var trailing = Parcel()
        trailing.writeInterfaceToken(ServiceManagerService.descriptor)
        trailing.writeString16("manager")
        trailing.writeInt32(42)
        var reply = try handleZero.transact(code: android.os.IServiceManager.Code.checkService, data: trailing)
        #expect(try reply.readStatus().exception == .badParcelable)
        // And the next request is served normally.
        #expect(try setup.manager.checkService("manager") != nil)
    }

    @Test func handleZeroAsAnArgumentDoesNotWedgeServiceManager() throws {
        let setup = try Setup("handle0")
        // servicemanager may not take references to handle 0 (itself): it must not try.
        try? setup.manager.addService("test.self", try setup.process.contextObject)
        var request = Parcel()
        request.writeInterfaceToken(ServiceManagerService.descriptor)
        request.writeString16("test.self")
        request.writeStrongBinder(try setup.process.contextObject)
        _ = try? setup.process.contextObject.transact(
            code: android.os.IServiceManager.Code.registerForNotifications, data: request)
        #expect(try setup.manager.checkService("manager") != nil)
        #expect(try setup.manager.listServices().contains("manager"))
    }

    @Test func lazyServiceClientsAreCountedByTheKernel() throws {
        let setup = try Setup("lazy")
        let lazy = Named("test.ILazy")
        try setup.manager.addService("test.lazy", lazy, dumpPriority: [.default, .lazyService])
        let reports = Mutex<[Bool]>([])
        let callback = try setup.manager.registerClientCallback("test.lazy", service: lazy) { _, hasClients in
            reports.withLock { $0.append(hasClients) }
        }
        // A client in another binder process (a second open of the device) takes a reference.
        let clientProcess = try BinderProcess(path: setup.device.path)
        defer { clientProcess.shutdown() }
        var client = try ServiceManager(process: clientProcess).checkService("test.lazy")
        #expect(client != nil)
        #expect(eventually(within: 1) { reports.withLock { $0 } == [true] })
        let busy = #expect(throws: RemoteError.self) { try setup.manager.tryUnregisterService("test.lazy", service: lazy) }
        guard case .exception(let status) = busy else {
            Issue.record("expected an ILLEGAL_STATE exception, got \(String(describing: busy))")
            return
        }
        #expect(status.exception == .illegalState)
        // The client lets go: servicemanager reports it on its next periodic check.
        client = nil
        #expect(eventually(within: 12) { reports.withLock { $0 } == [true, false] })
        try setup.manager.tryUnregisterService("test.lazy", service: lazy)
        #expect(try setup.manager.checkService("test.lazy") == nil)
        _ = callback
    }

    /// servicemanager at each release, with a client of the same release: the calls each release
    /// has work, the others fail naming the release, and the tool reads the registry.
    @Test(.serialized, arguments: AndroidRelease.allCases) func everyRelease(release: AndroidRelease) throws {
        let setup = try Setup("rel-\(release.apiLevel)\(release == .android15r1 ? "r1" : "")", release: release)
        #expect(setup.manager.release == release)
        #expect(setup.process.wireFormat == release.wireFormat)
        let service = Named("test.IOld")
        try setup.manager.addService("test.old", service)
        #expect(try setup.manager.checkService("test.old") === service)
        #expect(try setup.manager.checkService("test.missing") == nil)
        if release == .android10 {
            // The C servicemanager never registered itself (service_manager.c at android-10.0.0_r1).
            #expect(try setup.manager.listServices() == ["test.old"])
            #expect(try setup.manager.checkService("manager") == nil)
        } else {
            #expect(try setup.manager.listServices() == ["manager", "test.old"])
            let manager = try #require(try setup.manager.checkService("manager"))
            #expect(try manager.interfaceDescriptor() == "android.os.IServiceManager")
        }

        if release >= .android11 {
            let arrived = Mutex<[String]>([])
            let registration = try setup.manager.registerForNotifications("test.later") { name, _ in
                arrived.withLock { $0.append(name) }
            }
            try setup.manager.addService("test.later", Named("test.ILater"))
            #expect(eventually(within: 5) { arrived.withLock { $0 } == ["test.later"] })
            try setup.manager.unregisterForNotifications(registration)
            #expect(try setup.manager.isDeclared("test.old") == false)
        } else {
            let error = #expect(throws: RemoteError.self) { _ = try setup.manager.isDeclared("test.old") }
            #expect(error == .transport(.notInRelease("isDeclared", .android10)))
        }
        if release >= .android12 {
            let names = try setup.manager.serviceDebugInfo().map(\.name)
            #expect(names.contains("test.old"))
        } else {
            let error = #expect(throws: RemoteError.self) { _ = try setup.manager.serviceDebugInfo() }
            #expect(error == .transport(.notInRelease("getServiceDebugInfo", release)))
        }
        if release >= .android15 {
            #expect(try setup.manager.service2("test.old")?.service === service)
        }

        // The binder tool, told the release on its command line, reads the same registry.
        let list = try ChildProcess(
            ChildProcess.builtProduct("binder"), ["list", "--device", setup.device.path.string, "--protocol", release.rawValue],
            mergeStandardError: true)
        let listed = try list.readAll()
        #expect(try list.waitForExit() == 0)
        #expect(listed.contains("test.old: [test.IOld]"), "\(listed)")
        let check = try ChildProcess(
            ChildProcess.builtProduct("binder"), ["check", "test.old", "--device", setup.device.path.string],
            environment: [BinderConfiguration.releaseVariable: release.rawValue], mergeStandardError: true)
        let checked = try check.readAll()
        #expect(try check.waitForExit() == 0, "\(checked)")
        // And calls servicemanager itself at the release's listServices code.
        if release >= .android11 {
            let listCode: UInt32
            switch release {
            case .android15: listCode = android.os.IServiceManagerAndroid15.Code.listServices
            case .android16: listCode = android.os.IServiceManager.Code.listServices
            default: listCode = android.os.IServiceManagerAndroid11.Code.listServices  // 4 from 11 to 15 r1
            }
            let call = try ChildProcess(
                ChildProcess.builtProduct("binder"),
                ["call", "manager", String(listCode), "i32:15", "--device", setup.device.path.string, "--protocol", release.rawValue],
                mergeStandardError: true)
            let called = try call.readAll()
            #expect(try call.waitForExit() == 0, "\(called)")
            #expect(called.hasPrefix("Result: OK"), "\(called)")
        }
    }

    @Test func aSecondServiceManagerSaysTheDeviceIsBusy() throws {
        let setup = try Setup("busy")
        let second = try ChildProcess(
            ChildProcess.builtProduct("servicemanager"), ["--device", setup.device.path.string], mergeStandardError: true)
        let output = try second.readAll()
        #expect(try second.waitForExit() == 1)
        #expect(output.hasPrefix("servicemanager: ioctl(BINDER_SET_CONTEXT_MGR_EXT) \(setup.device.path): Device or resource busy (EBUSY)"))
        #expect(!output.contains("\n"))
        let missing = try ChildProcess(
            ChildProcess.builtProduct("servicemanager"), ["--device", "/dev/binderfs/absent"], mergeStandardError: true)
        #expect(try missing.readAll() == "servicemanager: open /dev/binderfs/absent: No such file or directory (ENOENT)")
        #expect(try missing.waitForExit() == 1)
    }

    @Test func theBinderToolTalksToServices() throws {
        let setup = try Setup("tool")
        let calculator = try ChildProcess(
            ChildProcess.builtProduct("calculator"), ["serve", "--device", setup.device.path.string])
        #expect(try calculator.readLine()?.hasPrefix("calculator: registered as 'calculator'") == true)
        func binder(_ arguments: [String]) throws -> (Int32, String) {
            let tool = try ChildProcess(
                ChildProcess.builtProduct("binder"), arguments + ["--device", setup.device.path.string],
                mergeStandardError: true)
            let output = try tool.readAll()
            return (try tool.waitForExit(), output)
        }
        #expect(try binder(["list"]) == (0, "Found 2 services:\n0\tcalculator: [org.swiftbinder.demo.ICalculator]\n1\tmanager: [android.os.IServiceManager]"))
        #expect(try binder(["check", "calculator"]) == (0, "Service calculator: found"))
        #expect(try binder(["check", "nothing"]) == (1, "Service nothing: not found"))
        let (pingStatus, ping) = try binder(["ping", "calculator"])
        #expect(pingStatus == 0 && ping.hasPrefix("calculator: alive"))
        #expect(try binder(["call", "calculator", "1", "i32:2", "i32:3"]) == (0, "Result: OK\n  0x00000004: 00000005                            '....'"))
        let (overflowStatus, overflow) = try binder(["call", "calculator", "1", "i32:2147483647", "i32:1"])
        #expect(overflowStatus == 0 && overflow.hasPrefix("Result: EX_ILLEGAL_ARGUMENT: 2147483647 + 1 overflows an int"))
        #expect(try binder(["call", "calculator", "99"]) == (1, "Result: status_t UNKNOWN_TRANSACTION"))
        let (usageStatus, usage) = try binder(["call", "calculator", "1", "x32:2"])
        #expect(usageStatus != 0 && usage.contains("unknown argument type 'x32'"))
        let (statsStatus, stats) = try binder(["stats"])
        #expect(statsStatus == 0 && stats.hasPrefix("processes: "))
    }
}

/// The registry's request handling without a device (what the servicemanager fuzz target drives):
/// the caller's uid is whatever the host says, the policy applies to it.
@Suite struct DetachedServiceManagerTests {
    static let policy = try! AccessPolicy(parsing: "find secret.* 0\nlist 0")

    static func call(_ registry: ServiceManagerService, _ code: UInt32, _ write: (inout Parcel) -> Void) throws -> Parcel {
        var request = Parcel()
        request.writeInterfaceToken(android.os.IServiceManager.descriptor)
        write(&request)
        var reply = Parcel()
        try registry.binder.onTransact(code: code, data: &request, reply: &reply, flags: [])
        return reply
    }

    final class Watcher: android.os.IServiceCallback.Service, @unchecked Sendable {
        func onRegistration(name: String, binder: any IBinder) throws {}
    }

    /// One uid cannot take every watched name from the others.
    @Test func registrationCallbacksAreCappedPerUID() throws {
        let uid = Mutex<uid_t>(1000)
        var limits = ServiceManagerService.Limits()
        limits.callbacksPerUID = 2
        let registry = ServiceManagerService(
            detachedWithCaller: { CallerIdentity(pid: 7, euid: uid.withLock { $0 }) }, limits: limits)
        try registry.registerForNotifications(name: "a", callback: Watcher())
        try registry.registerForNotifications(name: "b", callback: Watcher())
        let refused = #expect(throws: Status.self) { try registry.registerForNotifications(name: "c", callback: Watcher()) }
        #expect(refused?.exception == .illegalState)
        uid.withLock { $0 = 1001 }
        try registry.registerForNotifications(name: "c", callback: Watcher())
        uid.withLock { $0 = 0 }
        for name in ["d", "e", "f"] { try registry.registerForNotifications(name: name, callback: Watcher()) }
    }

    @Test func answersAndAppliesThePolicyToTheCallersUid() throws {
        let uid = Mutex<uid_t>(0)
        let registry = ServiceManagerService(
            detachedWithCaller: { CallerIdentity(pid: 7, euid: uid.withLock { $0 }) }, policy: Self.policy)
        var found = try Self.call(registry, android.os.IServiceManager.Code.checkService) { $0.writeString16("manager") }
        #expect(try found.readStatus().exception == .none)
        #expect(try found.readNullableStrongBinder() === registry.binder)
        var listed = try Self.call(registry, android.os.IServiceManager.Code.listServices) { $0.writeInt32(15) }
        #expect(try listed.readStatus().exception == .none)
        #expect(try listed.readArray { (p: inout Parcel) throws(ParcelError) in try p.readString16() } == ["manager"])

        uid.withLock { $0 = 1234 }
        var denied = try Self.call(registry, android.os.IServiceManager.Code.listServices) { $0.writeInt32(15) }
        #expect(try denied.readStatus().exception == .security)
        // A lookup the policy denies is a null binder with OK, as AOSP answers an SELinux denial
        // (cmds/servicemanager/ServiceManager.cpp at android-14.0.0_r1: "returns ok regardless").
        var hidden = try Self.call(registry, android.os.IServiceManager.Code.checkService) { $0.writeString16("secret.thing") }
        #expect(try hidden.readStatus().exception == .none)
        #expect(try hidden.readNullableStrongBinder() == nil)
    }
}
