import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The calls both code tables have, which the client makes through either generated proxy.
protocol ServiceManagerBackend: Sendable {
    func getService(name: String) throws -> (any IBinder)?
    func checkService(name: String) throws -> (any IBinder)?
    func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws
    func listServices(dumpPriority: Int32) throws -> [String]
    func registerForNotifications(name: String, callback: any IServiceCallback.Service) throws
    func unregisterForNotifications(name: String, callback: any IServiceCallback.Service) throws
    func isDeclared(name: String) throws -> Bool
    func registerClientCallback(name: String, service: any IBinder, callback: any IClientCallback.Service) throws
    func tryUnregisterService(name: String, service: any IBinder) throws
}

extension IServiceManager.Proxy: ServiceManagerBackend {}
extension IServiceManagerAndroid11.Proxy: ServiceManagerBackend {}

/// A client of the context manager at handle 0 (`android.os.IServiceManager`): SwiftBinder's
/// `servicemanager` or Android's. The calls go through the proxies generated from
/// `ServiceManager/aidl/android/os/IServiceManager*.aidl`.
///
/// ```swift
/// let process = try BinderProcess(path: "/dev/binderfs/binder")
/// let manager = try ServiceManager(process: process)
/// try manager.addService("calculator", ICalculator.Stub(Calculator()))
/// let calculator = try manager.waitForService("calculator", timeout: .seconds(5))
/// ```
public final class ServiceManager: @unchecked Sendable {
    public let process: BinderProcess
    /// The code table both sides speak.
    public let protocolVersion: ServiceManagerProtocol

    private struct Connection {
        var backend: any ServiceManagerBackend
        /// The Android 16 proxy, for the calls Android 11 does not have.
        var android16: IServiceManager.Proxy?
    }

    private let connection: Mutex<Connection>
    private var backend: any ServiceManagerBackend { connection.withLock { $0.backend } }
    private var android16: IServiceManager.Proxy? { connection.withLock { $0.android16 } }

    /// Services to register again when servicemanager restarts (``keepRegistered(_:_:allowIsolated:dumpPriority:)``).
    private let kept = Mutex<[(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: DumpPriority)]>([])
    private let watching = Mutex(false)

    public init(process: BinderProcess, protocol protocolVersion: ServiceManagerProtocol = .android16) throws(BinderError) {
        self.process = process
        self.protocolVersion = protocolVersion
        self.connection = Mutex(try Self.connect(process, protocolVersion))
    }

    private static func connect(_ process: BinderProcess, _ version: ServiceManagerProtocol) throws(BinderError) -> Connection {
        let binder = try process.contextObject
        switch version {
        case .android16:
            let proxy = IServiceManager.Proxy(binder)
            return Connection(backend: proxy, android16: proxy)
        case .android11:
            return Connection(backend: IServiceManagerAndroid11.Proxy(binder), android16: nil)
        }
    }

    // MARK: - Surviving a servicemanager restart

    /// Registers `service` under `name` and registers it again whenever servicemanager dies and
    /// a new one takes its place (the process's thread pool is started: the death notice arrives
    /// on a looper).
    public func keepRegistered(
        _ name: String, _ service: any IBinder, allowIsolated: Bool = false, dumpPriority: DumpPriority = .default
    ) throws(RemoteError) {
        try addService(name, service, allowIsolated: allowIsolated, dumpPriority: dumpPriority)
        kept.withLock { $0.append((name, service, allowIsolated, dumpPriority)) }
        process.startThreadPool()
        try watchServiceManager()
    }

    private func watchServiceManager() throws(RemoteError) {
        guard !watching.withLock({ $0 }) else { return }
        guard let proxy = (backend as? IServiceManager.Proxy)?.binder as? BinderProxy
            ?? (backend as? IServiceManagerAndroid11.Proxy)?.binder as? BinderProxy
        else { return }
        // A proxy still held elsewhere from before the restart is dead for good: watching it would
        // fire at once, forever. Registrations through it still reach the new servicemanager.
        guard proxy.isAlive else { return }
        do {
            _ = try proxy.linkToDeath { [weak self] in self?.serviceManagerDied() }
            watching.withLock { $0 = true }
        } catch {
            throw .transport(error)
        }
    }

    /// On a thread of its own: drop the dead connection (releasing the kernel's reference to the
    /// dead node), wait for a new context manager, connect, register again, watch again.
    private func serviceManagerDied() {
        watching.withLock { $0 = false }
        let process = self.process
        let version = protocolVersion
        BlockingCallExecutor.shared.run { [weak self] in
            guard let self else { return }
            // Replace the proxy for handle 0 with a placeholder-free reconnect loop.
            self.connection.withLock { $0 = Connection(backend: DeadBackend(), android16: nil) }
            while !process.isShuttingDown {
                usleep(100_000)
                guard let fresh = try? Self.connect(process, version) else { continue }
                self.connection.withLock { $0 = fresh }
                for entry in self.kept.withLock({ $0 }) {
                    try? self.addService(entry.name, entry.service, allowIsolated: entry.allowIsolated, dumpPriority: entry.dumpPriority)
                }
                try? self.watchServiceManager()
                return
            }
        }
    }

    // MARK: - Registering

    /// Registers `service` under `name`.
    ///
    /// - Throws: ``RemoteError/exception(_:)`` with EX_SECURITY when the policy denies it,
    ///   EX_ILLEGAL_ARGUMENT for an invalid name.
    public func addService(
        _ name: String, _ service: any IBinder, allowIsolated: Bool = false, dumpPriority: DumpPriority = .default
    ) throws(RemoteError) {
        try remote {
            try backend.addService(name: name, service: service, allowIsolated: allowIsolated, dumpPriority: dumpPriority.rawValue)
        }
    }

    // MARK: - Looking up

    /// The service registered under `name`, or nil, without waiting.
    public func checkService(_ name: String) throws(RemoteError) -> (any IBinder)? {
        try remote { try backend.checkService(name: name) }
    }

    /// The service registered under `name`, waiting up to `timeout` for it to appear (libbinder
    /// gives `getService` 5 seconds). Does not need a thread pool: it polls, as libbinder does.
    public func getService(_ name: String, timeout: Duration = .seconds(5)) throws(RemoteError) -> (any IBinder)? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let service = try remote({ try backend.getService(name: name) }) { return service }
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
        try remote { try backend.listServices(dumpPriority: dumpPriority.rawValue) }
    }

    // MARK: - Notifications

    /// A registration made by ``registerForNotifications(_:_:)``.
    public struct NotificationRegistration: Sendable {
        public let name: String
        let callback: NotificationCallback
    }

    /// Calls `handler` (on a looper thread) whenever a service is registered under `name`, and at
    /// once if one already is.
    public func registerForNotifications(
        _ name: String, _ handler: @escaping @Sendable (String, any IBinder) -> Void
    ) throws(RemoteError) -> NotificationRegistration {
        let callback = NotificationCallback(handler)
        try remote { try backend.registerForNotifications(name: name, callback: callback) }
        return NotificationRegistration(name: name, callback: callback)
    }

    public func unregisterForNotifications(_ registration: NotificationRegistration) throws(RemoteError) {
        try remote { try backend.unregisterForNotifications(name: registration.name, callback: registration.callback) }
    }

    // MARK: - Declarations and metadata

    /// Whether `name` is declared (in our servicemanager: in the policy's `declare` lines).
    public func isDeclared(_ name: String) throws(RemoteError) -> Bool {
        try remote { try backend.isDeclared(name: name) }
    }

    /// The declared instances of `interface` (`package.IFoo/instance` names give `instance`).
    public func declaredInstances(of interface: String) throws(RemoteError) -> [String] {
        let proxy = try requireAndroid16("getDeclaredInstances")
        return try remote { try proxy.getDeclaredInstances(iface: interface) }
    }

    public func updatableViaApex(_ name: String) throws(RemoteError) -> String? {
        let proxy = try requireAndroid16("updatableViaApex")
        return try remote { try proxy.updatableViaApex(name: name) }
    }

    public func updatableNames(apex: String) throws(RemoteError) -> [String] {
        let proxy = try requireAndroid16("getUpdatableNames")
        return try remote { try proxy.getUpdatableNames(apexName: apex) }
    }

    public func connectionInfo(_ name: String) throws(RemoteError) -> ConnectionInfo? {
        let proxy = try requireAndroid16("getConnectionInfo")
        return try remote { try proxy.getConnectionInfo(name: name) }
    }

    /// Every registered name with the pid of the process that added it.
    public func serviceDebugInfo() throws(RemoteError) -> [ServiceDebugInfo] {
        let proxy = try requireAndroid16("getServiceDebugInfo")
        return try remote { try proxy.getServiceDebugInfo() }
    }

    /// `getService2`: the service with whether it is lazy (Android 16 servicemanagers).
    public func service2(_ name: String) throws(RemoteError) -> ServiceWithMetadata? {
        let proxy = try requireAndroid16("getService2")
        guard case .serviceWithMetadata(let metadata) = try remote({ try proxy.getService2(name: name) }) else { return nil }
        return metadata.service == nil ? nil : metadata
    }

    // MARK: - Lazy services

    /// Asks servicemanager to tell `handler` whether `service` (registered under `name` by this
    /// process) has clients: at once when it gains some, after a quiet period when it loses them.
    /// Keep the returned callback as long as you want to hear.
    public func registerClientCallback(
        _ name: String, service: any IBinder, _ handler: @escaping @Sendable (any IBinder, Bool) -> Void
    ) throws(RemoteError) -> ClientCallback {
        let callback = ClientCallback(handler)
        try remote { try backend.registerClientCallback(name: name, service: service, callback: callback) }
        return callback
    }

    /// Removes `name` if `service` has no clients; EX_ILLEGAL_STATE if it has.
    public func tryUnregisterService(_ name: String, service: any IBinder) throws(RemoteError) {
        try remote { try backend.tryUnregisterService(name: name, service: service) }
    }

    // MARK: - Calls

    private func requireAndroid16(_ method: String) throws(RemoteError) -> IServiceManager.Proxy {
        guard let android16 else {
            throw .transport(.unsupported("\(method) in the \(protocolVersion.rawValue) servicemanager protocol"))
        }
        return android16
    }

    /// Runs a generated proxy call, whose errors are `RemoteError`s.
    private func remote<T>(_ body: () throws -> T) throws(RemoteError) -> T {
        do {
            return try body()
        } catch let error as RemoteError {
            throw error
        } catch let error as BinderError {
            throw .transport(error)
        } catch {
            throw .transport(.unsupported("\(error)"))
        }
    }
}

/// Stands in while servicemanager is gone.
private struct DeadBackend: ServiceManagerBackend {
    private func dead() -> RemoteError { .transport(.transactionFailed(.deadTarget)) }
    func getService(name: String) throws -> (any IBinder)? { throw dead() }
    func checkService(name: String) throws -> (any IBinder)? { throw dead() }
    func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws { throw dead() }
    func listServices(dumpPriority: Int32) throws -> [String] { throw dead() }
    func registerForNotifications(name: String, callback: any IServiceCallback.Service) throws { throw dead() }
    func unregisterForNotifications(name: String, callback: any IServiceCallback.Service) throws { throw dead() }
    func isDeclared(name: String) throws -> Bool { throw dead() }
    func registerClientCallback(name: String, service: any IBinder, callback: any IClientCallback.Service) throws { throw dead() }
    func tryUnregisterService(name: String, service: any IBinder) throws { throw dead() }
}

/// The `IServiceCallback` a client registers: servicemanager calls it (oneway) when a service
/// is registered under the name it watches.
final class NotificationCallback: IServiceCallback.Service, @unchecked Sendable {
    private let handler: @Sendable (String, any IBinder) -> Void

    init(_ handler: @escaping @Sendable (String, any IBinder) -> Void) {
        self.handler = handler
    }

    func onRegistration(name: String, binder: any IBinder) throws {
        handler(name, binder)
    }
}

/// The `IClientCallback` of a lazy service: told whether the service has clients.
public final class ClientCallback: IClientCallback.Service, @unchecked Sendable {
    private let handler: @Sendable (any IBinder, Bool) -> Void

    init(_ handler: @escaping @Sendable (any IBinder, Bool) -> Void) {
        self.handler = handler
    }

    public func onClients(registered: any IBinder, hasClients: Bool) throws {
        handler(registered, hasClients)
    }
}
