import ScriptedBinderDriver
import Synchronization
import SwiftBinder
import Testing
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The transaction engine (BC/BR state machine) on a scripted driver, on any host: every path
/// the kernel can take it down, one deterministic script at a time. The same scenarios against
/// the real driver are in the VM suites (RuntimeTests, ReliabilityTests).
@Suite struct EngineTests {
    static func process(_ driver: ScriptedDriver) throws -> BinderProcess {
        try BinderProcess(driver: driver, release: .init(release: .android16, source: "test"))
    }

    static func request(_ process: BinderProcess, _ value: Int32) -> Parcel {
        var parcel = Parcel(wireFormat: process.wireFormat)
        parcel.writeInt32(value)
        return parcel
    }

    static func bytes(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    static func value(_ bytes: [UInt8]) -> Int32 { bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } }

    /// An object that, asked with v > 0, calls handle 1 with v - 1 and answers what it got + 10;
    /// with 0 it answers 1000. It records the caller it saw at each level.
    final class Nester: BinderObject, @unchecked Sendable {
        let process: BinderProcess
        let callers = Mutex<[Int32]>([])
        init(process: BinderProcess) { self.process = process }

        var node: NodeIdentity { NodeIdentity(pointer: nodeID, cookie: nodeCookie) }

        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            let value = try data.readInt32()
            let before = process.callingIdentity?.pid ?? -1
            var answer: Int32 = 1000
            if value > 0 {
                var nested = try process.transact(handle: 1, code: 1, data: EngineTests.request(process, value - 1))
                answer = try nested.readInt32() + 10
            }
            // The identity is this transaction's again after the nested call.
            #expect(process.callingIdentity?.pid == before)
            callers.withLock { $0.append(before) }
            reply.writeInt32(answer)
        }
    }

    /// Makes `object` known to the process, as sending it would.
    static func publish(_ object: BinderObject) {
        var parcel = Parcel()
        parcel.writeStrongBinder(object)
    }

    @Test func aCallWritesTheTransactionReadsTheReplyAndFreesItsBuffer() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(99)))
        do {
            var reply = try process.transact(handle: 3, code: 5, data: Self.request(process, 7))
            #expect(try reply.readInt32() == 99)
            #expect(driver.liveBuffers.count == 1)  // held while the reply is read
        }
        #expect(driver.liveBuffers.isEmpty)
        #expect(driver.badFrees.isEmpty)
        let commands = driver.commands
        #expect(commands.map(\.command) == [.transaction, .freeBuffer])
        let transaction = try #require(commands.first?.transaction)
        #expect(transaction.target == 3 && transaction.code == 5)
        #expect(transaction.flags.contains(.acceptFileDescriptors) && !transaction.flags.contains(.oneWay))
        #expect(Self.value(commands[0].data) == 7)
    }

    enum Failure: String, CaseIterable {
        case deadReply, failedReply, frozenReply, driverError, afterCompleteDead, afterCompleteFailed
    }

    /// Each way the driver can end a call, before or after `BR_TRANSACTION_COMPLETE`: a typed
    /// error, nothing left queued, and the next call on the thread works.
    @Test(arguments: Failure.allCases)
    func aFailedCallThrowsItsErrorAndTheThreadRecovers(_ failure: Failure) throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let (returns, expected): (Returns, BinderError) =
            switch failure {
            case .deadReply: (Returns().deadReply(), .transactionFailed(.deadTarget))
            case .failedReply: (Returns().failedReply(), .transactionFailed(.failed))
            case .frozenReply: (Returns().frozenReply(), .transactionFailed(.frozenTarget))
            case .driverError: (Returns().transactionComplete().error(-71), .driverError(-71))
            case .afterCompleteDead: (Returns().transactionComplete().deadReply(), .transactionFailed(.deadTarget))
            case .afterCompleteFailed: (Returns().transactionComplete().failedReply(), .transactionFailed(.failed))
            }
        driver.enqueue(returns)
        let error = #expect(throws: BinderError.self) { try process.transact(handle: 1, code: 1, data: Self.request(process, 1)) }
        #expect(error == expected)
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(5)))
        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 2))
        #expect(try reply.readInt32() == 5)
        _ = consume reply
        #expect(driver.liveBuffers.isEmpty)
        #expect(driver.pendingBatches == 0)
    }

    /// A call whose target calls back into this process, which calls out again: three
    /// transactions outstanding on one thread, each reply going to the right level.
    @Test func nestedTransactionsThreeLevelsDeep() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Nester(process: process)
        Self.publish(object)
        // The outer call (v = 3) is answered by a call to the object (v = 2, from pid 100)...
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 1, Self.bytes(2), pid: 100))
        // ...whose call out (v = 1) is answered by another call to it (v = 0, from pid 200)...
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 1, Self.bytes(0), pid: 200))
        // ...which replies 1000; then the remote answers the object's call with 2000, and the
        // outer call with 5000.
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(2000)))
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(5000)))

        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 3))
        #expect(try reply.readInt32() == 5000)
        _ = consume reply

        let written = driver.commands.filter { $0.command == .transaction || $0.command == .reply }
        #expect(written.map(\.command) == [.transaction, .transaction, .reply, .reply])
        #expect(written.map { Self.value($0.data) } == [3, 1, 1000, 2010])
        #expect(object.callers.withLock { $0 } == [200, 100])
        #expect(driver.liveBuffers.isEmpty)
        #expect(process.callingIdentity == nil)
    }

    /// Handlers may swap or replace the parcels they are given. Each served call's reply goes
    /// out with what the handler left in it, every received buffer is freed exactly once, and
    /// the storage the engine lends its replies survives it.
    final class Swapper: BinderObject, @unchecked Sendable {
        var node: NodeIdentity { NodeIdentity(pointer: nodeID, cookie: nodeCookie) }

        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            switch code {
            case 1: swap(&data, &reply)  // echo: the request itself becomes the reply
            case 2:
                var replacement = Parcel()
                replacement.writeInt32(try data.readInt32() * 2)
                reply = replacement
            default: reply.writeInt32(try data.readInt32() + 1)
            }
        }
    }

    @Test func handlersThatSwapOrReplaceTheirParcels() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Swapper()
        Self.publish(object)
        // Three calls come in while this thread waits for its own call's reply.
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 1, Self.bytes(21)))
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 2, Self.bytes(21)))
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 3, Self.bytes(21)))
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(7)))

        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 0))
        #expect(try reply.readInt32() == 7)
        _ = consume reply

        let replies = driver.commands.filter { $0.command == .reply }
        #expect(replies.map { Self.value($0.data) } == [21, 42, 22])
        #expect(driver.liveBuffers.isEmpty)
        #expect(driver.badFrees.isEmpty)
    }

    /// A handler that swaps in a received parcel it got from elsewhere: that parcel's own owner
    /// gets its buffer back, and this driver is asked to free only what it delivered.
    final class Stranger: BinderObject, @unchecked Sendable {
        final class Owner: ReceivedBufferOwner, @unchecked Sendable {
            let released = Mutex<[UInt64]>([])
            override func releaseReceivedBuffer(at address: UInt64) { released.withLock { $0.append(address) } }
        }
        let owner = Owner()
        let foreign: [UInt8] = EngineTests.bytes(5)
        var node: NodeIdentity { NodeIdentity(pointer: nodeID, cookie: nodeCookie) }

        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            try foreign.withUnsafeBytes { bytes in
                var other = Parcel(
                    received: bytes, objectOffsets: UnsafeRawBufferPointer(start: nil, count: 0), bufferAddress: 0xF0F0,
                    owner: owner)
                swap(&data, &other)
                reply.writeInt32(try data.readInt32())
                _ = consume other  // the request, ended by its own owner
            }
        }
    }

    @Test func aSwappedInParcelIsFreedByItsOwnOwner() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Stranger()
        Self.publish(object)
        driver.enqueue(Returns().transactionComplete() + driver.incoming(to: object.node, code: 1, Self.bytes(9)))
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(1)))
        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 0))
        #expect(try reply.readInt32() == 1)
        _ = consume reply
        #expect(object.owner.released.withLock { $0 } == [0xF0F0])
        #expect(driver.commands.filter { $0.command == .reply }.map { Self.value($0.data) } == [5])
        #expect(driver.liveBuffers.isEmpty)
        #expect(driver.badFrees.isEmpty)
    }

    /// Bytes the decoder cannot read (an unknown return code), returns cut short, or stray bytes
    /// after a whole return end the call with a typed error, whatever the fast path for the
    /// returns of every call recognises first; the thread goes on.
    @Test(arguments: [
        Returns().raw([0xFF, 0xFF, 0xFF, 0x7F, 1, 2]),
        Returns().transactionComplete().raw(Returns().transaction(.reply, TransactionData()).bytes.dropLast(8)),
        Returns().transactionComplete().raw([0x0C]),
        Returns().noop().raw([1, 2, 3]),
    ])
    func anUnreadableReturnEndsTheCall(_ returns: Returns) throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        driver.enqueue(returns)
        let error = #expect(throws: BinderError.self) { try process.transact(handle: 1, code: 1, data: Self.request(process, 0)) }
        guard case .malformedReturn = error else {
            Issue.record("expected a malformed return, got \(String(describing: error))")
            return
        }
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(3)))
        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 0))
        #expect(try reply.readInt32() == 3)
    }

    /// A looper whose batch ends in a `BR_TRANSACTION` cut short logs it, drops the rest, and
    /// serves the next batch.
    @Test func aLooperSkipsATransactionCutShort() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Nester(process: process)
        Self.publish(object)
        let cut = driver.incoming(to: object.node, code: 1, Self.bytes(0), pid: 1).bytes.dropLast(20)
        driver.enqueue(Returns().raw(Array(cut)), for: .looper)
        driver.enqueue(driver.incoming(to: object.node, code: 1, Self.bytes(0), pid: 2), for: .looper)
        driver.enqueue(Returns().transactionComplete(), for: .looper)
        process.startThreadPool()
        #expect(driver.waitUntil { $0.contains { $0.command == .reply } })
        process.shutdown()
        #expect(object.callers.withLock { $0 } == [2])
    }

    /// A thread that made calls ends (its thread state says `BINDER_THREAD_EXIT`) while the last
    /// reference to its process is dropped elsewhere: the process's end waits for the thread's
    /// exit and runs on the thread that dropped it. A thread state that retained the process
    /// in its deinit ran the process's deinit there, inside the lifetime lock it held, and
    /// crashed ("Recursive call to lock Mutex").
    @Test func aThreadEndingAsItsProcessGoesLeavesTheProcessAlone() throws {
        let driver = ScriptedDriver()
        final class Box: @unchecked Sendable { var process: BinderProcess? }
        let box = Box()
        box.process = try Self.process(driver)
        weak let watched = box.process
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(1)))
        driver.holdThreadExits()

        // A thread makes one call, drops its reference, and ends; its state's deinit (a
        // thread-specific destructor) is held in BINDER_THREAD_EXIT.
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            if let process = box.process {
                _ = try? process.transact(handle: 1, code: 1, data: EngineTests.request(process, 0))
            }
            return nil
        }, Unmanaged.passRetained(box).toOpaque())
        #expect(started == 0)
        #expect(driver.waitForThreadsInExit(1))

        // The last reference goes while the thread is in its exit. A helper lets the exit finish
        // once the process is on its way out (a weak reference reads nil from its deinit on).
        let released = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let deadline = ContinuousClock.now + .seconds(5)
            while watched != nil && ContinuousClock.now < deadline { sched_yield() }
            driver.releaseThreadExits()
            released.signal()
        }
        box.process = nil
        released.wait()
        pthread_join(thread, nil)
        #expect(watched == nil)
        #expect(driver.exitedThreadCount == 1)
    }

    /// A handle in a reply: the proxy's references are written before the reply's buffer is
    /// freed, or the kernel could drop the last reference in between.
    @Test func referencesToAReceivedHandlePrecedeFreeingItsBuffer() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        var carrier = Parcel(wireFormat: process.wireFormat)
        carrier.writeBinder(.handle(7), stability: .system)
        let data = carrier.withUnsafeDataBytes { Array($0) }
        let offsets = carrier.withUnsafeObjectOffsets { Array($0.bindMemory(to: UInt64.self)) }
        driver.enqueue(Returns().transactionComplete() + driver.reply(data, objects: offsets))

        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 0))
        let proxy = try #require(try reply.readStrongBinder() as? BinderProxy)
        #expect(proxy.handle == 7)
        _ = consume reply

        let commands = driver.commands
        let acquire = try #require(commands.firstIndex { $0.command == .incrementStrong && $0.handle == 7 })
        let weak = try #require(commands.firstIndex { $0.command == .incrementWeak && $0.handle == 7 })
        let free = try #require(commands.firstIndex { $0.command == .freeBuffer })
        #expect(weak < free && acquire < free)
        #expect(driver.liveBuffers.isEmpty)
        withExtendedLifetime(proxy) {}
    }

    /// A driver that takes one command per call: everything is still written, in order, and
    /// no returns are read before the transaction is written.
    @Test func aDriverThatConsumesPartOfTheWriteBufferGetsTheRest() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        driver.limitWrites(to: 1)
        let proxy = try process.proxy(forHandle: 9)  // BC_INCREFS + BC_ACQUIRE, one taken now
        driver.enqueue(Returns().transactionComplete() + driver.reply(Self.bytes(1)))
        var reply = try process.transact(handle: 9, code: 2, data: Self.request(process, 4))
        #expect(try reply.readInt32() == 1)
        _ = consume reply
        let commands = driver.commands.map(\.command)
        #expect(commands == [.incrementWeak, .incrementStrong, .transaction, .freeBuffer])
        withExtendedLifetime(proxy) {}
    }

    /// `BR_SPAWN_LOOPER` starts a thread that registers as a looper; shutting down wakes it
    /// from its read and joins it.
    @Test func spawnLooperStartsARegisteredLooperThatShutdownJoins() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        driver.enqueue(Returns().transactionComplete().spawnLooper() + driver.reply(Self.bytes(3)), for: .caller)
        var reply = try process.transact(handle: 1, code: 1, data: Self.request(process, 0))
        #expect(try reply.readInt32() == 3)
        _ = consume reply
        #expect(driver.waitUntil { $0.contains { $0.command == .registerLooper } })
        #expect(process.looperThreadsStarted == 1)
        process.shutdown()
        // shutdown() returned: the looper left its loop and its thread was joined.
        let looper = try #require(driver.commands.first { $0.command == .registerLooper }?.thread)
        #expect(driver.commands.contains { $0.command == .exitLooper && $0.thread == looper })
    }

    /// Oneway calls in and out keep their order; incoming ones get no reply but their buffers
    /// back.
    @Test func onewayTransactionsKeepTheirOrder() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        for value in Int32(1)...3 {
            driver.enqueue(Returns().transactionComplete(), for: .caller)
            try process.transact(handle: 2, code: 1, data: Self.request(process, value), flags: [.oneWay])
        }
        let sent = driver.commands.filter { $0.command == .transaction }
        #expect(sent.map { Self.value($0.data) } == [1, 2, 3])
        #expect(sent.allSatisfy { $0.transaction?.flags.contains(.oneWay) == true })

        final class Recorder: BinderObject, @unchecked Sendable {
            let values = Mutex<[Int32]>([])
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                let value = try data.readInt32()
                values.withLock { $0.append(value) }
            }
        }
        let recorder = Recorder()
        Self.publish(recorder)
        let node = NodeIdentity(pointer: recorder.nodeID, cookie: recorder.nodeCookie)
        var batch = Returns()
        for value in Int32(10)...12 {
            batch = batch + driver.incoming(to: node, code: 1, Self.bytes(value), flags: [.oneWay])
        }
        driver.enqueue(batch, for: .looper)
        process.startThreadPool()
        #expect(driver.waitUntil { $0.filter { $0.command == .freeBuffer }.count == 3 })
        process.shutdown()
        #expect(recorder.values.withLock { $0 } == [10, 11, 12])
        #expect(!driver.commands.contains { $0.command == .reply })
        #expect(driver.liveBuffers.isEmpty)
    }

    /// A reply the driver cannot deliver (the caller's thread died: `BR_DEAD_REPLY` to the
    /// replier) is logged and dropped; the looper serves the next transaction.
    @Test func aReplyToADeadThreadDoesNotStopTheLooper() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Nester(process: process)
        Self.publish(object)
        driver.enqueue(driver.incoming(to: object.node, code: 1, Self.bytes(0), pid: 1), for: .looper)
        driver.enqueue(Returns().deadReply() + driver.incoming(to: object.node, code: 1, Self.bytes(0), pid: 2), for: .looper)
        driver.enqueue(Returns().transactionComplete(), for: .looper)
        process.startThreadPool()
        #expect(driver.waitUntil { $0.filter { $0.command == .reply }.count == 2 && $0.filter { $0.command == .freeBuffer }.count == 2 })
        process.shutdown()
        #expect(object.callers.withLock { $0 } == [1, 2])
        #expect(driver.liveBuffers.isEmpty)
    }

    /// A transaction for an object this process does not have gets UNKNOWN_TRANSACTION as a
    /// bare status, and its buffer back.
    @Test func aTransactionToAnUnknownNodeIsAnsweredWithAStatus() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        driver.enqueue(driver.incoming(to: NodeIdentity(pointer: 0xDEAD, cookie: 1), code: 1, Self.bytes(0)), for: .looper)
        driver.enqueue(Returns().transactionComplete(), for: .looper)
        process.startThreadPool()
        #expect(driver.waitUntil { $0.contains { $0.command == .reply } })
        process.shutdown()
        let reply = try #require(driver.commands.first { $0.command == .reply })
        #expect(reply.transaction?.flags.contains(.statusCode) == true)
        #expect(Self.value(reply.data) == StatusCode.unknownTransaction.rawValue)
        #expect(driver.liveBuffers.isEmpty)
    }

    /// A death link asks the driver for a notification; `BR_DEAD_BINDER` runs the handler on a
    /// looper and is acknowledged with the same cookie.
    @Test func deathNotificationsAreRequestedDeliveredAndAcknowledged() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let proxy = try process.proxy(forHandle: 4)
        let died = Mutex(0)
        // The kernel has the clear before any handler runs (libbinder's sendObituary flushes
        // it): a handler may drop the proxy, and its reference with it, from another thread.
        let clearedFirst = Mutex(false)
        _ = try proxy.linkToDeath { [driver] in
            died.withLock { $0 += 1 }
            clearedFirst.withLock { $0 = driver.commands.contains { $0.command == .clearDeathNotification } }
        }
        let request = try #require(driver.commands.first { $0.command == .requestDeathNotification })
        #expect(request.handle == 4)
        let cookie = request.payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self) }
        driver.enqueue(Returns().deadBinder(cookie: cookie), for: .looper)
        process.startThreadPool()
        #expect(driver.waitUntil { $0.contains { $0.command == .deadBinderDone && $0.value == cookie } })
        process.shutdown()
        #expect(died.withLock { $0 } == 1)
        #expect(clearedFirst.withLock { $0 })
        #expect(!proxy.isAlive)
    }

    /// A death notice that arrives after its proxy was dropped finds no proxy (the registry
    /// holds proxies unretained; the proxy's deinit detached it) and is still acknowledged.
    @Test func aDeathNoticeForADroppedProxyFindsNothing() throws {
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        var cookie: UInt64 = 0
        do {
            let proxy = try process.proxy(forHandle: 4)
            _ = try proxy.linkToDeath { Issue.record("the handler of a dropped proxy ran") }
            let request = try #require(driver.commands.first { $0.command == .requestDeathNotification })
            cookie = request.payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self) }
        }
        #expect(driver.commands.contains { $0.command == .clearDeathNotification })
        driver.enqueue(Returns().deadBinder(cookie: cookie), for: .looper)
        process.startThreadPool()
        #expect(driver.waitUntil { $0.contains { $0.command == .deadBinderDone && $0.value == cookie } })
        process.shutdown()
    }

    /// An async method still running when the process shuts down is cancelled, so its looper
    /// stops and is joined (it would otherwise wait for the method forever). The test awaits
    /// rather than blocks: the method's task needs a thread of Swift's pool, which may have one
    /// thread only (a 1-vCPU VM).
    @Test func shutdownCancelsAsyncMethodsInProgress() async throws {
        final class Waiting: AsyncBinderObject, @unchecked Sendable {
            let entered = AsyncStream<Void>.makeStream()
            let cancelled = Atomic<Bool>(false)
            override func handleTransaction(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags)
                async throws
            {
                entered.continuation.yield()
                do {
                    try await Task.sleep(for: .seconds(3600))
                } catch {
                    cancelled.store(true, ordering: .relaxed)
                    throw error
                }
            }
        }
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Waiting()
        Self.publish(object)
        let node = NodeIdentity(pointer: object.nodeID, cookie: object.nodeCookie)
        driver.enqueue(driver.incoming(to: node, code: 1, Self.bytes(0), flags: [.oneWay]), for: .looper)
        process.startThreadPool()
        var iterator = object.entered.stream.makeAsyncIterator()
        _ = await iterator.next()
        // Joining the loopers blocks: off Swift's pool, which the method's task needs.
        let stuck = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            DispatchQueue(label: "shutdown").async { continuation.resume(returning: process.shutdown(timeout: .seconds(30))) }
        }
        #expect(stuck == 0)
        let cancelled = object.cancelled.load(ordering: .relaxed)
        #expect(cancelled)
    }

    /// A looper still serving a call when the pool stops is reported, not waited for forever;
    /// the idle ones are woken and joined.
    @Test func shutdownReportsALooperThatDoesNotStop() throws {
        final class Blocking: BinderObject, @unchecked Sendable {
            let entered = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
                entered.signal()
                release.wait()
            }
        }
        let driver = ScriptedDriver()
        let process = try Self.process(driver)
        let object = Blocking()
        Self.publish(object)
        let node = NodeIdentity(pointer: object.nodeID, cookie: object.nodeCookie)
        driver.enqueue(driver.incoming(to: node, code: 1, Self.bytes(0), flags: [.oneWay]), for: .looper)
        process.startThreadPool()
        #expect(object.entered.wait(timeout: .now() + 5) == .success)
        #expect(process.shutdown(timeout: .milliseconds(100)) == 1)
        object.release.signal()
        #expect(driver.waitUntil { $0.contains { $0.command == .exitLooper } })
    }
}
