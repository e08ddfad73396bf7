import Dispatch
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The looper threads of one process: real threads blocked in `BINDER_WRITE_READ`, never the
/// Swift concurrency pool.
final class ThreadPool: Sendable {
    private let name: String
    private let started = Atomic<Bool>(false)
    private let sequence = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The loopers that have not yet left their loop, and the threads the pool started.
    private let state = Mutex(State())
    /// Signalled once by every looper leaving its loop.
    private let exits = DispatchSemaphore(value: 0)

    private struct State {
        var live = 0
        var threads: [pthread_t] = []
    }

    init(name: String) {
        self.name = name
    }

    /// Threads started so far.
    var startedCount: Int { sequence.load(ordering: .relaxed) }

    /// Starts the main looper (`BC_ENTER_LOOPER`), once.
    func start(process: BinderProcess) {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        spawn(process: process, isMain: true)
    }

    /// Answers `BR_SPAWN_LOOPER` with a thread that registers (`BC_REGISTER_LOOPER`).
    func spawnLooper(process: BinderProcess) {
        spawn(process: process, isMain: false)
    }

    /// The calling thread joins as a main looper until the pool stops.
    func join(process: BinderProcess) {
        guard enter() else { return }
        process.threadState().joinThreadPool(isMain: true)
        leave()
    }

    /// Counts a looper in, unless the pool is stopping.
    private func enter() -> Bool {
        state.withLock { state in
            guard !stopping.load(ordering: .sequentiallyConsistent) else { return false }
            state.live += 1
            return true
        }
    }

    private func leave() {
        state.withLock { $0.live -= 1 }
        exits.signal()
    }

    private func spawn(process: BinderProcess, isMain: Bool) {
        guard enter() else { return }
        let number = sequence.add(1, ordering: .relaxed).newValue
        let threadName = Self.threadName(device: name, suffix: ":\(getpid())_\(String(number, radix: 16))")
        // The new thread is recorded before it can leave, so stop() joins every thread it counted.
        state.withLock { state in
            let started = startThread(named: threadName) { [self] in
                process.threadState().joinThreadPool(isMain: isMain)
                leave()
            }
            switch started {
            case .success(let thread):
                state.threads.append(thread)
            case .failure(let errno):
                state.live -= 1
                process.logger.error("could not start a binder looper thread", metadata: ["errno": "\(errno)"])
            }
        }
    }

    /// Stops every looper and joins the threads the pool started: sets the flag the loopers
    /// check, wakes them all with one driver flush (see ``BinderDriver/wakeAllThreads()``), and
    /// waits for each to leave its loop. No looper is started after the flag is set.
    ///
    /// - Parameters:
    ///   - callerIsLooper: the caller is itself a looper (shutting down from inside a
    ///     transaction): it leaves its loop after this returns, and is not waited for.
    ///   - timeout: how long loopers busy in a transaction may take to finish it.
    /// - Returns: how many loopers did not stop in time (their threads are left running).
    @discardableResult
    func stop(driver: any BinderDriver, callerIsLooper: Bool, timeout: Duration = .seconds(10)) -> Int {
        state.withLock { _ in stopping.store(true, ordering: .sequentiallyConsistent) }
        driver.wakeAllThreads()
        let remaining = callerIsLooper ? 1 : 0
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let deadline = DispatchTime.now() + .nanoseconds(Int(nanoseconds))
        while state.withLock({ $0.live }) > remaining {
            if exits.wait(timeout: deadline) == .timedOut { break }
        }
        let (stuck, threads) = state.withLock { state in
            defer { state.threads.removeAll() }
            return (state.live - remaining, state.threads)
        }
        guard stuck <= 0 else {
            // Joining would block on a thread that is still serving: leave them all running.
            return stuck
        }
        let current = pthread_self()
        for thread in threads {
            // A looper stopping its own pool cannot join itself: it is detached and ends alone.
            if pthread_equal(thread, current) != 0 { pthread_detach(thread) } else { pthread_join(thread, nil) }
        }
        return 0
    }
}

extension ThreadPool {
    /// A thread name of at most 15 bytes (the kernel's limit): the device name shortened, the
    /// suffix kept.
    static func threadName(device: String, suffix: String) -> String {
        String(decoding: device.utf8.prefix(max(15 - suffix.utf8.count, 0)), as: UTF8.self) + suffix
    }
}

/// Starts a thread named `name` running `body`: the thread, to join or detach, or the errno of
/// `pthread_create`.
func startThread(named name: String, _ body: @escaping () -> Void) -> Result<pthread_t, Errno> {
    let context = Unmanaged.passRetained(ThreadStart {
        nameCurrentThread(name)
        body()
    })
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context.toOpaque())
    guard result == 0 else {
        context.release()
        return .failure(Errno(rawValue: result))
    }
    return .success(thread)
}

/// Starts a detached thread named `name` running `body`; the errno of `pthread_create` when
/// there is none.
@discardableResult
func startDetachedThread(named name: String, _ body: @escaping () -> Void) -> Errno? {
    switch startThread(named: name, body) {
    case .success(let thread):
        pthread_detach(thread)
        return nil
    case .failure(let errno):
        return errno
    }
}

/// Names the calling thread (what `ps -L` and debuggers show). Glibc's `pthread_setname_np`
/// needs `_GNU_SOURCE`, which Swift's Glibc module does not define; the kernel's own interface
/// is the thread's `comm` file.
private func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = name.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
}

/// The body of a new thread, passed through pthread_create's context pointer.
private final class ThreadStart {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
