// Notifications from the driver as async sequences: each starts the process's thread pool (a
// looper hears them), registers with the kernel for as long as it is iterated or held, and
// unregisters when the consumer stops (the stream is cancelled or dropped).

extension BinderProxy {
    /// The object's death: one element when its process dies (at once if it is dead already),
    /// then the end. Made with ``linkToDeath(_:)``; the link goes when the stream ends or is
    /// dropped.
    ///
    /// ```swift
    /// for await _ in try proxy.deathEvents() { reconnect() }
    /// ```
    public func deathEvents() throws(BinderError) -> AsyncStream<Void> {
        process.startThreadPool()
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let link = try linkToDeath {
            continuation.yield()
            continuation.finish()
        }
        // Holds the proxy while the stream lives (no `weak` reference: see UnretainedReference).
        continuation.onTermination = { _ in try? self.unlinkToDeath(link) }
        return stream
    }

    /// The object's process being frozen (`true`) and thawed (`false`), as the kernel reports
    /// it (Linux 6.12 and later): the current state first, then each change. Made with
    /// ``addFrozenStateCallback(_:)``, removed when the stream ends or is dropped.
    public func frozenStateChanges() throws(BinderError) -> AsyncStream<Bool> {
        process.startThreadPool()
        let (stream, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let link = try addFrozenStateCallback { continuation.yield($0) }
        continuation.onTermination = { _ in try? self.removeFrozenStateCallback(link) }
        return stream
    }
}

extension ServiceManager {
    /// Each service registered under `name`, as servicemanager announces it (at once for one
    /// that is registered already). Made with ``registerForNotifications(_:_:)``, unregistered
    /// when the stream is cancelled or dropped.
    public func registrations(of name: String) throws(RemoteError) -> AsyncStream<any IBinder> {
        process.startThreadPool()
        let (stream, continuation) = AsyncStream<any IBinder>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let registration = try registerForNotifications(name) { _, service in continuation.yield(service) }
        let process = self.process
        continuation.onTermination = { _ in
            // A binder call: made on a call thread, not on the task that stopped iterating.
            Task { try? await process.callThreads.run { try self.unregisterForNotifications(registration) } }
        }
        return stream
    }

    /// ``waitForService(_:timeout:)`` for async code: servicemanager's `getService` first, then
    /// the registration announced (``registrations(of:)``), asking `getService` again every
    /// second meanwhile, as libbinder's `waitForService` does; nil once `timeout` passes. The
    /// binder calls run on the process's call threads; cancelling the task ends the wait.
    public func waitForService(_ name: String, timeout: Duration) async throws -> (any IBinder)? {
        let process = self.process
        let lookUp: @Sendable () async throws -> (any IBinder)? = {
            try await process.runBlockingCall { try self.getServiceOnce(name) }
        }
        if let service = try await lookUp() { return service }
        let deadline = ContinuousClock.now + timeout
        // getService again every second until the deadline.
        let poll: @Sendable () async throws -> (any IBinder)? = {
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: min(deadline - ContinuousClock.now, .seconds(1)))
                if let service = try await lookUp() { return service }
            }
            return nil
        }
        // No notifications on Android 10: libbinder polls there.
        if release == .android10 { return try await poll() }
        // Registering is a binder call too: made off Swift's pool.
        let announced = try await process.runBlockingCall { try self.registrations(of: name) }
        return try await withThrowingTaskGroup(of: (any IBinder)?.self) { group in
            group.addTask {
                for await service in announced { return service }
                return nil
            }
            group.addTask { try await poll() }
            defer { group.cancelAll() }
            let found = try await group.next() ?? nil
            // A cancelled wait ends the announcements too: it is a cancellation, not a timeout.
            if found == nil { try Task.checkCancellation() }
            return found
        }
    }
}
