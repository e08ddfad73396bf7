import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The registry behind handle 0: `android.os.IServiceManager` as AOSP's servicemanager serves
/// it, with an ``AccessPolicy`` on the kernel-provided euid instead of SELinux.
///
/// It implements the interfaces generated from `ServiceManager/aidl`; ``binder`` is the stub for
/// the chosen code table, the object to make context manager. Every service and callback binder
/// is watched for death and dropped when its process dies. Memory is bounded: the number of
/// names, of watched names and of callbacks per name are capped, and each refusal is an error
/// the caller sees.
public final class ServiceManagerService: IServiceManager.Service, IServiceManagerAndroid15.Service,
    IServiceManagerAndroid14.Service, IServiceManagerAndroid13.Service, IServiceManagerAndroid12.Service,
    IServiceManagerAndroid11.Service, @unchecked Sendable
{
    /// The interface descriptor of every release.
    public static let descriptor = IServiceManager.descriptor

    public struct Limits: Sendable {
        public var services = 4096
        public var watchedNames = 1024
        public var callbacksPerName = 64
        public init() {}
    }

    /// How often lazy services' client counts are checked (AOSP: 5 s).
    public static let clientCheckInterval: Duration = .seconds(5)

    /// The runtime serving the registry; nil for a detached one (see
    /// ``init(detachedWithCaller:release:policy:limits:logger:)``).
    public let process: BinderProcess?
    /// Who is calling, for a detached registry.
    private let detachedCaller: (@Sendable () -> CallerIdentity)?
    /// The release whose protocol ``binder`` serves.
    public let release: AndroidRelease
    public let policy: AccessPolicy
    public let limits: Limits
    private let logger: Logger

    private struct Registration {
        var binder: any IBinder
        var allowIsolated: Bool
        var dumpPriority: DumpPriority
        var ownerUID: uid_t
        var ownerPID: Int32
        var clientCallbacks: [any IClientCallback.Service] = []
        var hasClients = false
        var guaranteeClient = false
    }

    private struct State {
        var services: [String: Registration] = [:]
        var notificationCallbacks: [String: [any IServiceCallback.Service]] = [:]
    }

    /// The binder object serving this registry with the release's code table.
    public private(set) var binder: BinderObject!

    private let state = Mutex(State())
    /// One death notification per watched proxy, dropped when nothing refers to it any more.
    private let watched = Mutex<[ObjectIdentifier: (proxy: BinderProxy, link: BinderProxy.DeathLink)]>([:])
    private let stopping = Atomic<Bool>(false)
    private let timerWake = Waiter<Bool>()

    /// A registry served on `process`'s device, speaking `release` (by default the device's).
    public convenience init(
        process: BinderProcess, release: AndroidRelease? = nil,
        policy: AccessPolicy = .default, limits: Limits = Limits(), logger: Logger = Logger(label: "servicemanager")
    ) {
        self.init(
            process: process, caller: nil, release: release ?? process.release.release, policy: policy, limits: limits,
            logger: logger)
    }

    /// A registry on no binder device, whose callers are whoever `caller` says: its request
    /// handling can be driven in process (the fuzzer does). Lazy-service client counts, which
    /// come from the kernel, are unknown to it.
    public convenience init(
        detachedWithCaller caller: @escaping @Sendable () -> CallerIdentity,
        release: AndroidRelease = .default, policy: AccessPolicy = .default,
        limits: Limits = Limits(), logger: Logger = Logger(label: "servicemanager")
    ) {
        self.init(process: nil, caller: caller, release: release, policy: policy, limits: limits, logger: logger)
    }

    private init(
        process: BinderProcess?, caller: (@Sendable () -> CallerIdentity)?, release: AndroidRelease,
        policy: AccessPolicy, limits: Limits, logger: Logger
    ) {
        self.process = process
        self.detachedCaller = caller
        self.release = release
        self.policy = policy
        self.limits = limits
        self.logger = logger
        binder = release.serviceManagerStub(for: self)
        // Like AOSP's, it registers itself as "manager".
        let binder: any IBinder = self.binder
        state.withLock { state in
            state.services["manager"] = Registration(
                binder: binder, allowIsolated: false, dumpPriority: .default, ownerUID: geteuid(), ownerPID: getpid())
        }
    }

    /// The registered names, sorted (for tests and tools in the same process).
    public var serviceNames: [String] { state.withLock { $0.services.keys.sorted() } }

    // MARK: - IServiceManager

    var caller: CallerIdentity { detachedCaller?() ?? process?.callingIdentity ?? .ownProcess }

    public func getService(name: String) throws -> (any IBinder)? { try lookUp(name, caller: caller) }

    public func checkService(name: String) throws -> (any IBinder)? { try lookUp(name, caller: caller) }

    /// Android 15's `checkService` (android-15.0.0_r6 and later), which returns the union.
    public func checkService(name: String) throws -> Service { try service2(name) }

    public func getService2(name: String) throws -> Service { try service2(name) }

    public func checkService2(name: String) throws -> Service { try service2(name) }

    private func service2(_ name: String) throws -> Service {
        let binder = try lookUp(name, caller: caller)
        let isLazy = state.withLock { $0.services[name]?.dumpPriority.contains(.lazyService) ?? false }
        return .serviceWithMetadata(ServiceWithMetadata(service: binder, isLazyService: binder != nil && isLazy))
    }

    public func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws {
        try addService(name, service, allowIsolated: allowIsolated, dumpPriority: DumpPriority(rawValue: dumpPriority), caller: caller)
    }

    public func listServices(dumpPriority: Int32) throws -> [String] {
        try require(.list, name: nil, caller: caller)
        let priority = DumpPriority(rawValue: dumpPriority)
        return state.withLock { state in
            state.services.filter { !$0.value.dumpPriority.intersection(priority).isEmpty }.keys.sorted()
        }
    }

    public func registerForNotifications(name: String, callback: any IServiceCallback.Service) throws {
        try registerForNotifications(name, callback, caller: caller)
    }

    public func unregisterForNotifications(name: String, callback: any IServiceCallback.Service) throws {
        try unregisterForNotifications(name, callback, caller: caller)
    }

    public func isDeclared(name: String) throws -> Bool {
        try require(.find, name: name, caller: caller)
        return policy.declared.contains(name)
    }

    public func getDeclaredInstances(iface: String) throws -> [String] {
        let uid = caller.euid
        return policy.declared.compactMap { declared -> String? in
            let parts = declared.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, parts[0] == iface else { return nil }
            return policy.allows(.find, name: declared, uid: uid) ? String(parts[1]) : nil
        }
    }

    public func updatableViaApex(name: String) throws -> String? { nil }

    public func getUpdatableNames(apexName: String) throws -> [String] { [] }

    public func getConnectionInfo(name: String) throws -> ConnectionInfo? { nil }

    public func registerClientCallback(name: String, service: any IBinder, callback: any IClientCallback.Service) throws {
        try registerClientCallback(name, service: service, callback: callback, caller: caller)
    }

    public func tryUnregisterService(name: String, service: any IBinder) throws {
        try tryUnregisterService(name, service: service, caller: caller)
    }

    public func getServiceDebugInfo() throws -> [ServiceDebugInfo] {
        try require(.list, name: nil, caller: caller)
        return state.withLock { state in
            state.services.keys.sorted().map { ServiceDebugInfo(name: $0, debugPid: state.services[$0]!.ownerPID) }
        }
    }

    /// The binder behind a callback (its proxy's, or the stub serving a local one): what
    /// identifies it across calls.
    private func identity(_ callback: any IServiceCallback.Service) -> any IBinder {
        IServiceCallback.Stub.binder(for: callback)
    }

    private func identity(_ callback: any IClientCallback.Service) -> any IBinder {
        IClientCallback.Stub.binder(for: callback)
    }

    private func require(_ action: AccessPolicy.Action, name: String?, caller: CallerIdentity) throws {
        guard policy.allows(action, name: name, uid: caller.euid) else {
            logger.warning(
                "denied",
                metadata: [
                    "policy.action": "\(action.rawValue)", "service.name": "\(name ?? "")",
                    "caller.euid": "\(caller.euid)", "caller.pid": "\(caller.pid)",
                ])
            let subject = name.map { " '\($0)'" } ?? ""
            throw Status(exception: .security, message: "uid \(caller.euid) may not \(action.rawValue)\(subject)")
        }
    }

    private func validate(_ name: String) throws {
        let valid = (1...127).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")
        }
        guard valid else {
            throw Status(exception: .illegalArgument, message: "invalid service name: 1-127 characters of [A-Za-z0-9_-./]")
        }
    }

    // MARK: - Methods

    func lookUp(_ name: String, caller: CallerIdentity) throws -> (any IBinder)? {
        try require(.find, name: name, caller: caller)
        let (binder, notify) = state.withLock { state -> ((any IBinder)?, [any IClientCallback.Service]) in
            guard var service = state.services[name] else { return (nil, []) }
            var notify: [any IClientCallback.Service] = []
            if !service.clientCallbacks.isEmpty {
                // Handing the service out guarantees it a client until the next check.
                service.guaranteeClient = true
                if !service.hasClients {
                    service.hasClients = true
                    notify = service.clientCallbacks
                }
                state.services[name] = service
            }
            return (service.binder, notify)
        }
        if let binder { sendOnClients(to: notify, service: binder, hasClients: true) }
        return binder
    }

    private func addService(
        _ name: String, _ binder: any IBinder, allowIsolated: Bool, dumpPriority: DumpPriority, caller: CallerIdentity
    ) throws {
        try require(.add, name: name, caller: caller)
        try validate(name)
        var replaced: [any IBinder] = []
        let watchers = try state.withLock { state throws -> [any IServiceCallback.Service] in
            if let existing = state.services[name], existing.ownerUID != caller.euid,
                !policy.allows(.replace, name: name, uid: caller.euid)
            {
                throw Status(exception: .security, message: "'\(name)' is registered by uid \(existing.ownerUID)")
            }
            if state.services[name] == nil && state.services.count >= limits.services {
                throw Status(exception: .illegalState, message: "too many services (\(limits.services))")
            }
            replaced = state.services[name].map { [$0.binder] + $0.clientCallbacks.map(identity) } ?? []
            state.services[name] = Registration(
                binder: binder, allowIsolated: allowIsolated, dumpPriority: dumpPriority, ownerUID: caller.euid,
                ownerPID: caller.pid)
            return state.notificationCallbacks[name] ?? []
        }
        watchForDeath(binder)
        unwatchUnreferenced(replaced)
        logger.info(
            "added", metadata: ["service.name": "\(name)", "caller.euid": "\(caller.euid)", "caller.pid": "\(caller.pid)"])
        for watcher in watchers { sendOnRegistration(to: watcher, name: name, binder: binder) }
    }

    private func registerForNotifications(
        _ name: String, _ callback: any IServiceCallback.Service, caller: CallerIdentity
    ) throws {
        try require(.find, name: name, caller: caller)
        try validate(name)
        let existing = try state.withLock { state throws -> (any IBinder)? in
            var callbacks = state.notificationCallbacks[name] ?? []
            if callbacks.isEmpty && state.notificationCallbacks.count >= limits.watchedNames {
                throw Status(exception: .illegalState, message: "too many watched names (\(limits.watchedNames))")
            }
            guard callbacks.count < limits.callbacksPerName else {
                throw Status(exception: .illegalState, message: "too many callbacks for '\(name)' (\(limits.callbacksPerName))")
            }
            callbacks.append(callback)
            state.notificationCallbacks[name] = callbacks
            return state.services[name]?.binder
        }
        watchForDeath(identity(callback))
        if let existing { sendOnRegistration(to: callback, name: name, binder: existing) }
    }

    private func unregisterForNotifications(
        _ name: String, _ callback: any IServiceCallback.Service, caller: CallerIdentity
    ) throws {
        try require(.find, name: name, caller: caller)
        let target = identity(callback)
        try state.withLock { state throws in
            guard var callbacks = state.notificationCallbacks[name],
                let index = callbacks.firstIndex(where: { identity($0) === target })
            else {
                throw Status(exception: .illegalState, message: "no such callback registered for '\(name)'")
            }
            callbacks.remove(at: index)
            state.notificationCallbacks[name] = callbacks.isEmpty ? nil : callbacks
        }
        unwatchUnreferenced([target])
    }

    private func registerClientCallback(
        _ name: String, service: any IBinder, callback: any IClientCallback.Service, caller: CallerIdentity
    ) throws {
        try require(.add, name: name, caller: caller)
        try state.withLock { state throws in
            guard var entry = state.services[name] else {
                throw Status(exception: .illegalArgument, message: "'\(name)' is not registered")
            }
            guard entry.ownerPID == caller.pid else {
                throw Status(exception: .unsupportedOperation, message: "only the registering process may do this")
            }
            guard entry.binder === service else {
                throw Status(exception: .illegalArgument, message: "not the binder registered as '\(name)'")
            }
            guard entry.clientCallbacks.count < limits.callbacksPerName else {
                throw Status(exception: .illegalState, message: "too many client callbacks for '\(name)'")
            }
            entry.clientCallbacks.append(callback)
            state.services[name] = entry
        }
        watchForDeath(identity(callback))
        // The registering transaction holds a reference too.
        updateClients(of: name, knownClients: 2, onInterval: false)
    }

    private func tryUnregisterService(_ name: String, service: any IBinder, caller: CallerIdentity) throws {
        try require(.add, name: name, caller: caller)
        let handle = try state.withLock { state throws -> UInt32? in
            guard let entry = state.services[name] else {
                throw Status(exception: .illegalState, message: "'\(name)' is not registered")
            }
            guard entry.ownerPID == caller.pid else {
                throw Status(exception: .unsupportedOperation, message: "only the registering process may do this")
            }
            guard entry.binder === service else {
                throw Status(exception: .illegalArgument, message: "not the binder registered as '\(name)'")
            }
            guard !entry.guaranteeClient else {
                throw Status(exception: .illegalState, message: "'\(name)' was just handed to a client")
            }
            return (entry.binder as? BinderProxy)?.handle
        }
        // servicemanager's own reference plus the one this transaction holds.
        if let handle, let counts = try? process?.device.nodeReferenceCounts(handle: handle), counts.strong > 2 {
            throw Status(exception: .illegalState, message: "'\(name)' has clients")
        }
        let removed = state.withLock { $0.services.removeValue(forKey: name) }
        unwatchUnreferenced(removed.map { [$0.binder] + $0.clientCallbacks.map(identity) } ?? [])
        logger.info("unregistered lazy service", metadata: ["service.name": "\(name)"])
    }

    // MARK: - Lazy service clients

    /// Compares the kernel's count of references to the service with `knownClients` (the ones
    /// servicemanager itself accounts for) and tells the client callbacks about a change:
    /// gaining clients at once, losing them only on the periodic check.
    private func updateClients(of name: String, knownClients: UInt32, onInterval: Bool) {
        let snapshot = state.withLock { state -> (UInt32, Bool, Bool)? in
            guard let entry = state.services[name], !entry.clientCallbacks.isEmpty,
                let proxy = entry.binder as? BinderProxy
            else { return nil }
            return (proxy.handle, entry.hasClients, entry.guaranteeClient)
        }
        guard let (handle, _, _) = snapshot else { return }
        guard let counts = try? process?.device.nodeReferenceCounts(handle: handle) else { return }
        let kernelReportsClients = counts.strong > knownClients
        let (notify, hasClients, binder) = state.withLock { state -> ([any IClientCallback.Service], Bool, (any IBinder)?) in
            guard var entry = state.services[name] else { return ([], false, nil) }
            var change: Bool?
            if entry.guaranteeClient {
                if !entry.hasClients && !kernelReportsClients { change = true }
                entry.guaranteeClient = false
            }
            if kernelReportsClients && !entry.hasClients { change = true }
            if !kernelReportsClients && entry.hasClients && onInterval && change == nil { change = false }
            if let change { entry.hasClients = change }
            state.services[name] = entry
            return (change == nil ? [] : entry.clientCallbacks, change ?? false, entry.binder)
        }
        if let binder, !notify.isEmpty { sendOnClients(to: notify, service: binder, hasClients: hasClients) }
    }

    /// Starts the periodic client check on a thread of its own.
    public func startClientCallbackTimer() {
        let thread = BlockingCallExecutor(maximumThreads: 1)
        thread.run { [weak self] in
            while let self, !self.stopping.load(ordering: .relaxed) {
                _ = self.timerWake.wait(timeout: Self.clientCheckInterval)
                guard !self.stopping.load(ordering: .relaxed) else { return }
                for name in self.state.withLock({ state in state.services.filter { !$0.value.clientCallbacks.isEmpty }.keys }) {
                    self.updateClients(of: name, knownClients: 1, onInterval: true)
                }
            }
        }
    }

    /// Stops the periodic client check.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        timerWake.fulfill(true)
    }

    // MARK: - Outgoing calls (all oneway)

    private func sendOnRegistration(to callback: any IServiceCallback.Service, name: String, binder: any IBinder) {
        do {
            try callback.onRegistration(name: name, binder: binder)
        } catch {
            logger.debug("callback not delivered", metadata: ["error": "\(error)"])
        }
    }

    private func sendOnClients(to callbacks: [any IClientCallback.Service], service: any IBinder, hasClients: Bool) {
        for callback in callbacks {
            do {
                try callback.onClients(registered: service, hasClients: hasClients)
            } catch {
                logger.debug("callback not delivered", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: - Deaths

    private func watchForDeath(_ binder: any IBinder) {
        guard let proxy = binder as? BinderProxy else { return }
        let key = ObjectIdentifier(proxy)
        guard watched.withLock({ $0[key] == nil }) else { return }
        do {
            let link = try proxy.linkToDeath { [weak self, weak proxy] in
                guard let self, let proxy else { return }
                self.binderDied(proxy)
            }
            watched.withLock { $0[key] = (proxy, link) }
        } catch {
            logger.warning("cannot watch a binder for death", metadata: ["error": "\(error)"])
        }
    }

    /// Stops watching binders that no name or callback refers to any more.
    private func unwatchUnreferenced(_ binders: [any IBinder]) {
        for case let proxy as BinderProxy in binders {
            let referenced = state.withLock { state in
                state.services.values.contains { $0.binder === proxy || $0.clientCallbacks.contains { identity($0) === proxy } }
                    || state.notificationCallbacks.values.contains { $0.contains { identity($0) === proxy } }
            }
            guard !referenced, let entry = watched.withLock({ $0.removeValue(forKey: ObjectIdentifier(proxy)) }) else {
                continue
            }
            try? entry.proxy.unlinkToDeath(entry.link)
        }
    }

    /// Drops every name and callback bound to a binder whose process died.
    private func binderDied(_ proxy: BinderProxy) {
        let removed = state.withLock { state -> [String] in
            let names = state.services.filter { $0.value.binder === proxy }.keys.sorted()
            for name in names { state.services.removeValue(forKey: name) }
            for (name, callbacks) in state.notificationCallbacks {
                let kept = callbacks.filter { identity($0) !== proxy }
                state.notificationCallbacks[name] = kept.isEmpty ? nil : kept
            }
            for (name, var entry) in state.services where entry.clientCallbacks.contains(where: { identity($0) === proxy }) {
                entry.clientCallbacks.removeAll { identity($0) === proxy }
                state.services[name] = entry
            }
            return names
        }
        _ = watched.withLock { $0.removeValue(forKey: ObjectIdentifier(proxy)) }
        if !removed.isEmpty { logger.info("service died", metadata: ["service.names": "\(removed)"]) }
    }
}
