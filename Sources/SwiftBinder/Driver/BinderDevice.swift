import CBinder
import SystemPackage

/// An open binder device: the file descriptor and the read-only mapping the kernel copies
/// incoming transactions into.
///
/// Opening checks the protocol version (8) and maps the receive buffer, as libbinder does. The
/// device owns both resources and releases each exactly once, when it is closed or goes out of
/// scope. Each open device is a separate `binder_proc` in the kernel: two `BinderDevice`s on the
/// same path are two independent binder processes as far as the driver is concerned.
///
/// The methods are thread-safe in the driver's sense: any thread may call them, and each thread
/// that calls ``writeRead(_:)`` becomes a binder thread of this process.
public struct BinderDevice: ~Copyable, @unchecked Sendable {
    /// libbinder's receive-buffer size: 1 MiB minus two pages. Half of it is the kernel's
    /// budget for incoming oneway transactions.
    public static var defaultMappingSize: Int { 1024 * 1024 - 2 * system_pageSize() }

    /// The binder protocol version SwiftBinder speaks (64-bit `binder_size_t`).
    public static let protocolVersion: Int32 = 8

    /// The device node this was opened from.
    public let path: FilePath

    /// The open device. Owned by this value: do not close it.
    public let fileDescriptor: FileDescriptor

    /// The receive buffer mapped from the device (read-only).
    public let mapping: UnsafeRawBufferPointer

    /// False once ``close()`` has released the resources, so that `deinit` does not again.
    private var isOpen = true

    /// Opens a binder device, checks its protocol version and maps its receive buffer.
    ///
    /// - Parameters:
    ///   - path: the device node, e.g. `/dev/binderfs/binder`.
    ///   - mappingSize: bytes of receive buffer to map; the kernel uses at most 4 MiB.
    /// - Throws: ``BinderError/systemCall(_:path:errno:)`` naming `open`, `ioctl(BINDER_VERSION)`
    ///   or `mmap`; ``BinderError/unsupportedProtocolVersion(_:path:)``.
    public init(path: FilePath, mappingSize: Int = BinderDevice.defaultMappingSize) throws(BinderError) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readWrite, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            throw .systemCall("open", path: path, errno: error as? Errno ?? .ioError)
        }
        do throws(BinderError) {
            var version = binder_version(protocol_version: 0)
            try ioctl(fd, CBinder_BINDER_VERSION, "BINDER_VERSION", path: path, &version)
            guard version.protocol_version == Self.protocolVersion else {
                throw .unsupportedProtocolVersion(version.protocol_version, path: path)
            }
            guard let address = system_mmap_readonly(fd.rawValue, mappingSize) else {
                throw .systemCall("mmap", path: path, errno: Errno(rawValue: system_errno()))
            }
            self.mapping = UnsafeRawBufferPointer(start: address, count: mappingSize)
        } catch {
            try? fd.close()
            throw error
        }
        self.path = path
        self.fileDescriptor = fd
    }

    deinit {
        if isOpen { _ = releaseResources() }
    }

    /// Unmaps the receive buffer and closes the device now, reporting a failed `close`.
    public consuming func close() throws(BinderError) {
        isOpen = false
        if let errno = releaseResources() {
            throw .systemCall("close", path: path, errno: errno)
        }
    }

    private func releaseResources() -> Errno? {
        if let base = mapping.baseAddress {
            _ = system_munmap(UnsafeMutableRawPointer(mutating: base), mapping.count)
        }
        do {
            try fileDescriptor.close()
            return nil
        } catch {
            return error as? Errno ?? .ioError
        }
    }

    // MARK: - ioctls

    /// Writes commands to the driver and reads its returns, in one call.
    ///
    /// The driver consumes the write buffer first, then fills the read buffer if `read_size`
    /// is non-zero, blocking until there is work. `write_consumed` and `read_consumed` are
    /// updated in place; an EINTR is retried with the updated counts, so nothing is written twice.
    ///
    /// The corresponding ioctl is `BINDER_WRITE_READ`.
    @inline(__always)
    public func writeRead(_ request: inout binder_write_read) throws(BinderError) {
        try ioctl(fileDescriptor, CBinder_BINDER_WRITE_READ, "BINDER_WRITE_READ", path: path, &request)
    }

    /// Writes `commands` without reading: the calling thread does not wait for what they cause
    /// (a transaction's reply stays queued for it until it reads, or is refused once it is gone).
    public func write(_ commands: borrowing CommandBuffer) throws(BinderError) {
        let result = commands.withUnsafeBytes { bytes in
            Result { () throws(BinderError) in
                var request = binder_write_read(
                    write_size: UInt64(bytes.count), write_consumed: 0,
                    write_buffer: UInt64(UInt(bitPattern: bytes.baseAddress)), read_size: 0, read_consumed: 0,
                    read_buffer: 0)
                try writeRead(&request)
            }
        }
        try result.get()
    }

    /// Sets how many extra looper threads the driver may ask this process to start.
    ///
    /// The corresponding ioctl is `BINDER_SET_MAX_THREADS`.
    public func setMaxThreads(_ count: UInt32) throws(BinderError) {
        var value = count
        try ioctl(fileDescriptor, CBinder_BINDER_SET_MAX_THREADS, "BINDER_SET_MAX_THREADS", path: path, &value)
    }

    /// Makes this process the device's context manager (the object behind handle 0).
    ///
    /// Fails with EBUSY when the device already has a context manager, and with EPERM when a
    /// process of another euid was context manager before.
    ///
    /// The corresponding ioctl is `BINDER_SET_CONTEXT_MGR`.
    public func becomeContextManager() throws(BinderError) {
        var unused: Int32 = 0
        try ioctl(fileDescriptor, CBinder_BINDER_SET_CONTEXT_MGR, "BINDER_SET_CONTEXT_MGR", path: path, &unused)
    }

    /// Makes this process the context manager with a node created from `flags`, e.g. asking
    /// for the sender's security context with each transaction.
    ///
    /// The corresponding ioctl is `BINDER_SET_CONTEXT_MGR_EXT`.
    public func becomeContextManager(nodeFlags flags: UInt32) throws(BinderError) {
        var object = flat_binder_object()
        object.flags = flags
        try ioctl(
            fileDescriptor, CBinder_BINDER_SET_CONTEXT_MGR_EXT, "BINDER_SET_CONTEXT_MGR_EXT", path: path, &object)
    }

    /// Releases the calling thread's kernel state. Call it on every thread that used
    /// ``writeRead(_:)`` before the thread ends.
    ///
    /// The corresponding ioctl is `BINDER_THREAD_EXIT`.
    public func threadExit() throws(BinderError) {
        var unused: Int32 = 0
        try ioctl(fileDescriptor, CBinder_BINDER_THREAD_EXIT, "BINDER_THREAD_EXIT", path: path, &unused)
    }

    /// Asks the driver to report oneway spam (`BR_ONEWAY_SPAM_SUSPECT`) to this process.
    ///
    /// The corresponding ioctl is `BINDER_ENABLE_ONEWAY_SPAM_DETECTION` (Linux 5.13).
    public func enableOnewaySpamDetection(_ enabled: Bool = true) throws(BinderError) {
        var value: UInt32 = enabled ? 1 : 0
        try ioctl(
            fileDescriptor, CBinder_BINDER_ENABLE_ONEWAY_SPAM_DETECTION, "BINDER_ENABLE_ONEWAY_SPAM_DETECTION",
            path: path, &value)
    }

    /// Returns and clears the calling thread's last transaction error.
    ///
    /// The corresponding ioctl is `BINDER_GET_EXTENDED_ERROR` (Linux 5.19).
    public func takeExtendedError() throws(BinderError) -> ExtendedError {
        var value = binder_extended_error()
        try ioctl(fileDescriptor, CBinder_BINDER_GET_EXTENDED_ERROR, "BINDER_GET_EXTENDED_ERROR", path: path, &value)
        return ExtendedError(id: value.id, command: DriverReturnCode(rawValue: value.command), errno: value.param)
    }

    /// The strong and weak reference counts on the node behind `handle`. Only the context
    /// manager may ask.
    ///
    /// The corresponding ioctl is `BINDER_GET_NODE_INFO_FOR_REF`.
    public func nodeReferenceCounts(handle: UInt32) throws(BinderError) -> (strong: UInt32, weak: UInt32) {
        var info = binder_node_info_for_ref()
        info.handle = handle
        try ioctl(
            fileDescriptor, CBinder_BINDER_GET_NODE_INFO_FOR_REF, "BINDER_GET_NODE_INFO_FOR_REF", path: path, &info)
        return (info.strong_count, info.weak_count)
    }

    /// Freezes (or thaws) every binder process of `pid`: incoming sync transactions get
    /// `BR_FROZEN_REPLY`, oneway ones queue. With a timeout the kernel first waits for pending
    /// transactions; EAGAIN means some are still in flight.
    ///
    /// The corresponding ioctl is `BINDER_FREEZE` (Linux 5.13).
    public func freeze(pid: Int32, frozen: Bool, timeoutMilliseconds: UInt32 = 0) throws(BinderError) {
        var info = binder_freeze_info(pid: UInt32(bitPattern: pid), enable: frozen ? 1 : 0, timeout_ms: timeoutMilliseconds)
        try ioctl(fileDescriptor, CBinder_BINDER_FREEZE, "BINDER_FREEZE", path: path, &info)
    }

    // MARK: - The receive buffer

    /// The bytes at a kernel-provided address inside the receive buffer, or nil when the range
    /// does not lie entirely inside it (a driver that hands out such an address is not trusted).
    public func mappedBytes(at address: UInt64, count: UInt64) -> UnsafeRawBufferPointer? {
        ReceiveMapping(mapping).bytes(at: address, count: count)
    }
}

/// Where received buffers must lie: a device's receive mapping, its bounds precomputed for the
/// check every received buffer goes through.
struct ReceiveMapping {
    private let base: UnsafeRawPointer?
    /// The mapping's start as the kernel's address, and its size (0 without a mapping).
    private let start: UInt64
    private let size: UInt64

    init(_ mapping: UnsafeRawBufferPointer) {
        base = mapping.baseAddress
        start = UInt64(UInt(bitPattern: mapping.baseAddress))
        size = mapping.baseAddress == nil ? 0 : UInt64(mapping.count)
    }

    /// The bytes at a kernel-provided address inside the mapping, or nil when the range does
    /// not lie entirely inside it (a driver that hands out such an address is not trusted); an
    /// empty range is always valid.
    @inline(__always)
    func bytes(at address: UInt64, count: UInt64) -> UnsafeRawBufferPointer? {
        if count == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let offset = address &- start  // wraps to a huge value below the mapping
        guard offset < size, count <= size &- offset, let base else { return nil }
        return UnsafeRawBufferPointer(start: base + Int(truncatingIfNeeded: offset), count: Int(truncatingIfNeeded: count))
    }
}

/// The last failed transaction of a thread, as the driver recorded it.
public struct ExtendedError: Equatable, Sendable {
    /// The debug id of the failed transaction.
    public var id: UInt32
    /// The return the driver gave for it (`BR_OK` when there was no error).
    public var command: DriverReturnCode
    /// The negative errno describing the failure.
    public var errno: Int32

    public init(id: UInt32, command: DriverReturnCode, errno: Int32) {
        self.id = id
        self.command = command
        self.errno = errno
    }
}
