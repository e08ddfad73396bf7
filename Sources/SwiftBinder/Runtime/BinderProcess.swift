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

    public let device: BinderDevice
    /// What the driver supports, from the binderfs mount the device lives in.
    public let features: Binderfs.Features
    /// The Android release this device speaks, and where that came from (``BinderConfiguration``).
    public let release: BinderConfiguration.Choice
    /// The wire format of the parcels this process reads and writes: the release's, unless
    /// given explicitly.
    public let wireFormat: WireFormat
    /// The cap on looper threads spawned at the driver's request.
    public let maxThreads: UInt32
    let logger: Logger

    let nodes = NodeTable()
    let threadPool: ThreadPool
    let deathNotifications = NotificationRegistry()
    let freezeNotifications = NotificationRegistry()
    private let proxies = Mutex<[UInt32: ProxyEntry]>([:])
    private let proxyGeneration = Atomic<UInt64>(0)
    private let contextManager = Mutex<BinderObject?>(nil)
    private let shuttingDown = Atomic<Bool>(false)
    private let threadStateKey = ThreadStateKey()
    /// Unique among the processes this program opens (thread states are matched on it).
    let serial = BinderProcess.nextSerial.add(1, ordering: .relaxed).newValue
    private static let nextSerial = Atomic<UInt64>(0)

    private struct ProxyEntry {
        weak var proxy: BinderProxy?
        let generation: UInt64
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
    ///   - logger: where the runtime reports what it cannot return as an error.
    public init(
        path: FilePath = "/dev/binderfs/binder", maxThreads: UInt32 = BinderProcess.defaultMaxThreads,
        release: AndroidRelease? = nil, wireFormat: WireFormat? = nil, configuration: BinderConfiguration? = nil,
        disableBackgroundScheduling: Bool = false, logger: Logger = Logger(label: "swiftbinder")
    ) throws(BinderError) {
        let choice: BinderConfiguration.Choice
        do {
            choice = try (configuration ?? .system()).release(for: path, explicit: release)
        } catch {
            throw .configuration(error)
        }
        let device = try BinderDevice(path: path)
        try device.setMaxThreads(maxThreads)
        let mount = path.removingLastComponent()
        let features =
            (try? Binderfs(mountPoint: mount).features())
            ?? Binderfs.Features(onewaySpamDetection: false, extendedError: false, freezeNotification: false)
        if features.onewaySpamDetection {
            do {
                try device.enableOnewaySpamDetection()
            } catch {
                logger.warning("could not enable oneway spam detection", metadata: ["error": "\(error)"])
            }
        }
        self.device = device
        self.features = features
        self.release = choice
        let format = wireFormat ?? choice.release.wireFormat
        self.wireFormat = disableBackgroundScheduling ? format.disablingBackgroundScheduling() : format
        self.maxThreads = maxThreads
        self.logger = logger
        self.threadPool = ThreadPool(name: path.lastComponent?.string ?? "binder")
    }

    // MARK: - Threads

    /// This thread's state for this process, created on first use.
    func threadState() -> ThreadState {
        threadStateKey.state(for: self)
    }

    /// Starts the main looper thread; the driver asks for more (`BR_SPAWN_LOOPER`) as needed,
    /// up to ``maxThreads``.
    public func startThreadPool() {
        threadPool.start(process: self)
    }

    /// Makes the calling thread a looper until ``shutdown()``.
    public func joinThreadPool() {
        threadPool.join(process: self)
    }

    /// Stops the looper threads (waking those blocked in the driver), waits for them, and
    /// refuses further calls. The device closes when the last reference to the process goes.
    public func shutdown() {
        guard !shuttingDown.exchange(true, ordering: .sequentiallyConsistent) else { return }
        threadPool.stop(device: device.view, callerIsLooper: threadState().isLooper)
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
        do {
            try device.becomeContextManager(nodeFlags: flags)
        } catch {
            guard error.errno == .invalidArgument else { throw error }
            try device.becomeContextManager()  // kernels without BINDER_SET_CONTEXT_MGR_EXT
        }
        contextManager.withLock { $0 = object }
    }

    var contextManagerObject: BinderObject? { contextManager.withLock { $0 } }

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
            if let existing = proxies.withLock({ $0[0]?.proxy }) { return existing }
            _ = try threadState().transact(handle: 0, code: ReservedTransactionCode.ping, data: Parcel(), flags: [])
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
            if let existing = proxies[handle]?.proxy { return (existing, false) }
            let generation = proxyGeneration.add(1, ordering: .relaxed).newValue
            let proxy = BinderProxy(process: self, handle: handle, generation: generation)
            proxies[handle] = ProxyEntry(proxy: proxy, generation: generation)
            return (proxy, true)
        }
        if created {
            // Outside the lock: queue the references (before any BC_FREE_BUFFER of the parcel
            // the handle came in) and write them out unless this thread soon will anyway.
            let thread = threadState()
            thread.out.append(.incrementWeak, handle: handle)
            thread.out.append(.incrementStrong, handle: handle)
            thread.flushIfIdle()
        }
        return proxy
    }

    /// Called by a proxy's deinit: drops its cache entry (unless a newer proxy for a reused
    /// handle replaced it) and its references.
    func proxyReleased(handle: UInt32, generation: UInt64, deathCookie: UInt64?, freezeCookie: UInt64?) {
        proxies.withLock { proxies in
            if proxies[handle]?.generation == generation { proxies.removeValue(forKey: handle) }
        }
        let thread = threadState()
        if let deathCookie { thread.out.append(.clearDeathNotification, handle: handle, cookie: deathCookie) }
        if let freezeCookie { thread.out.append(.clearFreezeNotification, handle: handle, cookie: freezeCookie) }
        thread.out.append(.decrementStrong, handle: handle)
        thread.out.append(.decrementWeak, handle: handle)
        thread.flushIfIdle()
    }

    /// How many local objects the kernel holds references to on this device.
    public var localObjectCount: Int { nodes.count }

    // MARK: - Calls

    /// The identity of the caller whose transaction this thread (or, in an
    /// ``AsyncBinderObject`` method, this task) is serving, or nil.
    public var callingIdentity: CallerIdentity? { threadState().caller ?? CallerIdentity.ofCurrentTask }

    /// Runs `body` with the calling identity set to this process's own, as libbinder's
    /// `clearCallingIdentity`/`restoreCallingIdentity` do around calls made on the service's
    /// own behalf.
    public func withClearedCallingIdentity<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let thread = threadState()
        let saved = thread.caller
        thread.caller = .ownProcess
        defer { thread.caller = saved }
        return try body()
    }

    // MARK: - ReceivedBufferOwner

    public func releaseReceivedBuffer(at address: UInt64) {
        let thread = threadState()
        thread.out.append(.freeBuffer, value: address)
        thread.flushIfIdle()
    }

    // MARK: - Support

    func logUnknownNode(_ command: String, _ node: NodeIdentity) {
        logger.error(
            "driver referenced an unknown local object",
            metadata: ["binder.return": "\(command)", "binder.node": "\(node.pointer)"])
    }

    /// The NUL-terminated security context string the kernel placed in the receive buffer.
    func securityContext(at address: UInt64) -> String? {
        guard let base = device.mapping.baseAddress else { return nil }
        let start = UInt64(UInt(bitPattern: base))
        guard address >= start, address - start < UInt64(device.mapping.count) else { return nil }
        let offset = Int(address - start)
        let bytes = UnsafeRawBufferPointer(rebasing: device.mapping[offset...])
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// One thread-local table of `ThreadState`s (one per process the thread used), released with the
/// thread, which releases each state's kernel thread.
final class ThreadStateKey: @unchecked Sendable {
    private final class States {
        @exclusivity(unchecked) var byProcess: [ObjectIdentifier: ThreadState] = [:]
        /// The state used last: almost every thread uses one process.
        @exclusivity(unchecked) var last: ThreadState?
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key) { raw in
            guard let raw else { return }
            Unmanaged<States>.fromOpaque(raw).release()
        }
        precondition(result == 0, "pthread_key_create failed")
        return key
    }()

    /// The caller the current thread is serving, on whichever device.
    static func currentCaller() -> CallerIdentity? {
        guard let raw = pthread_getspecific(key) else { return nil }
        let states = Unmanaged<States>.fromOpaque(raw).takeUnretainedValue()
        return states.byProcess.values.first { $0.caller != nil }?.caller
    }

    func state(for process: BinderProcess) -> ThreadState {
        let states: States
        if let raw = pthread_getspecific(Self.key) {
            states = Unmanaged<States>.fromOpaque(raw).takeUnretainedValue()
        } else {
            states = States()
            pthread_setspecific(Self.key, Unmanaged.passRetained(states).toOpaque())
        }
        if let last = states.last, last.processSerial == process.serial { return last }
        let id = ObjectIdentifier(process)
        if let state = states.byProcess[id], state.processSerial == process.serial {
            states.last = state
            return state
        }
        // Drop states of processes that are gone, then make this one.
        states.byProcess = states.byProcess.filter { $0.value.process != nil }
        let state = ThreadState(process: process)
        states.byProcess[id] = state
        states.last = state
        return state
    }
}
