import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A real child process started with posix_spawn, with its standard output on a pipe.
final class ChildProcess {
    let pid: pid_t
    private let output: FileDescriptor
    private var buffered: [UInt8] = []
    private var exitStatus: CInt?

    /// Starts `executable` with `arguments`; the child inherits the environment (with
    /// `environment`'s variables added or replaced) and, unless `mergeStandardError`, stderr.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], mergeStandardError: Bool = false
    ) throws {
        let pipe = try FileDescriptor.pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe.writeEnd.rawValue, STDOUT_FILENO)
        if mergeStandardError { posix_spawn_file_actions_adddup2(&actions, pipe.writeEnd.rawValue, STDERR_FILENO) }
        posix_spawn_file_actions_addclose(&actions, pipe.readEnd.rawValue)

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var cArguments = argv + [nil]
        var inherited: [String] = []
        var entry = environ
        while let variable = entry.pointee {
            let text = String(cString: variable)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            if environment[name] == nil { inherited.append(text) }
            entry += 1
        }
        let envp = (inherited + environment.map { "\($0.key)=\($0.value)" }).map { strdup($0) }
        defer { envp.forEach { free($0) } }
        var cEnvironment = envp + [nil]
        // The child starts with no signal blocked and default handlers: the thread spawning it
        // may block some (libdispatch's worker threads do), and a child would inherit that mask,
        // never to see a SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child = pid_t()
        let result = posix_spawn(&child, executable, &actions, &attributes, &cArguments, &cEnvironment)
        try pipe.writeEnd.close()
        guard result == 0 else {
            try? pipe.readEnd.close()
            throw Errno(rawValue: result)
        }
        pid = child
        output = pipe.readEnd
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = try? waitForExit()
        }
        try? output.close()
    }

    /// Everything the child prints until it closes its output.
    func readAll() throws -> String {
        var lines: [String] = []
        while let line = try readLine() { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    /// The next line the child printed, or nil at end of output.
    func readLine() throws -> String? {
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let count = try chunk.withUnsafeMutableBytes { try output.read(into: $0) }
            if count == 0 {
                guard !buffered.isEmpty else { return nil }
                defer { buffered.removeAll() }
                return String(decoding: buffered, as: UTF8.self)
            }
            buffered += chunk[..<count]
        }
    }

    /// Waits for the child and returns its exit code (128 + signal when killed).
    @discardableResult
    func waitForExit() throws -> CInt {
        if let exitStatus { return exitStatus }
        var status: CInt = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw Errno(rawValue: errno) }
        }
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        exitStatus = code
        return code
    }

    /// The path of an executable built next to the test bundle, e.g. `binder`.
    static func builtProduct(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let executable = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        var directory = FilePath(executable)
        // The test binary lives at .build/<config>/<Package>PackageTests.xctest (a file on Linux).
        directory.removeLastComponent()
        return directory.appending(name).string
    }
}
