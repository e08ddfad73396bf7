// The only place in SwiftBinder that calls libc for the driver layer. Everything here follows
// swift-system's pattern: a `system_*` function that calls C, and callers that turn its result
// into a typed error with `valueOrErrno`, which retries EINTR.

import CBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` until it returns something other than -1 or fails with an error other than EINTR.
@inline(__always)
internal func valueOrErrno<I: FixedWidthInteger>(
    retryOnInterrupt: Bool = true,
    _ body: () -> I
) -> Result<I, Errno> {
    while true {
        let result = body()
        if result != -1 { return .success(result) }
        let error = Errno(rawValue: system_errno())
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}

@inline(__always)
internal func system_errno() -> CInt { errno }

@inline(__always)
internal func system_ioctl(_ fd: CInt, _ request: UInt, _ argument: UnsafeMutableRawPointer?) -> CInt {
    CBinder_ioctl(fd, request, argument)
}

@inline(__always)
internal func system_mmap_readonly(_ fd: CInt, _ length: Int) -> UnsafeMutableRawPointer? {
    let address = mmap(nil, length, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd, 0)
    return address == MAP_FAILED ? nil : address
}

@inline(__always)
internal func system_munmap(_ address: UnsafeMutableRawPointer, _ length: Int) -> CInt {
    munmap(address, length)
}

@inline(__always)
internal func system_pageSize() -> Int { Int(sysconf(CInt(_SC_PAGESIZE))) }

/// Issues `ioctl(fd, request, &argument)`, retrying EINTR; a failure is the bare errno (a
/// register, where the error naming the call is six words moved on every call, callgrind).
@inline(__always)
internal func ioctlReportingErrno<Argument>(_ fd: CInt, _ request: UInt, _ argument: inout Argument) throws(Errno) {
    let result = withUnsafeMutableBytes(of: &argument) { bytes in
        valueOrErrno { system_ioctl(fd, request, bytes.baseAddress) }
    }
    if case .failure(let errno) = result { throw errno }
}

/// Issues `ioctl(fd, request, &argument)`, retrying EINTR, and names the request in the error.
/// The path is evaluated only for an error (copying it cost a retain and release on every
/// `BINDER_WRITE_READ`, callgrind).
@inline(__always)
internal func ioctl<Argument>(
    _ fd: FileDescriptor,
    _ request: UInt,
    _ requestName: String,
    path: @autoclosure () -> FilePath,
    _ argument: inout Argument
) throws(BinderError) {
    do throws(Errno) {
        try ioctlReportingErrno(fd.rawValue, request, &argument)
    } catch {
        throw ioctlFailure(requestName, path: path(), errno: error)
    }
}

/// The error of a failed `ioctl`, naming the request (`BINDER_WRITE_READ`) and the device.
internal func ioctlFailure(_ requestName: String, path: FilePath, errno: Errno) -> BinderError {
    .systemCall("ioctl(\(requestName))", path: path, errno: errno)
}

/// Reads a whole small file (procfs, binderfs `features/`) into memory.
internal func readSmallFile(_ path: FilePath, limit: Int = 1 << 20) throws(BinderError) -> [UInt8] {
    let fd: FileDescriptor
    do {
        fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
    } catch {
        throw .systemCall("open", path: path, errno: error as? Errno ?? .ioError)
    }
    defer { try? fd.close() }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while contents.count < limit {
        let count: Int
        do {
            count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }
        } catch {
            throw .systemCall("read", path: path, errno: error as? Errno ?? .ioError)
        }
        if count == 0 { break }
        contents.append(contentsOf: chunk[..<count])
    }
    return contents
}

/// The entries of a directory (without `.` and `..`), in the order the file system gives them.
internal func directoryEntries(_ path: FilePath) throws(BinderError) -> [(name: String, isCharacterDevice: Bool, isRegular: Bool)] {
    let directory = path.withPlatformString { opendir($0) }
    guard let directory else {
        throw .systemCall("opendir", path: path, errno: Errno(rawValue: system_errno()))
    }
    defer { closedir(directory) }
    var entries: [(name: String, isCharacterDevice: Bool, isRegular: Bool)] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name == "." || name == ".." { continue }
        var type = entry.pointee.d_type
        if type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK) {
            // Some file systems do not say; a link counts as what it points to.
            var status = stat()
            let result = path.appending(name).withPlatformString { stat($0, &status) }
            if result == 0 {
                type = (status.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : (status.st_mode & S_IFMT) == S_IFCHR ? UInt8(DT_CHR) : type
            }
        }
        entries.append((name, type == UInt8(DT_CHR), type == UInt8(DT_REG)))
    }
    return entries
}

/// The canonical path of `path` (symbolic links resolved), or nil when it does not exist.
internal func resolvedPath(_ path: FilePath) -> FilePath? {
    guard let resolved = path.withPlatformString({ realpath($0, nil) }) else { return nil }
    defer { free(resolved) }
    return FilePath(platformString: resolved)
}
