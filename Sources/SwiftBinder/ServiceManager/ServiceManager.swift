import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A client of the context manager at handle 0 (`android.os.IServiceManager`): SwiftBinder's
/// `servicemanager` or Android's.
///
/// ```swift
/// let process = try BinderProcess(path: "/dev/binderfs/binder")
/// let manager = try ServiceManager(process: process)
/// try manager.addService("calculator", Calculator())
/// let calculator = try manager.waitForService("calculator", timeout: .seconds(5))
/// ```
public final class ServiceManager: @unchecked Sendable {
    public let process: BinderProcess
    /// The code table both sides speak.
    public let protocolVersion: ServiceManagerProtocol
    private let proxy: BinderProxy

    public init(process: BinderProcess, protocol protocolVersion: ServiceManagerProtocol = .android16) throws(BinderError) {
        self.process = process
        self.protocolVersion = protocolVersion
        self.proxy = try process.contextObject
    }

    // MARK: - Registering

    /// Registers `service` under `name`.
    ///
    /// - Throws: ``RemoteError/exception(_:)`` with EX_SECURITY when the policy denies it,
    ///   EX_ILLEGAL_ARGUMENT for an invalid name.
    public func addService(
        _ name: String, _ service: any IBinder, allowIsolated: Bool = false, dumpPriority: DumpPriority = .default
    ) throws(RemoteError) {
        _ = try call(.addService) { request in
            request.writeString16(name)
            request.writeStrongBinder(service)
            request.writeBool(allowIsolated)
            request.writeInt32(dumpPriority.rawValue)
        }
    }

    // MARK: - Looking up

    /// The service registered under `name`, or nil, without waiting.
    public func checkService(_ name: String) throws(RemoteError) -> (any IBinder)? {
        var reply = try call(.checkService) { $0.writeString16(name) }
        return try readBinder(&reply)
    }

    /// The service registered under `name`, waiting up to `timeout` for it to appear (libbinder
    /// gives `getService` 5 seconds). Does not need a thread pool: it polls, as libbinder does.
    public func getService(_ name: String, timeout: Duration = .seconds(5)) throws(RemoteError) -> (any IBinder)? {
        let deadline = ContinuousClock.now + timeout
        while true {
            var reply = try call(.getService) { $0.writeString16(name) }
            if let service = try readBinder(&reply) { return service }
            if ContinuousClock.now >= deadline { return nil }
            usleep(100_000)
        }
    }

    /// Waits for `name` to be registered, through a notification rather than polling; the
    /// process's thread pool is started if it is not (the notification arrives on a looper).
    public func waitForService(_ name: String, timeout: Duration) throws(RemoteError) -> (any IBinder)? {
        if let service = try checkService(name) { return service }
        process.startThreadPool()
        let arrival = Waiter<any IBinder>()
        let registration = try registerForNotifications(name) { _, service in arrival.fulfill(service) }
        defer { try? unregisterForNotifications(registration) }
        // It may have been added between the check and the registration.
        if let service = try checkService(name) { return service }
        return arrival.wait(timeout: timeout)
    }

    /// The registered names whose dump priority intersects `dumpPriority`, sorted.
    public func listServices(dumpPriority: DumpPriority = .all) throws(RemoteError) -> [String] {
        var reply = try call(.listServices) { $0.writeInt32(dumpPriority.rawValue) }
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableStringArray()?.compactMap { $0 } ?? []
        }
    }

    // MARK: - Notifications

    /// A registration made by ``registerForNotifications(_:_:)``.
    public struct NotificationRegistration: Sendable {
        public let name: String
        let callback: ServiceNotificationCallback
    }

    /// Calls `handler` (on a looper thread) whenever a service is registered under `name`, and at
    /// once if one already is.
    public func registerForNotifications(
        _ name: String, _ handler: @escaping @Sendable (String, any IBinder) -> Void
    ) throws(RemoteError) -> NotificationRegistration {
        let callback = ServiceNotificationCallback(handler)
        _ = try call(.registerForNotifications) { request in
            request.writeString16(name)
            request.writeStrongBinder(callback)
        }
        return NotificationRegistration(name: name, callback: callback)
    }

    public func unregisterForNotifications(_ registration: NotificationRegistration) throws(RemoteError) {
        _ = try call(.unregisterForNotifications) { request in
            request.writeString16(registration.name)
            request.writeStrongBinder(registration.callback)
        }
    }

    // MARK: - Declarations and metadata

    /// Whether `name` is declared (in our servicemanager: in the policy's `declare` lines).
    public func isDeclared(_ name: String) throws(RemoteError) -> Bool {
        var reply = try call(.isDeclared) { $0.writeString16(name) }
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in try parcel.readBool() }
    }

    /// The declared instances of `interface` (`package.IFoo/instance` names give `instance`).
    public func declaredInstances(of interface: String) throws(RemoteError) -> [String] {
        var reply = try call(.getDeclaredInstances) { $0.writeString16(interface) }
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableStringArray()?.compactMap { $0 } ?? []
        }
    }

    public func updatableViaApex(_ name: String) throws(RemoteError) -> String? {
        var reply = try call(.updatableViaApex) { $0.writeString16(name) }
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableString16() }
    }

    public func updatableNames(apex: String) throws(RemoteError) -> [String] {
        var reply = try call(.getUpdatableNames) { $0.writeString16(apex) }
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableStringArray()?.compactMap { $0 } ?? []
        }
    }

    public func connectionInfo(_ name: String) throws(RemoteError) -> ConnectionInfo? {
        var reply = try call(.getConnectionInfo) { $0.writeString16(name) }
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableParcelable(ConnectionInfo.self) }
    }

    /// Every registered name with the pid of the process that added it.
    public func serviceDebugInfo() throws(RemoteError) -> [ServiceDebugInfo] {
        var reply = try call(.getServiceDebugInfo)
        return try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in
                try parcel.readParcelable(ServiceDebugInfo.self)
            } ?? []
        }
    }

    // MARK: - Lazy services

    /// Asks servicemanager to tell `handler` whether `service` (registered under `name` by this
    /// process) has clients: at once when it gains some, after a quiet period when it loses them.
    public func registerClientCallback(
        _ name: String, service: any IBinder, _ handler: @escaping @Sendable (any IBinder, Bool) -> Void
    ) throws(RemoteError) -> ClientCallback {
        let callback = ClientCallback(handler)
        _ = try call(.registerClientCallback) { request in
            request.writeString16(name)
            request.writeStrongBinder(service)
            request.writeStrongBinder(callback)
        }
        return callback
    }

    /// Removes `name` if `service` has no clients; EX_ILLEGAL_STATE if it has.
    public func tryUnregisterService(_ name: String, service: any IBinder) throws(RemoteError) {
        _ = try call(.tryUnregisterService) { request in
            request.writeString16(name)
            request.writeStrongBinder(service)
        }
    }

    // MARK: - Calls

    private func call(
        _ method: ServiceManagerMethod, _ writeArguments: (inout Parcel) -> Void = { _ in }
    ) throws(RemoteError) -> Parcel {
        guard let code = protocolVersion.code(of: method) else {
            throw .transport(.unsupported("\(method.rawValue) in the \(protocolVersion.rawValue) servicemanager protocol"))
        }
        var request = Parcel(wireFormat: process.wireFormat)
        request.writeInterfaceToken(ServiceManagerProtocol.descriptor)
        writeArguments(&request)
        var reply: Parcel
        do {
            reply = try proxy.transact(code: code, data: request)
        } catch {
            throw .transport(error)
        }
        let status = try decode(&reply) { (parcel: inout Parcel) throws(ParcelError) in try parcel.readStatus() }
        guard status.isOK else { throw .exception(status) }
        return reply
    }

    /// Reads a reply's values, reporting malformed data as a transport error.
    private func decode<T>(_ reply: inout Parcel, _ body: (inout Parcel) throws(ParcelError) -> T) throws(RemoteError) -> T {
        do throws(ParcelError) {
            return try body(&reply)
        } catch {
            throw .transport(.malformedParcel(error))
        }
    }

    private func readBinder(_ reply: inout Parcel) throws(RemoteError) -> (any IBinder)? {
        do {
            return try reply.readNullableStrongBinder(process: process)
        } catch {
            throw .transport(error)
        }
    }
}

/// The `IServiceCallback` a client registers: servicemanager calls it (oneway) when a service
/// is registered under the name it watches.
final class ServiceNotificationCallback: BinderObject, @unchecked Sendable {
    private let handler: @Sendable (String, any IBinder) -> Void

    init(_ handler: @escaping @Sendable (String, any IBinder) -> Void) {
        self.handler = handler
    }

    override var interfaceDescriptor: String { ServiceManagerCallbacks.serviceCallbackDescriptor }

    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        guard code == ServiceManagerCallbacks.onRegistrationCode else { throw StatusCode.unknownTransaction }
        try data.enforceInterface(interfaceDescriptor)
        let name = try data.readString16()
        let binder = try data.readStrongBinder()
        handler(name, binder)
    }
}

/// The `IClientCallback` of a lazy service: told whether the service has clients.
public final class ClientCallback: BinderObject, @unchecked Sendable {
    private let handler: @Sendable (any IBinder, Bool) -> Void

    init(_ handler: @escaping @Sendable (any IBinder, Bool) -> Void) {
        self.handler = handler
    }

    public override var interfaceDescriptor: String { ServiceManagerCallbacks.clientCallbackDescriptor }

    public override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        guard code == ServiceManagerCallbacks.onClientsCode else { throw StatusCode.unknownTransaction }
        try data.enforceInterface(interfaceDescriptor)
        let registered = try data.readStrongBinder()
        let hasClients = try data.readBool()
        handler(registered, hasClients)
    }
}

/// A value one thread waits for, with a timeout, and another provides (first one wins).
final class Waiter<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    func fulfill(_ newValue: Value) {
        lock.lock()
        if value == nil { value = newValue }
        lock.broadcast()
        lock.unlock()
    }

    func wait(timeout: Duration) -> Value? {
        let deadline = ContinuousClock.now + timeout
        lock.lock()
        defer { lock.unlock() }
        while value == nil {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            lock.wait(timeout: remaining)
        }
        return value
    }
}
