import ArgumentParser
import SwiftBinder
import SystemPackage

/// Options of the commands that talk to servicemanager.
struct ServiceOptions: ParsableArguments {
    @Option(help: "The binder device.")
    var device: String = "/dev/binderfs/binder"

    @Option(
        name: .customLong("protocol"),
        help: "The Android release the device speaks (or its API level); default: the configuration (binder config).")
    var release: AndroidRelease?

    func connect() throws -> ServiceManager {
        let process = try runReportingErrors { () throws(BinderError) in
            try BinderProcess(path: FilePath(device), release: release)
        }
        return try runReportingErrors { () throws(BinderError) in try ServiceManager(process: process) }
    }

    /// The service registered as `name`, or exit status 1 with a message.
    func service(_ name: String, in manager: ServiceManager) throws -> any IBinder {
        guard let service = try runRemote({ () throws(RemoteError) in try manager.checkService(name) }) else {
            reportError("no service named '\(name)'")
            throw ExitCode.failure
        }
        return service
    }
}

func reportError(_ message: String) {
    var standardError = StandardError()
    print("binder: \(message)", to: &standardError)
}

/// Runs a call to a service, turning a `RemoteError` into a one-line message and exit status 1.
func runRemote<T>(_ body: () throws(RemoteError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        reportError("\(error)")
        throw ExitCode.failure
    }
}

/// The descriptor a service reports, or "" when it will not say.
func descriptor(of service: any IBinder) -> String {
    (try? service.interfaceDescriptor()) ?? ""
}

// MARK: - binder list, check, ping

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the registered services and their interfaces.")
    @OptionGroup var options: ServiceOptions

    func run() throws {
        let manager = try options.connect()
        let names = try runRemote { () throws(RemoteError) in try manager.listServices() }
        print("Found \(names.count) services:")
        for (index, name) in names.enumerated() {
            let service = try? manager.checkService(name)
            print("\(index)\t\(name): [\(service.map(descriptor) ?? "")]")
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Say whether a service is registered (exit 1 if not).")
    @OptionGroup var options: ServiceOptions
    @Argument(help: "The service name.") var name: String

    func run() throws {
        let manager = try options.connect()
        let found = try runRemote { () throws(RemoteError) in try manager.checkService(name) } != nil
        print("Service \(name): \(found ? "found" : "not found")")
        if !found { throw ExitCode.failure }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ping a service and print the round-trip time.")
    @OptionGroup var options: ServiceOptions
    @Argument(help: "The service name.") var name: String
    @Option(help: "How many pings.") var count: Int = 1

    func run() throws {
        let manager = try options.connect()
        let service = try options.service(name, in: manager)
        for _ in 0..<max(count, 1) {
            let start = ContinuousClock.now
            try runReportingErrors { () throws(BinderError) in try service.ping() }
            let elapsed = start.duration(to: .now)
            let microseconds = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
            print("\(name): alive, ping in \(Int(microseconds.rounded())) µs")
        }
    }
}

// MARK: - binder call

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a service method with typed arguments and print the reply.",
        discussion: """
            The request starts with the interface token, written with the descriptor the service
            reports (as Android's `service call` does). Arguments:
              i32:N  i64:N  f:X  d:X  b:true|false  s16:TEXT  null (a null binder)  fd:PATH
            The reply is read as an AIDL reply: its status, then the rest as 32-bit words.
            With --rpc ADDRESS (unix:PATH, inet:HOST:PORT, vsock:CID:PORT) there is no name: the
            call goes to the root object of the RPC binder server there.
            """)
    @OptionGroup var options: ServiceOptions
    @Option(help: "Call the root object of an RPC binder server instead: unix:PATH, inet:HOST:PORT or vsock:CID:PORT.")
    var rpc: String?
    @Argument(help: "The service name (not with --rpc), the transaction code, then typed arguments.")
    var target: [String] = []
    @Flag(help: "Send it oneway (no reply).") var oneway = false

    /// The service name (nil with --rpc), the code and the arguments, from the positionals.
    private var parsed: (name: String?, code: UInt32, arguments: [String])? {
        let rest = rpc == nil ? target.dropFirst() : target[...]
        guard rpc != nil || !target.isEmpty, let codeText = rest.first, let code = UInt32(codeText) else { return nil }
        return (rpc == nil ? target[0] : nil, code, Array(rest.dropFirst()))
    }

    func validate() throws {
        guard let parsed else {
            throw ValidationError(rpc == nil ? "expected NAME CODE [ARGUMENTS...]" : "expected CODE [ARGUMENTS...] after --rpc")
        }
        for argument in parsed.arguments { _ = try TypedArgument(argument) }
    }

    func run() throws {
        guard let (name, code, arguments) = parsed else { throw ExitCode.failure }
        let service: any IBinder
        var session: RpcSession?
        defer { session?.shutdown() }
        if let rpc {
            do {
                // Descriptors travel only if asked for (unix sockets): ask when an argument is one.
                let passesFiles = try arguments.contains { if case .file = try TypedArgument($0) { true } else { false } }
                session = try RpcSession.connect(to: rpc, fileDescriptors: passesFiles)
                guard let root = try session?.rootObject() else {
                    reportError("\(rpc) serves no root object")
                    throw ExitCode.failure
                }
                service = root
            } catch let error as RpcError {
                reportError("\(error)")
                throw ExitCode.failure
            }
        } else {
            service = try options.service(name!, in: try options.connect())
        }
        var request = service.prepareTransaction()
        request.writeInterfaceToken(descriptor(of: service))
        var opened: [FileDescriptor] = []
        defer { opened.forEach { try? $0.close() } }
        for argument in arguments {
            switch try TypedArgument(argument) {
            case .int32(let value): request.writeInt32(value)
            case .int64(let value): request.writeInt64(value)
            case .float(let value): request.writeFloat(value)
            case .double(let value): request.writeDouble(value)
            case .bool(let value): request.writeBool(value)
            case .string(let value): request.writeString16(value)
            case .nullBinder: request.writeStrongBinder(nil)
            case .file(let path):
                let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
                opened.append(fd)
                request.writeFileDescriptor(fd)
            }
        }
        var reply: Parcel
        do {
            reply = try service.transact(code: code, data: request, flags: oneway ? .oneWay : [])
        } catch .remoteStatus(let status) {
            print("Result: status_t \(status)")
            throw ExitCode.failure
        } catch {
            reportError("\(error)")
            throw ExitCode.failure
        }
        if oneway {
            print("Result: sent oneway")
            return
        }
        if let status = try? reply.readStatus() { print("Result: \(status)") }
        printWords(of: reply, from: reply.readerIndex)
    }

    /// The reply from `start` as 32-bit words, four a line, with their bytes as text.
    private func printWords(of reply: borrowing Parcel, from start: Int) {
        let words = reply.withUnsafeDataBytes { bytes in
            stride(from: 0, to: bytes.count - 3, by: 4).map { bytes.loadUnaligned(fromByteOffset: $0, as: UInt32.self) }
        }
        for first in stride(from: start / 4, to: words.count, by: 4) {
            let line = words[first..<min(first + 4, words.count)]
            let hex = line.map(hex8).joined(separator: " ")
            let text = line.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
                .map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." }
            let padding = String(repeating: " ", count: max(35 - hex.count, 0))
            print("  0x\(hex8(UInt32(first * 4))): \(hex)\(padding) '\(String(text))'")
        }
        let objects = reply.objectOffsets
        if !objects.isEmpty { print("  objects at offsets \(objects.map(String.init).joined(separator: ", "))") }
    }
}

private func hex8(_ value: UInt32) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
}

enum TypedArgument {
    case int32(Int32), int64(Int64), float(Float), double(Double), bool(Bool), string(String), nullBinder
    case file(String)

    init(_ text: String) throws {
        if text == "null" {
            self = .nullBinder
            return
        }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw ValidationError("'\(text)': expected TYPE:VALUE (i32, i64, f, d, b, s16, fd) or null")
        }
        let value = String(parts[1])
        switch parts[0] {
        case "i32":
            guard let number = Int32(value) else { throw ValidationError("'\(value)' is not an i32") }
            self = .int32(number)
        case "i64":
            guard let number = Int64(value) else { throw ValidationError("'\(value)' is not an i64") }
            self = .int64(number)
        case "f":
            guard let number = Float(value) else { throw ValidationError("'\(value)' is not a float") }
            self = .float(number)
        case "d":
            guard let number = Double(value) else { throw ValidationError("'\(value)' is not a double") }
            self = .double(number)
        case "b":
            guard let flag = Bool(value) else { throw ValidationError("'\(value)' is not true or false") }
            self = .bool(flag)
        case "s16": self = .string(value)
        case "fd": self = .file(value)
        default: throw ValidationError("unknown argument type '\(parts[0])' (i32, i64, f, d, b, s16, fd, null)")
        }
    }
}

// MARK: - binder stats

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise binderfs binder_logs (needs the mount option stats=global).")
    @OptionGroup var options: BinderfsOptions

    func run() throws {
        let mount = try options.mount()
        let logs = mount.mountPoint.appending("binder_logs")
        guard let state = readText(logs.appending("state")), let stats = readText(logs.appending("stats")) else {
            reportError("\(logs) is not readable: mount binderfs with -o stats=global")
            throw ExitCode.failure
        }
        let lines = state.split(separator: "\n")
        func count(_ prefix: String) -> Int { lines.filter { $0.hasPrefix(prefix) }.count }
        print(
            "processes: \(count("proc "))  threads: \(count("  thread "))  nodes: \(count("  node "))"
                + "  references: \(count("  ref "))  buffers in use: \(count("  buffer "))")
        // The global part of stats: command and return counts, object totals.
        for line in stats.split(separator: "\n").dropFirst().prefix(while: { !$0.hasPrefix("proc ") }) {
            print(String(line.drop(while: { $0 == " " })))
        }
    }

    private func readText(_ path: FilePath) -> String? {
        guard let fd = try? FileDescriptor.open(path, .readOnly) else { return nil }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while let count = try? chunk.withUnsafeMutableBytes({ try fd.read(into: $0) }), count > 0 {
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
