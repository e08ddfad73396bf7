import CBinder
import Synchronization
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A binder driver that a test scripts, for running the transaction engine on a machine without
/// binder (as libgbinder's tests run on its fake driver).
///
/// Each `BINDER_WRITE_READ` records the commands written (with a copy of each transaction's
/// data, which is only valid during the call), then hands the reading thread the next batch of
/// returns queued for it. A thread that reads with nothing queued blocks until something is
/// queued or ``wakeAllThreads()`` is called, as on the kernel; a thread's first read returns at
/// once with only `BR_NOOP`, as the kernel's does (a new `binder_thread` has
/// `looper_need_return` set). Transaction buffers live in a receive arena the driver owns:
/// ``liveBuffers`` are those the engine has not freed yet.
package final class ScriptedDriver: BinderDriver, @unchecked Sendable {
    package let path: FilePath
    package let features: Binderfs.Features
    package let mapping: UnsafeRawBufferPointer
    /// How long a read with nothing queued waits before it fails the test with ETIMEDOUT.
    package var blockedReadLimit: Duration = .seconds(5)

    /// A command the engine wrote.
    package struct Command: Sendable, CustomStringConvertible {
        package var command: DriverCommand
        package var payload: [UInt8]
        /// For BC_TRANSACTION and BC_REPLY: the transaction and a copy of its data.
        package var transaction: TransactionData?
        package var data: [UInt8]
        package var thread: UInt

        package var description: String {
            if let transaction {
                return "\(command)(code \(transaction.code), flags 0x\(String(transaction.flags.rawValue, radix: 16)), \(data.count) bytes)"
            }
            return "\(command)"
        }

        /// The 64-bit value after the command word (a buffer address, a cookie).
        package var value: UInt64 { payload.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
        /// The 32-bit handle after the command word.
        package var handle: UInt32 { payload.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
    }

    /// Which threads a batch is for.
    package enum Recipient: Sendable {
        /// Any thread that reads.
        case any
        /// A thread that entered or registered as a looper.
        case looper
        /// A thread that is not a looper (a caller).
        case caller
    }

    private struct Batch {
        var recipient: Recipient
        var bytes: [UInt8]
        var error: Errno?
    }

    private struct State {
        var commands: [Command] = []
        var batches: [Batch] = []
        var loopers: Set<UInt> = []
        var knownThreads: Set<UInt> = []
        /// Threads whose next read returns at once (the kernel's `looper_need_return`).
        var needReturn: Set<UInt> = []
        var exitedThreads: Set<UInt> = []
        /// While set, `BINDER_THREAD_EXIT` waits in the driver (``holdThreadExits()``).
        var threadExitsHeld = false
        var threadsInExit = 0
        var liveBuffers: Set<UInt64> = []
        var doubleFrees: [UInt64] = []
        var arenaUsed = 0
        var writeLimit: Int?
        var readsBlocked = 0
    }

    private let monitor = Monitor(State())

    package init(
        path: FilePath = "/scripted/binder", arenaSize: Int = 1 << 20,
        features: Binderfs.Features = Binderfs.Features(onewaySpamDetection: true, extendedError: false, freezeNotification: true)
    ) {
        self.path = path
        self.features = features
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: arenaSize, alignment: 16)
        arena.initializeMemory(as: UInt8.self, repeating: 0)
        self.mapping = UnsafeRawBufferPointer(arena)
    }

    deinit {
        UnsafeMutableRawBufferPointer(mutating: mapping).deallocate()
    }

    // MARK: - Scripting

    /// Queues a batch of returns for the next read of a `recipient` thread.
    package func enqueue(_ returns: Returns, for recipient: Recipient = .any) {
        monitor.update { $0.batches.append(Batch(recipient: recipient, bytes: returns.bytes, error: nil)) }
    }

    /// Makes the next `BINDER_WRITE_READ` of a `recipient` thread fail with `errno` after
    /// consuming its writes.
    package func enqueueFailure(_ errno: Errno, for recipient: Recipient = .any) {
        monitor.update { $0.batches.append(Batch(recipient: recipient, bytes: [], error: errno)) }
    }

    /// Consume at most this many bytes of commands per call (whole commands, at least one).
    package func limitWrites(to bytes: Int?) {
        monitor.update { $0.writeLimit = bytes }
    }

    /// Copies `data` into the receive arena, as the kernel copies a sender's parcel, and
    /// returns its address; `objects` are the offsets of the binder objects in it.
    package func deliver(_ data: [UInt8], objects: [UInt64] = []) -> (data: UInt64, offsets: UInt64) {
        monitor.update { state in
            let dataStart = state.arenaUsed
            let offsetsStart = (dataStart + data.count + 7) & ~7
            let end = (offsetsStart + objects.count * 8 + 7) & ~7
            precondition(end <= mapping.count, "the scripted receive arena is full")
            let arena = UnsafeMutableRawBufferPointer(mutating: mapping)
            arena.baseAddress!.advanced(by: dataStart).copyMemory(from: data, byteCount: data.count)
            for (index, offset) in objects.enumerated() {
                arena.storeBytes(of: offset, toByteOffset: offsetsStart + index * 8, as: UInt64.self)
            }
            state.arenaUsed = end
            let base = UInt64(UInt(bitPattern: mapping.baseAddress))
            state.liveBuffers.insert(base + UInt64(dataStart))
            return (base + UInt64(dataStart), base + UInt64(offsetsStart))
        }
    }

    // MARK: - Observing

    /// Every command written so far, in order.
    package var commands: [Command] { monitor.read { $0.commands } }
    /// Buffers delivered and not yet freed with `BC_FREE_BUFFER`.
    package var liveBuffers: Set<UInt64> { monitor.read { $0.liveBuffers } }
    /// Addresses freed twice, or never delivered.
    package var badFrees: [UInt64] { monitor.read { $0.doubleFrees } }
    /// Batches queued and not yet read.
    package var pendingBatches: Int { monitor.read { $0.batches.count } }
    /// Threads that said `BINDER_THREAD_EXIT`.
    package var exitedThreadCount: Int { monitor.read { $0.exitedThreads.count } }

    /// Makes threads that say `BINDER_THREAD_EXIT` wait in the driver until
    /// ``releaseThreadExits()``, so that a test can act while a thread is ending.
    package func holdThreadExits() { monitor.update { $0.threadExitsHeld = true } }
    package func releaseThreadExits() { monitor.update { $0.threadExitsHeld = false } }

    /// Waits until `count` threads are held in `BINDER_THREAD_EXIT`; false after `limit`.
    package func waitForThreadsInExit(_ count: Int, within limit: Duration = .seconds(5)) -> Bool {
        monitor.wait(within: limit) { $0.threadsInExit >= count }
    }

    /// Waits until `condition` holds for the commands written (an event, not a delay); false
    /// after `limit`.
    package func waitUntil(within limit: Duration = .seconds(5), _ condition: ([Command]) -> Bool) -> Bool {
        monitor.wait(within: limit) { condition($0.commands) }
    }

    // MARK: - BinderDriver

    package func writeRead(_ request: inout binder_write_read) throws(Errno) {
        let thread = UInt(pthread_self())
        let write = UnsafeRawBufferPointer(
            start: UnsafeRawPointer(bitPattern: UInt(request.write_buffer)), count: Int(request.write_size))
        let consumedBefore = Int(request.write_consumed)
        let outcome: Result<Void, Errno> = monitor.update { state in
            if state.knownThreads.insert(thread).inserted { state.needReturn.insert(thread) }
            var position = consumedBefore
            var consumedCommands = 0
            while position + 4 <= write.count {
                let word = write.loadUnaligned(fromByteOffset: position, as: UInt32.self)
                let length = 4 + Int((word >> 16) & 0x3FFF)
                guard position + length <= write.count else { break }
                if let limit = state.writeLimit, consumedCommands > 0, position + length - consumedBefore > limit { break }
                record(
                    DriverCommand(rawValue: word), Array(write[(position + 4)..<(position + length)]), thread: thread,
                    in: &state)
                position += length
                consumedCommands += 1
            }
            request.write_consumed = UInt64(position)
            return .success(())
        }
        try outcome.get()
        // Like the kernel, read only once every command was taken.
        guard request.read_size > 0, request.write_consumed == request.write_size else {
            _ = monitor.update { $0.needReturn.remove(thread) }
            return
        }
        let read = UnsafeMutableRawBufferPointer(
            start: UnsafeMutableRawPointer(bitPattern: UInt(request.read_buffer)), count: Int(request.read_size))
        let batch: Batch?? = monitor.wait(within: blockedReadLimit, until: { state in
            state.needReturn.contains(thread) || state.batches.contains { matches($0.recipient, thread, state) }
        }) { state -> Batch? in
            defer { state.needReturn.remove(thread) }
            guard let index = state.batches.firstIndex(where: { matches($0.recipient, thread, state) }) else {
                return Batch(recipient: .any, bytes: [], error: nil)  // woken with nothing to do
            }
            return state.batches.remove(at: index)
        }
        guard let batch = batch ?? nil else {
            // Nothing was queued for this thread in time: a test that forgot a return.
            throw .timedOut
        }
        if let error = batch.error { throw error }
        // The kernel starts every read with BR_NOOP. What does not fit the read buffer stays
        // first in line for this thread's next read.
        var bytes = Returns().noop().bytes
        bytes += batch.bytes
        if bytes.count > read.count {
            let rest = Batch(recipient: batch.recipient, bytes: Array(bytes[read.count...]), error: nil)
            monitor.update { $0.batches.insert(rest, at: 0) }
            bytes.removeSubrange(read.count...)
        }
        bytes.withUnsafeBytes { read.copyMemory(from: $0) }
        request.read_consumed = UInt64(bytes.count)
    }

    private func matches(_ recipient: Recipient, _ thread: UInt, _ state: State) -> Bool {
        switch recipient {
        case .any: return true
        case .looper: return state.loopers.contains(thread)
        case .caller: return !state.loopers.contains(thread)
        }
    }

    private func record(_ command: DriverCommand, _ payload: [UInt8], thread: UInt, in state: inout State) {
        var entry = Command(command: command, payload: payload, transaction: nil, data: [], thread: thread)
        switch command {
        case .transaction, .reply:
            guard payload.count >= TransactionData.size else { break }
            let transaction = payload.withUnsafeBytes { TransactionData(loading: $0.baseAddress!) }
            entry.transaction = transaction
            if transaction.dataSize > 0, let start = UnsafeRawPointer(bitPattern: UInt(transaction.dataAddress)) {
                entry.data = Array(UnsafeRawBufferPointer(start: start, count: Int(transaction.dataSize)))
            }
        case .freeBuffer:
            if state.liveBuffers.remove(entry.value) == nil { state.doubleFrees.append(entry.value) }
        case .enterLooper, .registerLooper:
            state.loopers.insert(thread)
        case .exitLooper:
            state.loopers.remove(thread)
        default:
            break
        }
        state.commands.append(entry)
    }

    package func threadExit() throws(BinderError) {
        let thread = UInt(pthread_self())
        monitor.update { $0.threadsInExit += 1 }
        _ = monitor.wait(within: .seconds(30), until: { !$0.threadExitsHeld }) { _ in }
        monitor.update { state in
            state.threadsInExit -= 1
            state.exitedThreads.insert(thread)
            state.knownThreads.remove(thread)
        }
    }

    package func takeExtendedError() throws(BinderError) -> ExtendedError {
        throw .unsupported("extended errors in the scripted driver")
    }

    package func setMaxThreads(_ count: UInt32) throws(BinderError) {}
    package func becomeContextManager(nodeFlags: UInt32) throws(BinderError) {}

    package func wakeAllThreads() {
        monitor.update { state in state.needReturn.formUnion(state.knownThreads) }
    }
}

/// A batch of driver returns (`BR_*`), built in the order the driver would send them.
package struct Returns: Sendable {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    private func appending(_ code: DriverReturnCode, _ payload: [UInt8] = []) -> Returns {
        var copy = self
        withUnsafeBytes(of: code.rawValue) { copy.bytes += $0 }
        copy.bytes += payload
        return copy
    }

    private static func bytes<T>(of value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    package func noop() -> Returns { appending(.noop) }
    package func transactionComplete() -> Returns { appending(.transactionComplete) }
    package func deadReply() -> Returns { appending(.deadReply) }
    package func failedReply() -> Returns { appending(.failedReply) }
    package func frozenReply() -> Returns { appending(.frozenReply) }
    package func spawnLooper() -> Returns { appending(.spawnLooper) }
    package func error(_ code: Int32) -> Returns { appending(.error, Self.bytes(of: code)) }
    package func raw(_ bytes: [UInt8]) -> Returns {
        var copy = self
        copy.bytes += bytes
        return copy
    }

    package func node(_ code: DriverReturnCode, _ node: NodeIdentity) -> Returns {
        appending(code, Self.bytes(of: node.pointer) + Self.bytes(of: node.cookie))
    }

    package func deadBinder(cookie: UInt64) -> Returns { appending(.deadBinder, Self.bytes(of: cookie)) }
    package func clearDeathNotificationDone(cookie: UInt64) -> Returns {
        appending(.clearDeathNotificationDone, Self.bytes(of: cookie))
    }

    /// `BR_TRANSACTION` or `BR_REPLY` for data already delivered into the arena: the same
    /// `binder_transaction_data` the command encoder writes after `BC_TRANSACTION`.
    package func transaction(_ code: DriverReturnCode, _ data: TransactionData) -> Returns {
        var encoded = CommandBuffer(capacity: 4 + TransactionData.size)
        encoded.append(DriverCommand(rawValue: code.rawValue), transaction: data)
        return raw(encoded.bytes)
    }
}

extension ScriptedDriver {
    /// `BR_REPLY` carrying `data`, delivered into the arena.
    package func reply(_ data: [UInt8], objects: [UInt64] = [], flags: TransactionFlags = []) -> Returns {
        let (address, offsets) = deliver(data, objects: objects)
        return Returns().transaction(
            .reply,
            TransactionData(
                flags: flags, dataSize: UInt64(data.count), offsetsSize: UInt64(objects.count * 8), dataAddress: address,
                offsetsAddress: offsets))
    }

    /// `BR_TRANSACTION` to `node` (handle 0's object for nil), from `pid`/`euid`, carrying `data`.
    package func incoming(
        to node: NodeIdentity?, code: UInt32, _ data: [UInt8], objects: [UInt64] = [], flags: TransactionFlags = [],
        pid: Int32 = 4242, euid: UInt32 = 1000
    ) -> Returns {
        let (address, offsets) = deliver(data, objects: objects)
        return Returns().transaction(
            .transaction,
            TransactionData(
                target: node?.pointer ?? 0, cookie: node?.cookie ?? 0, code: code, flags: flags,
                senderPID: flags.contains(.oneWay) ? 0 : pid, senderEUID: euid, dataSize: UInt64(data.count),
                offsetsSize: UInt64(objects.count * 8), dataAddress: address, offsetsAddress: offsets))
    }
}

extension Returns {
    /// This batch followed by `other`.
    package static func + (lhs: Returns, rhs: Returns) -> Returns { lhs.raw(rhs.bytes) }
}

/// A value guarded by a mutex and a condition variable: the scripted driver's readers wait on
/// it for batches, tests for commands.
final class Monitor<Value>: @unchecked Sendable {
    private var value: Value
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func read<R>(_ body: (Value) -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body(value)
    }

    /// Changes the value and wakes every waiter.
    func update<R>(_ body: (inout Value) -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer {
            pthread_cond_broadcast(&condition)
            pthread_mutex_unlock(&mutex)
        }
        return body(&value)
    }

    /// Waits until `ready` holds, then runs `body` under the lock; nil after `limit`.
    func wait<R>(within limit: Duration, until ready: (Value) -> Bool, _ body: (inout Value) -> R) -> R? {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let (seconds, attoseconds) = limit.components
        deadline.tv_sec += Int(seconds)
        deadline.tv_nsec += Int(attoseconds / 1_000_000_000)
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1
            deadline.tv_nsec -= 1_000_000_000
        }
        pthread_mutex_lock(&mutex)
        defer {
            pthread_cond_broadcast(&condition)
            pthread_mutex_unlock(&mutex)
        }
        while !ready(value) {
            if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT, !ready(value) { return nil }
        }
        return body(&value)
    }

    func wait(within limit: Duration, _ ready: (Value) -> Bool) -> Bool {
        wait(within: limit, until: ready) { _ in true } ?? false
    }
}
