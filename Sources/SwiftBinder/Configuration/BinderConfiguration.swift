import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Which ``AndroidRelease`` each binder device speaks, from the configuration binder hosts
/// already have, so that programs need no flags.
///
/// In order, the first that applies decides:
/// 1. an explicit release (an API argument, or a program's `--protocol`);
/// 2. the environment variable `SWIFTBINDER_ANDROID_RELEASE` (`android13` or `33`);
/// 3. libgbinder's configuration: `/etc/gbinder.conf`, then `/etc/gbinder.d/*.conf` in name
///    order, later files overriding earlier keys (`SWIFTBINDER_GBINDER_CONFIG=FILE` reads that
///    file alone instead). A device's own keys in `[ServiceManager]` and `[Protocol]` (the path
///    as written, or one that resolves to the same device); for `/dev/binder` and
///    `/dev/vndbinder`, whose keys libgbinder's ApiLevel presets write, `[General] ApiLevel`;
///    the `Default` keys; `[General] ApiLevel` (above 36 it speaks as 36, as libgbinder's
///    highest preset);
/// 4. ``AndroidRelease/default``.
///
/// libgbinder's variant names map to releases as its presets do: protocol `aidl2` is Android
/// 10, `aidl3` Android 11 and 13 and later (their bytes are the same), `aidl4` Android 12;
/// servicemanager `aidl2` is Android 10's C servicemanager, `aidl3` 11 to 14, `aidl4` 12,
/// `aidl5` 15, `aidl6` 16. Where the names fit several releases, `ApiLevel` picks among them,
/// else the oldest is taken. Unlike libgbinder, whose presets name only `/dev/binder` and
/// `/dev/vndbinder`, `ApiLevel` applies to every device: binderfs devices have other names.
public struct BinderConfiguration: Sendable {
    /// The release a device speaks and why.
    public struct Choice: Hashable, Sendable, CustomStringConvertible {
        public var release: AndroidRelease
        /// Where it came from, for messages: "--protocol", "SWIFTBINDER_ANDROID_RELEASE=33",
        /// "/etc/gbinder.conf: [General] ApiLevel=30", "the default".
        public var source: String

        public init(release: AndroidRelease, source: String) {
            self.release = release
            self.source = source
        }

        public var description: String { "\(release) (\(source))" }
    }

    public static let releaseVariable = "SWIFTBINDER_ANDROID_RELEASE"
    public static let fileVariable = "SWIFTBINDER_GBINDER_CONFIG"
    public static let defaultFile: FilePath = "/etc/gbinder.conf"
    public static let defaultDirectory: FilePath = "/etc/gbinder.d"

    private struct Entry: Sendable {
        var value: String
        var file: String
    }

    /// group → key → value, after merging every file.
    private var groups: [String: [String: Entry]] = [:]
    /// The release forced by the environment, if any.
    private var environmentRelease: Choice?
    /// The files read, in order.
    public private(set) var files: [String] = []
    /// Lines that could not be understood; they are skipped, as GLib's key files would not be.
    public private(set) var warnings: [String] = []

    /// An empty configuration: every device speaks ``AndroidRelease/default``.
    public init() {}

    /// A configuration from the text of one key file.
    public init(parsing text: String, file: String = "gbinder.conf") {
        merge(text, file: file)
    }

    /// The host's configuration, read now (see the type's description for what is read).
    public static func system() -> BinderConfiguration {
        load()
    }

    /// A configuration read from `file` and then the `*.conf` files of `directory` in name
    /// order, with `environment`'s variables (the process's when nil) applied as for
    /// ``system()``.
    public static func load(
        file: FilePath = defaultFile, directory: FilePath? = defaultDirectory, environment: [String: String]? = nil
    ) -> BinderConfiguration {
        func variable(_ name: String) -> String? {
            if let environment { return environment[name] }
            return getenv(name).map { String(cString: $0) }
        }
        var configuration = BinderConfiguration()
        if let value = variable(releaseVariable), !value.isEmpty {
            if let release = AndroidRelease(parsing: value) {
                configuration.environmentRelease = Choice(release: release, source: "\(releaseVariable)=\(value)")
            } else {
                configuration.warnings.append("\(releaseVariable)=\(value): not a release (\(AndroidRelease.names)) or API level 29…36")
            }
        }
        if let override = variable(fileVariable), !override.isEmpty {
            configuration.read(FilePath(override))
            return configuration
        }
        configuration.read(file)
        guard let directory else { return configuration }
        let names = (try? directoryEntries(directory))?.filter { $0.isRegular && $0.name.hasSuffix(".conf") }
        for name in (names ?? []).map(\.name).sorted() {
            configuration.read(directory.appending(name))
        }
        return configuration
    }

    private mutating func read(_ path: FilePath) {
        guard let bytes = try? readSmallFile(path, limit: 1 << 20) else { return }
        merge(String(decoding: bytes, as: UTF8.self), file: path.string)
    }

    /// Adds the keys of a key file, overriding the same keys read before.
    private mutating func merge(_ text: String, file: String) {
        files.append(file)
        var group: String?
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingASCIIWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                group = String(line.dropFirst().dropLast())
                continue
            }
            guard let group, let equals = line.firstIndex(of: "=") else {
                warnings.append("\(file):\(number + 1): not a key or a group: \(line)")
                continue
            }
            let key = line[..<equals].trimmingASCIIWhitespace()
            let value = line[line.index(after: equals)...].trimmingASCIIWhitespace()
            groups[group, default: [:]][key] = Entry(value: value, file: file)
        }
    }

    /// The release `device` speaks, and why. `explicit` (a program's `--protocol`, an API
    /// argument) wins over everything.
    ///
    /// - Throws: ``ConfigurationError`` when the configuration names a variant SwiftBinder does
    ///   not speak (Android 9's `aidl`, HIDL) or variants no release has together.
    public func release(for device: FilePath, explicit: AndroidRelease? = nil) throws(ConfigurationError) -> Choice {
        if let explicit { return Choice(release: explicit, source: "explicit") }
        if let environmentRelease { return environmentRelease }

        // libgbinder applies the highest preset at or below ApiLevel (37 speaks as 36); below
        // 29 it describes releases SwiftBinder does not speak.
        var fromApiLevel: Choice?
        var apiLevelError: ConfigurationError?
        if let apiLevel = groups["General"]?["ApiLevel"] {
            if let level = Int(apiLevel.value), let release = AndroidRelease(apiLevel: min(level, 36)) {
                fromApiLevel = Choice(release: release, source: "\(apiLevel.file): [General] ApiLevel=\(level)")
            } else {
                apiLevelError = .unsupported("\(apiLevel.file): [General] ApiLevel=\(apiLevel.value)", supported: "API levels 29 and above")
            }
        }
        func apiLevelChoice() throws(ConfigurationError) -> Choice? {
            if let apiLevelError { throw apiLevelError }
            return fromApiLevel
        }

        // The device's own keys; then, as libgbinder's presets write /dev/binder and
        // /dev/vndbinder keys, ApiLevel for those two; then the Default keys; then ApiLevel.
        let own = (entry("ServiceManager", for: device), entry("Protocol", for: device))
        if own.0 != nil || own.1 != nil { return try choose(own.0, own.1, fromApiLevel) }
        if ["/dev/binder", "/dev/vndbinder"].contains(device.string), let choice = try apiLevelChoice() { return choice }
        let defaults = (defaultEntry("ServiceManager"), defaultEntry("Protocol"))
        if defaults.0 != nil || defaults.1 != nil { return try choose(defaults.0, defaults.1, fromApiLevel) }
        return try apiLevelChoice() ?? Choice(release: .default, source: "the default")
    }

    /// The release that libgbinder variant names describe; ApiLevel picks among several.
    private func choose(
        _ serviceManager: (key: String, entry: Entry)?, _ protocolEntry: (key: String, entry: Entry)?, _ fromApiLevel: Choice?
    ) throws(ConfigurationError) -> Choice {
        var candidates = Set(AndroidRelease.allCases)
        var sources: [String] = []
        if let (key, entry) = serviceManager {
            candidates.formIntersection(try Self.releases(serviceManager: entry.value, source: "\(entry.file): [ServiceManager] \(key)"))
            sources.append("\(entry.file): [ServiceManager] \(key)=\(entry.value)")
        }
        if let (key, entry) = protocolEntry {
            candidates.formIntersection(try Self.releases(protocol: entry.value, source: "\(entry.file): [Protocol] \(key)"))
            sources.append("\(entry.file): [Protocol] \(key)=\(entry.value)")
        }
        guard let oldest = candidates.min() else { throw .contradictory(sources.joined(separator: " and ")) }
        if let fromApiLevel, candidates.contains(fromApiLevel.release) {
            return Choice(release: fromApiLevel.release, source: (sources + [fromApiLevel.source]).joined(separator: ", "))
        }
        return Choice(release: oldest, source: sources.joined(separator: ", "))
    }

    /// A device's own key in `group`: its path as written, or a key that resolves to the same
    /// file (`/dev/anbox-binder` → `/dev/binderfs/anbox-binder`).
    private func entry(_ group: String, for device: FilePath) -> (key: String, entry: Entry)? {
        guard let keys = groups[group] else { return nil }
        if let entry = keys[device.string] { return (device.string, entry) }
        guard let resolved = resolvedPath(device) else { return nil }
        for (key, entry) in keys.sorted(by: { $0.key < $1.key }) where key.hasPrefix("/") {
            if resolvedPath(FilePath(key)) == resolved { return (key, entry) }
        }
        return nil
    }

    private func defaultEntry(_ group: String) -> (key: String, entry: Entry)? {
        groups[group]?["Default"].map { ("Default", $0) }
    }

    /// The releases a libgbinder servicemanager variant describes (gbinder_servicemanager_aidl*.c).
    static func releases(serviceManager name: String, source: String) throws(ConfigurationError) -> Set<AndroidRelease> {
        switch name {
        case "aidl2": return [.android10]
        case "aidl3": return [.android11, .android12, .android13, .android14, .android15r1]
        case "aidl4": return [.android12]
        case "aidl5": return [.android15]
        case "aidl6": return [.android16]
        default: throw .unsupported("\(source)=\(name)", supported: "aidl2 … aidl6")
        }
    }

    /// The releases a libgbinder protocol variant describes (gbinder_rpc_protocol.c).
    static func releases(protocol name: String, source: String) throws(ConfigurationError) -> Set<AndroidRelease> {
        switch name {
        case "aidl2": return [.android10]
        case "aidl3": return Set(AndroidRelease.allCases).subtracting([.android10, .android12])
        case "aidl4": return [.android12]
        default: throw .unsupported("\(source)=\(name)", supported: "aidl2, aidl3, aidl4")
        }
    }
}

/// A configuration SwiftBinder cannot follow.
public enum ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A value that names something SwiftBinder does not speak.
    case unsupported(String, supported: String)
    /// Variants that no release has together.
    case contradictory(String)

    public var description: String {
        switch self {
        case .unsupported(let what, let supported):
            return "\(what): SwiftBinder speaks Android 10 to 16 over kernel AIDL binder (\(supported))"
        case .contradictory(let what):
            return "\(what): no Android release has both"
        }
    }
}
