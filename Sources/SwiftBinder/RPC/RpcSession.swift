import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A client's session with an RPC binder server (libbinder's `RpcSession`): connected to an
/// address, it fetches the server's root object, and calls on it (and on every object the
/// server hands out) go over its connections as AOSP's RPC wire protocol.
///
/// ```swift
/// let session = try RpcSession.connect(to: "unix:/run/calculator.sock")
/// let calculator = com.example.ICalculator.Proxy(try session.rootObject())
/// let sum = try calculator.add(a: 2, b: 3)
/// ```
///
/// The session opens as many outgoing connections as the server serves threads (at most
/// `maxOutgoingConnections`); each call holds one until its reply. The server calls objects of
/// this process back within a call on that call's connection, and outside one on the incoming
/// connections `maxIncomingThreads` opens.
public final class RpcSession: @unchecked Sendable {
    /// libbinder's default (`kDefaultMaxOutgoingConnections`).
    public static let defaultMaxOutgoingConnections = 10
    /// How long setting a session up may take by default: connecting, the server's answer, each
    /// further connection. Calls on the session are not bounded (binder calls block).
    public static let defaultSetupTimeout: Duration = .seconds(10)

    public let address: RpcSocketAddress
    /// The protocol version the server agreed to.
    public var protocolVersion: UInt32 { state.version }
    /// The 32 bytes the server knows this session by.
    public var sessionID: [UInt8] { state.sessionID }

    let state: RpcSessionState
    private let connections: ConnectionPool
    /// The threads async calls (`AsyncProxy` methods, `try await binder.call(...)`) make their
    /// blocking calls on: as many as the session has outgoing connections.
    let callThreads: CallThreads
    /// Whether descriptors travel in this session (a unix socket's, the server allowing it).
    public let carriesDescriptors: Bool

    private init(address: RpcSocketAddress, state: RpcSessionState, connections: [RpcConnection], incoming: [RpcConnection]) {
        self.address = address
        self.state = state
        self.incoming = incoming
        self.connections = ConnectionPool(connections)
        carriesDescriptors = connections.first?.carriesDescriptors ?? false
        callThreads = CallThreads(name: "rpc-call", limit: max(1, connections.count))
        state.session = self
        // A broken connection ends the session, as in libbinder (a failed send or receive
        // shuts the session down): its other connections close, its proxies' death handlers run.
        self.connections.onEmpty = { [state, incoming] in
            for connection in incoming { connection.socket.shutdownBoth() }
            state.ended()
        }
    }

    /// Connects to the server at `address` (`unix:PATH`, `inet:HOST:PORT`, `vsock:CID:PORT`),
    /// offering protocol `version`.
    /// - Parameters:
    ///   - maxIncomingThreads: connections (each with a thread of this process) on which the
    ///     server may call this process's objects outside a call of this process (libbinder's
    ///     `setMaxIncomingThreads`); 0, the default, allows only callbacks within a call.
    ///   - fileDescriptors: ask for descriptors to travel (unix sockets only: libbinder's UNIX
    ///     transport mode). Off by default, as in libbinder, whose servers refuse the mode unless
    ///     told to support it.
    ///   - timeout: the most each step of the setup may wait (a connect, the server's answer);
    ///     nil waits for ever. A step that runs out throws ``RpcError/timedOut(during:)``.
    public static func connect(
        to address: String, version: UInt32 = RpcProtocolVersion.current,
        maxOutgoingConnections: Int = defaultMaxOutgoingConnections, maxIncomingThreads: Int = 0,
        fileDescriptors: Bool = false, timeout: Duration? = defaultSetupTimeout
    ) throws(RpcError) -> RpcSession {
        try connect(
            to: RpcSocketAddress(parsing: address), version: version, maxOutgoingConnections: maxOutgoingConnections,
            maxIncomingThreads: maxIncomingThreads, fileDescriptors: fileDescriptors, timeout: timeout)
    }

    public static func connect(
        to address: RpcSocketAddress, version: UInt32 = RpcProtocolVersion.current,
        maxOutgoingConnections: Int = defaultMaxOutgoingConnections, maxIncomingThreads: Int = 0,
        fileDescriptors: Bool = false, timeout: Duration? = defaultSetupTimeout
    ) throws(RpcError) -> RpcSession {
        try connect(
            to: address, version: version, maxOutgoingConnections: maxOutgoingConnections,
            maxIncomingThreads: maxIncomingThreads, fileDescriptors: fileDescriptors, timeout: timeout, attempt: nil)
    }

    private static func connect(
        to address: RpcSocketAddress, version: UInt32, maxOutgoingConnections: Int, maxIncomingThreads: Int,
        fileDescriptors: Bool, timeout: Duration?, attempt: ConnectAttempt?
    ) throws(RpcError) -> RpcSession {
        func open() throws(RpcError) -> RpcSocket {
            let socket = try RpcSocket.connect(to: address, timeout: timeout)
            try attempt?.track(socket)
            return socket
        }
        // The first connection makes the session: header, then "cci" at once, then the
        // server's answer with the version both speak.
        let socket = try open()
        // Over a unix socket, descriptors may travel (SCM_RIGHTS), if the server allows it.
        var mode: UInt8 = 0
        if fileDescriptors {
            guard case .unix = address else { throw .badAddress("\(address) (descriptors travel over unix sockets only)") }
            mode = RpcConnectionHeader.unixDescriptorMode
        }
        try socket.write(RpcConnectionHeader(version: version, fileDescriptorTransportMode: mode).encoded + RpcConnectionInit.encoded)
        let agreed = RpcNewSessionResponse.decode(try socket.read(RpcNewSessionResponse.size, during: "the session response")).version
        // A server may only agree to what was offered (libbinder refuses an "upgrade").
        guard agreed <= version, agreed <= RpcProtocolVersion.current else { throw .unsupportedVersion(agreed) }
        let first = RpcConnection(socket: socket, version: agreed, carriesDescriptors: mode != 0)
        let bootstrap = RpcSessionState(isServer: false, version: agreed, root: nil, maxIncomingThreads: 0, sessionID: [])
        // As libbinder's setupClient: the server's thread count, then the session's id.
        var threads = try special(RpcSpecialTransaction.getMaxThreads, on: first, state: bootstrap)
        var idReply = try special(RpcSpecialTransaction.getSessionID, on: first, state: bootstrap)
        let maxThreads: Int32
        let id: [UInt8]
        do throws(ParcelError) {
            maxThreads = try threads.readInt32()
            id = try idReply.readByteArray()
        } catch {
            throw .malformed("the session's setup: \(error)")
        }
        guard maxThreads > 0 else { throw .malformed("the server serves \(maxThreads) threads") }
        guard id.count == 32 else { throw .malformed("a session id of \(id.count) bytes, not 32") }
        let state = RpcSessionState(
            isServer: false, version: agreed, root: nil, maxIncomingThreads: Int32(clamping: max(0, maxIncomingThreads)),
            sessionID: id)
        var connections = [first]
        for _ in 1..<max(1, min(Int(maxThreads), maxOutgoingConnections)) {
            // Joining: the header with the id, then "cci"; the server answers nothing.
            let joining = try open()
            try joining.write(
                RpcConnectionHeader(version: agreed, fileDescriptorTransportMode: mode, sessionID: id).encoded + RpcConnectionInit.encoded)
            connections.append(RpcConnection(socket: joining, version: agreed, carriesDescriptors: mode != 0))
        }
        // The incoming connections, all made before any of their threads starts.
        var incoming: [RpcConnection] = []
        for _ in 0..<max(0, maxIncomingThreads) {
            // Incoming: the header says so, then the server sends "cci" (it will send commands).
            let incomingSocket = try open()
            try incomingSocket.write(
                RpcConnectionHeader(
                    version: agreed, options: RpcConnectionHeader.incomingOption, fileDescriptorTransportMode: mode, sessionID: id
                ).encoded)
            guard RpcConnectionInit.isValid(try incomingSocket.read(RpcConnectionInit.size, during: "the server's connection init")) else {
                throw .malformed("the server's connection init is not \"cci\"")
            }
            incoming.append(RpcConnection(socket: incomingSocket, version: agreed, carriesDescriptors: mode != 0))
        }
        // Set up: from now on a read waits as long as the call it belongs to.
        for connection in connections + incoming { connection.socket.setTimeouts(nil) }
        let session = RpcSession(address: address, state: state, connections: connections, incoming: incoming)
        for connection in incoming {
            let failed = startDetachedThread(named: "rpc-incoming") { [state] in
                Self.serveIncoming(connection, state: state)
            }
            if let failed {
                session.shutdown()
                throw .system("starting an incoming connection's thread", errno: failed.rawValue)
            }
        }
        return session
    }

    /// Connections the server calls this process on (closed with the session).
    private let incoming: [RpcConnection]

    /// Serves the server's calls on an incoming connection until it closes; the session ends
    /// with it (the server is gone).
    private static func serveIncoming(_ connection: RpcConnection, state: RpcSessionState) {
        do {
            try state.serveCommands(on: connection)
        } catch {
            connection.socket.shutdownBoth()
            state.session?.shutdown()
            state.ended()
        }
    }

    /// ``connect(to:version:maxOutgoingConnections:maxIncomingThreads:fileDescriptors:timeout:)``
    /// from async code: the blocking connect runs on a thread of its own; cancelling the task
    /// closes the sockets being set up, and it gets `CancellationError` at once.
    public static func connect(
        to address: String, version: UInt32 = RpcProtocolVersion.current,
        maxOutgoingConnections: Int = defaultMaxOutgoingConnections, maxIncomingThreads: Int = 0,
        fileDescriptors: Bool = false, timeout: Duration? = defaultSetupTimeout
    ) async throws -> RpcSession {
        let parsed = try RpcSocketAddress(parsing: address)
        let attempt = ConnectAttempt()
        let session: RpcSession
        do {
            session = try await withTaskCancellationHandler {
                try await CallThreads.forLocalObjects.run {
                    try connect(
                        to: parsed, version: version, maxOutgoingConnections: maxOutgoingConnections,
                        maxIncomingThreads: maxIncomingThreads, fileDescriptors: fileDescriptors, timeout: timeout,
                        attempt: attempt)
                }
            } onCancel: {
                attempt.cancel()
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
        if Task.isCancelled {
            session.shutdown()
            throw CancellationError()
        }
        return session
    }

    /// ``rootObject()`` from async code.
    public func rootObject() async throws -> (any IBinder)? {
        try await callThreads.run { [self] in try rootObject() }
    }

    /// One special transaction on a connection of a session being set up.
    private static func special(_ code: UInt32, on connection: RpcConnection, state: RpcSessionState) throws(RpcError) -> Parcel {
        try connection.send(.transact, RpcWireTransaction(address: .special, code: code).encoded(version: connection.version))
        let (reply, descriptors) = try state.waitForReply(on: connection)
        closeAll(descriptors)
        guard reply.status == 0 else { throw .malformed("special transaction \(code) failed with status \(reply.status)") }
        return RpcReceivedData.parcel(reply.data, state: state)
    }

    /// The server's root object (GET_ROOT), or nil if it serves none.
    public func rootObject() throws(RpcError) -> (any IBinder)? {
        var reply = try transact(address: .special, code: RpcSpecialTransaction.getRoot, data: [], flags: [])
        do throws(BinderError) {
            return try reply.readNullableStrongBinder()
        } catch .rpc(let error) {
            throw error
        } catch {
            throw .malformed("the root object: \(error)")
        }
    }

    /// Closes every connection; calls in flight and later ones fail.
    public func shutdown() {
        connections.close()
        for connection in incoming { connection.socket.shutdownBoth() }
        // Stopped from a thread of its own: shutdown may run on one of the call threads.
        let threads = callThreads
        _ = startDetachedThread(named: "rpc-stop") { _ = threads.stop(timeout: .seconds(5)) }
    }

    deinit { shutdown() }

    // MARK: - Calls

    /// Sends a transaction and waits for its reply on one connection, serving what the server
    /// sends meanwhile (its DEC_STRONGs, nested calls back into this process).
    func transact(
        address: RpcAddress, code: UInt32, data: [UInt8], objects: (positions: [UInt32], descriptors: [Int32]) = ([], []),
        flags: TransactionFlags
    ) throws(RpcError) -> Parcel {
        let transaction = state.transaction(to: address, code: code, data: data, objectTable: objects.positions, flags: flags)
        return try connections.withConnection { (connection) throws(RpcError) -> Parcel in
            try Self.transact(connection, transaction, descriptors: objects.descriptors, state: state)
        }
    }

    /// A call on a given connection (a server calling back the client whose call it serves).
    static func transact(
        on connection: RpcConnection, state: RpcSessionState, address: RpcAddress, code: UInt32, data: [UInt8],
        objects: (positions: [UInt32], descriptors: [Int32]), flags: TransactionFlags
    ) throws(RpcError) -> Parcel {
        let transaction = state.transaction(to: address, code: code, data: data, objectTable: objects.positions, flags: flags)
        return try transact(connection, transaction, descriptors: objects.descriptors, state: state)
    }

    private static func transact(
        _ connection: RpcConnection, _ transaction: RpcWireTransaction, descriptors: [Int32] = [], state: RpcSessionState
    ) throws(RpcError) -> Parcel {
        try connection.send(.transact, transaction.encoded(version: connection.version), descriptors: descriptors)
        guard !transaction.isOneway else { return Parcel(wireFormat: .rpc) }
        let (reply, received) = try state.waitForReply(on: connection)
        guard reply.status == 0 else { throw .callFailed(status: reply.status) }
        return RpcReceivedData.parcel(reply.data, state: state, objectTable: reply.objectTable, descriptors: received)
    }

    func sendDecStrong(_ address: RpcAddress, amount: UInt32) throws(RpcError) {
        try connections.withConnection { (connection) throws(RpcError) in try connection.sendDecStrong(address, amount: amount) }
    }
}

/// A session's connections, each used by one call at a time.
final class ConnectionPool: @unchecked Sendable {
    private let lock = ConditionLock()
    private var idle: [RpcConnection]
    private var all: [RpcConnection]
    private var closed = false

    /// Called once when the pool closes: it was closed, or one of its connections broke.
    var onEmpty: (@Sendable () -> Void)?

    init(_ connections: [RpcConnection]) {
        idle = connections
        all = connections
    }

    /// How many connections the pool has.
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return all.count
    }

    var hasConnections: Bool {
        lock.lock()
        defer { lock.unlock() }
        return !all.isEmpty && !closed
    }

    /// Adds a connection for later calls.
    func add(_ connection: RpcConnection) {
        lock.lock()
        guard !closed else {
            lock.unlock()
            connection.socket.shutdownBoth()
            return
        }
        all.append(connection)
        idle.append(connection)
        lock.broadcast()
        lock.unlock()
    }

    /// Runs `body` with a connection of its own, waiting for one if all are busy. A connection
    /// that failed (other than by the peer answering a failed status) is closed, not reused.
    func withConnection<R: ~Copyable>(_ body: (RpcConnection) throws(RpcError) -> R) throws(RpcError) -> R {
        lock.lock()
        while !closed && idle.isEmpty && !all.isEmpty { lock.wait() }
        guard !closed, !idle.isEmpty else {
            lock.unlock()
            throw .sessionEnded
        }
        let connection = idle.removeLast()
        lock.unlock()
        do {
            let result = try body(connection)
            giveBack(connection, broken: false)
            return result
        } catch {
            // A failed status, or a refusal before anything was written, leaves the connection
            // as it was; anything else broke it.
            switch error {
            case .callFailed, .tooLarge: giveBack(connection, broken: false)
            default: giveBack(connection, broken: true)
            }
            throw error
        }
    }

    /// A connection back from a call. A broken one closes the pool: the peer is gone or out
    /// of step, and libbinder ends the whole session then (`shutdownAndWait` after a failed
    /// send or receive) rather than trying the other connections.
    private func giveBack(_ connection: RpcConnection, broken: Bool) {
        guard !broken else {
            close()
            return
        }
        lock.lock()
        idle.append(connection)
        lock.broadcast()
        lock.unlock()
    }

    func close() {
        lock.lock()
        let wasOpen = !closed
        closed = true
        let connections = all
        all.removeAll()
        idle.removeAll()
        lock.broadcast()
        lock.unlock()
        for connection in connections { connection.socket.shutdownBoth() }
        if wasOpen { onEmpty?() }
    }
}

/// An object of the peer of an RPC session, by its address (libbinder's `BpBinder` for RPC).
/// Generated proxies work on it as on a kernel handle; its parcels are RPC parcels.
public final class RpcProxy: IBinder, @unchecked Sendable {
    public let address: RpcAddress
    let state: RpcSessionState
    let generation: UInt64
    /// A client's proxy keeps its session (libbinder's BpBinder holds its RpcSession): the
    /// session ends when its user shuts it down or its last proxy goes.
    private let session: RpcSession?
    private let dead = Atomic<Bool>(false)
    private let recordedStability = Atomic<Int16>(StabilityLevel.undeclared.rawValue)

    /// The level the object arrived with; sent back with it (libbinder echoes a proxy's level).
    public var stability: StabilityLevel {
        let recorded = StabilityLevel(rawValue: recordedStability.load(ordering: .relaxed))
        return recorded == .undeclared ? .system : recorded
    }

    /// Records the level a received object declared. A proxy keeps the first level it is given;
    /// false for another one later, which libbinder refuses (`Stability::setRepr`: BAD_TYPE).
    func recordStability(_ level: StabilityLevel) -> Bool {
        let (exchanged, previous) = recordedStability.compareExchange(
            expected: StabilityLevel.undeclared.rawValue, desired: level.rawValue, ordering: .relaxed)
        return exchanged || previous == level.rawValue
    }

    init(address: RpcAddress, state: RpcSessionState, generation: UInt64) {
        self.address = address
        self.state = state
        self.generation = generation
        session = state.session
    }

    deinit { state.proxyReleased(address, generation: generation) }

    public func prepareTransaction() -> Parcel {
        var parcel = Parcel(wireFormat: .rpc)
        parcel.rpcSession = state
        return parcel
    }

    public var isAlive: Bool { !dead.load(ordering: .relaxed) && !state.hasEnded }

    /// Calls `onDeath` once when the session ends (its connections broke or closed: the peer
    /// died or went away). Death over RPC is known locally; there is no message for it.
    public func linkToDeath(_ onDeath: @escaping @Sendable () -> Void) throws(BinderError) -> BinderProxy.DeathLink {
        guard let id = state.linkToDeath(onDeath) else { throw .transactionFailed(.deadTarget) }
        return BinderProxy.DeathLink(id: id)
    }

    public func unlinkToDeath(_ link: BinderProxy.DeathLink) throws(BinderError) {
        state.unlinkToDeath(link.id)
    }

    public func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel {
        guard data.dataSize == 0 || data.wireFormat.isRPC else {
            throw .wireFormatMismatch(request: data.wireFormat, target: .rpc, targetRelease: "RPC binder")
        }
        if let reason = data.unsendableReason { throw .unsupported(reason) }
        let objects = data.rpcObjects
        if !objects.descriptors.isEmpty,
            !(state.session?.carriesDescriptors ?? state.servingConnection()?.carriesDescriptors ?? false)
        {
            throw .unsupported("file descriptors over an RPC session that does not carry them (unix socket sessions do)")
        }
        if data.dataSize > RpcConnection.maximumSentBody {
            throw .rpc(.tooLarge(data.dataSize, limit: RpcConnection.maximumSentBody))
        }
        if let rpcSession = data.rpcSession, rpcSession !== state {
            // Its binders are another session's addresses (libbinder: "Parcel's session doesn't match").
            throw .unsupported("a parcel made for another RPC session")
        }
        do throws(RpcError) {
            // First the connection this thread serves a call on: its caller waits on it and
            // serves what comes (libbinder's nested calls); waiting for another could deadlock.
            if !flags.contains(.oneWay), let connection = state.servingConnection() {
                return try RpcSession.transact(
                    on: connection, state: state, address: address, code: code, data: data.dataBytes, objects: objects,
                    flags: flags)
            }
            if let session = state.session {
                return try session.transact(address: address, code: code, data: data.dataBytes, objects: objects, flags: flags)
            }
            // A server outside a call: over a connection the client serves, if it opened any;
            // else it cannot reach the client now (libbinder's WOULD_BLOCK).
            guard state.serverOutgoing.hasConnections else { throw .callFailed(status: StatusCode.wouldBlock.rawValue) }
            return try state.serverOutgoing.withConnection { (connection) throws(RpcError) -> Parcel in
                try RpcSession.transact(
                    on: connection, state: state, address: address, code: code, data: data.dataBytes, objects: objects,
                    flags: flags)
            }
        } catch .callFailed(let status) {
            throw .remoteStatus(StatusCode(rawValue: status))
        } catch {
            if state.hasEnded { dead.store(true, ordering: .relaxed) }
            throw .rpc(error)
        }
    }
}

/// The sockets of a session being set up, so that cancelling the task waiting for it closes
/// them: a blocked read or write returns at once. (A connect in progress is not tracked yet; the
/// setup timeout bounds it.)
final class ConnectAttempt: Sendable {
    private let state = Mutex<(sockets: [RpcSocket], cancelled: Bool)>(([], false))

    /// Follows `socket`; closes it at once if the attempt was already cancelled.
    func track(_ socket: RpcSocket) throws(RpcError) {
        let cancelled = state.withLock { state in
            state.sockets.append(socket)
            return state.cancelled
        }
        if cancelled {
            socket.shutdownBoth()
            throw .sessionEnded
        }
    }

    func cancel() {
        let sockets = state.withLock { state in
            state.cancelled = true
            return state.sockets
        }
        for socket in sockets { socket.shutdownBoth() }
    }
}
