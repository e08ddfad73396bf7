/// Transaction codes every binder object answers (`IBinder::*_TRANSACTION`).
public enum ReservedTransactionCode {
    private static func code(_ a: Character, _ b: Character, _ c: Character, _ d: Character) -> UInt32 {
        [a, b, c, d].reduce(0) { $0 << 8 | UInt32($1.asciiValue!) }
    }
    /// The first code available to user transactions.
    public static let firstCall: UInt32 = 0x0000_0001
    /// The last code available to user transactions.
    public static let lastCall: UInt32 = 0x00FF_FFFF
    /// `'_PNG'`: answered with an empty reply.
    public static let ping = code("_", "P", "N", "G")
    /// `'_NTF'`: returns the interface descriptor.
    public static let interface = code("_", "N", "T", "F")
    /// `'_DMP'`: writes a dump to a file descriptor.
    public static let dump = code("_", "D", "M", "P")
    /// `'_PID'`: returns the process id (Android 11+).
    public static let debugPID = code("_", "P", "I", "D")
    /// `'_EXT'`: returns the object's extension, or null (Android 11+).
    public static let `extension` = code("_", "E", "X", "T")
    /// `'_CMD'`: a shell command with in/out/err descriptors.
    public static let shellCommand = code("_", "C", "M", "D")
    /// `SYSPROPS_TRANSACTION`: reload system properties; answered with NO_ERROR and no data.
    public static let sysprops = code("_", "S", "P", "R")
}
