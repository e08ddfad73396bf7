import Synchronization
import ArgumentParser
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

@main
struct BinderTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "binder",
        abstract: "Manage binderfs devices and talk to binder from the command line.",
        version: "0.1.0",
        subcommands: [
            List.self, Check.self, Ping.self, Call.self, Device.self, Features.self, Config.self, Stats.self, Raw.self,
        ])
}

/// Options shared by the commands that work on a binderfs mount.
struct BinderfsOptions: ParsableArguments {
    @Option(help: "The binderfs mount (default: /dev/binderfs, or the first binderfs mounted).")
    var binderfs: String?

    @Option(help: "A binder device: its binderfs mount is the one used.")
    var device: String?

    func mount() throws -> Binderfs {
        try runReportingErrors { () throws(BinderError) in
            if let binderfs { return try Binderfs(mountPoint: FilePath(binderfs)) }
            if let device { return try Binderfs(mountPoint: FilePath(device).removingLastComponent()) }
            return try Binderfs.find()
        }
    }
}

/// `--protocol RELEASE`: a release's name or its API level.
extension AndroidRelease: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// Runs `body`, turning a `BinderError` into a one-line message and exit status 1.
func runReportingErrors<T>(_ body: () throws(BinderError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        var standardError = StandardError()
        print("binder: \(error)", to: &standardError)
        throw ExitCode.failure
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { _ = try? FileDescriptor.standardError.writeAll(string.utf8) }
}

// MARK: - binder device

struct Device: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, remove and list binderfs devices.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a device through binder-control.")
        @OptionGroup var options: BinderfsOptions
        @Argument(help: "The new device's name.") var name: String
        @Option(help: "Permission bits in octal, e.g. 0660 (binderfs creates 0600).") var mode: String?
        @Option(help: "Owner as UID or UID:GID.") var owner: String?

        func validate() throws {
            if let mode, UInt16(mode, radix: 8) == nil { throw ValidationError("--mode must be octal, e.g. 0660") }
            if let owner, parseOwner(owner) == nil { throw ValidationError("--owner must be UID or UID:GID") }
        }

        func run() throws {
            let mount = try options.mount()
            let device = try runReportingErrors { () throws(BinderError) in try mount.addDevice(named: name) }
            if mode != nil || owner != nil {
                let permissions = FilePermissions(rawValue: mode.flatMap { CModeT($0, radix: 8) } ?? 0o600)
                let ids = owner.flatMap(parseOwner)
                try runReportingErrors { () throws(BinderError) in
                    try mount.setAccess(ofDevice: name, mode: permissions, owner: ids?.uid, group: ids?.gid)
                }
            }
            print("\(device.path) (\(device.major):\(device.minor))")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a device.")
        @OptionGroup var options: BinderfsOptions
        @Argument(help: "The device's name.") var name: String

        func run() throws {
            let mount = try options.mount()
            try runReportingErrors { () throws(BinderError) in try mount.removeDevice(named: name) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the devices of a binderfs mount.")
        @OptionGroup var options: BinderfsOptions

        func run() throws {
            let mount = try options.mount()
            for name in try runReportingErrors({ () throws(BinderError) in try mount.deviceNames() }) {
                print(mount.devicePath(name))
            }
        }
    }
}

func parseOwner(_ text: String) -> (uid: uid_t, gid: gid_t?)? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count <= 2, let uid = uid_t(parts[0]) else { return nil }
    if parts.count == 2 {
        guard let gid = gid_t(parts[1]) else { return nil }
        return (uid, gid)
    }
    return (uid, nil)
}

// MARK: - binder config

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which Android release each device speaks, and why.",
        discussion: """
            The release comes from, in order: --protocol, SWIFTBINDER_ANDROID_RELEASE, libgbinder's \
            /etc/gbinder.conf and /etc/gbinder.d/*.conf ([ServiceManager] and [Protocol] keys for the \
            device or Default, then [General] ApiLevel), then the default (\(AndroidRelease.default)).
            """)
    @OptionGroup var options: BinderfsOptions
    @Option(name: .customLong("protocol"), help: "Show what this release would speak instead.")
    var release: AndroidRelease?
    @Flag(help: "Also ask each device's servicemanager which release it answers as.")
    var probe = false

    func run() throws {
        let configuration = BinderConfiguration.system()
        print("configuration files: \(configuration.files.isEmpty ? "none" : configuration.files.joined(separator: ", "))")
        for warning in configuration.warnings { print("warning: \(warning)") }
        let devices: [FilePath]
        if let device = options.device, options.binderfs == nil {
            devices = [FilePath(device)]
        } else {
            let mount = try options.mount()
            devices = try runReportingErrors { () throws(BinderError) in try mount.deviceNames() }.map(mount.devicePath)
        }
        for device in devices {
            do {
                let choice = try configuration.release(for: device, explicit: release)
                print("\(device): \(choice.release) (\(choice.source))")
                for line in choice.release.protocolSummary { print("    \(line)") }
                if probe {
                    let detected = (try? BinderProcess(path: device, maxThreads: 0, release: choice.release))
                        .flatMap { try? ServiceManager(process: $0).detectRelease() }
                    print("    servicemanager answers as: \(detected?.description ?? "nothing (no context manager, or not a servicemanager)")")
                }
            } catch {
                print("\(device): \(error)")
            }
        }
    }
}

// MARK: - binder features

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the binder driver supports (features/).")
    @OptionGroup var options: BinderfsOptions

    func run() throws {
        let features = try options.mount().features()
        print("oneway_spam_detection: \(features.onewaySpamDetection)")
        print("extended_error: \(features.extendedError)")
        print("freeze_notification: \(features.freezeNotification)")
    }
}

// MARK: - binder raw

struct Raw: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Raw bytes (padded to 4, as every parcel) through the runtime, without interfaces (diagnostics).",
        subcommands: [Serve.self, Call.self])

    /// Code that asks `binder raw serve` who is calling: the reply is the kernel-stamped
    /// sender pid and euid (two int32s) followed by the request's bytes.
    static let whoAmICode: UInt32 = 2

    /// Echoes every request's bytes (after the caller's identity for ``Raw/whoAmICode``) and
    /// shuts the process down after `limit` transactions, once the last reply is sent.
    final class EchoObject: BinderObject, @unchecked Sendable {
        let process: BinderProcess
        let limit: Int?
        let verbose: Bool
        private let served = Mutex(0)

        init(process: BinderProcess, limit: Int?, verbose: Bool) {
            self.process = process
            self.limit = limit
            self.verbose = verbose
        }

        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            let caller = process.callingIdentity ?? .ownProcess
            let bytes = data.withUnsafeDataBytes { Array($0) }
            if verbose {
                print("received code \(code), \(bytes.count) bytes from pid \(caller.pid) euid \(caller.euid)")
                fflush(nil)
            }
            if code == Raw.whoAmICode {
                reply.writeInt32(caller.pid)
                reply.writeInt32(Int32(bitPattern: caller.euid))
            }
            reply.writeBytes(bytes)
            let count = served.withLock { count in
                count += 1
                return count
            }
            // The looper sends this reply, then finds the process shutting down and leaves.
            if let limit, count >= limit { process.shutdown() }
        }
    }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Become the context manager and echo every transaction's data back.",
            discussion: "Code 2 replies with the sender's pid and euid (as stamped by the kernel) before the data.")
        @Option(help: "The binder device.") var device: String
        @Option(help: "Stop after this many transactions.") var count: Int?
        @Flag(help: "Print a line for each transaction.") var verbose = false

        func run() throws {
            try runReportingErrors { () throws(BinderError) in
                // One looper, this thread: the last reply leaves before joinThreadPool returns.
                let process = try BinderProcess(path: FilePath(device), maxThreads: 0)
                try process.becomeContextManager(EchoObject(process: process, limit: count, verbose: verbose))
                print("ready: context manager of \(device)")
                fflush(nil)
                process.joinThreadPool()
            }
        }
    }

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a transaction to handle 0 and print the reply.")
        @Option(help: "The binder device.") var device: String
        @Option(help: "The transaction code.") var code: UInt32 = 1
        @Flag(help: "Send it oneway.") var oneway = false
        @Argument(help: "The text to send.") var message: String

        func run() throws {
            let reply: [UInt8] = try runReportingErrors { () throws(BinderError) in
                let process = try BinderProcess(path: FilePath(device))
                var request = Parcel(wireFormat: process.wireFormat)
                request.writeBytes(Array(message.utf8))
                let reply = try process.transact(handle: 0, code: code, data: request, flags: oneway ? [.oneWay] : [])
                return reply.withUnsafeDataBytes { Array($0) }
            }
            // Parcels are padded to 4 bytes: the text ends at the first NUL.
            func text(_ bytes: ArraySlice<UInt8>) -> String {
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            let bytes = reply
            switch code {
            case _ where oneway:
                print("sent (oneway)")
            case Raw.whoAmICode where bytes.count >= 8:
                let pid = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: Int32.self) }
                let euid = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
                print("reply: '\(text(bytes[8...]))', the kernel says I am pid \(pid) euid \(euid)")
            default:
                print("reply: '\(text(bytes[...]))'")
            }
        }
    }
}
