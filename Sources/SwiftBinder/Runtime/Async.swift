import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Binder calls block their thread in the driver. Swift concurrency's threads must never block,
// so async calls run on their process's call threads (``CallThreads``), and async service
// methods run as tasks while the looper thread that received the call waits for them.

extension IBinder {
    /// Sends a synchronous transaction from async code without blocking the concurrency pool
    /// (see ``runBlocking(_:)``).
    ///
    /// - Throws: `CancellationError` at once when the task is cancelled (a call already sent
    ///   still ends on its thread, and its reply is freed there).
    public func transact(code: UInt32, data: consuming Parcel, flags: TransactionFlags = []) async throws -> Parcel {
        let request = ParcelBox(data)
        return try await runBlocking { ParcelBox(try self.transact(code: code, data: request.take(), flags: flags)) }.take()
    }

    /// ``call(code:interface:flags:arguments:result:)`` from async code, without blocking the
    /// concurrency pool (see ``runBlocking(_:)``): what generated `AsyncProxy` methods call.
    ///
    /// - Throws: as the blocking call; `CancellationError` at once when the task is cancelled
    ///   (a call already sent still ends on its thread, and its reply is freed there).
    public func call<Result: Sendable>(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: @escaping @Sendable (inout Parcel) throws(ParcelError) -> Void,
        result: @escaping @Sendable (inout Parcel) throws(ParcelError) -> Result
    ) async throws -> Result {
        try await runBlocking {
            try self.call(code: code, interface: interface, flags: flags, arguments: arguments, result: result)
        }
    }

    /// ``callOneway(code:interface:flags:arguments:)`` from async code (see
    /// ``call(code:interface:flags:arguments:result:)-async``).
    public func callOneway(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: @escaping @Sendable (inout Parcel) throws(ParcelError) -> Void
    ) async throws {
        try await runBlocking { try self.callOneway(code: code, interface: interface, flags: flags, arguments: arguments) }
    }

    /// Runs a blocking call to this object (`body`, where the sync overloads are the ones
    /// called) off Swift's pool: a proxy's on its process's call threads, or on the looper
    /// serving the async method the task runs for (``BinderProcess/runBlockingCall(_:)``); a
    /// local object's on the threads for local objects (its handler may block, or be an async
    /// method whose looper waits for its task).
    private func runBlocking<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        if let proxy = self as? BinderProxy { return try await proxy.process.runBlockingCall(body) }
        if let proxy = self as? RpcProxy, let session = proxy.state.session { return try await session.callThreads.run(body) }
        return try await CallThreads.forLocalObjects.run(body)
    }
}

/// What an async service method is told about the call it serves (the way grpc-swift hands a
/// `ServerContext` to its handlers): who called, as the kernel stamped it, and how.
public struct CallContext: Sendable {
    /// The caller: its pid (0 for oneway calls), effective uid and security context.
    public var caller: CallerIdentity
    /// The call's code.
    public var code: UInt32
    /// Whether the caller waits for no reply.
    public var isOneway: Bool { caller.flags.contains(.oneWay) }

    public init(caller: CallerIdentity, code: UInt32) {
        self.caller = caller
        self.code = code
    }
}

// MARK: - Serving async methods

// Binder replies leave from the looper thread that received the call. An async method runs as a
// task on Swift's pool while that looper waits, and the looper does not just wait: it makes the
// blocking binder calls the task makes (`IBinder.call(...) async`, an `AsyncProxy`, `transact`
// from async code), which the task hands it through the `ServingLooper` it runs under. So:
// - no thread of Swift's pool blocks, and a method's calls need no other thread;
// - a call back into this process, made from that looper while it serves the call, comes back
//   to the same looper (the kernel sends a nested call to the thread waiting in the chain), as
//   in libbinder, so async methods calling each other across processes never run out of
//   loopers: more concurrent calls than looper threads work.

/// A looper serving an async method: the blocking calls its task hands it, until it is done.
final class ServingLooper: @unchecked Sendable {
    /// The looper the current task serves for, if any.
    @TaskLocal static var current: ServingLooper?

    private let lock = ConditionLock()
    private var jobs: [() -> Void] = []
    private var done = false

    /// Hands `job` to the looper, unless it is done serving (a task that outlived the method).
    private func submit(_ job: @escaping () -> Void) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return false }
        jobs.append(job)
        lock.signal()
        return true
    }

    /// On the looper: runs the jobs handed to it until ``finish()``.
    ///
    /// Before it waits, and after each job, the looper writes what it queued (the references of
    /// the proxies it read, the frees of the replies it read): the task may drop those proxies on
    /// another thread at any time, and their releases must not reach the kernel first.
    func serveUntilFinished() {
        ThreadStateKey.flushCurrentThread()
        lock.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                lock.unlock()
                job()
                ThreadStateKey.flushCurrentThread()
                lock.lock()
                continue
            }
            if done { break }
            lock.wait()
        }
        lock.unlock()
    }

    func finish() {
        lock.lock()
        done = true
        lock.signal()
        lock.unlock()
    }

    /// Runs `body` on the looper and returns its result to the task; nil (and `body` not run)
    /// when the looper is done serving.
    func runIfServing<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value?, any Error>) in
            let accepted = submit { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(returning: nil) }
        }
    }
}

extension BinderProcess {
    /// Where an async call makes its blocking call: on the looper serving the async method the
    /// task runs for (see ``ServingLooper``), else on the call threads.
    func runBlockingCall<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        if let looper = ServingLooper.current, let value = try await looper.runIfServing(body) { return value }
        return try await callThreads.run(body)
    }
}

extension BinderObject {
    /// Serves the call being handled on this looper with `method`, an async function: runs it as
    /// a task (with the call's ``CallContext``) and, until it returns, makes the blocking calls it
    /// makes; then returns what it returned, or throws what it threw. What generated async stubs
    /// call.
    public func serveAsync<Value: Sendable>(
        code: UInt32, flags: TransactionFlags, _ method: @escaping @Sendable (CallContext) async throws -> Value
    ) throws -> Value {
        // A call from this process itself (a local object called in place) is this process's.
        let caller = ThreadStateKey.currentCaller() ?? CallerIdentity(pid: getpid(), euid: geteuid(), flags: flags)
        let context = CallContext(caller: caller, code: code)
        let looper = ServingLooper()
        let outcome = Mutex<Result<Value, any Error>?>(nil)
        let task = Task {
            let result = await ServingLooper.$current.withValue(looper) {
                await CallerIdentity.$ofCurrentTask.withValue(caller) {
                    do { return Result<Value, any Error>.success(try await method(context)) } catch { return .failure(error) }
                }
            }
            outcome.withLock { $0 = result }
            looper.finish()
        }
        // The serving process cancels the method if it shuts down meanwhile.
        if let process = ThreadStateKey.currentServingProcess() {
            process.whileServing(task) { looper.serveUntilFinished() }
        } else {
            looper.serveUntilFinished()
        }
        return try outcome.withLock { $0! }.get()
    }
}

/// A local object whose methods are `async`: each incoming call runs as a task while the looper
/// thread that received it serves it (``BinderObject/serveAsync(code:flags:_:)``): binder
/// replies on the receiving thread, and the calls the method makes go out from that thread.
///
/// The caller's identity is available as usual (``BinderProcess/callingIdentity``, through a
/// task-local value).
open class AsyncBinderObject: BinderObject, @unchecked Sendable {
    /// Handles a transaction; see ``BinderObject/onTransact(code:data:reply:flags:)`` for the
    /// errors it may throw.
    open func handleTransaction(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags)
        async throws
    {
        throw StatusCode.unknownTransaction
    }

    public final override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags)
        throws
    {
        let request = ParcelBox(data)
        let response = ParcelBox(reply)
        let outcome = Result { try serveAsync(code: code, flags: flags) { _ in
            var data = request.take()
            var reply = response.take()
            var failure: (any Error)?
            do {
                try await self.handleTransaction(code: code, data: &data, reply: &reply, flags: flags)
            } catch {
                failure = error
            }
            request.put(data)
            response.put(reply)
            return FailureBox(failure)
        } }
        data = request.take()
        reply = response.take()
        if let failure = try outcome.get().error { throw failure }
    }
}

/// An error moved out of a task (errors need not be `Sendable`).
private struct FailureBox: @unchecked Sendable {
    let error: (any Error)?
    init(_ error: (any Error)?) { self.error = error }
}

/// Moves a parcel between threads and tasks (it has one owner at a time).
final class ParcelBox: @unchecked Sendable {
    private var parcel: Parcel?

    init(_ parcel: consuming Parcel) {
        self.parcel = consume parcel
    }

    func take() -> Parcel {
        guard let parcel = parcel.take() else { preconditionFailure("parcel already taken") }
        return parcel
    }

    func put(_ value: consuming Parcel) {
        parcel = consume value
    }
}

/// A pthread mutex and condition variable in memory that never moves, for threads that must
/// block (Swift's `Mutex` has no condition variable).
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for a signal; call with the lock held.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal or until `timeout` passes; call with the lock held.
    func wait(timeout: Duration) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let (seconds, attoseconds) = timeout.components
        var nanoseconds = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var deadline = timespec(tv_sec: now.tv_sec + Int(seconds) + nanoseconds / 1_000_000_000, tv_nsec: 0)
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = nanoseconds
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    /// Waits while `condition` holds, for at most `timeout`; call with the lock held.
    func wait(while condition: () -> Bool, timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while condition() {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return }
            wait(timeout: remaining)
        }
    }

    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }
}

/// A value one thread waits for (with or without a timeout) and another provides; the first
/// value provided wins.
final class Waiter<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    func fulfill(_ newValue: Value) {
        lock.lock()
        if value == nil { value = newValue }
        lock.broadcast()
        lock.unlock()
    }

    func wait() -> Value {
        lock.lock()
        defer { lock.unlock() }
        while value == nil { lock.wait() }
        return value!
    }

    func wait(timeout: Duration) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        lock.wait(while: { value == nil }, timeout: timeout)
        return value
    }
}
