import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// A process's binder threads as a service of a swift-service-lifecycle `ServiceGroup`: its
/// loopers serve from ``run()`` until the group shuts down gracefully (SIGTERM, SIGINT, another
/// service ending), and then ``BinderProcess/shutdown(timeout:)`` stops them and joins them.
///
/// ```swift
/// try process.becomeContextManager(service)
/// let group = ServiceGroup(
///     services: [BinderThreadPoolService(process: process)],
///     gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
// `Service` is ServiceLifecycle's: AIDL's `android.os.Service` union lives in its package's
// namespace, not at the top level.
public struct BinderThreadPoolService: Service {
    public let process: BinderProcess
    /// How long loopers still serving a call may take to finish it at shutdown.
    public var shutdownTimeout: Duration
    /// Called once the loopers serve, and the group's signal handling is in place: where a
    /// daemon says it is ready (a signal before that would end it abruptly).
    public var onReady: @Sendable () -> Void

    public init(process: BinderProcess, shutdownTimeout: Duration = .seconds(10), onReady: @escaping @Sendable () -> Void = {}) {
        self.process = process
        self.shutdownTimeout = shutdownTimeout
        self.onReady = onReady
    }

    public func run() async throws {
        process.startThreadPool()
        onReady()
        // Returns when the group shuts down gracefully; throws when the task is cancelled.
        try? await gracefulShutdown()
        let process = self.process
        let timeout = shutdownTimeout
        // Joining the loopers blocks: on a thread of its own, not one of Swift's pool.
        let stuck = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            let failed = startDetachedThread(named: "binder-stop") { continuation.resume(returning: process.shutdown(timeout: timeout)) }
            if failed != nil { continuation.resume(returning: process.shutdown(timeout: timeout)) }
        }
        if stuck > 0 { throw BinderError.unsupported("\(stuck) binder looper thread(s) still serving after \(timeout)") }
    }
}

/// An ``RpcServer`` as a swift-service-lifecycle service: it serves from `run()` until the
/// group shuts down gracefully, then closes its connections and joins their threads.
public struct RpcServerService: Service {
    public let server: RpcServer
    /// Called once the server accepts connections.
    public var onReady: @Sendable () -> Void

    public init(server: RpcServer, onReady: @escaping @Sendable () -> Void = {}) {
        self.server = server
        self.onReady = onReady
    }

    public func run() async throws {
        server.start()
        onReady()
        try? await gracefulShutdown()
        let server = self.server
        // Joining the connection threads blocks: on a thread of its own.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let failed = startDetachedThread(named: "rpc-stop") {
                server.shutdown()
                continuation.resume()
            }
            if failed != nil {
                server.shutdown()
                continuation.resume()
            }
        }
    }
}
