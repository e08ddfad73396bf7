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
    let process: BinderProcess

    init(process: BinderProcess) {
        self.process = process
    }

    func add(a: Int32, b: Int32) throws -> Int32 {
        let caller = process.callingIdentity ?? .ownProcess
        print("calculator: add(\(a), \(b)) called by pid \(caller.pid), uid \(caller.euid)")
        fflush(nil)
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw Status(exception: .illegalArgument, message: "\(a) + \(b) overflows an int") }
        return sum
    }

    func describeCaller() throws -> String {
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
        static let configuration = CommandConfiguration(abstract: "Look the calculator up and add two numbers.")
        @OptionGroup var options: Options
        @Argument var a: Int32
        @Argument var b: Int32

        func run() throws {
            do {
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
