import AIDLTestInterfaces
import ArgumentParser
import Logging
import ServiceLifecycle
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `aidl-test-service --device PATH`: registers the services of AOSP's AIDL integration-test
/// service (system/tools/aidl/tests/aidl_test_service.cpp at android-14.0.0_r21), each under its
/// interface's descriptor, and serves them until SIGTERM or SIGINT.
@main
struct AIDLTestServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aidl-test-service",
        abstract: "Serve AOSP's AIDL integration-test services (android.aidl.tests.ITestService and its companions).")

    /// The device; the release it speaks comes from the configuration (`SWIFTBINDER_ANDROID_RELEASE`,
    /// `/etc/gbinder.conf`), as for every SwiftBinder process.
    @Option(help: "The binder device.") var device: String = "/dev/binderfs/binder"
    /// Serves ITestService as the root object of an RPC binder server instead (`inet:HOST:0`
    /// picks a port; the ready line names the address).
    @Option(help: "Serve ITestService over RPC binder at unix:PATH, inet:HOST:PORT or vsock:CID:PORT instead.")
    var rpc: String?

    func run() async throws {
        if let rpc {
            try await serveOverRPC(at: rpc)
            return
        }
        do {
            // As the C++ service: no extra loopers, and no background-scheduling bits in its objects.
            let process = try BinderProcess(
                path: FilePath(device), maxThreads: 0, disableBackgroundScheduling: true)
            let manager = try ServiceManager(process: process)
            let services: [(String, BinderObject)] = [
                (android.aidl.tests.ITestService.descriptor, android.aidl.tests.ITestService.Stub(TestService())),
                (android.aidl.versioned.tests.IFooInterface.descriptor, android.aidl.versioned.tests.IFooInterface.Stub(VersionedService())),
                (android.aidl.loggable.ILoggableInterface.descriptor, android.aidl.loggable.ILoggableInterface.Stub(LoggableService())),
                (android.aidl.tests.nested.INestedService.descriptor, android.aidl.tests.nested.INestedService.Stub(NestedService())),
                (
                    android.aidl.fixedsizearray.FixedSizeArrayExample.IRepeatFixedSizeArray.descriptor,
                    android.aidl.fixedsizearray.FixedSizeArrayExample.IRepeatFixedSizeArray.Stub(FixedSizeArrayService())
                ),
            ]
            for (name, service) in services { try manager.addService(name, service) }
            let loopers = BinderThreadPoolService(process: process) {
                print("aidl-test-service: serving \(services.map(\.0).joined(separator: ", ")) as \(process.release)")
                fflush(nil)
            }
            let group = ServiceGroup(
                services: [loopers], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "aidl-test-service"))
            try await group.run()
        } catch {
            print("aidl-test-service: \(error)")
            throw ExitCode.failure
        }
    }
}

extension AIDLTestServiceCommand {
    func serveOverRPC(at address: String) async throws {
        do {
            let server = try RpcServer(root: android.aidl.tests.ITestService.Stub(TestService()), address: address, maxThreads: 4)
            var announced = address
            if case .inet(let host, _) = server.address, let port = server.port { announced = "inet:\(host):\(port)" }
            let service = RpcServerService(server: server) { [announced] in
                print("aidl-test-service: serving \(android.aidl.tests.ITestService.descriptor) over RPC binder at \(announced)")
                fflush(nil)
            }
            let group = ServiceGroup(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "aidl-test-service"))
            try await group.run()
        } catch {
            print("aidl-test-service: \(error)")
            throw ExitCode.failure
        }
    }
}
