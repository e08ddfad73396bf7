import ArgumentParser
import Logging
import SwiftBinder
import SystemPackage

/// The context manager daemon. For now it claims handle 0 and answers PING, which is what
/// other binder stacks send before anything else; the registry comes with the servicemanager issue.
@main
struct ServiceManagerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servicemanager",
        abstract: "Becomes the binder context manager (handle 0) of a device.",
        version: "0.1.0")

    @Option(help: "The binder device to manage.")
    var device: String = "/dev/binderfs/binder"

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "servicemanager")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        do {
            let binder = try BinderDevice(path: FilePath(device))
            try binder.becomeContextManager()
            logger.info("context manager", metadata: ["binder.device": "\(device)"])
            try binder.serveRaw { request in
                logger.debug(
                    "transaction",
                    metadata: [
                        "transaction.code": "\(request.code)", "sender.pid": "\(request.senderPID)",
                        "sender.euid": "\(request.senderEUID)",
                    ])
                return request.code == ReservedTransactionCode.ping ? .reply([]) : .status(StatusCode.unknownTransaction.rawValue)
            }
        } catch {
            print("servicemanager: \(error)")
            throw ExitCode.failure
        }
    }
}
