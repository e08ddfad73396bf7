import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The looper threads of one process: real threads blocked in `BINDER_WRITE_READ`, never the
/// Swift concurrency pool.
final class ThreadPool: Sendable {
    private let name: String
    private let started = Atomic<Bool>(false)
    private let sequence = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let threads = Mutex<[pthread_t]>([])
    private let stopping = Atomic<Bool>(false)

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
        running.add(1, ordering: .relaxed)
        defer { running.subtract(1, ordering: .relaxed) }
        process.threadState().joinThreadPool(isMain: true)
    }

    private func spawn(process: BinderProcess, isMain: Bool) {
        guard !stopping.load(ordering: .relaxed) else { return }
        let number = sequence.add(1, ordering: .relaxed).newValue
        // Thread names are at most 15 bytes: shorten the device name, keep "pid_n".
        let suffix = ":\(getpid())_\(String(number, radix: 16))"
        let threadName = String(decoding: name.utf8.prefix(max(15 - suffix.utf8.count, 0)), as: UTF8.self) + suffix
        running.add(1, ordering: .relaxed)
        let start = ThreadStart { [self] in
            nameCurrentThread(threadName)
            process.threadState().joinThreadPool(isMain: isMain)
            running.subtract(1, ordering: .relaxed)
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(start)
        let result = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, context.toOpaque())
        guard result == 0 else {
            running.subtract(1, ordering: .relaxed)
            context.release()
            process.logger.error("could not start a binder looper thread", metadata: ["errno": "\(result)"])
            return
        }
        threads.withLock { $0.append(thread) }
    }

    /// Stops every looper: sets the flag they check, wakes those blocked in the driver (closing
    /// a duplicate of the device's descriptor makes the driver return to every waiting thread),
    /// and joins the threads the pool started.
    ///
    /// - Parameter callerIsLooper: the caller is itself a looper of this pool (shutting down
    ///   from inside a transaction): it is not waited for.
    func stop(device: BinderDevice.View, callerIsLooper: Bool) {
        stopping.store(true, ordering: .sequentiallyConsistent)
        let current = pthread_self()
        // A looper busy in a long transaction (or waiting on the caller) gets 10 s.
        var attempts = 0
        while running.load(ordering: .sequentiallyConsistent) > (callerIsLooper ? 1 : 0), attempts < 5_000 {
            let duplicate = dup(device.fileDescriptor.rawValue)
            if duplicate >= 0 { close(duplicate) }
            usleep(2_000)
            attempts += 1
        }
        guard attempts < 5_000 else { return }
        let all = threads.withLock { threads in
            defer { threads.removeAll() }
            return threads
        }
        for thread in all where pthread_equal(thread, current) == 0 {
            pthread_join(thread, nil)
        }
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
