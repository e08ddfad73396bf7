/// The methods of `android.os.IServiceManager`.
public enum ServiceManagerMethod: String, CaseIterable, Sendable {
    case getService, getService2, checkService, checkService2, addService, listServices
    case registerForNotifications, unregisterForNotifications, isDeclared, getDeclaredInstances
    case updatableViaApex, getUpdatableNames, getConnectionInfo, registerClientCallback
    case tryUnregisterService, getServiceDebugInfo
}

/// Which Android release's `IServiceManager` code table to speak. The interface is not frozen,
/// so its transaction codes shift between releases (PROTOCOL.md §4.2); both sides must agree.
public enum ServiceManagerProtocol: String, CaseIterable, Sendable {
    /// Android 11: nine methods, what older clients (and libgbinder's "aidl" protocol) use.
    case android11
    /// Android 16 (also 15 QPR1/QPR2 apart from the `Service` union): the default.
    case android16

    public static let descriptor = "android.os.IServiceManager"

    /// The methods in declaration order: method i has code i + 1.
    public var methods: [ServiceManagerMethod] {
        switch self {
        case .android11:
            return [
                .getService, .checkService, .addService, .listServices, .registerForNotifications,
                .unregisterForNotifications, .isDeclared, .registerClientCallback, .tryUnregisterService,
            ]
        case .android16:
            return [
                .getService, .getService2, .checkService, .checkService2, .addService, .listServices,
                .registerForNotifications, .unregisterForNotifications, .isDeclared, .getDeclaredInstances,
                .updatableViaApex, .getUpdatableNames, .getConnectionInfo, .registerClientCallback,
                .tryUnregisterService, .getServiceDebugInfo,
            ]
        }
    }

    /// The transaction code of `method`, or nil when this release does not have it.
    public func code(of method: ServiceManagerMethod) -> UInt32? {
        methods.firstIndex(of: method).map { UInt32($0) + ReservedTransactionCode.firstCall }
    }

    /// The method behind a transaction code, or nil.
    public func method(forCode code: UInt32) -> ServiceManagerMethod? {
        guard code >= ReservedTransactionCode.firstCall else { return nil }
        let index = Int(code - ReservedTransactionCode.firstCall)
        return index < methods.count ? methods[index] : nil
    }
}

/// `dumpPriority` flags of `addService` and `listServices`.
public struct DumpPriority: OptionSet, Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let critical = Self(rawValue: 1)
    public static let high = Self(rawValue: 2)
    public static let normal = Self(rawValue: 4)
    public static let `default` = Self(rawValue: 8)
    public static let all: Self = [.critical, .high, .normal, .default]
    public static let proto = Self(rawValue: 16)
    /// OR-ed in by lazy services (Android 15 QPR and later); reported as `isLazyService`.
    public static let lazyService = Self(rawValue: 1 << 30)
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
