/// The calls of the test service that `binder-test-peer serve` runs as context manager.
public enum TestServiceCode: UInt32, Sendable {
    /// String16 in, the same String16 out.
    case echo = 1
    /// Replies with the caller's pid and euid as the kernel stamped them.
    case whoAmI
    /// Oneway: records an int32.
    case record
    /// Replies with the recorded int32s.
    case recorded
    /// (binder, depth): calls the binder's `nested` with itself and depth − 1 until depth is
    /// 0; replies with the number of hops below it.
    case nested
    /// Spins for the given microseconds, noting which thread served and how many ran at once.
    case work
    /// Replies with: distinct serving threads, most calls at once, looper threads started,
    /// the configured maximum.
    case threadStats
    /// Replies with a new local object.
    case newObject
    /// Replies with how many local objects the kernel holds references to.
    case objectCount
    /// Reads a ParcelFileDescriptor to its end; replies with a new one that yields the bytes
    /// reversed.
    case reversePipe
    /// A service method implemented as async: String16 in, uppercased out.
    case asyncUppercase
    /// Replies with how many file descriptors the service process has open.
    case openFileDescriptors
    /// Oneway: sleeps for the given microseconds (a slow consumer, for flooding).
    case slowOneway
    /// Prints "in call" on the server's standard output, then never replies: a call a test
    /// knows the server has.
    case block
    /// Replies with the bytes the service process has allocated from malloc, as an int64.
    case heapBytesInUse
}

public let testServiceDescriptor = "org.swiftbinder.test.ITestService"
