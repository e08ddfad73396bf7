#if canImport(Glibc)
import CMallocInfo
import Glibc
#endif

/// How many file descriptors this process has open (the entries of /proc/self/fd, minus the one
/// reading it takes), for the leak tests and the test peer.
public func countOpenFileDescriptors() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while readdir(directory) != nil { count += 1 }
    return count - 3  // ".", "..", and the directory's own descriptor
}

/// The bytes this process has allocated from malloc and not freed, over all of glibc's arenas:
/// exact for one process, where resident size also counts pages the allocator keeps.
public func heapBytesInUse() -> Int {
    #if canImport(Glibc)
    Int(mallinfo2().uordblks)
    #else
    -1
    #endif
}
