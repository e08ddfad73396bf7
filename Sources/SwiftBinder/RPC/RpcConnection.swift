import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One established RPC connection: its socket and the protocol version of its session. Reads
/// whole commands (a header, then a bounded body) and writes whole ones.
final class RpcConnection: @unchecked Sendable {
    /// The largest body read or written. libbinder on Android 14 and 15 allocates at most
    /// 100,000 bytes per command (`kMaxTransactionAllocation`) and loses its place in the stream
    /// beyond that, so nothing larger is sent; Android 16 accepts 600 KiB, which bounds reads.
    static let maximumSentBody = 100_000
    static let maximumReceivedBody = 600 * 1024

    let socket: RpcSocket
    let version: UInt32
    /// Whether descriptors travel on this connection (the session's transport mode is unix:
    /// SCM_RIGHTS with each command's header).
    let carriesDescriptors: Bool

    init(socket: RpcSocket, version: UInt32, carriesDescriptors: Bool = false) {
        self.socket = socket
        self.version = version
        self.carriesDescriptors = carriesDescriptors && version >= RpcProtocolVersion.v1
    }

    /// The next command: its header, its body, and the descriptors that came with its header.
    func readCommand() throws(RpcError) -> (header: RpcWireHeader, body: [UInt8], descriptors: [Int32]) {
        let (headerBytes, descriptors) =
            carriesDescriptors
            ? try socket.read(RpcWireHeader.size, collectingDescriptorsDuring: "a command header")
            : (try socket.read(RpcWireHeader.size, during: "a command header"), [])
        let header = RpcWireHeader.decode(headerBytes)
        do throws(RpcError) {
            guard header.bodySize <= Self.maximumReceivedBody else {
                throw .tooLarge(Int(header.bodySize), limit: Self.maximumReceivedBody)
            }
            return (header, try socket.read(Int(header.bodySize), during: "a command body"), descriptors)
        } catch {
            closeAll(descriptors)
            throw error
        }
    }

    /// A command decoded, with the descriptors that came with it (the receiver's to close).
    enum Incoming {
        case transact(RpcWireTransaction, descriptors: [Int32])
        case reply(RpcWireReply, descriptors: [Int32])
        case decStrong(RpcDecStrong)
    }

    /// The next command, decoded. Descriptors that came with a DEC_STRONG, a failed reply or
    /// something that does not decode are closed here; an unknown command cannot be
    /// resynchronised from.
    func readIncoming() throws(RpcError) -> Incoming {
        let (header, body, descriptors) = try readCommand()
        do throws(RpcError) {
            switch RpcCommand(rawValue: header.command) {
            case .transact:
                return .transact(try RpcWireTransaction.decode(body, version: version), descriptors: descriptors)
            case .reply:
                let reply = try RpcWireReply.decode(body, version: version)
                guard reply.status == 0 else {
                    closeAll(descriptors)
                    return .reply(reply, descriptors: [])
                }
                return .reply(reply, descriptors: descriptors)
            case .decStrong:
                closeAll(descriptors)
                return .decStrong(try RpcDecStrong.decode(body))
            case nil:
                throw .malformed("unknown command \(header.command)")
            }
        } catch {
            closeAll(descriptors)
            throw error
        }
    }

    /// Writes a command with its body (and the descriptors its parcel indexes) in one write.
    func send(_ command: RpcCommand, _ body: [UInt8], descriptors: [Int32] = []) throws(RpcError) {
        guard body.count <= Self.maximumSentBody else { throw .tooLarge(body.count, limit: Self.maximumSentBody) }
        guard descriptors.isEmpty || carriesDescriptors else {
            throw .malformed("descriptors on a connection whose session does not carry them (a unix socket session does)")
        }
        try socket.write(RpcWireHeader(command: command, bodySize: UInt32(body.count)).encoded + body, descriptors: descriptors)
    }

    /// Writes several commands without descriptors in one write.
    func send(_ commands: [(RpcCommand, [UInt8])]) throws(RpcError) {
        var bytes: [UInt8] = []
        for (command, body) in commands {
            guard body.count <= Self.maximumSentBody else { throw .tooLarge(body.count, limit: Self.maximumSentBody) }
            bytes += RpcWireHeader(command: command, bodySize: UInt32(body.count)).encoded + body
        }
        try socket.write(bytes)
    }

    func sendReply(status: Int32, data: [UInt8] = [], objects: (positions: [UInt32], descriptors: [Int32]) = ([], [])) throws(RpcError) {
        try send(
            .reply, RpcWireReply(status: status, data: data, objectTable: objects.positions).encoded(version: version),
            descriptors: objects.descriptors)
    }

    func sendDecStrong(_ address: RpcAddress, amount: UInt32) throws(RpcError) {
        try send(.decStrong, RpcDecStrong(address: address, amount: amount).encoded)
    }
}

/// The bytes of a parcel that came over an RPC connection, held for the parcel that reads them
/// (its buffer owner, freed when the parcel is done), with the session whose addresses its
/// binder objects are.
final class RpcReceivedData: ReceivedBufferOwner, @unchecked Sendable {
    let state: RpcSessionState
    private let storage: UnsafeMutableRawBufferPointer

    init(_ bytes: [UInt8], state: RpcSessionState) {
        self.state = state
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        storage.copyBytes(from: bytes)
        super.init()
    }

    /// A parcel reading the bytes, in RPC's wire format, with the object table and the
    /// descriptors that came with them (the parcel's from now).
    static func parcel(_ bytes: [UInt8], state: RpcSessionState, objectTable: [UInt32] = [], descriptors: [Int32] = []) -> Parcel {
        let owner = RpcReceivedData(bytes, state: state)
        var parcel = Parcel(
            received: UnsafeRawBufferPointer(rebasing: owner.storage[..<bytes.count]),
            objectOffsets: UnsafeRawBufferPointer(start: nil, count: 0),
            bufferAddress: UInt64(UInt(bitPattern: owner.storage.baseAddress)), owner: owner, wireFormat: .rpc)
        parcel.adoptRPCObjects(positions: objectTable, descriptors: descriptors, version: state.version)
        return parcel
    }

    override func releaseReceivedBuffer(at address: UInt64) {}

    deinit { storage.deallocate() }
}

/// What both ends of a session keep (libbinder's `RpcState`): the local objects it has sent
/// (by the address it gave them, with how many references the peer holds) and the proxies for
/// the peer's objects (with how many references this side holds), and how incoming
/// transactions are served.
final class RpcSessionState: @unchecked Sendable {
    struct LocalNode {
        let object: BinderObject
        /// References the peer holds (each send adds one; its DEC_STRONG returns them).
        var timesSent: UInt32
        /// The next oneway call's number, and oneway calls that came early.
        var nextAsyncNumber: UInt64 = 0
        var early: [UInt64: (call: RpcWireTransaction, descriptors: [Int32])] = [:]
        var earlyBytes = 0
    }

    /// The most oneway calls held for their turn per object, and their bytes (libbinder ends
    /// the session at 10,000 held calls).
    static let earlyLimit = 10_000
    static let earlyByteLimit = 16 << 20

    struct RemoteNode {
        let proxy: UnretainedReference<RpcProxy>
        /// Which proxy this entry is for: a proxy in its deinit must not remove its successor's.
        let generation: UInt64
        /// References this side holds over the wire (returned with DEC_STRONG).
        var timesReceived: UInt32
        /// The next oneway call's number to this address.
        var nextAsyncNumber: UInt64 = 0
    }

    struct Nodes {
        var local: [UInt64: LocalNode] = [:]
        var remote: [UInt64: RemoteNode] = [:]
        var counter: UInt32 = 0
        var proxyGeneration: UInt64 = 0
        /// The most local nodes a session keeps (libbinder refuses the 100,001st with NO_MEMORY).
        static let limit = 100_000
    }

    let isServer: Bool
    let version: UInt32
    let nodes = Mutex(Nodes())
    /// What a client asks for with GET_ROOT (servers only).
    let root: BinderObject?
    let maxIncomingThreads: Int32
    let sessionID: [UInt8]
    /// Sends DEC_STRONG and outgoing calls (a client's session; nil on a server, which answers
    /// only on the connection a call came in on).
    weak var session: RpcSession?
    /// A server's connections to the client that the client serves (its incoming connections,
    /// libbinder's `setMaxIncomingThreads`): the server's calls outside a call go there.
    let serverOutgoing = ConnectionPool([])

    private struct Deaths {
        var ended = false
        var nextID: UInt64 = 0
        var handlers: [UInt64: @Sendable () -> Void] = [:]
    }
    private let deaths = Mutex(Deaths())

    /// Registers `handler` to run once when the session ends; nil if it has ended.
    func linkToDeath(_ handler: @escaping @Sendable () -> Void) -> UInt64? {
        deaths.withLock { deaths in
            guard !deaths.ended else { return nil }
            deaths.nextID += 1
            deaths.handlers[deaths.nextID] = handler
            return deaths.nextID
        }
    }

    func unlinkToDeath(_ id: UInt64) {
        _ = deaths.withLock { $0.handlers.removeValue(forKey: id) }
    }

    var hasEnded: Bool { deaths.withLock { $0.ended } }

    /// The session is over (its connections broke or were closed): every proxy of it is dead,
    /// and the death handlers run, in the order they were linked (libbinder's `sendObituaries`:
    /// death over RPC is known locally, there is no message for it).
    func ended() {
        let handlers = deaths.withLock { deaths -> [@Sendable () -> Void] in
            guard !deaths.ended else { return [] }
            deaths.ended = true
            defer { deaths.handlers.removeAll() }
            return deaths.handlers.sorted { $0.key < $1.key }.map(\.value)
        }
        serverOutgoing.close()
        // As libbinder's RpcState::clear(): the session's objects and proxies are let go.
        let dropped = nodes.withLock { nodes -> [LocalNode] in
            defer { nodes.remote.removeAll() }
            return Array(nodes.local.values)
        }
        _ = consume dropped
        for handler in handlers { handler() }
    }

    init(isServer: Bool, version: UInt32, root: BinderObject?, maxIncomingThreads: Int32, sessionID: [UInt8]) {
        self.isServer = isServer
        self.version = version
        self.root = root
        self.maxIncomingThreads = maxIncomingThreads
        self.sessionID = sessionID
    }

    // MARK: Addresses

    /// The address `object` is sent with, made on its first send; the peer owes one reference
    /// per send (libbinder's `onBinderLeaving`).
    func address(sending object: BinderObject) throws(RpcError) -> RpcAddress {
        try nodes.withLock { (nodes) throws(RpcError) -> RpcAddress in
            if let (raw, node) = nodes.local.first(where: { $0.value.object === object }) {
                guard node.timesSent < UInt32.max else { throw .malformed("object \(RpcAddress(rawValue: raw)) sent too often") }
                nodes.local[raw]!.timesSent += 1
                return RpcAddress(rawValue: raw)
            }
            guard nodes.local.count < Nodes.limit else { throw .malformed("more than \(Nodes.limit) objects sent") }
            var address: RpcAddress
            repeat {
                address = RpcAddress(counter: nodes.counter, madeByServer: isServer)
                nodes.counter &+= 1
            } while nodes.local[address.rawValue] != nil
            nodes.local[address.rawValue] = LocalNode(object: object, timesSent: 1)
            return address
        }
    }

    /// The object or proxy an address received from the peer names (libbinder's
    /// `onBinderEntering`): one of ours, or a proxy holding one more reference.
    func binder(receiving address: RpcAddress) throws(RpcError) -> any IBinder {
        guard address.hasValidOptions else { throw .malformed("address \(address) has unknown options") }
        return try nodes.withLock { (nodes) throws(RpcError) -> any IBinder in
            if let local = nodes.local[address.rawValue] { return local.object }
            // The peer cannot name a new object as if this side had made it.
            guard address.madeByServer != isServer else { throw .malformed("address \(address) was never sent") }
            let previous = nodes.remote[address.rawValue]
            if var remote = previous, let proxy = remote.proxy.load() {
                guard remote.timesReceived < UInt32.max else { throw .malformed("address \(address) received too often") }
                remote.timesReceived += 1
                nodes.remote[address.rawValue] = remote
                return proxy
            }
            // A new proxy (the previous one, if any, is in its deinit: its references and its
            // oneway numbering carry over, and its deinit leaves this entry alone).
            nodes.proxyGeneration += 1
            let proxy = RpcProxy(address: address, state: self, generation: nodes.proxyGeneration)
            var node = RemoteNode(
                proxy: UnretainedReference(proxy), generation: nodes.proxyGeneration,
                timesReceived: min(UInt32.max - 1, previous?.timesReceived ?? 0) + 1)
            node.nextAsyncNumber = previous?.nextAsyncNumber ?? 0
            nodes.remote[address.rawValue] = node
            return proxy
        }
    }

    /// A proxy's deinit: the references it held go back to the peer (over a client's
    /// connections, or a server's connections to the client if it has any).
    func proxyReleased(_ address: RpcAddress, generation: UInt64) {
        let amount = nodes.withLock { nodes -> UInt32 in
            // A newer proxy for the address holds the references now.
            guard let node = nodes.remote[address.rawValue], node.generation == generation else { return 0 }
            nodes.remote[address.rawValue] = nil
            return node.timesReceived
        }
        returnReferences(to: address, amount: amount)
    }

    /// Sends DEC_STRONG: on the connection this thread serves a call on (it holds it; waiting
    /// for another could deadlock), else the session's, else a server's connections to the
    /// client. With none of those, nothing can reach the peer now, and the references stay.
    func returnReferences(to address: RpcAddress, amount: UInt32) {
        guard amount > 0, !hasEnded else { return }
        if let connection = servingConnection() {
            try? connection.sendDecStrong(address, amount: amount)
        } else if let session {
            try? session.sendDecStrong(address, amount: amount)
        } else if serverOutgoing.hasConnections {
            try? serverOutgoing.withConnection { (connection) throws(RpcError) in try connection.sendDecStrong(address, amount: amount) }
        }
    }

    /// The number of the next oneway call to `address`.
    func nextAsyncNumber(to address: RpcAddress) -> UInt64 {
        nodes.withLock { nodes in
            let number = nodes.remote[address.rawValue]?.nextAsyncNumber ?? 0
            nodes.remote[address.rawValue]?.nextAsyncNumber = number &+ 1
            return number
        }
    }

    /// DEC_STRONG from the peer: it returns references to one of our objects; the object goes
    /// once it holds none.
    func decStrong(_ command: RpcDecStrong) {
        // The object (if this was its last reference) goes after the lock: its deinit may drop
        // proxies of this session, which take the lock.
        let released = nodes.withLock { nodes -> LocalNode? in
            guard var node = nodes.local[command.address.rawValue] else { return nil }
            // More than the peer holds: libbinder (14 to 16.0.0_r3) ignores it.
            guard command.amount <= node.timesSent else { return nil }
            node.timesSent -= command.amount
            guard node.timesSent == 0, node.object !== root else {
                nodes.local[command.address.rawValue] = node
                return nil
            }
            return nodes.local.removeValue(forKey: command.address.rawValue)
        }
        _ = consume released
    }

    // MARK: Serving

    /// Serves the commands the peer sends on a connection this side serves (a server's
    /// connection, a client's incoming one) until it closes or breaks the protocol: calls are
    /// served and answered there, DEC_STRONGs applied; a REPLY no call waits for, or an unknown
    /// command, cannot be resynchronised from.
    func serveCommands(on connection: RpcConnection) throws(RpcError) {
        while true {
            switch try connection.readIncoming() {
            case .transact(let transaction, let descriptors):
                try serve(transaction, descriptors: descriptors, on: connection)
            case .decStrong(let command):
                decStrong(command)
            case .reply(_, let descriptors):
                closeAll(descriptors)
                throw .malformed("a reply no call waits for")
            }
        }
    }

    /// Waits on `connection` for the reply to the call just sent on it: DEC_STRONGs are
    /// applied, nested calls served there (the peer waits for them).
    func waitForReply(on connection: RpcConnection) throws(RpcError) -> (reply: RpcWireReply, descriptors: [Int32]) {
        while true {
            switch try connection.readIncoming() {
            case .reply(let reply, let descriptors):
                return (reply, descriptors)
            case .decStrong(let command):
                decStrong(command)
            case .transact(let transaction, let descriptors):
                try serve(transaction, descriptors: descriptors, on: connection)
            }
        }
    }

    /// The transaction a call sends: a oneway call to an object takes the next number of its
    /// order (special transactions have none).
    func transaction(
        to address: RpcAddress, code: UInt32, data: [UInt8], objectTable: [UInt32], flags: TransactionFlags
    ) -> RpcWireTransaction {
        let asyncNumber = flags.contains(.oneWay) && address != .special ? nextAsyncNumber(to: address) : 0
        return RpcWireTransaction(
            address: address, code: code, flags: flags.rawValue, asyncNumber: asyncNumber, data: data, objectTable: objectTable)
    }

    /// Serves one TRANSACT that came in on `connection`: a special transaction, or a call to
    /// one of this side's objects; a two-way call is answered on the same connection, after a
    /// DEC_STRONG returning the reference the call itself carried (libbinder's
    /// `flushExcessBinderRefs`). Oneway calls run in their numbered order.
    func serve(_ transaction: RpcWireTransaction, descriptors: [Int32] = [], on connection: RpcConnection) throws(RpcError) {
        var descriptors = descriptors
        // Descriptors no parcel took are closed here.
        defer { closeAll(descriptors) }
        if transaction.address == .special {
            try serveSpecial(transaction, on: connection)
            return
        }
        guard transaction.address.hasValidOptions, let object = nodes.withLock({ $0.local[transaction.address.rawValue]?.object }) else {
            // An address this side never gave out: libbinder ends the session.
            throw .malformed("a transaction to \(transaction.address), which this side never sent")
        }
        let received = descriptors
        descriptors = []
        guard transaction.isOneway else {
            var reply = Parcel(wireFormat: .rpc)
            let status = dispatch(transaction, descriptors: received, to: object, on: connection, reply: &reply)
            // The DEC_STRONG for the call's own reference, then the reply (sent while the reply,
            // which owns its descriptors, is still here). Without descriptors both go in one
            // write: the same bytes on the stream, one system call fewer per call.
            let decStrong = RpcDecStrong(address: transaction.address, amount: 1)
            let objects: (positions: [UInt32], descriptors: [Int32]) = status == .ok ? reply.rpcObjects : ([], [])
            let body = RpcWireReply(status: status == .ok ? 0 : status.rawValue, data: status == .ok ? reply.dataBytes : [], objectTable: objects.positions)
                .encoded(version: connection.version)
            if body.count > RpcConnection.maximumSentBody {
                // A reply larger than a peer may take: the call fails, the connection stays
                // (android-16.0.0_r4 answers FAILED_TRANSACTION).
                try connection.send([
                    (.decStrong, decStrong.encoded),
                    (.reply, RpcWireReply(status: StatusCode.failedTransaction.rawValue).encoded(version: connection.version)),
                ])
            } else if objects.descriptors.isEmpty {
                try connection.send([(.decStrong, decStrong.encoded), (.reply, body)])
            } else {
                try connection.sendDecStrong(transaction.address, amount: 1)
                try connection.send(.reply, body, descriptors: objects.descriptors)
            }
            return
        }
        // Oneway calls may arrive out of order over several connections: each runs in turn, an
        // early one held (with its descriptors) until then. One numbered before the next
        // expected, or more held than the limits, breaks the protocol: the session ends.
        var next: (call: RpcWireTransaction, descriptors: [Int32])? = (transaction, received)
        while let (call, callDescriptors) = next {
            let verdict = nodes.withLock { nodes -> Int in  // 0 run, 1 held, 2 refused
                guard var node = nodes.local[call.address.rawValue] else { return 2 }
                if call.asyncNumber == node.nextAsyncNumber { return 0 }
                guard call.asyncNumber > node.nextAsyncNumber, node.early[call.asyncNumber] == nil,
                    node.early.count < Self.earlyLimit, node.earlyBytes + call.data.count <= Self.earlyByteLimit
                else { return 2 }
                node.early[call.asyncNumber] = (call, callDescriptors)
                node.earlyBytes += call.data.count
                nodes.local[call.address.rawValue] = node
                return 1
            }
            if verdict == 1 { return }
            if verdict == 2 {
                closeAll(callDescriptors)
                throw .malformed("oneway call \(call.asyncNumber) to \(call.address) out of order beyond what is held")
            }
            var ignored = Parcel(wireFormat: .rpc)
            _ = dispatch(call, descriptors: callDescriptors, to: object, on: connection, reply: &ignored)
            // The reference the call carried goes back, as after a two-way call (libbinder
            // flushes it once the oneway call has run).
            try connection.sendDecStrong(call.address, amount: 1)
            next = nodes.withLock { nodes -> (call: RpcWireTransaction, descriptors: [Int32])? in
                guard var node = nodes.local[call.address.rawValue] else { return nil }
                node.nextAsyncNumber &+= 1
                let queued = node.early.removeValue(forKey: node.nextAsyncNumber)
                if let queued { node.earlyBytes -= queued.call.data.count }
                nodes.local[call.address.rawValue] = node
                return queued
            }
        }
    }

    /// Runs a call on its object, with `connection` as this thread's way back to the caller.
    private func dispatch(
        _ transaction: RpcWireTransaction, descriptors: [Int32], to object: BinderObject, on connection: RpcConnection,
        reply: inout Parcel
    ) -> StatusCode {
        var request = RpcReceivedData.parcel(
            transaction.data, state: self, objectTable: transaction.objectTable, descriptors: descriptors)
        reply.rpcSession = self
        // Only a two-way call's caller waits on the connection: a oneway call allows no nested
        // calls back (libbinder's allowNested).
        let thread = pthread_self()
        let outer = serving.withLock { serving -> RpcConnection? in
            let outer = serving[thread]
            serving[thread] = transaction.isOneway ? nil : connection
            return outer
        }
        defer { serving.withLock { $0[thread] = outer } }
        let status = object.dispatch(
            code: transaction.code, data: &request, reply: &reply, flags: TransactionFlags(rawValue: transaction.flags))
        // What the reply could not carry fails the call rather than arriving as null.
        if status == .ok, reply.unsendableReason != nil { return .failedTransaction }
        return status
    }

    /// The connections this session's threads are serving calls on, by thread.
    private let serving = Mutex<[pthread_t: RpcConnection]>([:])

    /// The connection the calling thread is serving a call on, if any.
    func servingConnection() -> RpcConnection? {
        let thread = pthread_self()
        return serving.withLock { $0[thread] }
    }

    private func serveSpecial(_ transaction: RpcWireTransaction, on connection: RpcConnection) throws(RpcError) {
        var reply = Parcel(wireFormat: .rpc)
        reply.rpcSession = self
        switch transaction.code {
        case RpcSpecialTransaction.getRoot where isServer:
            // As any binder in a reply (listed in the object table from version 2).
            reply.writeStrongBinder(root)
        case RpcSpecialTransaction.getMaxThreads:
            reply.writeInt32(maxIncomingThreads)
        case RpcSpecialTransaction.getSessionID:
            reply.writeByteArray(sessionID)
        default:
            // A server does not know the code; a client answers anything else with an empty
            // success, as libbinder's does ("no server object attached").
            if !transaction.isOneway {
                if isServer { try connection.sendReply(status: StatusCode.unknownTransaction.rawValue) } else { try connection.sendReply(status: 0) }
            }
            return
        }
        if !transaction.isOneway { try connection.sendReply(status: 0, data: reply.dataBytes, objects: reply.rpcObjects) }
    }
}

extension Parcel {
    /// A binder object in RPC's encoding: `i32 1`, the u64 address, `i32` stability; null is
    /// `i32 0`, `i32 0` (libbinder's `flattenBinder` for RPC parcels).
    mutating func writeRPCBinder(address: RpcAddress?, stability: StabilityLevel) {
        guard let address else {
            writeInt32(0)
            writeInt32(0)
            return
        }
        writeInt32(1)
        writeInt64(Int64(bitPattern: address.rawValue))
        writeInt32(Int32(stability.rawValue))
    }

    /// Reads a binder object in RPC's encoding: its address (nil for null) and stability, which
    /// must be 0 for null and a declared level otherwise (libbinder's `finishUnflattenBinder`).
    public mutating func readRPCBinder() throws(ParcelError) -> (address: RpcAddress?, stability: StabilityLevel) {
        let start = readerIndex
        do throws(ParcelError) {
            let present = try readInt32()
            if present & 1 == 0 {
                let stability = try readInt32()
                guard stability == 0 else { throw .invalidStability(stability, offset: readerIndex - 4) }
                return (nil, .undeclared)
            }
            let address = RpcAddress(rawValue: UInt64(bitPattern: try readInt64()))
            let word = try readInt32()
            let stability = StabilityLevel(rawValue: Int16(truncatingIfNeeded: word))
            guard Int32(stability.rawValue) == word, stability.isDeclared else { throw .invalidStability(word, offset: readerIndex - 4) }
            return (address, stability)
        } catch {
            readerIndex = start
            throw error
        }
    }
}

/// Closes descriptors no one took.
func closeAll(_ descriptors: [Int32]) {
    for descriptor in descriptors { _ = close(descriptor) }
}
