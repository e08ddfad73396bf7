/// `dumpPriority` flags of `addService` and `listServices`.
public struct DumpPriority: OptionSet, Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let critical = Self(rawValue: android.os.IServiceManager.dumpFlagPriorityCritical)
    public static let high = Self(rawValue: android.os.IServiceManager.dumpFlagPriorityHigh)
    public static let normal = Self(rawValue: android.os.IServiceManager.dumpFlagPriorityNormal)
    public static let `default` = Self(rawValue: android.os.IServiceManager.dumpFlagPriorityDefault)
    public static let all = Self(rawValue: android.os.IServiceManager.dumpFlagPriorityAll)
    public static let proto = Self(rawValue: android.os.IServiceManager.dumpFlagProto)
    /// OR-ed in by lazy services (android-15.0.0_r20 and later); reported as `isLazyService`.
    public static let lazyService = Self(rawValue: android.os.IServiceManager.flagIsLazyService)
}

/// Why a call to a binder service failed: the transaction itself, or the service's answer.
public enum RemoteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The transaction failed or the reply could not be read.
    case transport(BinderError)
    /// The service answered with an exception (e.g. EX_SECURITY for a denied call).
    case exception(Status)

    public var description: String {
        switch self {
        case .transport(let error): return error.description
        case .exception(let status): return status.description
        }
    }
}
