import CBinder
import Synchronization
import Logging
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The kernel-stamped identity of the process that sent the transaction being served.
public struct CallerIdentity: Hashable, Sendable {
    /// The sender's process id (0 for oneway transactions: the kernel does not say).
    public var pid: Int32
    /// The sender's effective uid. This, not anything in the parcel, is who is calling.
    public var euid: uid_t
    /// The sender's security context, when the node asked for it (`TXN_SECURITY_CTX`).
    public var securityContext: String?
    /// The transaction's flags.
    public var flags: TransactionFlags

    /// An identity as the kernel would stamp it (for detached registries and unit tests; the
    /// runtime fills it from the transaction).
    public init(pid: Int32, euid: uid_t, securityContext: String? = nil, flags: TransactionFlags = []) {
        self.pid = pid
        self.euid = euid
        self.securityContext = securityContext
        self.flags = flags
    }

    /// The caller an ``AsyncBinderObject`` method is serving (tasks have no binder thread).
    @TaskLocal public static var ofCurrentTask: CallerIdentity?

    /// This process, as it appears when it calls itself or clears the calling identity.
    public static var ownProcess: CallerIdentity {
        CallerIdentity(pid: getpid(), euid: geteuid(), securityContext: nil, flags: [])
    }
}

/// What a oneway transaction's delivery reported.
public enum OnewayDelivery: Sendable, Equatable {
    /// Queued for the target (`BR_TRANSACTION_COMPLETE`).
    case delivered
    /// Queued, but the target's async buffer is nearly full and this process is sending most of
    /// it (`BR_ONEWAY_SPAM_SUSPECT`, when spam detection is enabled).
    case spamSuspected
    /// Queued for a frozen target; it runs when the target thaws (`BR_TRANSACTION_PENDING_FROZEN`).
    case pendingFrozen
}

/// One thread's conversation with one binder device (libbinder's `IPCThreadState`): the
/// commands it has yet to write, the returns it has read and not yet handled, the references
/// to drop once the batch is handled, and the identity of the transaction it is serving.
///
/// Only its own thread touches it; the runtime keeps one per (thread, device) in thread-local
/// storage.
///
/// Its mutable state is `@exclusivity(unchecked)`: only its own thread ever touches it, and the
/// runtime's dynamic exclusivity checks were a tenth of a call's instructions (callgrind, see
/// docs/benchmarks.md).
final class ThreadState {
    /// Whether the process is still open (no `weak` reference: see ``UnretainedReference``).
    let lifetime: ProcessLifetime
    /// The same process without reference counting, for the per-call paths: every method but
    /// `deinit` runs inside a call made through a strong reference to the process (a proxy's, a
    /// looper's, a received parcel's), so it is alive there. Its weak and strong counts cost more
    /// than a tenth of a call's instructions (callgrind); the hot paths reach it, and its driver,
    /// through ``withProcess(_:)``, which retains nothing.
    private let processReference: Unmanaged<BinderProcess>
    /// ``BinderProcess/serial`` of the process: tells a state of a process that is gone from one
    /// of a new process at the same address.
    let processSerial: UInt64
    /// The process's driver, for `deinit` only: a thread state ends when its thread does, with
    /// no reference to the process held anywhere on that thread, so `deinit` must not touch the
    /// process's counts (its last release would run the process's deinit inside
    /// ``ProcessLifetime/whileOpen(_:)``, which that deinit waits on). While the lifetime is
    /// open the process, and so its driver, is still there.
    private unowned(unsafe) let driverForExit: any BinderDriver
    /// The driver's receive mapping (fixed for its life), where received buffers must lie.
    private let mapping: ReceiveMapping
    /// The process's wire format (fixed for its life), for the parcels this thread receives.
    private let wireFormat: WireFormat

    /// The process, retained (for paths off the per-call ones).
    private var owner: BinderProcess { processReference.takeUnretainedValue() }

    /// The process, for code serving one of its calls on this thread (it is alive meanwhile).
    var process: BinderProcess { owner }

    /// Runs `body` with the process, without retaining it (it is alive: see ``processReference``).
    @inline(__always)
    private func withProcess<R, E: Error>(_ body: (BinderProcess) throws(E) -> R) throws(E) -> R {
        try processReference._withUnsafeGuaranteedRef { process in Result { () throws(E) in try body(process) } }.get()
    }

    /// Commands to write with the next `BINDER_WRITE_READ`.
    @exclusivity(unchecked) var out = CommandBuffer(capacity: 256)
    /// The read buffer and how much of it is filled and handled.
    private let incoming: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var incomingFilled = 0
    @exclusivity(unchecked) private var incomingPosition = 0

    /// Storage lent to the reply of each call this thread serves, and to the request of each
    /// AIDL call it makes: no parcel storage is looked up or allocated per call (the per-thread
    /// cache cost about 140 instructions a call, callgrind).
    @exclusivity(unchecked) private var replyStorage = LentStorage()
    @exclusivity(unchecked) private var requestStorage = LentStorage()

    /// `BR_RELEASE` / `BR_DECREFS` received, applied once the batch is handled.
    @exclusivity(unchecked) private var pendingStrongReleases: [NodeIdentity] = []
    @exclusivity(unchecked) private var pendingWeakReleases: [NodeIdentity] = []
    /// Whether either list has entries (checked after every batch).
    @exclusivity(unchecked) private var hasPendingReleases = false

    /// Whether this thread is a looper (entered or registered) of its process.
    @exclusivity(unchecked) private(set) var isLooper = false
    /// How many incoming transactions this thread is serving (nested calls stack up).
    @exclusivity(unchecked) private(set) var servingDepth = 0
    /// The identity of the transaction being served, if any, as plain values: saved and
    /// restored around every incoming call, so nothing in it is reference counted. The security
    /// context string is read from the receive buffer only when someone asks.
    @exclusivity(unchecked) var servedCaller: ServedCaller?

    struct ServedCaller {
        var pid: Int32
        var euid: uid_t
        var flags: TransactionFlags
        /// Where the kernel put the sender's security context, or 0.
        var securityContextAddress: UInt64
        /// Set by `withClearedCallingIdentity`: this process itself, not a sender.
        var isOwnProcess = false
    }

    /// The identity of the transaction being served, if any.
    var caller: CallerIdentity? {
        guard let served = servedCaller else { return nil }
        if served.isOwnProcess { return .ownProcess }
        let context = served.securityContextAddress == 0 ? nil : owner.securityContext(at: served.securityContextAddress)
        return CallerIdentity(pid: served.pid, euid: served.euid, securityContext: context, flags: served.flags)
    }

    init(process: BinderProcess) {
        self.lifetime = process.lifetime
        self.processReference = Unmanaged.passUnretained(process)
        self.processSerial = process.serial
        self.driverForExit = process.driver
        self.mapping = ReceiveMapping(process.driver.mapping)
        self.wireFormat = process.wireFormat
        incoming = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    }

    deinit {
        incoming.deallocate()
        replyStorage.deallocate()
        requestStorage.deallocate()
        // The kernel keeps a binder_thread per thread that ever talked to it: release it, unless
        // the process closed the device (it waits for this to finish before it does).
        lifetime.whileOpen { try? driverForExit.threadExit() }
    }

    // MARK: - Talking to the driver

    /// Writes the pending commands and, when `receive` and everything read was handled, reads
    /// the next batch (blocking until the driver has something).
    @inline(__always)
    private func talkWithDriver(receive: Bool = true) throws(BinderError) {
        if let errno = exchangeWithDriver(receive: receive) { throw writeReadFailure(errno) }
    }

    /// ``talkWithDriver(receive:)`` with the failure as a bare errno: the error naming the call
    /// is made only when there is one (moving it through every exchange cost about 40
    /// instructions, callgrind).
    private func exchangeWithDriver(receive: Bool) -> Errno? {
        let needRead = receive && incomingPosition >= incomingFilled
        if out.isEmpty && !needRead { return nil }
        let write = out.unsafeBytes
        var request = binder_write_read(
            write_size: UInt64(write.count), write_consumed: 0, write_buffer: UInt64(UInt(bitPattern: write.baseAddress)),
            read_size: needRead ? UInt64(incoming.count) : 0, read_consumed: 0,
            read_buffer: UInt64(UInt(bitPattern: incoming.baseAddress)))
        var failure: Errno?
        do throws(Errno) {
            try withProcess { (process) throws(Errno) in try process.driver.writeRead(&request) }
        } catch {
            failure = error
        }
        // The driver reports what it used even when the ioctl fails.
        out.removeFirst(Int(clamping: request.write_consumed))
        if needRead && request.read_consumed > 0 {
            // Never past the buffer, whatever the driver says.
            incomingFilled = Int(truncatingIfNeeded: min(request.read_consumed, request.read_size))
            incomingPosition = 0
        }
        if let failure, !out.isEmpty, failure != .interrupted {
            // The command the driver refused is dropped, or every later write would replay it.
            dropRefusedCommand(failure)
        }
        return failure
    }

    @inline(never)
    private func dropRefusedCommand(_ errno: Errno) {
        owner.logger.warning("the binder driver refused a command", metadata: ["error": "\(writeReadFailure(errno))"])
        out.removeFirstCommand()
    }

    @inline(never)
    private func writeReadFailure(_ errno: Errno) -> BinderError {
        ioctlFailure("BINDER_WRITE_READ", path: owner.path, errno: errno)
    }

    /// The next unhandled return's code, where it starts and how many bytes are left from
    /// there, if a whole code word is left: the returns of every call are handled in place from
    /// this (the general decoder, ``nextReturn()``, builds an enum of up to 80 bytes per return).
    @inline(__always)
    private func peekReturn() -> (code: UInt32, at: UnsafeRawPointer, available: Int)? {
        let available = incomingFilled &- incomingPosition  // both within the buffer
        guard available >= 4 else { return nil }
        let at = UnsafeRawPointer(incoming.baseAddress.unsafelyUnwrapped + incomingPosition)
        return (at.loadUnaligned(as: UInt32.self), at, available)
    }

    /// A `BR_TRANSACTION` or `BR_REPLY` at `at` with `available` bytes: its data, consumed,
    /// or nil (and nothing consumed) when it is cut short.
    @inline(__always)
    private func takeTransaction(at: UnsafeRawPointer, available: Int) -> TransactionData? {
        guard available >= 4 + TransactionData.size else { return nil }
        incomingPosition &+= 4 + TransactionData.size  // within the filled part, checked above
        return TransactionData(loading: at + 4)
    }

    /// The next return the driver sent, or nil when the batch is handled.
    private func nextReturn() throws(BinderError) -> DriverReturn? {
        guard incomingPosition < incomingFilled else { return nil }
        var reader = DriverReturnReader(
            UnsafeRawBufferPointer(start: incoming.baseAddress! + incomingPosition, count: incomingFilled - incomingPosition))
        do throws(BinderError) {
            let entry = try reader.next()
            incomingPosition += reader.readerIndex
            return entry
        } catch {
            incomingPosition = incomingFilled  // drop the rest of an undecodable batch
            throw error
        }
    }

    /// Writes queued commands now, without reading, unless this thread will soon talk to the
    /// driver anyway (it is a looper or is serving a transaction).
    @inline(__always)
    func flushIfIdle() {
        guard !isLooper && servingDepth == 0 && !out.isEmpty else { return }
        if let errno = exchangeWithDriver(receive: false) { reportFailedFlush(errno) }
    }

    @inline(never)
    private func reportFailedFlush(_ errno: Errno) {
        owner.logger.warning("flushing binder commands failed", metadata: ["error": "\(writeReadFailure(errno))"])
    }

    /// Writes queued commands now.
    func flush() throws(BinderError) {
        try talkWithDriver(receive: false)
    }

    // MARK: - Outgoing transactions

    /// Sends a transaction on this thread and waits for its reply, serving whatever the
    /// driver delivers meanwhile (nested calls, reference counts, death notices).
    ///
    /// - Returns: the reply's buffer, checked to lie in the receive mapping, for the caller to
    ///   wrap in a parcel that frees it; nil for an empty reply (a status reply of 0).
    func transact(handle: UInt32, code: UInt32, data: borrowing Parcel, flags: TransactionFlags)
        throws(BinderError) -> ReceivedBuffer?
    {
        defer { finishBatch() }
        let outcome = try send(handle: handle, code: code, data: data, flags: flags.subtracting(.oneWay))
        guard case .reply = outcome else { return nil }
        return try receiveReply(lastReply)
    }

    /// A transaction buffer the driver delivered, inside the receive mapping. The engine hands
    /// replies out as these plain values and the caller makes the parcel once: a parcel returned
    /// through each layer of a call was copied at each (about 100 instructions, callgrind).
    struct ReceivedBuffer {
        let data: UnsafeRawBufferPointer
        let objectOffsets: UnsafeRawBufferPointer
        /// The kernel's address of the buffer, as `BC_FREE_BUFFER` wants it.
        let address: UInt64

        /// A parcel reading it that hands it back to `retainedOwner` (retained for the parcel).
        /// Inlined, so that the parcel is made where it is returned (not copied out of a call).
        @inline(__always)
        func parcel(retainedOwner: Unmanaged<BinderProcess>, wireFormat: WireFormat) -> Parcel {
            Parcel(
                received: data, objectOffsets: objectOffsets, bufferAddress: address,
                retainedOwner: Unmanaged.fromOpaque(retainedOwner.toOpaque()), wireFormat: wireFormat)
        }
    }

    /// Sends a oneway transaction and returns once the driver has queued it.
    func transactOneway(handle: UInt32, code: UInt32, data: borrowing Parcel, flags: TransactionFlags)
        throws(BinderError) -> OnewayDelivery
    {
        defer { finishBatch() }
        switch try send(handle: handle, code: code, data: data, flags: flags.union(.oneWay)) {
        case .delivered(let delivery):
            return delivery
        case .reply:
            // No reply answers a oneway call; a driver that sends one gets its buffer back.
            out.append(.freeBuffer, value: lastReply.dataAddress)
            return .delivered
        }
    }

    /// The request of one AIDL call to `proxy` (``IBinder/call(code:interface:flags:arguments:result:)``),
    /// sent on this thread: the request is written into storage this thread lends it call
    /// after call, and the reply comes back as its buffer (nil for an empty reply), which the
    /// caller reads and hands back with ``endReply(_:)``, without looking the thread state up
    /// again (each look-up, and the parcel storage cache's take and give-back, cost about 30
    /// instructions a call, callgrind). Not generic: the caller reads the reply's values.
    func sendCall(
        _ proxy: BinderProxy, code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void
    ) throws(RemoteError) -> ReceivedBuffer? {
        try sendLentRequest(proxy, code: code, interface: interface, arguments: arguments) { (request) throws(BinderError) in
            try transact(handle: proxy.handle, code: code, data: request, flags: flags)
        }
    }

    /// Hands back the buffer of a reply read after ``sendCall(_:code:interface:flags:arguments:)``,
    /// as the parcel's owner would (nil: the parcel ended otherwise).
    @inline(__always)
    func freeReply(at address: UInt64?) {
        guard let address else { return }
        out.append(.freeBuffer, value: address)
        flushIfIdle()
    }

    /// A oneway AIDL call to `proxy` on this thread, its request in lent storage.
    func callOneway(
        _ proxy: BinderProxy, code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void
    ) throws(RemoteError) {
        _ = try sendLentRequest(proxy, code: code, interface: interface, arguments: arguments) { (request) throws(BinderError) in
            try transactOneway(handle: proxy.handle, code: code, data: request, flags: flags)
        }
    }

    /// An AIDL request to `proxy` in the storage this thread lends its requests: the interface
    /// token, what `arguments` writes, then `send` once the target passed its checks; the
    /// storage is taken back whatever happens.
    @inline(__always)
    private func sendLentRequest<Outcome>(
        _ proxy: BinderProxy, code: UInt32, interface: InterfaceDescriptor,
        arguments: (inout Parcel) throws(ParcelError) -> Void, _ send: (borrowing Parcel) throws(BinderError) -> Outcome
    ) throws(RemoteError) -> Outcome {
        var request = requestStorage.lend(wireFormat: wireFormat)
        // A kernel proxy's request is a kernel parcel: its token needs no RPC check.
        request.writeKernelInterfaceToken(interface)
        do throws(ParcelError) {
            try arguments(&request)
        } catch {
            requestStorage.takeBack(request)
            throw .transport(.malformedParcel(error))
        }
        let outcome: Outcome
        do throws(BinderError) {
            outcome = try proxy.checkedCall(code: code) { () throws(BinderError) in try send(request) }
        } catch {
            requestStorage.takeBack(request)
            throw .transport(error)
        }
        requestStorage.takeBack(request)
        return outcome
    }

    /// How a wait for the outcome of a transaction or reply ended: a plain value, so that no
    /// parcel is built until the caller wants one. A reply's transaction data is left in
    /// ``lastReply`` (moving it out through each return cost about 40 instructions a call, callgrind).
    private enum Outcome {
        case delivered(OnewayDelivery)
        case reply
    }

    /// The `BR_REPLY` that ended the last wait.
    @exclusivity(unchecked) private var lastReply = TransactionData()

    private func send(handle: UInt32, code: UInt32, data: borrowing Parcel, flags: TransactionFlags)
        throws(BinderError) -> Outcome
    {
        let flags = flags.union(.acceptFileDescriptors)
        return try write(.transaction, target: handle, code: code, flags: flags, parcel: data,
                         expectingReply: !flags.contains(.oneWay))
    }

    /// Queues `BC_TRANSACTION` or `BC_REPLY` for `parcel` and waits for its outcome.
    private func write(
        _ command: DriverCommand, target: UInt32, code: UInt32, flags: TransactionFlags, parcel: borrowing Parcel,
        expectingReply: Bool
    ) throws(BinderError) -> Outcome {
        if parcel.hasOwnedObjectOffsets {
            return try parcel.withUnsafeObjectOffsets { (offsets) throws(BinderError) -> Outcome in
                try write(
                    command, target: target, code: code, flags: flags, data: parcel.unsafeDataBytes, offsets: offsets,
                    expectingReply: expectingReply)
            }
        }
        return try write(
            command, target: target, code: code, flags: flags, data: parcel.unsafeDataBytes,
            offsets: parcel.unsafeReceivedObjectOffsets, expectingReply: expectingReply)
    }

    @inline(__always)
    private func write(
        _ command: DriverCommand, target: UInt32, code: UInt32, flags: TransactionFlags,
        data: UnsafeRawBufferPointer, offsets: UnsafeRawBufferPointer, expectingReply: Bool
    ) throws(BinderError) -> Outcome {
        let dataAddress = UInt64(UInt(bitPattern: data.baseAddress))
        out.append(
            command,
            transaction: TransactionData(
                target: UInt64(target), code: code, flags: flags, dataSize: UInt64(data.count),
                offsetsSize: UInt64(offsets.count), dataAddress: dataAddress,
                offsetsAddress: UInt64(UInt(bitPattern: offsets.baseAddress))))
        // The driver copies the data during the first write, inside this call; if that write
        // fails the command must not outlive the parcel it points into.
        do throws(BinderError) {
            return try waitForResponse(expectingReply: expectingReply)
        } catch {
            out.removeTransaction(dataAddress: dataAddress)
            throw error
        }
    }

    /// Reads and handles returns until the outcome of the transaction just written.
    private func waitForResponse(expectingReply: Bool) throws(BinderError) -> Outcome {
        while true {
            try talkWithDriver()
            while incomingPosition < incomingFilled {
                if let (code, at, available) = peekReturn() {
                    switch code {
                    case BR_NOOP.rawValue:
                        incomingPosition &+= 4
                        continue
                    case BR_TRANSACTION_COMPLETE.rawValue:
                        incomingPosition &+= 4
                        if !expectingReply { return .delivered(.delivered) }
                        continue
                    case BR_REPLY.rawValue:
                        if let transaction = takeTransaction(at: at, available: available) {
                            lastReply = transaction
                            return .reply
                        }
                    default:
                        break
                    }
                }
                // Everything else, a return cut short and stray bytes (which throw) are decoded here.
                guard let entry = try nextReturn() else { break }
                switch entry {
                case .transactionComplete:
                    if !expectingReply { return .delivered(.delivered) }
                case .onewaySpamSuspect:
                    owner.logger.warning("oneway spam suspected: the target's async buffer is nearly full")
                    if !expectingReply { return .delivered(.spamSuspected) }
                case .transactionPendingFrozen:
                    if !expectingReply { return .delivered(.pendingFrozen) }
                case .reply(let transaction):
                    lastReply = transaction
                    return .reply
                case .deadReply:
                    throw .transactionFailed(.deadTarget, extendedError())
                case .failedReply:
                    throw .transactionFailed(.failed, extendedError())
                case .frozenReply:
                    throw .transactionFailed(.frozenTarget, extendedError())
                case .error(let code):
                    // libbinder's waitForResponse ends the wait with the driver's code too.
                    throw .driverError(code)
                default:
                    try execute(entry)
                }
            }
        }
    }

    /// A reply's buffer, or nil for a status reply of 0; another status is thrown.
    private func receiveReply(_ transaction: TransactionData) throws(BinderError) -> ReceivedBuffer? {
        let buffer = try receivedBuffer(transaction)
        guard transaction.flags.contains(.statusCode) else { return buffer }
        // A parcel reads the status word, and its end frees the buffer (and closes any
        // descriptor a peer put in it).
        var parcel = received(buffer)
        let status: Int32
        do {
            status = try parcel.readInt32()
        } catch {
            throw .malformedParcel(error)
        }
        guard status == 0 else { throw .remoteStatus(StatusCode(rawValue: status)) }
        return nil
    }

    private func extendedError() -> ExtendedError? {
        guard owner.features.extendedError else { return nil }
        return try? owner.driver.takeExtendedError()
    }

    /// After a batch: apply deferred releases once everything read is handled, and write out
    /// acknowledgements and frees that a non-looper thread would otherwise keep.
    private func finishBatch() {
        if incomingPosition >= incomingFilled { applyPendingReleases() }
        flushIfIdle()
    }

    // MARK: - Returns

    /// Handles one return that is not the outcome of our own transaction.
    private func execute(_ entry: DriverReturn) throws(BinderError) {
        let process = owner
        switch entry {
        case .noop, .ok, .acquireResult, .finished:
            break
        case .error(let code):
            process.logger.error("the binder driver reported an error", metadata: ["binder.error": "\(code)"])
        case .incrementWeak(let node):
            if !process.nodes.increment(node, strong: false) { process.logUnknownNode("BR_INCREFS", node) }
            out.append(.incrementWeakDone, node: node)
        case .incrementStrong(let node):
            if !process.nodes.increment(node, strong: true) { process.logUnknownNode("BR_ACQUIRE", node) }
            out.append(.incrementStrongDone, node: node)
        case .decrementStrong(let node):
            pendingStrongReleases.append(node)
            hasPendingReleases = true
        case .decrementWeak(let node):
            pendingWeakReleases.append(node)
            hasPendingReleases = true
        case .attemptAcquire:
            out.appendInteger(DriverCommand(rawValue: BC_ACQUIRE_RESULT.rawValue).rawValue)
            out.appendInteger(Int32(0))
        case .transaction(let transaction):
            try serve(transaction, securityContext: nil)
        case .transactionWithSecurityContext(let transaction, let context):
            try serve(transaction, securityContext: context)
        case .spawnLooper:
            process.threadPool.spawnLooper(process: process)
        case .deadBinder(let cookie):
            process.deathNotifications.proxy(for: cookie)?.binderDied(thread: self)
            out.append(.deadBinderDone, value: cookie)
        case .clearDeathNotificationDone(let cookie):
            process.deathNotifications.cleared(cookie: cookie)
        case .frozenBinder(let cookie, let isFrozen):
            process.freezeNotifications.proxy(for: cookie)?.frozenStateChanged(isFrozen)
            out.append(.freezeNotificationDone, value: cookie)
        case .clearFreezeNotificationDone(let cookie):
            process.freezeNotifications.cleared(cookie: cookie)
        case .transactionComplete, .onewaySpamSuspect, .transactionPendingFrozen, .reply, .deadReply, .failedReply,
            .frozenReply:
            process.logger.warning("unexpected driver return outside a transaction", metadata: ["binder.return": "\(entry)"])
        }
    }

    /// Handles everything read, as a looper: incoming transactions are served in place (the
    /// returns of every call), everything else through the general decoder.
    private func handleIncoming() throws(BinderError) {
        while incomingPosition < incomingFilled {
            if let (code, at, available) = peekReturn() {
                if code == BR_NOOP.rawValue {
                    incomingPosition &+= 4
                    continue
                }
                if code == BR_TRANSACTION.rawValue, let transaction = takeTransaction(at: at, available: available) {
                    try serve(transaction, securityContext: nil)
                    continue
                }
            }
            guard let entry = try nextReturn() else { return }
            try execute(entry)
        }
    }

    /// Drops the references the kernel released in the batch just handled.
    @inline(__always)
    private func applyPendingReleases() {
        if hasPendingReleases { applyPendingReleasesNow() }
    }

    private func applyPendingReleasesNow() {
        hasPendingReleases = false
        let process = owner
        var released: [BinderObject] = []
        for node in pendingStrongReleases {
            if let object = process.nodes.decrement(node, strong: true) { released.append(object) }
        }
        for node in pendingWeakReleases {
            if let object = process.nodes.decrement(node, strong: false) { released.append(object) }
        }
        pendingStrongReleases.removeAll(keepingCapacity: true)
        pendingWeakReleases.removeAll(keepingCapacity: true)
        released.removeAll()  // the objects go here, outside every lock
    }

    // MARK: - Incoming transactions

    private func serve(_ transaction: TransactionData, securityContext: UInt64?) throws(BinderError) {
        let oneWay = transaction.flags.contains(.oneWay)
        var request: Parcel
        do throws(BinderError) {
            request = try receivedParcel(transaction)
        } catch {
            owner.logger.error("dropping an incoming transaction", metadata: ["error": "\(error)"])
            if !oneWay { try sendStatusReply(.badValue, requestFlags: transaction.flags) }
            return
        }

        let saved = servedCaller
        servedCaller = ServedCaller(
            pid: transaction.senderPID, euid: transaction.senderEUID, flags: transaction.flags,
            securityContextAddress: securityContext ?? 0)
        servingDepth += 1
        defer {
            servingDepth -= 1
            servedCaller = saved
        }

        // The reply goes into the storage this thread lends its replies (a nested call's reply,
        // served while it is out, gets storage of its own).
        var reply = replyStorage.lend(wireFormat: wireFormat)
        let status: StatusCode
        if transaction.target == 0 {
            // The context manager object is held for the process's life: not retained per call
            // (its retain and release were about 40 instructions, callgrind).
            if let target = withProcess({ $0.unretainedContextManagerObject }) {
                status = target._withUnsafeGuaranteedRef { target in
                    target.dispatch(code: transaction.code, data: &request, reply: &reply, flags: transaction.flags)
                }
            } else {
                status = .unknownTransaction
            }
        } else if let target = withProcess({ process in
            process.nodes.object(for: NodeIdentity(pointer: transaction.target, cookie: transaction.cookie))
        }) {
            status = target.dispatch(code: transaction.code, data: &request, reply: &reply, flags: transaction.flags)
        } else {
            status = .unknownTransaction
        }
        // The request buffer goes back first (libbinder does the same): handles it carried are
        // held by proxies that took their own references while reading it. Its free rides with
        // the reply. (A handler that swapped the request out left another parcel here, which
        // ends as usual; the request then frees itself when its new owner drops it.)
        if let address = request.endReceived(ownedBy: processReference.toOpaque()) {
            out.append(.freeBuffer, value: address)
        }
        if !oneWay {
            if status == .ok {
                try sendReply(reply, flags: transaction.flags.intersection(.clearBuffer))
            } else {
                try sendStatusReply(status, requestFlags: transaction.flags)
            }
        }
        replyStorage.takeBack(reply)
    }

    private func sendStatusReply(_ status: StatusCode, requestFlags: TransactionFlags) throws(BinderError) {
        var reply = Parcel(capacity: 4)
        reply.writeInt32(status.rawValue)
        try sendReply(reply, flags: requestFlags.intersection(.clearBuffer).union(.statusCode))
    }

    private func sendReply(_ reply: borrowing Parcel, flags: TransactionFlags) throws(BinderError) {
        do throws(BinderError) {
            let outcome = try write(
                .reply, target: UInt32.max, code: 0, flags: flags, parcel: reply, expectingReply: false)
            if case .reply = outcome {
                // A reply to a reply cannot come from the kernel; its buffer goes back.
                out.append(.freeBuffer, value: lastReply.dataAddress)
            }
        } catch {
            // The caller may have died meanwhile: that is its problem, not this looper's.
            owner.logger.debug("reply not delivered", metadata: ["error": "\(error)"])
        }
    }

    @inline(__always)
    private func receivedParcel(_ transaction: TransactionData) throws(BinderError) -> Parcel {
        received(try receivedBuffer(transaction))
    }

    /// The buffer of `transaction`, checked to lie in the receive mapping; one that does not is
    /// handed back to the driver at once.
    @inline(__always)
    private func receivedBuffer(_ transaction: TransactionData) throws(BinderError) -> ReceivedBuffer {
        guard let data = mapping.bytes(at: transaction.dataAddress, count: transaction.dataSize),
            let offsets = mapping.bytes(at: transaction.offsetsAddress, count: transaction.offsetsSize)
        else {
            out.append(.freeBuffer, value: transaction.dataAddress)
            throw .malformedReturn("transaction buffer outside the receive mapping")
        }
        return ReceivedBuffer(data: data, objectOffsets: offsets, address: transaction.dataAddress)
    }

    @inline(__always)
    private func received(_ buffer: ReceivedBuffer) -> Parcel {
        buffer.parcel(retainedOwner: processReference.retain(), wireFormat: wireFormat)
    }

    // MARK: - Looping

    /// Serves transactions on this thread until the process shuts down.
    func joinThreadPool(isMain: Bool) {
        let process = owner
        isLooper = true
        out.append(isMain ? .enterLooper : .registerLooper)
        while !process.isShuttingDown {
            do {
                try talkWithDriver()
                try handleIncoming()
                applyPendingReleases()
            } catch {
                if case .systemCall(_, _, let errno) = error, errno == .badFileDescriptor || errno == .connectionRefused {
                    break
                }
                process.logger.error("binder looper error", metadata: ["error": "\(error)"])
            }
        }
        out.append(.exitLooper)
        try? talkWithDriver(receive: false)
        isLooper = false
    }
}

/// Whether a process's device is still open, for the thread states that outlive it: the process
/// marks it closed in its deinit, waiting for any thread state using the device at that moment.
final class ProcessLifetime: Sendable {
    private let open = Mutex(true)

    var isOpen: Bool { open.withLock { $0 } }

    /// Runs `body` if the device is open, keeping it open meanwhile.
    func whileOpen(_ body: () -> Void) {
        open.withLock { isOpen in if isOpen { body() } }
    }

    func close() {
        open.withLock { $0 = false }
    }
}
