import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A client of the context manager at handle 0 (`android.os.IServiceManager`): SwiftBinder's
/// `servicemanager` or Android's, of any release from 10 to 16. The calls go through the proxies
/// generated from that release's `ServiceManager/aidl/android/os/IServiceManager*.aidl` (Android
/// 10's C protocol: ``Android10ServiceManager``).
///
/// The release is the device's (``BinderProcess/release``, from the configuration).
///
/// ```swift
/// let process = try BinderProcess(path: "/dev/binderfs/binder")
/// let manager = try ServiceManager(process: process)
/// try manager.addService("calculator", org.swiftbinder.demo.ICalculator.Stub(Calculator()))
/// let calculator = try manager.waitForService("calculator", timeout: .seconds(5))
/// ```
public final class ServiceManager: @unchecked Sendable {
    public let process: BinderProcess
    /// The release whose servicemanager protocol both sides speak.
    public let release: AndroidRelease

    private let connection: Mutex<any ServiceManagerBackend>
    private var backend: any ServiceManagerBackend { connection.withLock { $0 } }

    /// Services to register again when servicemanager restarts (``keepRegistered(_:_:allowIsolated:dumpPriority:)``).
    private let kept = Mutex<[(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: DumpPriority)]>([])
    private let watching = Mutex(false)

    /// Connects to the context manager of `process`'s device, speaking the release the device
    /// speaks (``BinderProcess/release``): its servicemanager protocol and its wire format go
    /// together, so choose another release when opening the device.
    public init(process: BinderProcess) throws(BinderError) {
        self.process = process
        self.release = process.release.release
        self.connection = Mutex(try Self.connect(process, self.release))
    }

    private static func connect(_ process: BinderProcess, _ release: AndroidRelease) throws(BinderError) -> any ServiceManagerBackend {
        release.serviceManagerBackend(try process.contextObject)
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
        guard let proxy = backend.binder as? BinderProxy else { return }
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
        let release = self.release
        startDetachedThread(named: "sm-reconnect") { [weak self] in
            guard let self else { return }
            // Replace the proxy for handle 0 with a placeholder-free reconnect loop.
            self.connection.withLock { $0 = DeadBackend() }
            while !process.isShuttingDown {
                usleep(100_000)
                guard let fresh = try? Self.connect(process, release) else { continue }
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

    /// The service registered under `name`, waiting up to `timeout` for it to appear, as
    /// libbinder's `getService` does (libs/binder/IServiceManager.cpp at android-14.0.0_r1):
    /// `checkService`, then `checkService` again every 100 ms. It does not ask servicemanager
    /// to start a lazy service (``waitForService(_:timeout:)`` does) and needs no thread pool.
    public func getService(_ name: String, timeout: Duration = .seconds(5)) throws(RemoteError) -> (any IBinder)? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let service = try checkService(name) { return service }
            if ContinuousClock.now >= deadline { return nil }
            usleep(100_000)
        }
    }

    /// Waits for `name` to be registered, as libbinder's `waitForService` does: servicemanager's
    /// `getService` first (which starts a lazy service where init can), then a registration
    /// notification, asking `getService` again every second meanwhile. The process's thread pool
    /// is started if it is not (the notification arrives on a looper). Android 10's
    /// servicemanager has no notifications: there it polls.
    @available(*, noasync, message: "blocks until the service comes; use the async waitForService(_:timeout:)")
    public func waitForService(_ name: String, timeout: Duration) throws(RemoteError) -> (any IBinder)? {
        if let service = try getServiceOnce(name) { return service }
        if release == .android10 { return try getService(name, timeout: timeout) }
        process.startThreadPool()
        let arrival = Waiter<any IBinder>()
        let registration = try registerForNotifications(name) { _, service in arrival.fulfill(service) }
        defer { try? unregisterForNotifications(registration) }
        let deadline = ContinuousClock.now + timeout
        while true {
            // It may have been added before the registration, or started lazily.
            if let service = try getServiceOnce(name) { return service }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            if let service = arrival.wait(timeout: min(left, .seconds(1))) { return service }
        }
    }

    /// servicemanager's `getService`, asked once (it starts a lazy service where init can).
    func getServiceOnce(_ name: String) throws(RemoteError) -> (any IBinder)? {
        try remote { try backend.getService(name: name) }
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
        let call: any DeclaredInstancesCall = try require("getDeclaredInstances")
        return try remote { try call.getDeclaredInstances(iface: interface) }
    }

    public func updatableViaApex(_ name: String) throws(RemoteError) -> String? {
        let call: any UpdatableViaApexCall = try require("updatableViaApex")
        return try remote { try call.updatableViaApex(name: name) }
    }

    public func updatableNames(apex: String) throws(RemoteError) -> [String] {
        let call: any UpdatableNamesCall = try require("getUpdatableNames")
        return try remote { try call.getUpdatableNames(apexName: apex) }
    }

    public func connectionInfo(_ name: String) throws(RemoteError) -> android.os.ConnectionInfo? {
        let call: any ConnectionInfoCall = try require("getConnectionInfo")
        return try remote { try call.getConnectionInfo(name: name) }
    }

    /// Every registered name with the pid of the process that added it.
    public func serviceDebugInfo() throws(RemoteError) -> [android.os.ServiceDebugInfo] {
        let call: any ServiceDebugInfoCall = try require("getServiceDebugInfo")
        return try remote { try call.getServiceDebugInfo() }
    }

    /// `getService2`: the service with whether it is lazy (Android 15 and later).
    public func service2(_ name: String) throws(RemoteError) -> android.os.ServiceWithMetadata? {
        let call: any Service2Call = try require("getService2")
        guard case .serviceWithMetadata(let metadata) = try remote({ try call.getService2(name: name) }) else { return nil }
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

    /// The backend as a release that has `method`, or an error naming the release.
    private func require<Call>(_ method: String) throws(RemoteError) -> Call {
        guard let call = backend as? Call else { throw .transport(.notInRelease(method, release)) }
        return call
    }

    /// Runs a generated proxy call, whose errors are `RemoteError`s.
    /// Runs a call; a failure that looks like a protocol mismatch (a transport status, an
    /// unreadable reply, a request servicemanager could not read) is checked against the
    /// release servicemanager answers as, and reported as a mismatch naming both.
    private func remote<T>(_ body: () throws -> T) throws(RemoteError) -> T {
        let failure: RemoteError
        do {
            return try body()
        } catch let error as RemoteError {
            failure = error
        } catch let error as BinderError {
            failure = .transport(error)
        } catch {
            failure = .transport(.unsupported("\(error)"))
        }
        switch failure {
        case .transport(.remoteStatus), .transport(.malformedParcel):
            break
        case .exception(let status) where status.exception == .badParcelable || status.exception == .nullPointer:
            break
        default:
            throw failure
        }
        if let detected = detectRelease(), detected.serviceManagerTable != release.serviceManagerTable {
            throw .transport(
                .releaseMismatch(configured: release, source: process.release.source, detected: detected))
        }
        throw failure
    }

    // MARK: - Which release servicemanager speaks

    /// The release whose servicemanager protocol the context manager answers, found by asking:
    /// Android 10's `checkService` in Android 10's token, then `getServiceDebugInfo` (the one
    /// method without arguments) at the code each later release gives it, then Android 11's
    /// `listServices`. Nothing is changed by asking: at every other code a request without
    /// arguments is refused. Android 15 r1 answers as Android 14 (the same table). Nil when
    /// nothing answers as any release.
    public func detectRelease() -> AndroidRelease? {
        let descriptor = ServiceManagerService.descriptor
        // Asked with this process's header word ('VNDR' on a vendor device, …).
        let header = process.wireFormat.interfaceHeader
        func ask(_ code: UInt32, _ format: WireFormat, _ write: (inout Parcel) -> Void) -> Parcel? {
            var format = format
            format.interfaceHeader = header
            var request = Parcel(wireFormat: format)
            request.writeInterfaceToken(descriptor)
            write(&request)
            return try? process.transactOnThisThread(handle: 0, code: code, data: request, flags: [])
        }
        if let reply = ask(Android10ServiceManager.Code.checkService, .android10, { $0.writeString16("manager") }),
            reply.dataSize == 4 || reply.dataSize == FlatBinderObject.size
        {
            return .android10
        }
        let probes: [(AndroidRelease, UInt32)] = [
            (.android16, android.os.IServiceManager.Code.getServiceDebugInfo), (.android15, android.os.IServiceManagerAndroid15.Code.getServiceDebugInfo),
            (.android14, android.os.IServiceManagerAndroid14.Code.getServiceDebugInfo),
            (.android13, android.os.IServiceManagerAndroid13.Code.getServiceDebugInfo),
            (.android12, android.os.IServiceManagerAndroid12.Code.getServiceDebugInfo),
        ]
        for (release, code) in probes {
            guard var reply = ask(code, .android13, { _ in }), let status = try? reply.readStatus() else { continue }
            // The method ran: OK with the list, or refused by the caller's rights.
            if status.isOK || status.exception == .security { return release }
        }
        if var reply = ask(android.os.IServiceManagerAndroid11.Code.listServices, .android11, { $0.writeInt32(DumpPriority.all.rawValue) }),
            let status = try? reply.readStatus(), status.isOK || status.exception == .security
        {
            return .android11
        }
        return nil
    }
}

/// The binder of ``DeadBackend``: every call fails as calls to a dead object do.
private final class DeadBinder: IBinder {
    func prepareTransaction() -> Parcel { Parcel(wireFormat: .default) }
    func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel {
        throw .transactionFailed(.deadTarget)
    }
    var isAlive: Bool { false }
    func ping() throws(BinderError) { throw .transactionFailed(.deadTarget) }
    func interfaceDescriptorOrNil() throws(BinderError) -> String? { throw .transactionFailed(.deadTarget) }
}

/// Stands in while servicemanager is gone.
private struct DeadBackend: ServiceManagerBackend {
    var binder: any IBinder { DeadBinder() }
    private func dead() -> RemoteError { .transport(.transactionFailed(.deadTarget)) }
    func getService(name: String) throws -> (any IBinder)? { throw dead() }
    func checkService(name: String) throws -> (any IBinder)? { throw dead() }
    func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws { throw dead() }
    func listServices(dumpPriority: Int32) throws -> [String] { throw dead() }
    func registerForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws { throw dead() }
    func unregisterForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws { throw dead() }
    func isDeclared(name: String) throws -> Bool { throw dead() }
    func registerClientCallback(name: String, service: any IBinder, callback: any android.os.IClientCallback.Service) throws { throw dead() }
    func tryUnregisterService(name: String, service: any IBinder) throws { throw dead() }
}

/// The `android.os.IServiceCallback` a client registers: servicemanager calls it (oneway) when a service
/// is registered under the name it watches.
final class NotificationCallback: android.os.IServiceCallback.Service, @unchecked Sendable {
    private let handler: @Sendable (String, any IBinder) -> Void

    init(_ handler: @escaping @Sendable (String, any IBinder) -> Void) {
        self.handler = handler
    }

    func onRegistration(name: String, binder: any IBinder) throws {
        handler(name, binder)
    }
}

/// The `android.os.IClientCallback` of a lazy service: told whether the service has clients.
public final class ClientCallback: android.os.IClientCallback.Service, @unchecked Sendable {
    private let handler: @Sendable (any IBinder, Bool) -> Void

    init(_ handler: @escaping @Sendable (any IBinder, Bool) -> Void) {
        self.handler = handler
    }

    public func onClients(registered: any IBinder, hasClients: Bool) throws {
        handler(registered, hasClients)
    }
}
