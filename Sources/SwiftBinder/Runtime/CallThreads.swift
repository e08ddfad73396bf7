import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The threads a process makes its binder calls on for async code.
///
/// A binder call blocks its thread in the driver until the reply comes. Swift concurrency's
/// threads must not block, so an async call (`IBinder.call(...) async`, a generated
/// `AsyncProxy`) hands its blocking call to one of these threads and suspends. AOSP's Rust
/// backend does the same in the async proxies it generates (`IFooAsync`, which spawn the
/// blocking call on a thread pool).
///
/// - The threads belong to one process: at most ``limit``, started as calls need them. Calls
///   beyond the limit wait their turn, in order.
/// - An awaiting task that is cancelled gets `CancellationError` at once. A call that has not
///   started is never sent. One already sent runs to its end on its thread: its reply is read
///   and its buffer freed, and the result is dropped.
/// - ``stop(timeout:)`` (the process's shutdown) fails the calls still waiting with
///   ``BinderError/shutDown`` and waits for the threads to finish the calls they are making.
package final class CallThreads: @unchecked Sendable {
    /// The threads async code calls local objects on (in place, without the driver): their
    /// handlers may block, or be async methods whose looper waits for their task.
    static let forLocalObjects = CallThreads(name: "local", limit: 4)

    /// The most threads this process makes blocking calls on at once.
    package let limit: Int
    private let name: String

    // Guarded by `lock`.
    private let lock = ConditionLock()
    private var queue: [any CallJob] = []
    private var queueStart = 0
    private var threads = 0
    private var idle = 0
    private var stopping = false
    private var sequence = 0

    package init(name: String, limit: Int) {
        self.name = name
        self.limit = max(limit, 1)
    }

    /// Runs `body` on one of the threads and returns what it returns, or throws what it throws;
    /// `CancellationError` at once when the awaiting task is cancelled.
    package func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        let job = Job(body)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                guard job.attach(continuation) else { return }
                submit(job)
            }
        } onCancel: {
            job.cancel()
        }
    }

    /// How many threads exist now (for tests and diagnostics).
    package var threadCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return threads
    }

    private func submit(_ job: any CallJob) {
        lock.lock()
        guard !stopping else {
            lock.unlock()
            job.abandon(BinderError.shutDown)
            return
        }
        queue.append(job)
        // A thread more while the calls waiting outnumber the idle threads (an idle thread
        // signalled but not yet awake still counts as idle, and takes one call).
        let spawn = queue.count - queueStart > idle && threads < limit
        if spawn {
            threads += 1
            sequence += 1
        }
        let number = sequence
        lock.signal()
        lock.unlock()
        if spawn { startCallThread(number: number) }
    }

    /// The next queued call (the lock held).
    private func dequeue() -> (any CallJob)? {
        guard queueStart < queue.count else { return nil }
        let job = queue[queueStart]
        queueStart += 1
        if queueStart == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueStart = 0
        }
        return job
    }

    private func startCallThread(number: Int) {
        let threadName = ThreadPool.threadName(device: name, suffix: ":call_\(number)")
        if let errno = startDetachedThread(named: threadName, { [self] in work() }) {
            // No thread: queued calls wait for an existing one; with none at all they fail.
            lock.lock()
            threads -= 1
            var orphans: [any CallJob] = []
            if threads == 0 { while let job = dequeue() { orphans.append(job) } }
            lock.broadcast()
            lock.unlock()
            let error = BinderError.systemCall("pthread_create", path: nil, errno: errno)
            for job in orphans { job.abandon(error) }
        }
    }

    private func work() {
        lock.lock()
        while true {
            if let job = dequeue() {
                lock.unlock()
                job.execute()
                lock.lock()
                continue
            }
            if stopping { break }
            idle += 1
            lock.wait()
            idle -= 1
        }
        threads -= 1
        lock.broadcast()
        lock.unlock()
    }

    /// Fails the calls still queued with ``BinderError/shutDown``, refuses new ones, and waits up
    /// to `timeout` for the threads to finish the calls they are making. Returns how many
    /// threads were still busy then (each ends after its call).
    @discardableResult
    package func stop(timeout: Duration) -> Int {
        lock.lock()
        stopping = true
        var pending: [any CallJob] = []
        while let job = dequeue() { pending.append(job) }
        lock.broadcast()
        lock.unlock()
        for job in pending { job.abandon(BinderError.shutDown) }

        lock.lock()
        defer { lock.unlock() }
        lock.wait(while: { threads > 0 }, timeout: timeout)
        return threads
    }
}

/// A queued call, type-erased.
private protocol CallJob: AnyObject, Sendable {
    /// On a call thread: makes the call, unless its task was cancelled before it started.
    func execute()
    /// Fails the call without making it.
    func abandon(_ error: any Error)
}

/// One call and the task waiting for it; the task is resumed exactly once.
private final class Job<Value: Sendable>: CallJob, @unchecked Sendable {
    private let body: @Sendable () throws -> Value
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var cancelled = false
    }
    private let state = Mutex(State())

    init(_ body: @escaping @Sendable () throws -> Value) {
        self.body = body
    }

    /// Parks the waiting task; false when it was cancelled already (and is resumed so).
    func attach(_ continuation: CheckedContinuation<Value, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// The task was cancelled: it resumes now, whatever the call is doing.
    func cancel() {
        let continuation = state.withLock { state in
            state.cancelled = true
            return state.continuation.take()
        }
        continuation?.resume(throwing: CancellationError())
    }

    func execute() {
        guard !state.withLock({ $0.cancelled }) else { return }
        let result = Result { try body() }
        // Nil: the task was cancelled during the call, which has ended (its reply read and
        // freed inside `body`); the result goes.
        state.withLock { $0.continuation.take() }?.resume(with: result)
    }

    func abandon(_ error: any Error) {
        state.withLock { $0.continuation.take() }?.resume(throwing: error)
    }
}
