import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Binder calls block their thread in the driver. Swift concurrency's threads must never block,
// so async calls run on their process's call threads (``CallThreads``), and async service
// methods run as tasks while the looper thread that received the call waits for them.

extension IBinder {
    /// Sends a synchronous transaction from async code without blocking the concurrency pool:
    /// a proxy's call runs on its process's call threads and the task resumes with its reply.
    /// A local object answers in place.
    ///
    /// - Throws: `CancellationError` at once when the task is cancelled (a call already sent
    ///   still ends on its thread, and its reply is freed there).
    public func transact(code: UInt32, data: consuming Parcel, flags: TransactionFlags = []) async throws -> Parcel {
        guard let proxy = self as? BinderProxy else { return try transactInPlace(code: code, data: data, flags: flags) }
        let request = ParcelBox(data)
        return try await proxy.process.callThreads.run {
            ParcelBox(try proxy.transact(code: code, data: request.take(), flags: flags))
        }.take()
    }

    /// ``call(code:interface:flags:arguments:result:)`` from async code, without blocking the
    /// concurrency pool: what generated `AsyncProxy` methods call. A proxy's call runs on its
    /// process's call threads (``BinderProcess/asyncCallThreads``); a local object answers in
    /// place.
    ///
    /// - Throws: as the blocking call; `CancellationError` at once when the task is cancelled
    ///   (a call already sent still ends on its thread, and its reply is freed there).
    public func call<Result: Sendable>(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: @escaping @Sendable (inout Parcel) throws -> Void,
        result: @escaping @Sendable (inout Parcel) throws -> Result
    ) async throws -> Result {
        guard let proxy = self as? BinderProxy else {
            return try callInPlace(code: code, interface: interface, flags: flags, arguments: arguments, result: result)
        }
        return try await proxy.process.callThreads.run {
            try proxy.call(code: code, interface: interface, flags: flags, arguments: arguments, result: result)
        }
    }

    /// ``callOneway(code:interface:flags:arguments:)`` from async code (see
    /// ``call(code:interface:flags:arguments:result:)-async``).
    public func callOneway(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: @escaping @Sendable (inout Parcel) throws -> Void
    ) async throws {
        guard let proxy = self as? BinderProxy else {
            return try callOnewayInPlace(code: code, interface: interface, flags: flags, arguments: arguments)
        }
        try await proxy.process.callThreads.run {
            try proxy.callOneway(code: code, interface: interface, flags: flags, arguments: arguments)
        }
    }
}

// The blocking calls under names of their own, for the async functions above (where the same
// name would mean the async overload).
extension IBinder {
    fileprivate func transactInPlace(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws -> Parcel {
        try transact(code: code, data: data, flags: flags)
    }

    fileprivate func callInPlace<Result>(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws -> Void, result: (inout Parcel) throws -> Result
    ) throws -> Result {
        try call(code: code, interface: interface, flags: flags, arguments: arguments, result: result)
    }

    fileprivate func callOnewayInPlace(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags, arguments: (inout Parcel) throws -> Void
    ) throws {
        try callOneway(code: code, interface: interface, flags: flags, arguments: arguments)
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
