import Synchronization
@testable import SwiftBinder
import Testing

/// The threads async calls run their blocking binder calls on (`CallThreads`): bounded, in
/// order, and cancellable without losing a call that was already made. The bodies here block
/// on gates the tests open, as a binder call blocks in the driver until its reply.
@Suite struct CallThreadsTests {
    /// A gate blocking calls until opened, counting those that started and finished. The test
    /// awaits starts without blocking a thread of Swift's pool (the calls' tasks need it).
    final class Gate: @unchecked Sendable {
        let opened = Waiter<Bool>()
        let finished = Atomic<Int>(0)
        let running = Atomic<Int>(0)
        let mostAtOnce = Atomic<Int>(0)
        private let starts = Mutex<(count: Int, waiting: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

        var started: Int { starts.withLock { $0.count } }

        /// What a call does: note it runs, wait for the gate, end.
        func pass(_ value: Int) -> Int {
            let now = running.add(1, ordering: .relaxed).newValue
            _ = mostAtOnce.max(now, ordering: .relaxed)
            let ready = starts.withLock { starts -> [CheckedContinuation<Void, Never>] in
                starts.count += 1
                let count = starts.count
                let ready = starts.waiting.filter { $0.0 <= count }.map(\.1)
                starts.waiting.removeAll { $0.0 <= count }
                return ready
            }
            for continuation in ready { continuation.resume() }
            _ = opened.wait()
            running.subtract(1, ordering: .relaxed)
            finished.add(1, ordering: .relaxed)
            return value
        }

        /// Returns once `count` calls have started.
        func started(_ count: Int) async {
            await withCheckedContinuation { continuation in
                let now = starts.withLock { starts -> Bool in
                    if starts.count >= count { return true }
                    starts.waiting.append((count, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    @Test func moreCallsThanThreadsRunAtMostTheLimitAtOnceAndAllFinish() async throws {
        let threads = CallThreads(name: "test", limit: 2)
        let gate = Gate()
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<8 { group.addTask { try await threads.run { gate.pass(value) } } }
            await gate.started(2)
            #expect(threads.threadCount == 2)
            #expect(gate.started == 2)  // the others wait their turn
            gate.opened.fulfill(true)
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == Array(0..<8))
        #expect(gate.mostAtOnce.load(ordering: .relaxed) == 2)
        #expect(threads.stop(timeout: .seconds(5)) == 0)
    }

    /// Two calls handed over back to back while one thread is idle get two threads: the
    /// first here waits for the second (it would wait forever queued behind it).
    @Test func callsOutnumberingIdleThreadsGetThreadsOfTheirOwn() async throws {
        let threads = CallThreads(name: "test", limit: 2)
        #expect(try await threads.run { 1 } == 1)  // one thread, idle again
        let second = Waiter<Bool>()
        let outcome = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                async let first: Bool = threads.run { second.wait(timeout: .seconds(20)) ?? false }
                async let other: Bool = threads.run { second.fulfill(true); return true }
                let (a, b) = try await (first, other)
                return a && b
            }
            let result = try await group.next() ?? false
            group.cancelAll()
            return result
        }
        #expect(outcome)
        #expect(threads.stop(timeout: .seconds(5)) == 0)
    }

    @Test func aCancelledCallThatHasNotStartedIsNeverMade() async throws {
        let threads = CallThreads(name: "test", limit: 1)
        let gate = Gate()
        let first = Task { try await threads.run { gate.pass(1) } }
        await gate.started(1)
        let queued = Task { try await threads.run { gate.pass(2) } }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        gate.opened.fulfill(true)
        #expect(try await first.value == 1)
        #expect(threads.stop(timeout: .seconds(5)) == 0)
        #expect(gate.started == 1)
    }

    @Test func aCancelledCallInProgressReturnsAtOnceAndStillEnds() async throws {
        let threads = CallThreads(name: "test", limit: 1)
        let gate = Gate()
        let call = Task { try await threads.run { gate.pass(1) } }
        await gate.started(1)
        call.cancel()
        // Returned while the call is still blocked (the gate is closed).
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(gate.finished.load(ordering: .relaxed) == 0)
        gate.opened.fulfill(true)
        #expect(threads.stop(timeout: .seconds(5)) == 0)
        #expect(gate.finished.load(ordering: .relaxed) == 1)
    }

    @Test func stoppingFailsWaitingCallsAndWaitsForTheOneInProgress() async throws {
        let threads = CallThreads(name: "test", limit: 1)
        let gate = Gate()
        let running = Task { try await threads.run { gate.pass(1) } }
        await gate.started(1)
        let waiting = Task { try await threads.run { gate.pass(2) } }
        // The second call waits for the busy thread (or comes after the stop): it fails.
        #expect(threads.stop(timeout: .milliseconds(50)) == 1)  // still in its call
        let error = await #expect(throws: BinderError.self) { try await waiting.value }
        if let error, case .shutDown = error {} else if error != nil { Issue.record("\(error!)") }
        await #expect(throws: BinderError.self) { try await threads.run { 3 } }
        gate.opened.fulfill(true)
        #expect(try await running.value == 1)
        #expect(threads.stop(timeout: .seconds(5)) == 0)
    }
}
