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
public final class ServiceManagerService: android.os.IServiceManager.Service, android.os.IServiceManagerAndroid15.Service,
    android.os.IServiceManagerAndroid14.Service, android.os.IServiceManagerAndroid13.Service, android.os.IServiceManagerAndroid12.Service,
    android.os.IServiceManagerAndroid11.Service, @unchecked Sendable
{
    /// The interface descriptor of every release.
    public static let descriptor = android.os.IServiceManager.descriptor

    public struct Limits: Sendable {
        public var services = 4096
        public var watchedNames = 1024
        public var callbacksPerName = 64
        /// Registration callbacks one uid other than root may have (AOSP has no such cap; it
        /// keeps one client from taking every watched name from the others).
        public var callbacksPerUID = 256
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
        var hasClients = false
        var guaranteeClient = false
        /// When the name was first registered (Android 10 lists the newest first).
        var sequence: UInt64 = 0
        /// False once the service died, for Android 10, whose servicemanager keeps the name.
        var isAlive = true
    }

    /// A registration callback and the uid that registered it.
    private struct Watcher {
        var callback: any android.os.IServiceCallback.Service
        var uid: uid_t
    }

    private struct State {
        var services: [String: Registration] = [:]
        var nextSequence: UInt64 = 0
        var notificationCallbacks: [String: [Watcher]] = [:]
        /// Lazy services' client callbacks, by name: they outlive re-registration and
        /// unregistration of the name, and go only when their process dies (mNameToClientCallback).
        var clientCallbacks: [String: [any android.os.IClientCallback.Service]] = [:]
    }

    /// The binder object serving this registry with the release's code table.
    public private(set) var binder: BinderObject!

    private let state = Mutex(State())
    /// One death notification per watched proxy, dropped when nothing refers to it any more.
    private let watched = Mutex<[ObjectIdentifier: (proxy: BinderProxy, link: BinderProxy.DeathLink)]>([:])
    private let stopping = Atomic<Bool>(false)
    /// What a dead Android 10 registration holds instead of its proxy.
    private static let tombstone = BinderObject()
    private let timerWake = Waiter<Bool>()

    /// A registry served on `process`'s device, speaking the release the device speaks (its
    /// servicemanager protocol and its wire format go together).
    public convenience init(
        process: BinderProcess, policy: AccessPolicy = .default, limits: Limits = Limits(),
        logger: Logger = Logger(label: "servicemanager")
    ) {
        self.init(
            process: process, caller: nil, release: process.release.release, policy: policy, limits: limits, logger: logger)
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
        // Like AOSP's, it registers itself as "manager" (Android 10's C servicemanager did not).
        let binder: any IBinder = self.binder
        guard release != .android10 else { return }
        state.withLock { state in
            state.services["manager"] = Registration(
                binder: binder, allowIsolated: false, dumpPriority: .default, ownerUID: geteuid(), ownerPID: getpid())
        }
    }

    /// The registered names, sorted (for tests and tools in the same process).
    public var serviceNames: [String] { state.withLock { $0.services.keys.sorted() } }

    // MARK: - android.os.IServiceManager

    var caller: CallerIdentity { detachedCaller?() ?? process?.callingIdentity ?? .ownProcess }

    public func getService(name: String) throws -> (any IBinder)? { try lookUp(name, caller: caller) }

    public func checkService(name: String) throws -> (any IBinder)? { try lookUp(name, caller: caller) }

    /// Android 15's `checkService` (android-15.0.0_r6 and later), which returns the union.
    public func checkService(name: String) throws -> android.os.Service { try service2(name) }

    public func getService2(name: String) throws -> android.os.Service { try service2(name) }

    public func checkService2(name: String) throws -> android.os.Service { try service2(name) }

    private func service2(_ name: String) throws -> android.os.Service {
        let binder = try lookUp(name, caller: caller)
        let isLazy = state.withLock { $0.services[name]?.dumpPriority.contains(.lazyService) ?? false }
        return .serviceWithMetadata(android.os.ServiceWithMetadata(service: binder, isLazyService: binder != nil && isLazy))
    }

    public func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws {
        try addService(name, service, allowIsolated: allowIsolated, dumpPriority: DumpPriority(rawValue: dumpPriority), caller: caller)
    }

    public func listServices(dumpPriority: Int32) throws -> [String] {
        try require(.list, name: nil, caller: caller, .listDenied)
        return registrations(matching: dumpPriority).map(\.name).sorted()
    }

    /// The registrations whose dump priority intersects `dumpPriority`.
    private func registrations(matching dumpPriority: Int32) -> [(name: String, registration: Registration)] {
        let priority = DumpPriority(rawValue: dumpPriority)
        return state.withLock { state in
            state.services.filter { !$0.value.dumpPriority.intersection(priority).isEmpty }.map { ($0.key, $0.value) }
        }
    }

    /// Android 10's listing: the names whose priority matches, the most recently first
    /// registered first (service_manager.c prepends to its list), dead ones included (it only
    /// clears their handle).
    func namesNewestFirst(dumpPriority: Int32) throws -> [String] {
        try require(.list, name: nil, caller: caller, .listDenied)
        return registrations(matching: dumpPriority).sorted { $0.registration.sequence > $1.registration.sequence }.map(\.name)
    }

    public func registerForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws {
        try registerForNotifications(name, callback, caller: caller)
    }

    public func unregisterForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws {
        try unregisterForNotifications(name, callback, caller: caller)
    }

    public func isDeclared(name: String) throws -> Bool {
        try require(.find, name: name, caller: caller, .findDenied)
        return policy.declared.contains(name)
    }

    /// The declared instances the caller may find; EX_SECURITY only when there were some and it
    /// may find none of them (ServiceManager.cpp getDeclaredInstances at android-14.0.0_r1).
    public func getDeclaredInstances(iface: String) throws -> [String] {
        let uid = caller.euid
        let declared = policy.declared.compactMap { declared -> (String, String)? in
            let parts = declared.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, parts[0] == iface else { return nil }
            return (declared, String(parts[1]))
        }
        let allowed = declared.filter { policy.allows(.find, name: $0.0, uid: uid) }.map(\.1)
        if allowed.isEmpty && !declared.isEmpty { try require(.find, name: declared[0].0, caller: caller, .listDenied) }
        return allowed
    }

    public func updatableViaApex(name: String) throws -> String? {
        try require(.find, name: name, caller: caller, .findDenied)
        return nil
    }

    public func getUpdatableNames(apexName: String) throws -> [String] { [] }

    public func getConnectionInfo(name: String) throws -> android.os.ConnectionInfo? {
        try require(.find, name: name, caller: caller, .findDenied)
        return nil
    }

    public func registerClientCallback(name: String, service: any IBinder, callback: any android.os.IClientCallback.Service) throws {
        try registerClientCallback(name, service: service, callback: callback, caller: caller)
    }

    public func tryUnregisterService(name: String, service: any IBinder) throws {
        try tryUnregisterService(name, service: service, caller: caller)
    }

    public func getServiceDebugInfo() throws -> [android.os.ServiceDebugInfo] {
        try require(.list, name: nil, caller: caller, .listDenied)
        return state.withLock { state in
            state.services.filter { $0.value.isAlive }.keys.sorted().map {
                android.os.ServiceDebugInfo(name: $0, debugPid: state.services[$0]!.ownerPID)
            }
        }
    }

    /// The binder behind a callback (its proxy's, or the stub serving a local one): what
    /// identifies it across calls.
    private func identity(_ callback: any android.os.IServiceCallback.Service) -> any IBinder {
        android.os.IServiceCallback.Stub.binder(for: callback)
    }

    private func identity(_ callback: any android.os.IClientCallback.Service) -> any IBinder {
        android.os.IClientCallback.Stub.binder(for: callback)
    }

    // MARK: - Access

    /// The refusal AOSP's servicemanager of this release answers with (its message, if any).
    private func refusal(_ exception: ExceptionCode, _ kind: ServiceManagerRefusal) -> Status {
        Status(exception: exception, message: release.message(kind))
    }

    /// Refuses what the policy denies with AOSP's answer to an SELinux denial (EX_SECURITY with
    /// the release's message); the log says which rule refused whom.
    private func require(
        _ action: AccessPolicy.Action, name: String?, caller: CallerIdentity, _ kind: ServiceManagerRefusal
    ) throws {
        guard allows(action, name: name, caller: caller) else { throw refusal(.security, kind) }
    }

    private func allows(_ action: AccessPolicy.Action, name: String?, caller: CallerIdentity) -> Bool {
        guard policy.allows(action, name: name, uid: caller.euid) else {
            logger.notice(
                "denied by the policy",
                metadata: [
                    "policy.action": "\(action.rawValue)", "service.name": "\(name ?? "")",
                    "caller.euid": "\(caller.euid)", "caller.pid": "\(caller.pid)",
                ])
            return false
        }
        return true
    }

    /// Android's application uids (per-user app id 10000 and above) may not add services.
    private static func isApplication(_ uid: uid_t) -> Bool { uid % 100_000 >= 10_000 }

    /// Isolated processes (per-user app id 99000…99999) see only services added with
    /// allowIsolated (`is_multiuser_uid_isolated`).
    private static func isIsolated(_ uid: uid_t) -> Bool { (99_000...99_999).contains(uid % 100_000) }

    /// `isValidServiceName`: 1–127 characters of `[A-Za-z0-9_-./]`. Android 10's C
    /// servicemanager only bounded the length (1–127 UTF-16 units).
    private func isValid(_ name: String) -> Bool {
        if release == .android10 { return (1...127).contains(name.utf16.count) }
        return (1...127).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")
        }
    }

    // MARK: - Methods
    //
    // Checks, their order and their answers follow cmds/servicemanager/ServiceManager.cpp at the
    // release's tag (android-11.0.0_r1 … android-16.0.0_r1), with the policy in place of SELinux.

    /// A lookup: the service, or nil when there is none or the caller may not see it. Never an
    /// error: AOSP "returns ok regardless of result for legacy reasons".
    func lookUp(_ name: String, caller: CallerIdentity) throws -> (any IBinder)? {
        guard allows(.find, name: name, caller: caller) else { return nil }
        let found = state.withLock { state -> (any IBinder)? in
            guard var service = state.services[name], service.isAlive else { return nil }
            if !service.allowIsolated && Self.isIsolated(caller.euid) { return nil }
            // Handing the service out guarantees it a client until the next check.
            service.guaranteeClient = true
            state.services[name] = service
            return service.binder
        }
        guard let found else {
            if Self.isIsolated(caller.euid) && state.withLock({ $0.services[name] != nil }) {
                logger.notice(
                    "isolated caller refused a service not allowed for isolated apps",
                    metadata: ["service.name": "\(name)", "caller.euid": "\(caller.euid)"])
            }
            return nil
        }
        if release.checksClientsAtOnce {
            _ = handleClientCallbacks(name, knownClients: 2, onInterval: false)
            state.withLock { $0.services[name]?.guaranteeClient = true }
        }
        return found
    }

    private func addService(
        _ name: String, _ binder: any IBinder, allowIsolated: Bool, dumpPriority: DumpPriority, caller: CallerIdentity
    ) throws {
        if Self.isApplication(caller.euid) { throw refusal(.security, .applicationUID) }
        try require(.add, name: name, caller: caller, .addDenied)
        guard isValid(name) else { throw refusal(.illegalArgument, .invalidName) }
        // As AOSP: linked to death before it is stored ("implicitly unlinked when removed").
        try watchForDeath(binder, else: refusal(.illegalState, .linkToDeathFailed))
        var replaced: [any IBinder] = []
        let watchers: [any android.os.IServiceCallback.Service]
        let existed: Registration?
        do {
            (watchers, existed) = try store(name, binder, allowIsolated, dumpPriority, caller, replaced: &replaced)
        } catch {
            unwatchUnreferenced([binder])
            throw error
        }
        if let existed, existed.ownerUID != caller.euid {
            logger.notice(
                "service re-registered by another uid",
                metadata: ["service.name": "\(name)", "previous.uid": "\(existed.ownerUID)", "caller.euid": "\(caller.euid)"])
        }
        unwatchUnreferenced(replaced + [binder])
        logger.info(
            "added", metadata: ["service.name": "\(name)", "caller.euid": "\(caller.euid)", "caller.pid": "\(caller.pid)"])
        if !watchers.isEmpty {
            state.withLock { $0.services[name]?.guaranteeClient = true }
            if release.checksClientsAtOnce {
                _ = handleClientCallbacks(name, knownClients: 2, onInterval: false)
                state.withLock { $0.services[name]?.guaranteeClient = true }
            }
        }
        for watcher in watchers { sendOnRegistration(to: watcher, name: name, binder: binder) }
    }

    /// Stores a registration as the release does, returning the callbacks watching the name and
    /// what was registered before.
    private func store(
        _ name: String, _ binder: any IBinder, _ allowIsolated: Bool, _ dumpPriority: DumpPriority,
        _ caller: CallerIdentity, replaced: inout [any IBinder]
    ) throws -> ([any android.os.IServiceCallback.Service], Registration?) {
        try state.withLock { state throws -> ([any android.os.IServiceCallback.Service], Registration?) in
            let existing = state.services[name]
            if let existing, existing.isAlive, existing.ownerUID != caller.euid {
                // AOSP replaces and warns; a policy `replace` rule may still forbid it.
                guard policy.allows(.replace, name: name, uid: caller.euid) else {
                    logger.notice(
                        "denied by the policy: replacing a service another uid registered",
                        metadata: ["service.name": "\(name)", "owner.uid": "\(existing.ownerUID)", "caller.euid": "\(caller.euid)"])
                    throw refusal(.security, .addDenied)
                }
            }
            if existing == nil && state.services.count >= limits.services {
                throw Status(exception: .illegalState, message: "too many services (\(limits.services))")
            }
            var registration = Registration(
                binder: binder, allowIsolated: allowIsolated, dumpPriority: dumpPriority, ownerUID: caller.euid,
                ownerPID: caller.pid)
            registration.sequence = existing?.sequence ?? state.nextSequence
            if existing == nil { state.nextSequence += 1 }
            if let existing {
                if release.keepsFirstRegistration && existing.isAlive {
                    // Android 11's emplace: the first registration stays.
                    registration = existing
                } else if release == .android10 {
                    // service_manager.c keeps the first allow_isolated and dumpsys_priority.
                    registration.allowIsolated = existing.allowIsolated
                    registration.dumpPriority = existing.dumpPriority
                } else if release.keepsClientStateOnReregistration {
                    registration.hasClients = existing.hasClients
                }
                if registration.binder !== existing.binder { replaced = [existing.binder] }
            }
            state.services[name] = registration
            return ((state.notificationCallbacks[name] ?? []).map(\.callback), existing)
        }
    }

    private func registerForNotifications(
        _ name: String, _ callback: any android.os.IServiceCallback.Service, caller: CallerIdentity
    ) throws {
        try require(.find, name: name, caller: caller, .watchDenied)
        if Self.isIsolated(caller.euid) { throw refusal(.security, .isolatedCaller) }
        guard isValid(name) else { throw refusal(.illegalArgument, .invalidNameToWatch) }
        let binder = identity(callback)
        try watchForDeath(binder, else: refusal(.illegalState, .linkToDeathFailedToWatch))
        let existing: (any IBinder)?
        do {
            existing = try state.withLock { state throws -> (any IBinder)? in
                var callbacks = state.notificationCallbacks[name] ?? []
                if caller.euid != 0 {
                    let registered = state.notificationCallbacks.values.reduce(0) { $0 + $1.count { $0.uid == caller.euid } }
                    guard registered < limits.callbacksPerUID else {
                        throw Status(exception: .illegalState, message: "too many callbacks for uid \(caller.euid) (\(limits.callbacksPerUID))")
                    }
                }
                if callbacks.isEmpty && state.notificationCallbacks.count >= limits.watchedNames {
                    throw Status(exception: .illegalState, message: "too many watched names (\(limits.watchedNames))")
                }
                guard callbacks.count < limits.callbacksPerName else {
                    throw Status(exception: .illegalState, message: "too many callbacks for '\(name)' (\(limits.callbacksPerName))")
                }
                callbacks.append(Watcher(callback: callback, uid: caller.euid))
                state.notificationCallbacks[name] = callbacks
                return state.services[name].flatMap { $0.isAlive ? $0.binder : nil }
            }
        } catch {
            unwatchUnreferenced([binder])
            throw error
        }
        if let existing { sendOnRegistration(to: callback, name: name, binder: existing) }
    }

    private func unregisterForNotifications(
        _ name: String, _ callback: any android.os.IServiceCallback.Service, caller: CallerIdentity
    ) throws {
        try require(.find, name: name, caller: caller, .findDenied)
        let target = identity(callback)
        try state.withLock { state throws in
            guard var callbacks = state.notificationCallbacks[name],
                let index = callbacks.firstIndex(where: { identity($0.callback) === target })
            else {
                throw refusal(.illegalState, .nothingToUnregister)
            }
            callbacks.remove(at: index)
            state.notificationCallbacks[name] = callbacks.isEmpty ? nil : callbacks
        }
        unwatchUnreferenced([target])
    }

    private func registerClientCallback(
        _ name: String, service: any IBinder, callback: any android.os.IClientCallback.Service, caller: CallerIdentity
    ) throws {
        try require(.add, name: name, caller: caller, .addDenied)
        try state.withLock { state throws in
            guard let entry = state.services[name], entry.isAlive else {
                throw refusal(.illegalArgument, .serviceDoesNotExist)
            }
            guard entry.ownerPID == caller.pid else { throw refusal(.unsupportedOperation, .onlyServiceMayRegisterCallback) }
            guard entry.binder === service else { throw refusal(.illegalArgument, .serviceMismatch) }
            let callbacks = state.clientCallbacks[name] ?? []
            if callbacks.isEmpty && state.clientCallbacks.count >= limits.services {
                throw Status(exception: .illegalState, message: "too many names with client callbacks (\(limits.services))")
            }
            guard callbacks.count < limits.callbacksPerName else {
                throw Status(exception: .illegalState, message: "too many client callbacks for '\(name)'")
            }
        }
        let binder = identity(callback)
        try watchForDeath(binder, else: refusal(.illegalState, .linkToDeathFailed))
        let hasClients = state.withLock { state -> Bool in
            state.clientCallbacks[name, default: []].append(callback)
            return state.services[name]?.hasClients ?? false
        }
        // From Android 14 a new callback hears at once that the service has clients
        // (b/278038751); Android 16 then checks the count, the registering call holding a
        // reference (b/285202885).
        if release.checksClientsAtOnce && hasClients { sendOnClients(to: [callback], service: service, hasClients: true) }
        if release >= .android16 { _ = handleClientCallbacks(name, knownClients: 2, onInterval: false) }
    }

    private func tryUnregisterService(_ name: String, service: any IBinder, caller: CallerIdentity) throws {
        try require(.add, name: name, caller: caller, .addDenied)
        try checkUnregistering(name, service, caller: caller)
        // A count the kernel cannot give means clients. From Android 14 the check counts
        // servicemanager's own reference and this transaction's as known; before (android-13.0.0_r1)
        // it counted servicemanager's alone, and more than two references meant clients.
        let hasClients: Bool
        if release.checksClientsAtOnce {
            hasClients = handleClientCallbacks(name, knownClients: 2, onInterval: false)?.hasClients ?? true
        } else {
            let references = handleClientCallbacks(name, knownClients: 1, onInterval: false)?.references
            hasClients = references.map { $0 > 2 } ?? true
        }
        if hasClients {
            state.withLock { $0.services[name]?.guaranteeClient = true }
            throw refusal(.illegalState, .knownClient)
        }
        // Removed only if it is still the registration checked (a looper may have replaced it).
        // The client callbacks stay registered under the name.
        let removed = state.withLock { state -> Registration? in
            guard let entry = state.services[name], entry.binder === service, !entry.guaranteeClient else { return nil }
            return state.services.removeValue(forKey: name)
        }
        guard let removed else { throw refusal(.illegalState, .pendingClient) }
        unwatchUnreferenced([removed.binder])
        logger.info("unregistered lazy service", metadata: ["service.name": "\(name)"])
    }

    private func checkUnregistering(_ name: String, _ service: any IBinder, caller: CallerIdentity) throws {
        try state.withLock { state throws in
            guard let entry = state.services[name], entry.isAlive else { throw refusal(.illegalState, .notRegistered) }
            guard entry.ownerPID == caller.pid else { throw refusal(.unsupportedOperation, .onlyServiceMayUnregister) }
            guard entry.binder === service else { throw refusal(.illegalState, .differentService) }
            guard !entry.guaranteeClient else { throw refusal(.illegalState, .pendingClient) }
        }
    }

    // MARK: - Lazy service clients

    /// The kernel's count of strong references to a registered service, or nil (a local
    /// object, a detached registry, a driver without the query).
    private func strongReferences(_ name: String) -> UInt32? {
        let handle = state.withLock { state -> UInt32? in
            guard let entry = state.services[name], !(state.clientCallbacks[name] ?? []).isEmpty else { return nil }
            return (entry.binder as? BinderProxy)?.handle
        }
        guard let handle, let counts = try? process?.nodeReferenceCounts(handle: handle) else { return nil }
        return counts.strong
    }

    /// AOSP's `handleServiceClientCallback`: compares the kernel's count of strong references to
    /// the service with `knownClients` (the references servicemanager accounts for) and tells
    /// the client callbacks about a change. Losing clients is reported only on the periodic
    /// check; gaining them at once from Android 14, before that also only on the periodic check
    /// (android-13.0.0_r1), but for a client guaranteed by a lookup. Returns the count and
    /// whether the service is considered to have clients, or nil without a registration,
    /// callbacks or a count from the kernel (AOSP: "don't do anything", clients assumed).
    private func handleClientCallbacks(
        _ name: String, knownClients: UInt32, onInterval: Bool
    ) -> (references: UInt32, hasClients: Bool)? {
        guard let count = strongReferences(name) else { return nil }
        let kernelReportsClients = count > knownClients
        let reportsGainNow = onInterval || release.checksClientsAtOnce
        var notifications: [(Bool, [any android.os.IClientCallback.Service], any IBinder)] = []
        let hasClients = state.withLock { state -> Bool? in
            guard var entry = state.services[name] else { return nil }
            let callbacks = state.clientCallbacks[name] ?? []
            if entry.guaranteeClient {
                if !entry.hasClients && !kernelReportsClients {
                    entry.hasClients = true
                    notifications.append((true, callbacks, entry.binder))
                }
                entry.guaranteeClient = false  // a guarantee lasts one check
            }
            if reportsGainNow && kernelReportsClients && !entry.hasClients {
                entry.hasClients = true
                notifications.append((true, callbacks, entry.binder))
            }
            if onInterval && !kernelReportsClients && entry.hasClients {
                entry.hasClients = false
                notifications.append((false, callbacks, entry.binder))
            }
            state.services[name] = entry
            return entry.hasClients
        }
        for (clients, callbacks, binder) in notifications { sendOnClients(to: callbacks, service: binder, hasClients: clients) }
        return hasClients.map { (count, $0) }
    }

    /// Starts the periodic client check on a thread of its own.
    public func startClientCallbackTimer() {
        startDetachedThread(named: "sm-clients") { [weak self] in
            while let self, !self.stopping.load(ordering: .relaxed) {
                _ = self.timerWake.wait(timeout: Self.clientCheckInterval)
                guard !self.stopping.load(ordering: .relaxed) else { return }
                for name in self.state.withLock({ state in state.clientCallbacks.keys.filter { state.services[$0] != nil } }) {
                    _ = self.handleClientCallbacks(name, knownClients: 1, onInterval: true)
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

    private func sendOnRegistration(to callback: any android.os.IServiceCallback.Service, name: String, binder: any IBinder) {
        do {
            try callback.onRegistration(name: name, binder: binder)
        } catch {
            logger.debug("callback not delivered", metadata: ["error": "\(error)"])
        }
    }

    private func sendOnClients(to callbacks: [any android.os.IClientCallback.Service], service: any IBinder, hasClients: Bool) {
        for callback in callbacks {
            do {
                try callback.onClients(registered: service, hasClients: hasClients)
            } catch {
                logger.debug("callback not delivered", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: - Deaths

    /// Links to the death of `binder` once per proxy (local objects do not die on their own
    /// process); throws `failure` when the kernel refuses, as AOSP fails the call with it. The
    /// check and the link are made under one lock: linking only queues a command, it reads
    /// nothing back.
    private func watchForDeath(_ binder: any IBinder, else failure: @autoclosure () -> Status) throws {
        guard let proxy = binder as? BinderProxy else { return }
        let key = ObjectIdentifier(proxy)
        try watched.withLock { watched throws in
            guard watched[key] == nil else { return }
            do {
                let link = try proxy.linkToDeath { [weak self, weak proxy] in
                    guard let self, let proxy else { return }
                    self.binderDied(proxy)
                }
                watched[key] = (proxy, link)
            } catch {
                logger.notice("cannot watch a binder for death", metadata: ["error": "\(error)"])
                throw failure()
            }
        }
    }

    /// Stops watching binders that no name or callback refers to any more.
    private func unwatchUnreferenced(_ binders: [any IBinder]) {
        for case let proxy as BinderProxy in binders {
            let referenced = state.withLock { state in
                state.services.values.contains { $0.binder === proxy }
                    || state.clientCallbacks.values.contains { $0.contains { identity($0) === proxy } }
                    || state.notificationCallbacks.values.contains { $0.contains { identity($0.callback) === proxy } }
            }
            guard !referenced, let entry = watched.withLock({ $0.removeValue(forKey: ObjectIdentifier(proxy)) }) else {
                continue
            }
            try? entry.proxy.unlinkToDeath(entry.link)
        }
    }

    /// Drops every name and callback bound to a binder whose process died. Android 10's
    /// servicemanager kept the names, releasing only the reference (`svcinfo_death`).
    private func binderDied(_ proxy: BinderProxy) {
        let removed = state.withLock { state -> [String] in
            let names = state.services.filter { $0.value.binder === proxy }.keys.sorted()
            for name in names {
                if release == .android10 {
                    state.services[name]?.binder = Self.tombstone
                    state.services[name]?.isAlive = false
                } else {
                    state.services.removeValue(forKey: name)
                }
            }
            for (name, callbacks) in state.notificationCallbacks {
                let kept = callbacks.filter { identity($0.callback) !== proxy }
                state.notificationCallbacks[name] = kept.isEmpty ? nil : kept
            }
            for (name, callbacks) in state.clientCallbacks {
                let kept = callbacks.filter { identity($0) !== proxy }
                state.clientCallbacks[name] = kept.isEmpty ? nil : kept
            }
            return names
        }
        _ = watched.withLock { $0.removeValue(forKey: ObjectIdentifier(proxy)) }
        if !removed.isEmpty { logger.info("service died", metadata: ["service.names": "\(removed)"]) }
    }
}
