import ArgumentParser
import Logging
import ServiceLifecycle
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The calculator service: the generated `org.swiftbinder.demo.ICalculator.Service` (from aidl/.../ICalculator.aidl,
/// compiled at build time by the SwiftAIDL plugin).
final class Calculator: org.swiftbinder.demo.ICalculator.Service, @unchecked Sendable {
    /// The kernel binder process serving it, or nil when it is served over RPC binder.
    let process: BinderProcess?

    init(process: BinderProcess?) {
        self.process = process
    }

    func add(a: Int32, b: Int32) throws -> Int32 {
        print("calculator: add(\(a), \(b)) called by \(try describeCaller())")
        fflush(nil)
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw Status(exception: .illegalArgument, message: "\(a) + \(b) overflows an int") }
        return sum
    }

    func describeCaller() throws -> String {
        // RPC binder carries no caller identity: only the kernel stamps one.
        guard let process else { return "an RPC client (RPC binder carries no caller identity)" }
        let caller = process.callingIdentity ?? .ownProcess
        return "pid \(caller.pid), uid \(caller.euid)"
    }
}

/// `--protocol RELEASE`: a release's name or its API level.
extension AndroidRelease: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

@main
struct CalculatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calculator",
        abstract: "The demo's calculator service and its client.",
        subcommands: [Serve.self, Add.self])

    struct Options: ParsableArguments {
        @Option(help: "The binder device.") var device: String = "/dev/binderfs/binder"
        @Option(help: "The service name.") var name: String = "calculator"
        @Option(help: "Over RPC binder instead of the kernel: unix:PATH, inet:HOST:PORT or vsock:CID:PORT.")
        var rpc: String?
        @Option(
            name: .customLong("protocol"),
            help: "The Android release the device speaks (or its API level); default: the configuration.")
        var release: AndroidRelease?

        func open() throws -> BinderProcess {
            try BinderProcess(path: FilePath(device), release: release)
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register the calculator and serve it.")
        @OptionGroup var options: Options

        func run() async throws {
            if let rpc = options.rpc {
                try await serveOverRPC(at: rpc)
                return
            }
            do {
                let process = try options.open()
                let manager = try ServiceManager(process: process)
                try manager.addService(options.name, org.swiftbinder.demo.ICalculator.Stub(Calculator(process: process)))
                // Serves until SIGTERM or SIGINT, then stops its loopers (swift-service-lifecycle);
                // says it is registered once it serves and the signals are trapped.
                let announcement = "calculator: registered as '\(options.name)' by pid \(getpid()), uid \(geteuid()), speaking \(process.release)"
                let loopers = BinderThreadPoolService(process: process) {
                    print(announcement)
                    fflush(nil)
                }
                let group = ServiceGroup(
                    services: [loopers], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "calculator"))
                try await group.run()
            } catch {
                print("calculator: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Add: ParsableCommand {
        /// Calls the calculator an RPC server serves as its root object.
        private func addOverRPC(at address: String) throws {
            let session = try RpcSession.connect(to: address)
            defer { session.shutdown() }
            guard let root = try session.rootObject() else {
                print("client: \(address) serves no root object")
                throw ExitCode.failure
            }
            let calculator = org.swiftbinder.demo.ICalculator.Proxy(root)
            print("client: add(\(a), \(b)) = \(try calculator.add(a: a, b: b)) over RPC binder (\(address), protocol \(session.protocolVersion))")
            print("client: the service saw me as \(try calculator.describeCaller())")
        }

        static let configuration = CommandConfiguration(abstract: "Look the calculator up and add two numbers.")
        @OptionGroup var options: Options
        @Argument var a: Int32
        @Argument var b: Int32

        func run() throws {
            do {
                if let rpc = options.rpc {
                    try addOverRPC(at: rpc)
                    return
                }
                let process = try options.open()
                let manager = try ServiceManager(process: process)
                guard let binder = try manager.waitForService(options.name, timeout: .seconds(5)) else {
                    print("client: no service named '\(options.name)'")
                    throw ExitCode.failure
                }
                let calculator = org.swiftbinder.demo.ICalculator.Proxy(binder)
                print("client: add(\(a), \(b)) = \(try calculator.add(a: a, b: b))")
                print("client: the service saw me as \(try calculator.describeCaller()) (I am pid \(getpid()), uid \(geteuid()))")
                process.shutdown()
            } catch let error as ExitCode {
                throw error
            } catch {
                print("client: \(error)")
                throw ExitCode.failure
            }
        }
    }
}

extension CalculatorCommand.Serve {
    /// Serves the calculator as the root object of an RPC binder server until SIGTERM or SIGINT.
    func serveOverRPC(at address: String) async throws {
        do {
            let server = try RpcServer(root: org.swiftbinder.demo.ICalculator.Stub(Calculator(process: nil)), address: address)
            let service = RpcServerService(server: server) {
                print("calculator: serving over RPC binder at \(address)")
                fflush(nil)
            }
            let group = ServiceGroup(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "calculator"))
            try await group.run()
        } catch {
            print("calculator: \(error)")
            throw ExitCode.failure
        }
    }
}
