import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults, load and leaks with real processes: a service dies mid-call, clients come and go by
/// the hundred, garbage by the thousand, floods of oneway calls. Bounded for CI;
/// SWIFTBINDER_SOAK_SCALE multiplies the counts for longer runs on demand.
@Suite(.requiresBinder) struct ReliabilityTests {
    static let scale = Int(getenv("SWIFTBINDER_SOAK_SCALE").map { String(cString: $0) } ?? "1") ?? 1

    /// The peer's TestService as context manager, and a client.
    final class Served {
        let device: TestDevice
        let server: ChildProcess
        let client: BinderProcess
        let service: BinderProxy

        init(_ label: String) throws {
            device = try TestDevice(label)
            server = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["serve", device.path.string])
            guard try server.readLine() == "ready" else { throw BinderError.unsupported("peer") }
            client = try BinderProcess(path: device.path)
            service = try client.contextObject
        }

        func call(_ code: TestServiceCode, _ write: (inout Parcel) -> Void = { _ in }) throws -> Parcel {
            var request = Parcel()
            write(&request)
            return try service.transact(code: code.rawValue, data: request)
        }

        deinit { client.shutdown() }
    }

    @Test func aServerKilledMidCallGivesADeadTargetPromptly() throws {
        let served = try Served("midcall")
        let outcome = Mutex<(BinderError?, Double)?>(nil)
        let service = served.service
        onThreadsDetached {
            do throws(BinderError) {
                _ = try service.transact(code: TestServiceCode.block.rawValue, data: Parcel())
                outcome.withLock { $0 = (nil, monotonicSeconds()) }
            } catch {
                outcome.withLock { $0 = (error, monotonicSeconds()) }
            }
        }
        // The server says when it has the call: the kill lands mid-call, not before it.
        try #require(try served.server.readLine() == "in call")
        let killed = monotonicSeconds()
        kill(served.server.pid, SIGKILL)
        #expect(eventually(within: 5) { outcome.withLock { $0 } != nil })
        let (error, when) = try #require(outcome.withLock { $0 })
        guard case .transactionFailed(.deadTarget, _)? = error else {
            Issue.record("expected a dead target, got \(String(describing: error))")
            return
        }
        #expect(when - killed < 5)  // the server never replies: only its death ends the call
    }

    @Test func tenThousandGarbageTransactionsThenNormalService() throws {
        let device = try TestDevice("garbage10k")
        let daemon = try ChildProcess(ChildProcess.builtProduct("servicemanager"), ["--device", device.path.string, "--log-level", "critical"])
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        let handle = try process.contextObject
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 256)
        for _ in 0..<(10_000 * Self.scale) {
            var garbage = Parcel()
            let count = Int.random(in: 0...bytes.count, using: &generator)
            for index in 0..<count { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
            bytes.withUnsafeBytes { garbage.writeBytes(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            _ = try? handle.transact(code: UInt32.random(in: 0...20, using: &generator), data: garbage)
        }
        #expect(try manager?.checkService("manager") != nil)
        #expect(try manager?.listServices() == ["manager"])
        _ = daemon
    }

    @Test func servicesRegisterAgainWhenServiceManagerRestarts() throws {
        let device = try TestDevice("restart")
        let arguments = ["--device", device.path.string, "--log-level", "critical"]
        var daemon = try ChildProcess(ChildProcess.builtProduct("servicemanager"), arguments)
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        let keeper = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["sm-keep", device.path.string, "test.kept"])
        #expect(try keeper.readLine() == "ready")
        #expect(try manager?.checkService("test.kept") != nil)
        // A client watching handle 0 sees servicemanager die.
        let died = Atomic<Int>(0)
        process.startThreadPool()
        _ = try process.contextObject.linkToDeath { died.add(1, ordering: .relaxed) }
        kill(daemon.pid, SIGKILL)
        _ = try daemon.waitForExit()
        #expect(eventually(within: 5) { died.load(ordering: .relaxed) == 1 })
        // A new servicemanager: the service registers itself again.
        daemon = try ChildProcess(ChildProcess.builtProduct("servicemanager"), arguments)
        #expect(eventually(within: 30) { (try? manager?.checkService("test.kept")) != nil })
        _ = keeper
    }

    @Test func serviceManagerReferencesReturnToBaselineAfterAHundredClients() throws {
        let device = try TestDevice("hundred")
        try device.binderfs.setAccess(ofDevice: device.name, mode: FilePermissions(rawValue: 0o666))
        let daemon = try ChildProcess(ChildProcess.builtProduct("servicemanager"), ["--device", device.path.string, "--log-level", "critical"])
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        _ = eventually(within: 30) { (try? ServiceManager(process: process)) != nil }
        let logs = device.binderfs.mountPoint.appending("binder_logs/proc/\(daemon.pid)")
        func counts() -> (references: Int, nodes: Int) {
            let text = readText(logs)
            let lines = text.split(separator: "\n")
            return (lines.filter { $0.hasPrefix("  ref ") }.count, lines.filter { $0.hasPrefix("  node ") }.count)
        }
        let baseline = counts()
        for _ in 0..<(10 * Self.scale) {
            let batch = try (0..<10).map { _ in
                try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["sm-client", device.path.string])
            }
            for client in batch {
                #expect(try client.readLine() == "ok")
                #expect(try client.waitForExit() == 0)
            }
        }
        // Each client's callback dies with it; servicemanager drops its references.
        #expect(eventually(within: 5) { counts() == baseline }, "baseline \(baseline), now \(counts())")
    }

    @Test func clientsThatDieWhileServiceManagerRepliesLeaveItServing() throws {
        let device = try TestDevice("diereply")
        let daemon = try ChildProcess(ChildProcess.builtProduct("servicemanager"), ["--device", device.path.string, "--log-level", "critical"])
        let process = try BinderProcess(path: device.path)
        defer { process.shutdown() }
        var manager: ServiceManager?
        _ = eventually(within: 30) {
            manager = try? ServiceManager(process: process)
            return manager != nil
        }
        let logs = device.binderfs.mountPoint.appending("binder_logs")
        func counts() -> (references: Int, nodes: Int) {
            let lines = readText(logs.appending("proc/\(daemon.pid)")).split(separator: "\n")
            return (lines.filter { $0.hasPrefix("  ref ") }.count, lines.filter { $0.hasPrefix("  node ") }.count)
        }
        let baseline = counts()
        // Each client asks for a binder and exits without reading the reply: at once, or a
        // little later (the reply then waits in a thread that dies).
        for index in 0..<(50 * Self.scale) {
            let client = try ChildProcess(
                ChildProcess.builtProduct("binder-test-peer"), ["sm-call-and-die", device.path.string, String(index % 3 * 500)])
            #expect(try client.waitForExit() == 0)
        }
        #expect(eventually(within: 5) { counts() == baseline }, "baseline \(baseline), now \(counts())")
        // servicemanager carried on. (The kernel refuses the replies whose caller is gone and
        // logs them in failed_transaction_log, but that log is a ring of 32 entries shared by
        // every test running at once, so it is not counted here.)
        #expect(kill(daemon.pid, 0) == 0)
        #expect(try manager?.checkService("manager") != nil)
        #expect(try manager?.listServices() == ["manager"])
    }

    @Test func fileDescriptorsStayFlatOverAThousandPasses() throws {
        let served = try Served("fdflat")
        func serverDescriptors() throws -> Int32 {
            var reply = try served.call(.openFileDescriptors)
            return try reply.readInt32()
        }
        // The client is a process of its own: this test process opens and closes descriptors
        // for other tests all the time.
        _ = try ChildProcess(
            ChildProcess.builtProduct("binder-test-peer"), ["fd-passes", served.device.path.string, "20"]
        ).readAll()
        let serverBefore = try serverDescriptors()
        let client = try ChildProcess(
            ChildProcess.builtProduct("binder-test-peer"), ["fd-passes", served.device.path.string, String(1000 * Self.scale)])
        let counts = try client.readAll().split(separator: " ").map { Int($0) }
        #expect(try client.waitForExit() == 0)
        #expect(counts.count == 2 && counts[0] != nil && counts[0] == counts[1], "client descriptors before and after: \(counts)")
        #expect(try serverDescriptors() == serverBefore)
    }

    @Test(.requiresDriverFeature(\.onewaySpamDetection, "oneway_spam_detection"))
    func aOnewayFloodIsReportedAndTheServiceRecovers() throws {
        let served = try Served("flood")
        var deliveries: [OnewayDelivery] = []
        var refusedWhenFull = false
        let payload = [UInt8](repeating: 0x42, count: 8 * 1024)
        for _ in 0..<120 {
            var request = Parcel()
            request.writeInt32(20_000)  // each one takes the service 20 ms
            request.writeBytes(payload)
            let result = Result { () throws(BinderError) -> OnewayDelivery in
                try served.service.transactOneway(code: TestServiceCode.slowOneway.rawValue, data: request)
            }
            switch result {
            case .success(let delivery):
                deliveries.append(delivery)
            case .failure(let error):
                // The async half of the service's buffer is full (ENOSPC): refused, not queued.
                let isFull: Bool
                if case .transactionFailed(.failed, let extended) = error {
                    isFull = extended == nil || extended?.errno == -28
                } else {
                    isFull = false
                }
                #expect(isFull, "unexpected \(error)")
                refusedWhenFull = true
            }
            if refusedWhenFull { break }
        }
        // Before it was full, the driver flagged this process as the spammer.
        #expect(deliveries.contains(.spamSuspected))
        #expect(refusedWhenFull || deliveries.count == 120)
        // Nothing deadlocked: a sync call gets through, and the queue drains.
        var reply = try served.call(.echo) { $0.writeString16("still here") }
        #expect(try reply.readString16() == "still here")
    }

    @Test func aNonRootProcessCannotTakeOverTheContextManager() throws {
        let served = try Served("takeover")
        try served.device.binderfs.setAccess(ofDevice: served.device.name, mode: FilePermissions(rawValue: 0o666))
        let intruder = try ChildProcess(
            ChildProcess.builtProduct("binder-test-peer"), ["become-context-manager", served.device.path.string, "1000"])
        let outcome = try intruder.readAll()
        #expect(outcome == "EBUSY" || outcome == "EPERM")
        try served.service.ping()
    }

    @Test func memoryStaysFlatOverManyCalls() throws {
        let served = try Served("memory")
        func serverHeap() throws -> Int64 {
            var reply = try served.call(.heapBytesInUse)
            return try reply.readInt64()
        }
        // Both sides are processes of their own, so their heaps hold only this test's calls
        // (this test process allocates for every test running beside it). A leak of one small
        // allocation per call (malloc gives at least 16 bytes) grows a side by 16 × calls or more;
        // the bound allows one byte per call.
        let calls = 5_000 * Self.scale
        _ = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["echo-calls", served.device.path.string, "2000"]).readAll()
        let serverBefore = try serverHeap()
        let client = try ChildProcess(
            ChildProcess.builtProduct("binder-test-peer"), ["echo-calls", served.device.path.string, String(calls)])
        let heap = try client.readAll().split(separator: " ").compactMap { Int($0) }
        #expect(try client.waitForExit() == 0)
        try #require(heap.count == 2 && heap[0] > 0, "client heap before and after: \(heap)")
        #expect(heap[1] - heap[0] < calls, "the client's heap grew by \(heap[1] - heap[0]) bytes over \(calls) calls")
        let serverGrowth = try serverHeap() - serverBefore
        #expect(serverGrowth < Int64(calls), "the service's heap grew by \(serverGrowth) bytes over \(calls) calls")
    }
}

func readText(_ path: FilePath) -> String {
    guard let fd = try? FileDescriptor.open(path, .readOnly) else { return "" }
    defer { try? fd.close() }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while let count = try? chunk.withUnsafeMutableBytes({ try fd.read(into: $0) }), count > 0 { bytes += chunk[..<count] }
    return String(decoding: bytes, as: UTF8.self)
}

/// Runs `body` on a thread of its own without waiting for it.
func onThreadsDetached(_ body: @escaping @Sendable () -> Void) {
    final class Start {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    var thread = pthread_t()
    let start = Unmanaged.passRetained(Start(body))
    pthread_create(&thread, nil, { Unmanaged<Start>.fromOpaque($0!).takeRetainedValue().run(); return nil }, start.toOpaque())
    pthread_detach(thread)
}
