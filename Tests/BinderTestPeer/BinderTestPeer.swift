import BinderTestSupport
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A second process for the in-VM tests: `binder-test-peer SCENARIO DEVICE`.
///
/// - `serve DEVICE [MAX_THREADS]`: runs ``TestService`` as context manager (its extension is
///   an ``AsyncTestService``) with a thread pool, until killed.
/// - `call-whoami DEVICE UID`: switches to UID, asks the service who is calling and prints
///   "pid euid" as the service saw them.
/// - `sm-call-and-die DEVICE DELAY_US`: sends servicemanager a checkService("manager") (whose
///   reply carries a binder) without waiting for the reply, and exits DELAY_US later.
/// - `every-type DEVICE`: becomes the context manager (accepting fds), reads one request
///   holding an interface token, an `EveryType`, a binder and a `ParcelFileDescriptor`, and
///   replies with Status OK, the same `EveryType` written back, the same binder, the same file
///   descriptor, and the first bytes it read from that file. A request it cannot read gets a
///   `TF_STATUS_CODE` reply naming the error.
@main
struct BinderTestPeer {
    static func main() {
        let arguments = CommandLine.arguments
        switch (arguments.count, arguments.dropFirst().first) {
        case (3...4, "serve"): serve(device: arguments[2], maxThreads: arguments.count == 4 ? UInt32(arguments[3]) : nil)
        case (4, "call-whoami"): callWhoAmI(device: arguments[2], uid: uid_t(arguments[3]) ?? 65534)
        case (3, "every-type"): everyType(device: arguments[2])
        case (4, "sm-serve"): serviceManagerServe(device: arguments[2], name: arguments[3])
        case (3, "aidl"): serveAIDL(device: arguments[2])
        case (5, "sm-concurrent"):
            serviceManagerConcurrent(device: arguments[2], index: Int(arguments[3]) ?? 0, count: Int(arguments[4]) ?? 1)
        case (4, "sm-policy-probe"): serviceManagerPolicyProbe(device: arguments[2], uid: uid_t(arguments[3]) ?? 65534)
        case (3, "sm-client"): serviceManagerClient(device: arguments[2])
        case (4, "sm-call-and-die"): serviceManagerCallAndDie(device: arguments[2], delay: UInt32(arguments[3]) ?? 0)
        case (4, "sm-keep"): serviceManagerKeep(device: arguments[2], name: arguments[3])
        case (4, "fd-passes"): fileDescriptorPasses(device: arguments[2], count: Int(arguments[3]) ?? 1000)
        case (4, "echo-calls"): echoCalls(device: arguments[2], count: Int(arguments[3]) ?? 1000)
        case (4, "become-context-manager"): becomeContextManager(device: arguments[2], uid: uid_t(arguments[3]) ?? 65534)
        default:
            fail(
                "usage: binder-test-peer serve DEVICE [MAX_THREADS] | call-whoami DEVICE UID | every-type DEVICE"
                    + " | sm-serve DEVICE NAME | sm-concurrent DEVICE INDEX COUNT | sm-policy-probe DEVICE UID")
        }
    }

    /// Serves the generated org.swiftbinder.test.ITestService (AIDLTestService) as context manager until killed.
    /// With `BINDER_TEST_PEER_STABILITY=vendor` the process's own objects are VENDOR, as a
    /// vendor process's are (its token stays 'SYST': libbinder_ndk is system libbinder).
    static func serveAIDL(device: String) {
        do throws(BinderError) {
            var format: WireFormat?
            if getenv("BINDER_TEST_PEER_STABILITY").map({ String(cString: $0) }) == "vendor" {
                format = WireFormat(stability: .level16, hasInterfaceHeader: true, localStability: .vendor)
            }
            let process = try BinderProcess(path: FilePath(device), wireFormat: format)
            try process.becomeContextManager(org.swiftbinder.test.ITestService.Stub(AIDLTestService()))
            process.startThreadPool()
            print("ready")
            fflush(nil)
            process.joinThreadPool()
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    /// Registers a TestService under NAME with servicemanager and serves it until killed.
    static func serviceManagerServe(device: String, name: String) {
        do {
            let process = try BinderProcess(path: FilePath(device))
            let manager = try ServiceManager(process: process)
            try manager.addService(name, TestService(process: process))
            print("ready")
            fflush(nil)
            process.startThreadPool()
            process.joinThreadPool()
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    /// One of COUNT processes: registers svc-INDEX, waits for svc-(INDEX+1), pings it and
    /// checks every name it can see; prints "ok" (or what failed) and serves until killed.
    static func serviceManagerConcurrent(device: String, index: Int, count: Int) {
        do {
            let process = try BinderProcess(path: FilePath(device))
            let manager = try ServiceManager(process: process)
            try manager.addService("svc-\(index)", TestService(process: process))
            let next = "svc-\((index + 1) % count)"
            guard let service = try manager.waitForService(next, timeout: .seconds(30)) else {
                fail("fail: \(next) never appeared")
            }
            try service.ping()
            guard try service.interfaceDescriptor() == testServiceDescriptor else { fail("fail: wrong descriptor") }
            for _ in 0..<20 { _ = try manager.checkService("svc-\(Int.random(in: 0..<count))") }
            print("ok")
            fflush(nil)
            process.joinThreadPool()
        } catch {
            fail("fail: \(error)")
        }
    }

    /// Registers a TestService under NAME and keeps it registered across servicemanager restarts.
    static func serviceManagerKeep(device: String, name: String) {
        do {
            let process = try BinderProcess(path: FilePath(device))
            let manager = try ServiceManager(process: process)
            try manager.keepRegistered(name, TestService(process: process))
            print("ready")
            fflush(nil)
            process.joinThreadPool()
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    /// A client on its own (so no other test opens or closes descriptors meanwhile): sends a pipe
    /// to the service's reversePipe COUNT times, getting a new one back each time, and prints its
    /// open descriptors before and after.
    static func fileDescriptorPasses(device: String, count: Int) {
        measureRepeatedCalls(device: device, count: count, warmUp: 20, measure: countOpenFileDescriptors) { service in
            let pipe = try FileDescriptor.pipe()
            _ = try pipe.writeEnd.writeAll([1, 2, 3])
            try pipe.writeEnd.close()
            var request = Parcel()
            request.writeParcelFileDescriptor(transferring: ParcelFileDescriptor(pipe.readEnd))
            var reply = try service.transact(code: TestServiceCode.reversePipe.rawValue, data: request)
            _ = try reply.readParcelFileDescriptor()  // closed when it goes
        }
    }

    /// Makes `count` echo calls after a warm-up; prints its heap bytes in use before and after.
    static func echoCalls(device: String, count: Int) {
        measureRepeatedCalls(device: device, count: count, warmUp: 2000, measure: heapBytesInUse) { service in
            var request = Parcel()
            request.writeString16("steady")
            var reply = try service.transact(code: TestServiceCode.echo.rawValue, data: request)
            _ = try reply.readString16()
        }
    }

    /// Makes `call` on the device's context object `warmUp` times, then `count` times, and
    /// prints `measure()` before and after the counted calls: a leak check in a process that
    /// does nothing else.
    static func measureRepeatedCalls(
        device: String, count: Int, warmUp: Int, measure: () -> Int, call: (BinderProxy) throws -> Void
    ) {
        do {
            let process = try BinderProcess(path: FilePath(device))
            let service = try process.contextObject
            for _ in 0..<warmUp { try call(service) }
            let before = measure()
            for _ in 0..<count { try call(service) }
            print("\(before) \(measure())")
        } catch {
            fail("fail: \(error)")
        }
    }

    /// A short-lived client: looks up, lists, registers for a notification, and exits.
    static func serviceManagerClient(device: String) {
        do {
            let process = try BinderProcess(path: FilePath(device))
            let manager = try ServiceManager(process: process)
            _ = try manager.checkService("manager")
            _ = try manager.listServices()
            _ = try manager.registerForNotifications("test.never") { _, _ in }
            print("ok")
        } catch {
            fail("fail: \(error)")
        }
    }

    /// Asks servicemanager for a binder and exits without reading the reply, so that
    /// servicemanager replies to a thread that is gone or about to go.
    static func serviceManagerCallAndDie(device: String, delay: UInt32) {
        do throws(BinderError) {
            let binder = try BinderDevice(path: FilePath(device))
            var request = Parcel()
            request.writeInterfaceToken(android.os.IServiceManager.descriptor)
            request.writeString16("manager")
            try request.withUnsafeDataBytes { (bytes) throws(BinderError) in
                var commands = CommandBuffer()
                commands.append(
                    .transaction,
                    transaction: TransactionData(
                        target: 0, code: android.os.IServiceManager.Code.checkService, flags: .acceptFileDescriptors,
                        dataSize: UInt64(bytes.count), dataAddress: UInt64(UInt(bitPattern: bytes.baseAddress))))
                try binder.write(commands)
            }
            if delay > 0 { usleep(delay) }
            _exit(0)
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    /// As UID, tries to become the context manager of DEVICE; prints the outcome.
    static func becomeContextManager(device: String, uid: uid_t) {
        guard setgid(uid) == 0, setuid(uid) == 0 else { fail("binder-test-peer: cannot switch to uid \(uid)") }
        do throws(BinderError) {
            let binder = try BinderDevice(path: FilePath(device))
            try binder.becomeContextManager()
            print("became context manager")
        } catch {
            print("\(error.errno.map { $0.symbolicName } ?? "\(error)")")
        }
    }

    /// As UID, tries what the policy test's policy allows and denies; prints one line each.
    static func serviceManagerPolicyProbe(device: String, uid: uid_t) {
        guard setgid(uid) == 0, setuid(uid) == 0 else { fail("binder-test-peer: cannot switch to uid \(uid)") }
        do {
            let process = try BinderProcess(path: FilePath(device))
            let manager = try ServiceManager(process: process)
            func outcome(_ label: String, _ body: () throws(RemoteError) -> Void) {
                do {
                    try body()
                    print("\(label): ok")
                } catch .exception(let status) {
                    print("\(label): \(status.exception)")
                } catch .transport(.unsupported("null")) {
                    print("\(label): null")
                } catch {
                    print("\(label): \(error)")
                }
            }
            let object = ChildObject()
            outcome("add demo.mine") { () throws(RemoteError) in try manager.addService("demo.mine", object) }
            outcome("add other") { () throws(RemoteError) in try manager.addService("other", object) }
            // A lookup is never refused: what the caller may not see is a null binder.
            func lookup(_ label: String, _ body: () throws(RemoteError) -> (any IBinder)?) {
                outcome(label) { () throws(RemoteError) in
                    if try body() == nil { throw .transport(.unsupported("null")) }
                }
            }
            lookup("find demo.mine") { () throws(RemoteError) in try manager.checkService("demo.mine") }
            lookup("find secret") { () throws(RemoteError) in try manager.checkService("secret") }
            outcome("list") { () throws(RemoteError) in _ = try manager.listServices() }
            outcome("replace root.owned") { () throws(RemoteError) in try manager.addService("root.owned", object) }
            outcome("watch secret") { () throws(RemoteError) in _ = try manager.registerForNotifications("secret") { _, _ in } }
            outcome("debug info") { () throws(RemoteError) in _ = try manager.serviceDebugInfo() }
            outcome("lazy callback other") { () throws(RemoteError) in
                _ = try manager.registerClientCallback("other", service: object) { _, _ in }
            }
            // The work source in the interface token claims root: it is not an identity.
            lookup("spoofed find secret") { () throws(RemoteError) in
                var reply: Parcel
                do throws(BinderError) {
                    let handleZero = try process.contextObject
                    var request = handleZero.prepareTransaction()
                    request.writeInterfaceToken(ServiceManagerService.descriptor, workSource: 0)
                    request.writeString16("secret")
                    reply = try handleZero.transact(code: android.os.IServiceManager.Code.checkService, data: request)
                } catch {
                    throw .transport(error)
                }
                let status = (try? reply.readStatus()) ?? Status(exception: .illegalState)
                if !status.isOK { throw .exception(status) }
                return try? reply.readNullableStrongBinder()
            }
            fflush(nil)
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    static func serve(device: String, maxThreads: UInt32?) {
        do throws(BinderError) {
            let process = try BinderProcess(
                path: FilePath(device), maxThreads: maxThreads ?? BinderProcess.defaultMaxThreads)
            let service = TestService(process: process)
            service.extensionObject = AsyncTestService()
            try process.becomeContextManager(service)
            process.startThreadPool()
            print("ready")
            fflush(nil)
            process.joinThreadPool()
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    static func callWhoAmI(device: String, uid: uid_t) {
        guard setgid(uid) == 0, setuid(uid) == 0 else { fail("binder-test-peer: cannot switch to uid \(uid)") }
        do throws(BinderError) {
            let process = try BinderProcess(path: FilePath(device))
            var reply = try process.contextObject.transact(code: TestServiceCode.whoAmI.rawValue, data: Parcel())
            let pid = try? reply.readInt32()
            let euid = try? reply.readInteger(as: UInt32.self)
            print("\(pid ?? -1) \(euid ?? 0)")
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    /// The context manager of `device` for one call: reads every type, the binder and the
    /// descriptor of the request and sends them back, then shuts down.
    static func everyType(device: String) {
        do throws(BinderError) {
            // One looper, this thread: the reply leaves before joinThreadPool returns.
            let process = try BinderProcess(path: FilePath(device), maxThreads: 0)
            try process.becomeContextManager(EveryTypeEcho(process: process), nodeFlags: BinderObjectFlags.acceptsFileDescriptors)
            print("ready")
            fflush(nil)
            process.joinThreadPool()
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        print(message)
        exit(2)
    }
}

/// Answers one `every-type` request and shuts its process down once the reply is sent.
final class EveryTypeEcho: BinderObject, @unchecked Sendable {
    let process: BinderProcess

    init(process: BinderProcess) { self.process = process }

    override func onTransact(code: UInt32, data request: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        defer { process.shutdown() }
        do {
            try request.enforceInterface(everyTypeDescriptor)
            let value = try EveryType(from: &request)
            let binder = try request.readStrongBinder()
            let file = try request.readParcelFileDescriptor()
            try request.requireFullyRead()

            var head = [UInt8](repeating: 0, count: 64)
            let count = head.withUnsafeMutableBytes { buffer in
                (try? file.fileDescriptor.read(fromAbsoluteOffset: 0, into: buffer)) ?? 0
            }
            reply.writeStatus(.ok)
            try value.write(to: &reply)
            reply.writeStrongBinder(binder)
            reply.writeParcelFileDescriptor(transferring: file)  // kept open until the reply is sent
            reply.writeByteArray(Array(head[..<count]))
        } catch let error as ParcelError {
            print("peer: cannot read the request: \(error)")
            fflush(nil)
            throw StatusCode(error)
        }
    }
}
