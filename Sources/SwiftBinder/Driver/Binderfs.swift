import CBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A mounted binderfs instance: the `binder-control` node that creates devices, the devices,
/// and the `features/` directory that says what the driver supports.
///
/// Mount one with `mount -t binder binder /dev/binderfs` (add `-o stats=global` for
/// `binder_logs/`). Each mount is an independent set of devices.
public struct Binderfs: Sendable {
    /// Where binderfs is mounted by convention.
    public static let defaultMountPoint: FilePath = "/dev/binderfs"

    /// The filesystem magic of binderfs (`BINDERFS_SUPER_MAGIC`).
    public static let superMagic: UInt64 = 0x6C6F_6F70

    /// The mount's root directory.
    public let mountPoint: FilePath

    /// Uses the binderfs mounted at `mountPoint`, checking that it is one.
    ///
    /// - Throws: ``BinderError/systemCall(_:path:errno:)`` naming `statfs` when the path cannot be
    ///   examined; ``BinderError/notBinderfs(_:magic:)`` when it is another filesystem.
    public init(mountPoint: FilePath = Binderfs.defaultMountPoint) throws(BinderError) {
        var info = statfs()
        let result = mountPoint.withPlatformString { path in valueOrErrno { statfs(path, &info) } }
        if case .failure(let errno) = result {
            throw .systemCall("statfs", path: mountPoint, errno: errno)
        }
        let magic = UInt64(UInt(bitPattern: Int(info.f_type)))
        guard magic == Self.superMagic else {
            throw .notBinderfs(mountPoint, magic: magic)
        }
        self.mountPoint = mountPoint
    }

    /// Every binderfs mount point of this mount namespace, from `/proc/self/mounts`.
    public static func mountPoints() throws(BinderError) -> [FilePath] {
        let table = String(decoding: try readSmallFile("/proc/self/mounts"), as: UTF8.self)
        var result: [FilePath] = []
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[2] == "binder" else { continue }
            result.append(FilePath(unescapeMountField(fields[1])))
        }
        return result
    }

    /// The binderfs at the default mount point, or else the first one mounted anywhere.
    public static func find() throws(BinderError) -> Binderfs {
        if let mount = try? Binderfs(mountPoint: defaultMountPoint) { return mount }
        if let other = try mountPoints().first { return try Binderfs(mountPoint: other) }
        throw .systemCall("statfs", path: defaultMountPoint, errno: .noSuchFileOrDirectory)
    }

    /// The control node that creates devices.
    public var controlPath: FilePath { mountPoint.appending("binder-control") }

    /// The path of the device called `name`.
    public func devicePath(_ name: String) -> FilePath { mountPoint.appending(name) }

    // MARK: - Features

    /// What the driver behind this mount supports, read from `features/`.
    public struct Features: Equatable, Sendable {
        /// `BINDER_ENABLE_ONEWAY_SPAM_DETECTION` and `BR_ONEWAY_SPAM_SUSPECT` (Linux 5.13).
        public var onewaySpamDetection: Bool
        /// `BINDER_GET_EXTENDED_ERROR` (Linux 5.19).
        public var extendedError: Bool
        /// `BC_REQUEST_FREEZE_NOTIFICATION` and `BR_FROZEN_BINDER` (Linux 6.12).
        public var freezeNotification: Bool

        public init(onewaySpamDetection: Bool, extendedError: Bool, freezeNotification: Bool) {
            self.onewaySpamDetection = onewaySpamDetection
            self.extendedError = extendedError
            self.freezeNotification = freezeNotification
        }
    }

    /// Reads `features/`. A missing file means the feature is absent (older kernels).
    public func features() -> Features {
        Features(
            onewaySpamDetection: feature("oneway_spam_detection"),
            extendedError: feature("extended_error"),
            freezeNotification: feature("freeze_notification"))
    }

    /// Whether `features/<name>` reads `1` (the first byte decides, as in libbinder).
    public func feature(_ name: String) -> Bool {
        let path = mountPoint.appending("features").appending(name)
        guard let contents = try? readSmallFile(path, limit: 16) else { return false }
        return contents.first == UInt8(ascii: "1")
    }

    // MARK: - Devices

    /// A device created through `binder-control`.
    public struct Device: Equatable, Sendable {
        public var name: String
        public var path: FilePath
        public var major: UInt32
        public var minor: UInt32
    }

    /// Creates a device node named `name` in this mount.
    ///
    /// The node is a 0600 character device owned by the mount's root; see
    /// ``setAccess(ofDevice:mode:owner:group:)`` to open it to others.
    ///
    /// The corresponding ioctl is `BINDER_CTL_ADD` on `binder-control`.
    /// - Throws: ``BinderError/invalidDeviceName(_:reason:)``; EEXIST when the name is taken,
    ///   ENOSPC past the mount's `max=`, EACCES/EPERM without access to `binder-control`.
    @discardableResult
    public func addDevice(named name: String) throws(BinderError) -> Device {
        try Self.validateDeviceName(name)
        let control: FileDescriptor
        do {
            control = try FileDescriptor.open(controlPath, .readWrite, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            throw .systemCall("open", path: controlPath, errno: error as? Errno ?? .ioError)
        }
        defer { try? control.close() }

        var request = binderfs_device()
        withUnsafeMutableBytes(of: &request.name) { field in
            field.copyBytes(from: name.utf8)
        }
        try ioctl(control, CBinder_BINDER_CTL_ADD, "BINDER_CTL_ADD \(name)", path: controlPath, &request)
        return Device(name: name, path: devicePath(name), major: request.major, minor: request.minor)
    }

    /// Removes the device named `name` (processes that have it open keep using it).
    ///
    /// The corresponding system call is `unlink`.
    public func removeDevice(named name: String) throws(BinderError) {
        try Self.validateDeviceName(name)
        let path = devicePath(name)
        let result = path.withPlatformString { cPath in valueOrErrno { unlink(cPath) } }
        if case .failure(let errno) = result {
            throw .systemCall("unlink", path: path, errno: errno)
        }
    }

    /// Sets a device node's permission bits and, optionally, its owner and group, so that
    /// processes other than root can open it.
    public func setAccess(
        ofDevice name: String, mode: FilePermissions, owner: uid_t? = nil, group: gid_t? = nil
    ) throws(BinderError) {
        try Self.validateDeviceName(name)
        let path = devicePath(name)
        if owner != nil || group != nil {
            let result = path.withPlatformString { cPath in
                valueOrErrno { chown(cPath, owner ?? uid_t.max, group ?? gid_t.max) }
            }
            if case .failure(let errno) = result { throw .systemCall("chown", path: path, errno: errno) }
        }
        let result = path.withPlatformString { cPath in valueOrErrno { chmod(cPath, mode.rawValue) } }
        if case .failure(let errno) = result { throw .systemCall("chmod", path: path, errno: errno) }
    }

    /// The names of the binder devices in this mount, sorted (not `binder-control`).
    public func deviceNames() throws(BinderError) -> [String] {
        try directoryEntries(mountPoint).filter { $0.isCharacterDevice && $0.name != "binder-control" }.map(\.name).sorted()
    }

    /// Checks a device name against what `BINDER_CTL_ADD` accepts.
    public static func validateDeviceName(_ name: String) throws(BinderError) {
        let utf8 = name.utf8
        if utf8.isEmpty { throw .invalidDeviceName(name, reason: "the name is empty") }
        if utf8.count > Int(BINDERFS_MAX_NAME) {
            throw .invalidDeviceName(name, reason: "longer than \(BINDERFS_MAX_NAME) bytes")
        }
        if utf8.contains(UInt8(ascii: "/")) || utf8.contains(0) {
            throw .invalidDeviceName(name, reason: "contains '/' or NUL")
        }
        if name == "." || name == ".." || name == "binder-control" || name == "features" || name == "binder_logs" {
            throw .invalidDeviceName(name, reason: "reserved by binderfs")
        }
    }
}

/// Undoes the octal escapes (`\040` for a space) of `/proc/self/mounts` fields.
private func unescapeMountField(_ field: Substring) -> String {
    var bytes: [UInt8] = []
    let utf8 = Array(field.utf8)
    var index = 0
    while index < utf8.count {
        if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
            let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
        {
            bytes.append(value)
            index += 4
        } else {
            bytes.append(utf8[index])
            index += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
