import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Binder calls block their thread in the driver. Swift concurrency's threads must never block,
// so async calls run on a small pool of dedicated threads, and async service methods run as
// tasks while the looper thread that received the call waits for them.

extension IBinder {
    /// Sends a synchronous transaction from async code without blocking the concurrency pool:
    /// the call runs on a dedicated thread and the task resumes with its reply.
    public func transact(code: UInt32, data: consuming Parcel, flags: TransactionFlags = []) async throws(BinderError)
        -> Parcel
    {
        let request = ParcelBox(data)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ParcelBox, BinderError>, Never>) in
            BlockingCallExecutor.shared.run {
                let parcel = request.take()
                do throws(BinderError) {
                    continuation.resume(returning: .success(ParcelBox(try self.transact(code: code, data: parcel, flags: flags))))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get().take()
    }
}

/// A local object whose methods are `async`: each incoming call runs as a task while the looper
/// thread that received it waits (binder replies on the receiving thread).
///
/// The caller's identity is available as usual (``BinderProcess/callingIdentity``, through a
/// task-local value). Calls the method makes go out from a thread of their own, not the looper
/// that waits: a callback into a caller that has no looper thread of its own cannot be served.
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
        let outcome = Waiter<(any Error)?>()
        let caller = ThreadStateKey.currentCaller()
        Task {
            await CallerIdentity.$ofCurrentTask.withValue(caller) {
                var data = request.take()
                var reply = response.take()
                var failure: (any Error)?
                do {
                    try await handleTransaction(code: code, data: &data, reply: &reply, flags: flags)
                } catch {
                    failure = error
                }
                request.put(data)
                response.put(reply)
                outcome.fulfill(failure)
            }
        }
        let failure = outcome.wait()
        data = request.take()
        reply = response.take()
        if let failure { throw failure }
    }
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
        let deadline = ContinuousClock.now + timeout
        lock.lock()
        defer { lock.unlock() }
        while value == nil {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            lock.wait(timeout: remaining)
        }
        return value
    }
}

/// Dedicated threads for blocking calls made from async code; threads are added while every
/// existing one is busy, up to a cap, and wait for work when idle.
final class BlockingCallExecutor: @unchecked Sendable {
    static let shared = BlockingCallExecutor(maximumThreads: 16)

    private let maximumThreads: Int
    private let lock = ConditionLock()
    private var queue: [() -> Void] = []
    private var threads = 0
    private var idle = 0

    init(maximumThreads: Int) {
        self.maximumThreads = maximumThreads
    }

    func run(_ job: @escaping () -> Void) {
        lock.lock()
        queue.append(job)
        let spawn = idle == 0 && threads < maximumThreads
        if spawn { threads += 1 }
        lock.signal()
        lock.unlock()
        if spawn { startWorker() }
    }

    private func startWorker() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self)
        let result = pthread_create(
            &thread, nil,
            { raw in
                let executor = Unmanaged<BlockingCallExecutor>.fromOpaque(raw!).takeRetainedValue()
                executor.work()
                return nil
            }, context.toOpaque())
        if result == 0 {
            pthread_detach(thread)
        } else {
            context.release()
            lock.lock()
            threads -= 1
            lock.unlock()
        }
    }

    private func work() {
        lock.lock()
        while true {
            while queue.isEmpty {
                idle += 1
                lock.wait()
                idle -= 1
            }
            let job = queue.removeFirst()
            lock.unlock()
            job()
            lock.lock()
        }
    }
}
