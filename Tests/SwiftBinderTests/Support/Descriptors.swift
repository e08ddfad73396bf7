#if canImport(Glibc)
import Glibc
#endif

/// The open file a descriptor refers to (device and inode).
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64

    /// The file `fd` refers to, or nil when `fd` is not open.
    init?(_ fd: CInt) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// Whether `fd` no longer refers to the file it referred to. Tests run in parallel, so another
/// test may already have been given the same number for another file: closed means "not this
/// file any more", not "the number is free".
func isClosed(_ fd: CInt, was identity: FileIdentity?) -> Bool {
    guard let identity else { return false }
    return FileIdentity(fd) != identity
}
