import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The registry behind handle 0: `android.os.IServiceManager` as AOSP's servicemanager serves
/// it, with an ``AccessPolicy`` on the kernel-provided euid instead of SELinux.
///
/// Every service and callback binder is watched for death and dropped when its process dies.
/// Memory is bounded: the number of names, of watched names and of callbacks per name are
/// capped, and each refusal is an error the caller sees.
public final class ServiceManagerService: BinderObject, @unchecked Sendable {
    public struct Limits: Sendable {
        public var services = 4096
        public var watchedNames = 1024
        public var callbacksPerName = 64
        public init() {}
    }

    /// How often lazy services' client counts are checked (AOSP: 5 s).
    public static let clientCheckInterval: Duration = .seconds(5)

    public let process: BinderProcess
    public let protocolVersion: ServiceManagerProtocol
    public let policy: AccessPolicy
    public let limits: Limits
    private let logger: Logger

    private struct Service {
        var binder: any IBinder
        var allowIsolated: Bool
        var dumpPriority: DumpPriority
        var ownerUID: uid_t
        var ownerPID: Int32
        var clientCallbacks: [any IBinder] = []
        var hasClients = false
        var guaranteeClient = false
    }

    private struct State {
        var services: [String: Service] = [:]
        var notificationCallbacks: [String: [any IBinder]] = [:]
    }

    private let state = Mutex(State())
    /// One death notification per watched proxy, dropped when nothing refers to it any more.
    private let watched = Mutex<[ObjectIdentifier: (proxy: BinderProxy, link: BinderProxy.DeathLink)]>([:])
    private let stopping = Atomic<Bool>(false)
    private let timerWake = Waiter<Bool>()

    public init(
        process: BinderProcess, protocol protocolVersion: ServiceManagerProtocol = .android16,
        policy: AccessPolicy = .default, limits: Limits = Limits(), logger: Logger = Logger(label: "servicemanager")
    ) {
        self.process = process
        self.protocolVersion = protocolVersion
        self.policy = policy
        self.limits = limits
        self.logger = logger
        super.init()
        // Like AOSP's, it registers itself as "manager".
        state.withLock { state in
            state.services["manager"] = Service(
                binder: self, allowIsolated: false, dumpPriority: .default, ownerUID: geteuid(), ownerPID: getpid())
        }
    }

    public override var interfaceDescriptor: String { ServiceManagerProtocol.descriptor }

    /// Context manager nodes run at any priority: the sched bits are left out, as AOSP does.
    public override var nodeFlags: UInt32 { 0 }

    /// The registered names, sorted (for tests and tools in the same process).
    public var serviceNames: [String] { state.withLock { $0.services.keys.sorted() } }

    // MARK: - Dispatch

    public override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        guard let method = protocolVersion.method(forCode: code) else { throw StatusCode.unknownTransaction }
        try data.enforceInterface(ServiceManagerProtocol.descriptor)
        let caller = process.callingIdentity ?? .ownProcess
        switch method {
        case .getService, .checkService:
            let name = try data.readString16()
            try finish(&data)
            let binder = try lookUp(name, caller: caller)
            reply.writeStatus(.ok)
            reply.writeStrongBinder(binder)
        case .getService2, .checkService2:
            let name = try data.readString16()
            try finish(&data)
            let binder = try lookUp(name, caller: caller)
            let isLazy = state.withLock { $0.services[name]?.dumpPriority.contains(.lazyService) ?? false }
            reply.writeStatus(.ok)
            reply.writeInt32(1)  // non-null Service union
            reply.writeInt32(0)  // tag: serviceWithMetadata
            reply.writeInt32(1)  // non-null ServiceWithMetadata
            reply.writeStructured { parcel in
                parcel.writeStrongBinder(binder)
                parcel.writeBool(binder != nil && isLazy)
            }
        case .addService:
            let name = try data.readString16()
            let binder = try data.readNullableStrongBinder()
            let allowIsolated = try data.readBool()
            let dumpPriority = DumpPriority(rawValue: try data.readInt32())
            try finish(&data)
            try addService(name, binder, allowIsolated: allowIsolated, dumpPriority: dumpPriority, caller: caller)
            reply.writeStatus(.ok)
        case .listServices:
            let priority = DumpPriority(rawValue: try data.readInt32())
            try finish(&data)
            try require(.list, name: nil, caller: caller)
            let names = state.withLock { state in
                state.services.filter { !$0.value.dumpPriority.intersection(priority).isEmpty }.keys.sorted()
            }
            reply.writeStatus(.ok)
            reply.writeStringArray(names)
        case .registerForNotifications:
            let name = try data.readString16()
            let callback = try data.readNullableStrongBinder()
            try finish(&data)
            try registerForNotifications(name, callback, caller: caller)
            reply.writeStatus(.ok)
        case .unregisterForNotifications:
            let name = try data.readString16()
            let callback = try data.readNullableStrongBinder()
            try finish(&data)
            try unregisterForNotifications(name, callback, caller: caller)
            reply.writeStatus(.ok)
        case .isDeclared:
            let name = try data.readString16()
            try finish(&data)
            try require(.find, name: name, caller: caller)
            reply.writeStatus(.ok)
            reply.writeBool(policy.declared.contains(name))
        case .getDeclaredInstances:
            let interface = try data.readString16()
            try finish(&data)
            let instances = policy.declared.compactMap { declared -> String? in
                let parts = declared.split(separator: "/", maxSplits: 1)
                guard parts.count == 2, parts[0] == interface else { return nil }
                return policy.allows(.find, name: declared, uid: caller.euid) ? String(parts[1]) : nil
            }
            reply.writeStatus(.ok)
            reply.writeStringArray(instances)
        case .updatableViaApex:
            _ = try data.readString16()
            try finish(&data)
            reply.writeStatus(.ok)
            reply.writeString16(nil)
        case .getUpdatableNames:
            _ = try data.readString16()
            try finish(&data)
            reply.writeStatus(.ok)
            reply.writeStringArray([])
        case .getConnectionInfo:
            _ = try data.readString16()
            try finish(&data)
            reply.writeStatus(.ok)
            try reply.writeNullableParcelable(nil as ConnectionInfo?)
        case .registerClientCallback:
            let name = try data.readString16()
            let service = try data.readNullableStrongBinder()
            let callback = try data.readNullableStrongBinder()
            try finish(&data)
            try registerClientCallback(name, service: service, callback: callback, caller: caller)
            reply.writeStatus(.ok)
        case .tryUnregisterService:
            let name = try data.readString16()
            let service = try data.readNullableStrongBinder()
            try finish(&data)
            try tryUnregisterService(name, service: service, caller: caller)
            reply.writeStatus(.ok)
        case .getServiceDebugInfo:
            try finish(&data)
            try require(.list, name: nil, caller: caller)
            let info = state.withLock { state in
                state.services.keys.sorted().map { ServiceDebugInfo(name: $0, debugPID: state.services[$0]!.ownerPID) }
            }
            reply.writeStatus(.ok)
            try reply.writeArray(info) { (parcel: inout Parcel, item) throws(ParcelError) in try parcel.writeParcelable(item) }
        }
    }

    /// Android 13+ services refuse requests with bytes left over.
    private func finish(_ data: inout Parcel) throws {
        guard data.readableBytes == 0 else {
            throw Status(exception: .badParcelable, message: "Parcel data not fully consumed")
        }
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

    private func lookUp(_ name: String, caller: CallerIdentity) throws -> (any IBinder)? {
        try require(.find, name: name, caller: caller)
        let (binder, notify) = state.withLock { state -> ((any IBinder)?, [any IBinder]) in
            guard var service = state.services[name] else { return (nil, []) }
            var notify: [any IBinder] = []
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
        _ name: String, _ binder: (any IBinder)?, allowIsolated: Bool, dumpPriority: DumpPriority, caller: CallerIdentity
    ) throws {
        try require(.add, name: name, caller: caller)
        guard let binder else { throw Status(exception: .illegalArgument, message: "null service binder") }
        try validate(name)
        var replaced: [any IBinder] = []
        let watchers = try state.withLock { state throws -> [any IBinder] in
            if let existing = state.services[name], existing.ownerUID != caller.euid,
                !policy.allows(.replace, name: name, uid: caller.euid)
            {
                throw Status(exception: .security, message: "'\(name)' is registered by uid \(existing.ownerUID)")
            }
            if state.services[name] == nil && state.services.count >= limits.services {
                throw Status(exception: .illegalState, message: "too many services (\(limits.services))")
            }
            replaced = state.services[name].map { [$0.binder] + $0.clientCallbacks } ?? []
            state.services[name] = Service(
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

    private func registerForNotifications(_ name: String, _ callback: (any IBinder)?, caller: CallerIdentity) throws {
        try require(.find, name: name, caller: caller)
        try validate(name)
        guard let callback else { throw Status(exception: .illegalArgument, message: "null callback") }
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
        watchForDeath(callback)
        if let existing { sendOnRegistration(to: callback, name: name, binder: existing) }
    }

    private func unregisterForNotifications(_ name: String, _ callback: (any IBinder)?, caller: CallerIdentity) throws {
        try require(.find, name: name, caller: caller)
        guard let callback else { throw Status(exception: .illegalArgument, message: "null callback") }
        try state.withLock { state throws in
            guard var callbacks = state.notificationCallbacks[name],
                let index = callbacks.firstIndex(where: { $0 === callback })
            else {
                throw Status(exception: .illegalState, message: "no such callback registered for '\(name)'")
            }
            callbacks.remove(at: index)
            state.notificationCallbacks[name] = callbacks.isEmpty ? nil : callbacks
        }
        unwatchUnreferenced([callback])
    }

    private func registerClientCallback(
        _ name: String, service: (any IBinder)?, callback: (any IBinder)?, caller: CallerIdentity
    ) throws {
        try require(.add, name: name, caller: caller)
        guard let service, let callback else { throw Status(exception: .illegalArgument, message: "null binder") }
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
        watchForDeath(callback)
        // The registering transaction holds a reference too.
        updateClients(of: name, knownClients: 2, onInterval: false)
    }

    private func tryUnregisterService(_ name: String, service: (any IBinder)?, caller: CallerIdentity) throws {
        try require(.add, name: name, caller: caller)
        guard let service else { throw Status(exception: .illegalArgument, message: "null binder") }
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
        if let handle, let counts = try? process.device.nodeReferenceCounts(handle: handle), counts.strong > 2 {
            throw Status(exception: .illegalState, message: "'\(name)' has clients")
        }
        let removed = state.withLock { $0.services.removeValue(forKey: name) }
        unwatchUnreferenced(removed.map { [$0.binder] + $0.clientCallbacks } ?? [])
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
        guard let counts = try? process.device.nodeReferenceCounts(handle: handle) else { return }
        let kernelReportsClients = counts.strong > knownClients
        let (notify, hasClients, binder) = state.withLock { state -> ([any IBinder], Bool, (any IBinder)?) in
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

    private func sendOnRegistration(to callback: any IBinder, name: String, binder: any IBinder) {
        var request = Parcel(wireFormat: process.wireFormat)
        request.writeInterfaceToken(ServiceManagerCallbacks.serviceCallbackDescriptor)
        request.writeString16(name)
        request.writeStrongBinder(binder)
        sendOneway(to: callback, code: ServiceManagerCallbacks.onRegistrationCode, request)
    }

    private func sendOnClients(to callbacks: [any IBinder], service: any IBinder, hasClients: Bool) {
        for callback in callbacks {
            var request = Parcel(wireFormat: process.wireFormat)
            request.writeInterfaceToken(ServiceManagerCallbacks.clientCallbackDescriptor)
            request.writeStrongBinder(service)
            request.writeBool(hasClients)
            sendOneway(to: callback, code: ServiceManagerCallbacks.onClientsCode, request)
        }
    }

    private func sendOneway(to binder: any IBinder, code: UInt32, _ request: consuming Parcel) {
        do {
            if let proxy = binder as? BinderProxy {
                try proxy.transactOneway(code: code, data: request)
            } else {
                _ = try binder.transact(code: code, data: request, flags: .oneWay)
            }
        } catch {
            logger.debug("callback not delivered", metadata: ["error": "\(error)"])
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
                state.services.values.contains { $0.binder === proxy || $0.clientCallbacks.contains { $0 === proxy } }
                    || state.notificationCallbacks.values.contains { $0.contains { $0 === proxy } }
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
                let kept = callbacks.filter { $0 !== proxy }
                state.notificationCallbacks[name] = kept.isEmpty ? nil : kept
            }
            for (name, var entry) in state.services where entry.clientCallbacks.contains(where: { $0 === proxy }) {
                entry.clientCallbacks.removeAll { $0 === proxy }
                state.services[name] = entry
            }
            return names
        }
        _ = watched.withLock { $0.removeValue(forKey: ObjectIdentifier(proxy)) }
        if !removed.isEmpty { logger.info("service died", metadata: ["service.names": "\(removed)"]) }
    }
}
