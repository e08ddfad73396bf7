import ArgumentParser
import Logging
import ServiceLifecycle
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `--protocol RELEASE`: a release's name or its API level.
extension AndroidRelease: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// The context manager daemon: the registry at handle 0 (`android.os.IServiceManager`).
@main
struct ServiceManagerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servicemanager",
        abstract: "Become the binder context manager (handle 0) of a device and keep its service registry.",
        discussion: """
            The access policy file has one rule per line (# starts a comment):
              add     PATTERN UIDS    may register names matching PATTERN (a shell glob)
              find    PATTERN UIDS    may look them up and watch for them
              replace PATTERN UIDS    may re-register a name another uid registered
              list            UIDS    may list services
              declare NAME            a declared instance (isDeclared, getDeclaredInstances)
            UIDS is * or a comma-separated list of uids. The first matching rule decides; without
            one, root may add and replace, everyone may find and list. Identity is the caller's
            euid as the kernel reports it.
            """,
        version: "0.1.0")

    @Option(help: "The binder device to manage.")
    var device: String = "/dev/binderfs/binder"

    @Option(help: "The access policy file (default: root adds, everyone finds and lists).")
    var policy: String?

    @Option(
        name: .customLong("protocol"),
        help: ArgumentHelp(
            "The Android release to speak (or its API level).",
            discussion: "Default: the configuration (SWIFTBINDER_ANDROID_RELEASE, /etc/gbinder.conf; see `binder config`)."))
    var release: AndroidRelease?

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "servicemanager")

        let accessPolicy: AccessPolicy
        do {
            accessPolicy = try policy.map(loadPolicy) ?? .default
        } catch {
            fail("\(policy ?? ""): \(error)")
        }

        let process: BinderProcess
        let service: ServiceManagerService
        var releaseSource = ""
        do throws(BinderError) {
            // As AOSP's: one looper serving requests, deaths and callbacks; no background
            // scheduling bits in the objects it sends from Android 15; a node that asks only for
            // security contexts (cmds/servicemanager/main.cpp).
            let choice: BinderConfiguration.Choice
            do {
                choice = try BinderConfiguration.system().release(for: FilePath(device), explicit: release)
            } catch {
                throw .configuration(error)
            }
            releaseSource = choice.source
            process = try BinderProcess(
                path: FilePath(device), maxThreads: 0, release: choice.release,
                disableBackgroundScheduling: choice.release.serviceManagerDisablesBackgroundScheduling, logger: logger)
            service = ServiceManagerService(process: process, policy: accessPolicy, logger: logger)
            try process.becomeContextManager(service.binder, requestSecurityContext: true, nodeFlags: 0)
        } catch {
            if error.errno == .resourceBusy {
                fail("\(error) — another context manager holds \(device)")
            }
            fail("\(error)")
        }
        service.startClientCallbackTimer()
        // The loopers serve until SIGTERM or SIGINT, then stop and are joined
        // (swift-service-lifecycle).
        // Ready once the loopers serve and the signals are trapped.
        let metadata: Logger.Metadata = [
            "binder.device": "\(device)", "android.release": "\(process.release.release)",
            "android.release.source": "\(releaseSource)",
        ]
        let loopers = BinderThreadPoolService(process: process) { logger.info("ready", metadata: metadata) }
        let group = ServiceGroup(services: [loopers], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)

        try await group.run()
        logger.info("shut down")
        service.stop()
    }

    private func loadPolicy(_ path: String) throws -> AccessPolicy {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= 1 << 20 else { throw ValidationError("larger than 1 MiB") }
        }
        return try AccessPolicy(parsing: String(decoding: bytes, as: UTF8.self))
    }

    private func fail(_ message: String) -> Never {
        _ = try? FileDescriptor.standardError.writeAll("servicemanager: \(message)\n".utf8)
        Glibc.exit(1)
    }
}
