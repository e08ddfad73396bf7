import Synchronization

/// A handle to a binder object in another process (libbinder's `BpBinder`).
///
/// There is one proxy per handle at a time; it holds a strong and a weak kernel reference on
/// the handle from its creation until its last user drops it. Calls on it run on the calling
/// thread, which serves nested calls back into this process while it waits.
public final class BinderProxy: IBinder, @unchecked Sendable {
    public let process: BinderProcess
    public let handle: UInt32
    let generation: UInt64

    /// A call failed with a dead target: later calls fail at once (libbinder's `mAlive`),
    /// except on handle 0, which names whichever process is the context manager now. An atomic,
    /// as the recorded stability: every call reads both, and threads calling one proxy must not
    /// queue on a lock for that.
    private let deadReplySeen = Atomic<Bool>(false)
    /// The level the object arrived with (its stability trailer); undeclared (0) until then.
    private let recordedStability = Atomic<Int16>(StabilityLevel.undeclared.rawValue)

    private struct State {
        /// The kernel said the object died (`BR_DEAD_BINDER`) and the handlers ran
        /// (libbinder's `mObitsSent`). Only this refuses further death links.
        var obituarySent = false
        /// Made by the first link and released in deinit: most proxies (a binder received, used
        /// and dropped within a call) never have one, and then the state is plain values with
        /// nothing to make or destroy (two dictionaries made and released per proxy, and the
        /// state's outlined destroy, were about 12 calls, callgrind).
        private var storedLinks: Unmanaged<Links>?

        var links: Links? { storedLinks?.takeUnretainedValue() }

        /// The links, made if need be (used under the lock, which the proxy holds them by).
        mutating func madeLinks() -> Links {
            if let storedLinks { return storedLinks.takeUnretainedValue() }
            let links = Links()
            storedLinks = Unmanaged.passRetained(links)
            return links
        }

        func releaseLinks() { storedLinks?.release() }
    }

    /// The registrations of the proxy's notifications, guarded by its state's lock.
    private final class Links {
        var deathHandlers: [UInt64: @Sendable () -> Void] = [:]
        var deathCookie: UInt64?
        var freezeHandlers: [UInt64: @Sendable (Bool) -> Void] = [:]
        var freezeCookie: UInt64?
        /// A notification registry has held this proxy (its entries go in deinit).
        var registered = false
    }

    private let state = Mutex(State())

    /// The level a user call needs the object to provide (this process's own), or nil where
    /// the wire format has no stability (Android 10): fixed for the proxy's life.
    private let requiredStability: StabilityLevel?

    init(process: BinderProcess, handle: UInt32, generation: UInt64) {
        self.process = process
        self.handle = handle
        self.generation = generation
        let format = process.wireFormat
        requiredStability = format.stability == .none ? nil : format.localStability
    }

    deinit {
        let (deathCookie, freezeCookie, registered) = state.withLock { state in
            guard let links = state.links else { return (UInt64?.none, UInt64?.none, false) }
            defer { state.releaseLinks() }
            return (state.obituarySent ? nil : links.deathCookie, links.freezeCookie, links.registered)
        }
        // The proxy holds its process: no retain for the calls.
        Unmanaged.passUnretained(process)._withUnsafeGuaranteedRef { process in
            if registered {
                // The registries hold this proxy unretained: their entries go before its memory does.
                process.deathNotifications.detach(self)
                process.freezeNotifications.detach(self)
            }
            process.proxyReleased(handle: handle, generation: generation, deathCookie: deathCookie, freezeCookie: freezeCookie)
        }
    }

    // MARK: - Calls

    /// A request in the wire format of the release this proxy's device speaks.
    public func prepareTransaction() -> Parcel {
        Parcel(wireFormat: process.wireFormat)
    }

    /// The stability this proxy is sent on with: the level it arrived with, or this process's
    /// own level for a proxy that did not come in a parcel (libbinder's `finishFlattenBinder`
    /// re-sends a proxy with its recorded level; `getContextObject` marks handle 0 local).
    public var stability: StabilityLevel {
        level(recorded: StabilityLevel(rawValue: recordedStability.load(ordering: .acquiring)))
    }

    private func level(recorded: StabilityLevel) -> StabilityLevel {
        recorded == .undeclared ? process.wireFormat.localStability : recorded
    }

    /// Records the level a received object declared. A proxy keeps the first level it is given;
    /// false for another one later, which libbinder refuses (BAD_TYPE).
    func recordStability(_ level: StabilityLevel) -> Bool {
        guard level != .undeclared else { return true }
        let (exchanged, previous) = recordedStability.compareExchange(
            expected: StabilityLevel.undeclared.rawValue, desired: level.rawValue, ordering: .acquiringAndReleasing)
        return exchanged || previous == level.rawValue
    }

    /// What is checked before a call reaches the kernel, with no lock taken: the request
    /// (here) and the target (``checkTarget(code:)``). A request must be in this device's wire
    /// format (libbinder refuses a parcel marked for another binder the same way): the peer
    /// would misread it. The AIDL calls (``call(code:interface:flags:arguments:result:)``) make
    /// their requests themselves, in that format.
    @inline(__always)
    private func checkWireFormat(of data: borrowing Parcel) throws(BinderError) {
        if data.dataSize > 0, data.wireFormat != process.wireFormat {
            throw .wireFormatMismatch(
                request: data.wireFormat, target: process.wireFormat, targetRelease: process.release.description)
        }
    }

    /// What is checked of the target before a call reaches the kernel:
    /// - the process is not shutting down;
    /// - after a dead reply, calls fail at once, as libbinder's `BpBinder::transact` does once
    ///   `mAlive` is clear. Handle 0 is the exception: the kernel sends calls on it to the
    ///   current context manager, so a restarted servicemanager is reached through it;
    /// - a user call needs an object whose stability includes this process's level
    ///   (`Stability::check`: SYSTEM needs SYSTEM or VINTF, VENDOR needs VENDOR or VINTF);
    ///   Android 10 had no stability.
    @inline(__always)
    private func checkTarget(code: UInt32) throws(BinderError) {
        guard !process.isShuttingDown else { throw .shutDown }
        if handle != 0 && deadReplySeen.load(ordering: .relaxed) { throw .transactionFailed(.deadTarget) }
        guard let required = requiredStability,
            code >= ReservedTransactionCode.firstCall && code <= ReservedTransactionCode.lastCall
        else { return }
        let provided = level(recorded: StabilityLevel(rawValue: recordedStability.load(ordering: .acquiring)))
        guard provided.isDeclared, provided.rawValue & required.rawValue == required.rawValue else {
            throw .stabilityRefused(provided: provided, required: required, handle: handle)
        }
    }

    public func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel {
        try checkWireFormat(of: data)
        return try checkedCall(code: code) { () throws(BinderError) in
            try process.transactOnThisThread(handle: handle, code: code, data: data, flags: flags)
        }
    }

    /// Sends a oneway transaction: returns once the driver has queued it, with what the driver
    /// said about the target's async buffer.
    @discardableResult
    public func transactOneway(code: UInt32, data: borrowing Parcel, flags: TransactionFlags = [])
        throws(BinderError) -> OnewayDelivery
    {
        try checkWireFormat(of: data)
        return try checkedCall(code: code) { () throws(BinderError) in
            try process.transactOnewayOnThisThread(handle: handle, code: code, data: data, flags: flags)
        }
    }

    /// The AIDL call, made on this thread's engine with one look-up (see
    /// ``IBinder/call(code:interface:flags:arguments:result:)``). Its request is this proxy's own
    /// (made in the process's wire format), so only the target is checked.
    public func call<Result>(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void, result: (inout Parcel) throws(ParcelError) -> Result
    ) throws(RemoteError) -> Result {
        // The thread's state, unretained: this thread's table keeps it alive. Only the reading
        // of the reply is generic (a generic engine call made the runtime instantiate metadata
        // for an optional result on every call, about 300 instructions, callgrind).
        let thread = process.withThreadState { Unmanaged.passUnretained($0) }
        let buffer = try thread._withUnsafeGuaranteedRef { thread in
            Swift.Result { () throws(RemoteError) in
                try thread.sendCall(self, code: code, interface: interface, flags: flags, arguments: arguments)
            }
        }.get()
        var reply =
            buffer?.parcel(retainedOwner: Unmanaged.passRetained(process), wireFormat: process.wireFormat)
            ?? Parcel(wireFormat: process.wireFormat)
        let value: Result
        do throws(RemoteError) {
            value = try reply.readAIDLReply(result)
        } catch {
            let address = reply.endReceived(ownedBy: Unmanaged.passUnretained(process).toOpaque())
            thread._withUnsafeGuaranteedRef { $0.freeReply(at: address) }
            throw error
        }
        // A reader that swapped the reply out left another parcel here, which ends as usual.
        let address = reply.endReceived(ownedBy: Unmanaged.passUnretained(process).toOpaque())
        thread._withUnsafeGuaranteedRef { $0.freeReply(at: address) }
        return value
    }

    public func callOneway(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void
    ) throws(RemoteError) {
        try process.withThreadState { (thread) throws(RemoteError) in
            try thread.callOneway(self, code: code, interface: interface, flags: flags, arguments: arguments)
        }
    }

    /// Runs `send` (the transaction on this thread's engine) once the target passed its checks,
    /// and remembers a dead target.
    @inline(__always)
    func checkedCall<R: ~Copyable>(code: UInt32, _ send: () throws(BinderError) -> R) throws(BinderError) -> R {
        try checkTarget(code: code)
        do {
            return try send()
        } catch {
            if case .transactionFailed(.deadTarget, _) = error { deadReplySeen.store(true, ordering: .relaxed) }
            throw error
        }
    }

    /// False once a call failed with a dead target or the kernel reported the object's death.
    public var isAlive: Bool { !deadReplySeen.load(ordering: .relaxed) && !state.withLock { $0.obituarySent } }

    /// The process id of the object's process (DEBUG_PID_TRANSACTION).
    public func debugPID() throws(BinderError) -> Int32 {
        var reply = try transact(code: ReservedTransactionCode.debugPID, data: prepareTransaction(), flags: [])
        do {
            return try reply.readInt32()
        } catch {
            throw .malformedParcel(error)
        }
    }

    /// The object's extension (EXTENSION_TRANSACTION), or nil.
    public func extensionObject() throws(BinderError) -> (any IBinder)? {
        var reply = try transact(code: ReservedTransactionCode.extension, data: prepareTransaction(), flags: [])
        return try reply.readNullableStrongBinder()
    }

    // MARK: - Death notifications

    /// A registration made by ``linkToDeath(_:)``, to pass to ``unlinkToDeath(_:)``.
    public struct DeathLink: Hashable, Sendable {
        let id: UInt64
    }

    /// Calls `onDeath` once, on a looper thread, when the object's process dies. The process
    /// needs a looper (``BinderProcess/startThreadPool()``) to hear about it. If the object is
    /// already dead, the kernel says so at once.
    ///
    /// - Throws: a dead-target error once the death has been reported (as libbinder's
    ///   `DEAD_OBJECT` after its obituary). A call that failed with a dead target does not
    ///   count: the kernel still reports the death to a link made after it.
    public func linkToDeath(_ onDeath: @escaping @Sendable () -> Void) throws(BinderError) -> DeathLink {
        let id = process.deathNotifications.nextID()
        let request: UInt64?? = state.withLock { state in
            guard !state.obituarySent else { return .none }
            let links = state.madeLinks()
            links.deathHandlers[id] = onDeath
            guard links.deathCookie == nil else { return .some(nil) }
            links.deathCookie = id
            return .some(id)
        }
        guard let request else { throw .transactionFailed(.deadTarget) }
        if let cookie = request {
            state.withLock { $0.madeLinks().registered = true }
            process.deathNotifications.register(cookie: cookie, proxy: self)
            let thread = process.threadState()
            thread.out.append(.requestDeathNotification, handle: handle, cookie: cookie)
            do {
                try thread.flush()
            } catch {
                state.withLock {
                    let links = $0.madeLinks()
                    links.deathHandlers.removeValue(forKey: id)
                    links.deathCookie = nil
                }
                process.deathNotifications.cleared(cookie: cookie)
                throw error
            }
        }
        return DeathLink(id: id)
    }

    /// Removes a registration; the last one removed clears the kernel's notification.
    public func unlinkToDeath(_ link: DeathLink) throws(BinderError) {
        let clear: UInt64? = state.withLock { state in
            guard let links = state.links else { return nil }
            links.deathHandlers.removeValue(forKey: link.id)
            guard links.deathHandlers.isEmpty, !state.obituarySent, let cookie = links.deathCookie else { return nil }
            links.deathCookie = nil
            return cookie
        }
        if let cookie = clear {
            let thread = process.threadState()
            thread.out.append(.clearDeathNotification, handle: handle, cookie: cookie)
            try thread.flush()
        }
    }

    /// `BR_DEAD_BINDER`: marks the proxy dead, clears the kernel's notification, and calls the
    /// handlers (once each), whether or not a call already failed with a dead target
    /// (libbinder's `sendObituary`).
    func binderDied(thread: ThreadState) {
        let (handlers, cookie) = state.withLock { state -> ([@Sendable () -> Void], UInt64?) in
            guard !state.obituarySent else { return ([], nil) }
            state.obituarySent = true
            guard let links = state.links else { return ([], nil) }
            // In the order they were linked, as libbinder runs its obituaries.
            let handlers = links.deathHandlers.sorted { $0.key < $1.key }.map(\.value)
            links.deathHandlers.removeAll()
            return (handlers, links.deathCookie)
        }
        if let cookie {
            thread.out.append(.clearDeathNotification, handle: handle, cookie: cookie)
            // Written before the handlers run, as libbinder's sendObituary flushes it
            // (libs/binder/BpBinder.cpp, android-14.0.0_r1): a handler that drops the last
            // reference to this proxy releases the kernel's reference from another thread at
            // once, and a clear (or the BC_DEAD_BINDER_DONE after it) written after that names
            // a reference the kernel has deleted ("invalid ref", "not found").
            try? thread.flush()
        }
        for handler in handlers { handler() }
    }

    // MARK: - Freeze notifications

    /// A registration made by ``addFrozenStateCallback(_:)``.
    public struct FreezeLink: Hashable, Sendable {
        let id: UInt64
    }

    /// Calls `onChange` with the object's process's frozen state: at once with the current
    /// state, then on every change (coalesced by the kernel). Needs Linux 6.12
    /// (`features/freeze_notification`) and a looper thread.
    public func addFrozenStateCallback(_ onChange: @escaping @Sendable (Bool) -> Void) throws(BinderError) -> FreezeLink {
        guard process.features.freezeNotification else { throw .unsupported("freeze notifications") }
        let id = process.freezeNotifications.nextID()
        let request: UInt64? = state.withLock { state in
            let links = state.madeLinks()
            links.freezeHandlers[id] = onChange
            guard links.freezeCookie == nil else { return nil }
            links.freezeCookie = id
            return id
        }
        if let cookie = request {
            state.withLock { $0.madeLinks().registered = true }
            process.freezeNotifications.register(cookie: cookie, proxy: self)
            let thread = process.threadState()
            thread.out.append(.requestFreezeNotification, handle: handle, cookie: cookie)
            do {
                try thread.flush()
            } catch {
                state.withLock {
                    let links = $0.madeLinks()
                    links.freezeHandlers.removeValue(forKey: id)
                    links.freezeCookie = nil
                }
                process.freezeNotifications.cleared(cookie: cookie)
                throw error
            }
        }
        return FreezeLink(id: id)
    }

    /// Removes a registration; the last one removed clears the kernel's notification.
    public func removeFrozenStateCallback(_ link: FreezeLink) throws(BinderError) {
        let clear: UInt64? = state.withLock { state in
            guard let links = state.links else { return nil }
            links.freezeHandlers.removeValue(forKey: link.id)
            guard links.freezeHandlers.isEmpty, let cookie = links.freezeCookie else { return nil }
            links.freezeCookie = nil
            return cookie
        }
        if let cookie = clear {
            let thread = process.threadState()
            thread.out.append(.clearFreezeNotification, handle: handle, cookie: cookie)
            try thread.flush()
        }
    }

    func frozenStateChanged(_ isFrozen: Bool) {
        let handlers = state.withLock { $0.links.map { Array($0.freezeHandlers.values) } ?? [] }
        for handler in handlers { handler(isFrozen) }
    }
}

/// Notification cookies → proxies, until the kernel confirms each notification is cleared.
/// One registry serves death notifications, another freeze notifications.
///
/// It holds proxies unretained (``UnretainedReference``), not `weak`: a weak reference would move
/// a linked proxy's counts to a side table, and every call on it would then retain and release
/// it on the runtime's slow path. A proxy's deinit detaches its entries (``detach(_:)``), under
/// the lock ``proxy(for:)`` loads under.
final class NotificationRegistry: Sendable {
    private let registrations = Mutex<[UInt64: UnretainedReference<BinderProxy>?]>([:])
    private let lastID = Atomic<UInt64>(0)

    func nextID() -> UInt64 { lastID.add(1, ordering: .relaxed).newValue }

    func register(cookie: UInt64, proxy: BinderProxy) {
        registrations.withLock { $0[cookie] = UnretainedReference(proxy) }
    }

    /// The proxy a notification from the driver is about, if it is still alive.
    func proxy(for cookie: UInt64) -> BinderProxy? {
        registrations.withLock { $0[cookie]??.load() }
    }

    /// Called by a proxy's deinit: its cookies stay until the kernel confirms them cleared, but
    /// no longer lead to it.
    func detach(_ proxy: BinderProxy) {
        registrations.withLock { registrations in
            for (cookie, entry) in registrations where entry?.refers(to: proxy) == true { registrations[cookie] = .some(nil) }
        }
    }

    func cleared(cookie: UInt64) {
        _ = registrations.withLock { $0.removeValue(forKey: cookie) }
    }
}
