import Logging
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// This process's side of one binder device (libbinder's `ProcessState`): the open device and
/// its receive buffer, the local objects the kernel holds, the proxies for remote handles, the
/// looper threads, and death and freeze notifications.
///
/// A process may open several devices, each with its own `BinderProcess`: to the kernel they
/// are separate binder processes. Any thread may make calls; incoming calls and notifications
/// are served by the looper threads (``startThreadPool()``, ``joinThreadPool()``).
public final class BinderProcess: ReceivedBufferOwner, @unchecked Sendable {
    /// The default cap on looper threads the driver may ask for (libbinder's too).
    public static let defaultMaxThreads: UInt32 = 15
    /// The default number of threads async calls run their blocking calls on (see
    /// ``asyncCallThreads``).
    public static let defaultAsyncCallThreads = 4

    /// The driver this process talks to: the kernel's, or a scripted one in host tests.
    let driver: any BinderDriver
    /// The device node this process opened.
    public var path: FilePath { driver.path }
    /// What the driver supports, from the binderfs mount the device lives in.
    public var features: Binderfs.Features { driver.features }
    /// The Android release this device speaks, and where that came from (``BinderConfiguration``).
    public let release: BinderConfiguration.Choice
    /// The wire format of the parcels this process reads and writes: the release's, unless
    /// given explicitly.
    public let wireFormat: WireFormat
    /// The cap on looper threads spawned at the driver's request.
    public let maxThreads: UInt32
    /// The most threads async calls (`try await binder.call(...)`, generated `AsyncProxy`
    /// methods) make their blocking binder calls on at once; more calls wait their turn.
    public var asyncCallThreads: Int { callThreads.limit }
    /// The threads async calls run on, started as needed.
    let callThreads: CallThreads
    let logger: Logger

    let nodes = NodeTable()
    let threadPool: ThreadPool
    let deathNotifications = NotificationRegistry()
    let freezeNotifications = NotificationRegistry()
    private let proxies = Mutex(ProxyTable())
    private let proxyGeneration = Atomic<UInt64>(0)
    /// The object behind handle 0 when this process is the context manager: set once (the
    /// kernel takes one per device), read without a lock by every transaction to handle 0.
    private let contextManager = Atomic<Unmanaged<BinderObject>?>(nil)
    private let shuttingDown = Atomic<Bool>(false)
    /// The tasks of the async methods this process's loopers are serving, cancelled at shutdown
    /// (a method waiting on something that never comes would keep its looper).
    let asyncMethods = Mutex<[UInt64: Task<Void, Never>]>([:])
    private let asyncMethodSequence = Atomic<UInt64>(0)

    /// Records a serving task until `body` returns.
    func whileServing<R>(_ task: Task<Void, Never>, _ body: () -> R) -> R {
        let id = asyncMethodSequence.add(1, ordering: .relaxed).newValue
        asyncMethods.withLock { $0[id] = task }
        defer { _ = asyncMethods.withLock { $0.removeValue(forKey: id) } }
        if isShuttingDown { task.cancel() }
        return body()
    }
    private let threadStateKey = ThreadStateKey()
    /// Closed in deinit, for thread states that outlive the process.
    let lifetime = ProcessLifetime()
    /// Unique among the processes this program opens (thread states are matched on it).
    let serial = BinderProcess.nextSerial.add(1, ordering: .relaxed).newValue
    private static let nextSerial = Atomic<UInt64>(0)

    private struct ProxyEntry {
        /// Dropped by the proxy's deinit (``proxyReleased(handle:generation:deathCookie:freezeCookie:)``).
        let proxy: UnretainedReference<BinderProxy>
        let generation: UInt64
    }

    /// The proxies by handle, kept as libbinder keeps them (`ProcessState::mHandleToObject`, a
    /// vector indexed by handle): the kernel hands out the smallest free handle, so handles are
    /// dense, and an array indexed by them needs no hashing (a dictionary hashed the handle with
    /// SipHash, about 120 instructions a look-up, three look-ups per proxy made and dropped,
    /// callgrind). Handles past `denseLimit`, which only a driver numbering them otherwise would
    /// give, go to a dictionary, so a handle number never decides an allocation's size.
    private struct ProxyTable: ~Copyable {
        static let denseLimit: UInt32 = 4096
        /// Entries for handles below `denseCount`, in storage of its own: no uniqueness check or
        /// retain per look-up or store, as a Swift array's copy-on-write needs (two calls per
        /// store, callgrind).
        private var dense: UnsafeMutablePointer<ProxyEntry?>?
        private var denseCount = 0
        private var sparse: [UInt32: ProxyEntry] = [:]

        deinit {
            dense?.deinitialize(count: denseCount)
            dense?.deallocate()
        }

        subscript(handle: UInt32) -> ProxyEntry? {
            @inline(__always) get {
                if Int(handle) < denseCount { return dense.unsafelyUnwrapped[Int(handle)] }
                return handle < Self.denseLimit ? nil : sparse[handle]
            }
            @inline(__always) set {
                if Int(handle) < denseCount {
                    dense.unsafelyUnwrapped[Int(handle)] = newValue
                } else if handle >= Self.denseLimit {
                    sparse[handle] = newValue
                } else if newValue != nil {
                    grow(toInclude: handle)
                    dense.unsafelyUnwrapped[Int(handle)] = newValue
                }
            }
        }

        @inline(never)
        private mutating func grow(toInclude handle: UInt32) {
            let count = min(max(Int(handle) + 1, denseCount * 2, 16), Int(Self.denseLimit))
            let grown = UnsafeMutablePointer<ProxyEntry?>.allocate(capacity: count)
            if let dense {
                grown.moveInitialize(from: dense, count: denseCount)
                dense.deallocate()
            }
            (grown + denseCount).initialize(repeating: nil, count: count - denseCount)
            dense = grown
            denseCount = count
        }
    }

    /// Opens `path` and prepares it for use.
    ///
    /// - Parameters:
    ///   - path: the binder device, e.g. a binderfs device.
    ///   - maxThreads: how many extra looper threads the driver may ask for.
    ///   - release: the Android release the device speaks; by default the configured one
    ///     (``BinderConfiguration/system()``: `SWIFTBINDER_ANDROID_RELEASE`, `/etc/gbinder.conf`).
    ///   - wireFormat: overrides the release's wire format (a vendor header, vendor stability).
    ///   - configuration: where an unspecified release is looked up.
    ///   - disableBackgroundScheduling: write no minimum priority in the binder objects this
    ///     process sends, as servicemanager does (libbinder's `disableBackgroundScheduling`).
    ///   - asyncCallThreads: the most threads async calls make their blocking calls on at once.
    ///   - logger: where the runtime reports what it cannot return as an error.
    public convenience init(
        path: FilePath = "/dev/binderfs/binder", maxThreads: UInt32 = BinderProcess.defaultMaxThreads,
        release: AndroidRelease? = nil, wireFormat: WireFormat? = nil, configuration: BinderConfiguration? = nil,
        disableBackgroundScheduling: Bool = false, asyncCallThreads: Int = BinderProcess.defaultAsyncCallThreads,
        logger: Logger = Logger(label: "swiftbinder")
    ) throws(BinderError) {
        let choice: BinderConfiguration.Choice
        do {
            choice = try (configuration ?? .system()).release(for: path, explicit: release)
        } catch {
            throw .configuration(error)
        }
        try self.init(
            driver: KernelBinderDriver(path: path, logger: logger), release: choice, maxThreads: maxThreads,
            wireFormat: wireFormat, disableBackgroundScheduling: disableBackgroundScheduling,
            asyncCallThreads: asyncCallThreads, logger: logger)
    }

    /// Opens the binder device at `path` (a `String`, for paths that are not literals); see
    /// ``init(path:maxThreads:release:wireFormat:configuration:disableBackgroundScheduling:logger:)``.
    public convenience init(
        path: String, maxThreads: UInt32 = BinderProcess.defaultMaxThreads, release: AndroidRelease? = nil,
        wireFormat: WireFormat? = nil, configuration: BinderConfiguration? = nil, disableBackgroundScheduling: Bool = false,
        asyncCallThreads: Int = BinderProcess.defaultAsyncCallThreads, logger: Logger = Logger(label: "swiftbinder")
    ) throws(BinderError) {
        try self.init(
            path: FilePath(path), maxThreads: maxThreads, release: release, wireFormat: wireFormat,
            configuration: configuration, disableBackgroundScheduling: disableBackgroundScheduling,
            asyncCallThreads: asyncCallThreads, logger: logger)
    }

    /// A process on `driver` (a scripted driver in host tests).
    package init(
        driver: any BinderDriver, release: BinderConfiguration.Choice, maxThreads: UInt32 = BinderProcess.defaultMaxThreads,
        wireFormat: WireFormat? = nil, disableBackgroundScheduling: Bool = false,
        asyncCallThreads: Int = BinderProcess.defaultAsyncCallThreads, logger: Logger = Logger(label: "swiftbinder")
    ) throws(BinderError) {
        try driver.setMaxThreads(maxThreads)
        self.driver = driver
        self.release = release
        let format = wireFormat ?? release.release.wireFormat
        self.wireFormat = disableBackgroundScheduling ? format.disablingBackgroundScheduling() : format
        self.maxThreads = maxThreads
        self.callThreads = CallThreads(name: driver.path.lastComponent?.string ?? "binder", limit: asyncCallThreads)
        self.logger = logger
        self.threadPool = ThreadPool(name: driver.path.lastComponent?.string ?? "binder")
        super.init()
    }

    deinit {
        lifetime.close()
        contextManager.load(ordering: .acquiring)?.release()
        // Idle call threads end; a busy one holds the proxy it calls, so none is busy here.
        callThreads.stop(timeout: .zero)
    }

    // MARK: - Threads

    /// This thread's state for this process, created on first use.
    func threadState() -> ThreadState {
        threadStateKey.state(for: self)
    }

    /// Runs `body` with this thread's state for this process, without retaining it.
    @inline(__always)
    func withThreadState<R: ~Copyable, E: Error>(_ body: (ThreadState) throws(E) -> R) throws(E) -> R {
        try threadStateKey.withState(for: self, body)
    }

    /// Starts the main looper thread; the driver asks for more (`BR_SPAWN_LOOPER`) as needed,
    /// up to ``maxThreads``.
    public func startThreadPool() {
        threadPool.start(process: self)
    }

    /// Makes the calling thread a looper until ``shutdown()``.
    @available(*, noasync, message: "blocks until shutdown(); from async code, startThreadPool()")
    public func joinThreadPool() {
        threadPool.join(process: self)
    }

    /// Stops the looper threads (waking those blocked in the driver), waits for them, and
    /// refuses further calls. The device closes when the last reference to the process goes.
    ///
    /// - Parameter timeout: how long loopers still serving a transaction may take to finish it.
    /// - Returns: how many loopers had not stopped by then (they are left running, and logged);
    ///   0 when every looper thread was joined. A second call returns 0 at once.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(10)) -> Int {
        guard !shuttingDown.exchange(true, ordering: .sequentiallyConsistent) else { return 0 }
        // Async methods in progress are cancelled, so that their loopers can stop.
        for task in asyncMethods.withLock({ Array($0.values) }) { task.cancel() }
        let stuck = threadPool.stop(driver: driver, callerIsLooper: threadState().isLooper, timeout: timeout)
        // Async calls still waiting fail with `shutDown`; those being made finish.
        let busyCallThreads = callThreads.stop(timeout: timeout)
        if busyCallThreads > 0 {
            logger.error(
                "binder call threads still in a call after \(timeout)",
                metadata: ["binder.device": "\(path)", "threads": "\(busyCallThreads)"])
        }
        if stuck > 0 {
            logger.error(
                "binder looper threads did not stop: still serving after \(timeout)",
                metadata: ["binder.device": "\(path)", "threads": "\(stuck)"])
        }
        return stuck
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// How many looper threads have been started so far (the main one included).
    public var looperThreadsStarted: Int { threadPool.startedCount }

    // MARK: - Objects

    /// Makes this process the context manager (handle 0) with `object` answering transactions
    /// to handle 0.
    ///
    /// - Parameters:
    ///   - requestSecurityContext: ask the kernel for each caller's security context. Honoured
    ///     only where an LSM provides contexts (``kernelProvidesSecurityContexts``): without one
    ///     the kernel would fail every transaction to the node.
    ///   - nodeFlags: the node's flags; by default the object's. AOSP's servicemanager gives its
    ///     node no flags but the security-context request (ProcessState::becomeContextManager).
    public func becomeContextManager(
        _ object: BinderObject, requestSecurityContext: Bool = false, nodeFlags: UInt32? = nil
    ) throws(BinderError) {
        var flags = nodeFlags ?? object.nodeFlags
        if requestSecurityContext {
            if Self.kernelProvidesSecurityContexts {
                flags |= BinderObjectFlags.securityContext
            } else {
                logger.debug("no LSM provides security contexts; not asking the kernel for them")
            }
        }
        try driver.becomeContextManager(nodeFlags: flags)
        let retained = Unmanaged.passRetained(object)
        let (stored, _) = contextManager.compareExchange(expected: nil, desired: retained, ordering: .acquiringAndReleasing)
        if !stored {
            retained.release()
            throw .unsupported("a second context manager object for \(path)")
        }
    }

    var contextManagerObject: BinderObject? { contextManager.load(ordering: .acquiring)?.takeUnretainedValue() }

    /// The context manager object without retaining it: it is set once and held until the
    /// process's deinit, so any caller inside a call on this process may use it meanwhile.
    var unretainedContextManagerObject: Unmanaged<BinderObject>? { contextManager.load(ordering: .acquiring) }

    /// Whether a security module (SELinux, Smack…) gives processes security contexts, which
    /// `TXN_SECURITY_CTX` nodes need: this process has one in `/proc/self/attr/current`.
    public static var kernelProvidesSecurityContexts: Bool {
        guard let context = try? readSmallFile("/proc/self/attr/current", limit: 4096) else { return false }
        return !context.isEmpty && context != [0]
    }

    /// The proxy for handle 0, the context manager (servicemanager).
    ///
    /// As in libbinder, handle 0 is pinged first: the kernel only creates the reference once a
    /// context manager exists, so without one this throws a dead-target error instead of
    /// handing out a proxy whose references the kernel refused.
    public var contextObject: BinderProxy {
        get throws(BinderError) {
            if let existing = proxies.withLock({ $0[0]?.proxy.load() }) { return existing }
            _ = try transactOnThisThread(handle: 0, code: ReservedTransactionCode.ping, data: Parcel(), flags: [])
            return try proxy(forHandle: 0)
        }
    }

    /// The proxy for `handle`, shared by everyone who holds one; a new proxy takes its own
    /// strong and weak references on the handle.
    public func proxy(forHandle handle: UInt32) throws(BinderError) -> BinderProxy {
        guard !isShuttingDown else { throw .shutDown }
        if handle == 0 && contextManagerObject != nil {
            // The kernel refuses the context manager references to handle 0, failing the whole
            // write; there is nothing remote behind it anyway.
            throw .unsupported("a proxy for handle 0 in the context manager itself")
        }
        let (proxy, created) = proxies.withLock { proxies -> (BinderProxy, Bool) in
            if let existing = proxies[handle]?.proxy.load() { return (existing, false) }
            let generation = proxyGeneration.add(1, ordering: .relaxed).newValue
            let proxy = BinderProxy(process: self, handle: handle, generation: generation)
            proxies[handle] = ProxyEntry(proxy: UnretainedReference(proxy), generation: generation)
            return (proxy, true)
        }
        if created {
            // Outside the lock: queue the references (before any BC_FREE_BUFFER of the parcel
            // the handle came in) and write them out unless this thread soon will anyway.
            withThreadState { thread in
                thread.out.append(.incrementWeak, .incrementStrong, handle: handle)
                thread.flushIfIdle()
            }
        }
        return proxy
    }

    /// Called by a proxy's deinit: drops its cache entry (unless a newer proxy for a reused
    /// handle replaced it) and its references.
    func proxyReleased(handle: UInt32, generation: UInt64, deathCookie: UInt64?, freezeCookie: UInt64?) {
        proxies.withLock { proxies in
            if proxies[handle]?.generation == generation { proxies[handle] = nil }
        }
        withThreadState { thread in
            if let deathCookie { thread.out.append(.clearDeathNotification, handle: handle, cookie: deathCookie) }
            if let freezeCookie { thread.out.append(.clearFreezeNotification, handle: handle, cookie: freezeCookie) }
            thread.out.append(.decrementStrong, .decrementWeak, handle: handle)
            thread.flushIfIdle()
        }
    }

    /// Freezes (or thaws) every binder process of `pid` (``BinderDevice/freeze(pid:frozen:timeoutMilliseconds:)``).
    public func freeze(pid: Int32, frozen: Bool, timeoutMilliseconds: UInt32 = 0) throws(BinderError) {
        try kernelDevice().device.freeze(pid: pid, frozen: frozen, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The kernel's strong and weak counts on the node behind `handle`; only the context
    /// manager may ask (``BinderDevice/nodeReferenceCounts(handle:)``).
    public func nodeReferenceCounts(handle: UInt32) throws(BinderError) -> (strong: UInt32, weak: UInt32) {
        try kernelDevice().device.nodeReferenceCounts(handle: handle)
    }

    private func kernelDevice() throws(BinderError) -> KernelBinderDriver {
        guard let kernel = driver as? KernelBinderDriver else { throw .unsupported("this needs the kernel's driver") }
        return kernel
    }

    /// How many local objects the kernel holds references to on this device.
    public var localObjectCount: Int { nodes.count }

    // MARK: - Calls

    /// Sends a transaction to `handle` on the calling thread without a proxy (libbinder's
    /// `IPCThreadState::transact`): for diagnostics such as `binder raw`, and for handles this
    /// process holds no reference to. The kernel checks the handle; the request's wire format is
    /// the caller's business. A oneway call returns an empty parcel once the driver queued it.
    ///
    /// - Throws: ``BinderError/transactionFailed(_:_:)`` for a dead, frozen or refused target,
    ///   ``BinderError/remoteStatus(_:)`` for a bare status reply, or a driver error.
    @discardableResult
    public func transact(handle: UInt32, code: UInt32, data: borrowing Parcel, flags: TransactionFlags = [])
        throws(BinderError) -> Parcel
    {
        guard !isShuttingDown else { throw .shutDown }
        return try transactOnThisThread(handle: handle, code: code, data: data, flags: flags)
    }

    /// A call on this thread's engine once the caller's checks are done (this one's, a proxy's):
    /// the reply, or an empty parcel once the driver has queued a oneway call. Inlined: a call
    /// returning the reply parcel costs a copy of it (about 40 instructions per call, callgrind).
    @inline(__always)
    func transactOnThisThread(handle: UInt32, code: UInt32, data: borrowing Parcel, flags: TransactionFlags)
        throws(BinderError) -> Parcel
    {
        if flags.contains(.oneWay) {
            _ = try transactOnewayOnThisThread(handle: handle, code: code, data: data, flags: flags)
            return Parcel(wireFormat: wireFormat)
        }
        let reply = try withThreadState { (thread) throws(BinderError) in
            try thread.transact(handle: handle, code: code, data: data, flags: flags)
        }
        guard let reply else { return Parcel(wireFormat: wireFormat) }
        return reply.parcel(retainedOwner: Unmanaged.passRetained(self), wireFormat: wireFormat)
    }

    /// A oneway call on this thread's engine, with what the driver said about its delivery.
    func transactOnewayOnThisThread(handle: UInt32, code: UInt32, data: borrowing Parcel, flags: TransactionFlags)
        throws(BinderError) -> OnewayDelivery
    {
        try withThreadState { (thread) throws(BinderError) in
            try thread.transactOneway(handle: handle, code: code, data: data, flags: flags)
        }
    }

    /// The identity of the caller whose transaction this thread (or, in an
    /// ``AsyncBinderObject`` method, this task) is serving, or nil.
    public var callingIdentity: CallerIdentity? { threadState().caller ?? CallerIdentity.ofCurrentTask }

    /// Runs `body` with the calling identity set to this process's own, as libbinder's
    /// `clearCallingIdentity`/`restoreCallingIdentity` do around calls made on the service's
    /// own behalf.
    public func withClearedCallingIdentity<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let thread = threadState()
        let saved = thread.servedCaller
        thread.servedCaller = ThreadState.ServedCaller(
            pid: getpid(), euid: geteuid(), flags: [], securityContextAddress: 0, isOwnProcess: true)
        defer { thread.servedCaller = saved }
        return try body()
    }

    // MARK: - ReceivedBufferOwner

    override public func releaseReceivedBuffer(at address: UInt64) {
        withThreadState { thread in
            thread.out.append(.freeBuffer, value: address)
            thread.flushIfIdle()
        }
    }

    // MARK: - Support

    func logUnknownNode(_ command: String, _ node: NodeIdentity) {
        logger.error(
            "driver referenced an unknown local object",
            metadata: ["binder.return": "\(command)", "binder.node": "\(node.pointer)"])
    }

    /// The NUL-terminated security context string the kernel placed in the receive buffer.
    func securityContext(at address: UInt64) -> String? {
        let mapping = driver.mapping
        guard let base = mapping.baseAddress else { return nil }
        let start = UInt64(UInt(bitPattern: base))
        guard address >= start, address - start < UInt64(mapping.count) else { return nil }
        let offset = Int(address - start)
        let bytes = UnsafeRawBufferPointer(rebasing: mapping[offset...])
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// One thread-local table of `ThreadState`s (one per process the thread used), released with the
/// thread, which releases each state's kernel thread.
final class ThreadStateKey: @unchecked Sendable {
    private final class States {
        @exclusivity(unchecked) var byProcess: [ObjectIdentifier: ThreadState] = [:]
        /// The state used last (almost every thread uses one process), unretained: `byProcess`
        /// keeps it alive.
        @exclusivity(unchecked) var last: Unmanaged<ThreadState>?
    }

    /// The key of every thread's table, made once. Each instance keeps a copy, so that the
    /// per-call lookup does not go through the lazy global's `swift_once`.
    private static let sharedKey: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key) { raw in
            guard let raw else { return }
            Unmanaged<States>.fromOpaque(raw).release()
        }
        precondition(result == 0, "pthread_key_create failed")
        return key
    }()

    /// This thread's states, one per process it used (none before its first call).
    private static func statesOfThisThread() -> Dictionary<ObjectIdentifier, ThreadState>.Values? {
        guard let raw = pthread_getspecific(sharedKey) else { return nil }
        return Unmanaged<States>.fromOpaque(raw).takeUnretainedValue().byProcess.values
    }

    /// Writes the commands this thread has queued, on every device it uses: a looper waiting
    /// for an async method (``ServingLooper``) must not hold back reference counts or buffer
    /// frees while the method's task acts on the same references from other threads.
    static func flushCurrentThread() {
        for state in statesOfThisThread() ?? [:].values where state.lifetime.isOpen { try? state.flush() }
    }

    /// The process whose call the current thread is serving, if any.
    static func currentServingProcess() -> BinderProcess? {
        statesOfThisThread()?.first { $0.servedCaller != nil && $0.lifetime.isOpen }?.process
    }

    /// The caller the current thread is serving, on whichever device.
    static func currentCaller() -> CallerIdentity? {
        statesOfThisThread()?.first { $0.servedCaller != nil }?.caller
    }

    private let key = ThreadStateKey.sharedKey

    func state(for process: BinderProcess) -> ThreadState {
        let states: States
        if let raw = pthread_getspecific(key) {
            states = Unmanaged<States>.fromOpaque(raw).takeUnretainedValue()
        } else {
            states = States()
            pthread_setspecific(key, Unmanaged.passRetained(states).toOpaque())
        }
        if let last = states.last?.takeUnretainedValue(), last.processSerial == process.serial { return last }
        let id = ObjectIdentifier(process)
        if let state = states.byProcess[id], state.processSerial == process.serial {
            states.last = Unmanaged.passUnretained(state)
            return state
        }
        // Drop states of processes that are gone, then make this one.
        states.last = nil
        states.byProcess = states.byProcess.filter { $0.value.lifetime.isOpen }
        let state = ThreadState(process: process)
        states.byProcess[id] = state
        states.last = Unmanaged.passUnretained(state)
        return state
    }

    /// Runs `body` with this thread's state for `process`. On the path of every call: when the
    /// state is the one this thread used last, neither the table nor the state is retained (the
    /// table, which only this thread touches, keeps the state alive meanwhile).
    @inline(__always)
    func withState<R: ~Copyable, E: Error>(for process: BinderProcess, _ body: (ThreadState) throws(E) -> R) throws(E) -> R {
        if let raw = pthread_getspecific(key),
            let last = Unmanaged<States>.fromOpaque(raw)._withUnsafeGuaranteedRef({ $0.last }),
            last._withUnsafeGuaranteedRef({ $0.processSerial }) == process.serial
        {
            var result: R?
            var failure: E?
            last._withUnsafeGuaranteedRef { state in
                do throws(E) { result = try body(state) } catch { failure = error }
            }
            if let failure { throw failure }
            return result.take()!
        }
        return try body(state(for: process))
    }
}
