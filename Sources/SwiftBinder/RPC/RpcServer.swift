import Logging
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Serves a root object over RPC binder at a socket address (libbinder's `RpcServer`): clients
/// connect with ``RpcSession`` (or libbinder's `RpcSession`), fetch the root, and call it and
/// the objects it hands out. Each connection is served by a thread of its own, as libbinder
/// serves them; a connection that breaks the protocol is closed and the server goes on.
///
/// ```swift
/// let server = try RpcServer(root: com.example.ICalculator.Stub(Calculator()), address: "unix:/run/calculator.sock")
/// server.start()
/// ```
public final class RpcServer: @unchecked Sendable {
    public let address: RpcSocketAddress
    public let root: BinderObject
    /// How many connections of a session the server serves at once (GET_MAX_THREADS).
    public let maxThreads: Int32
    /// The newest protocol version the server agrees to.
    public let protocolVersion: UInt32
    /// The most connections served at once, all sessions together.
    public let maxConnections: Int
    let logger: Logger

    private let listener: RpcSocket
    /// Written once by ``shutdown()``: wakes the accept thread (a vsock listener's shutdown
    /// does not).
    private let wakeUp: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
    private struct State {
        /// Sessions by id, with how many connections each has; a session goes with its last.
        var sessions: [[UInt8]: (session: RpcSessionState, connections: Int)] = [:]
        var connections: [ObjectIdentifier: RpcSocket] = [:]
        var threads = 0
        var stopped = false
    }
    private let state = Mutex(State())
    private let finished = ConditionLock()

    /// Listens at `address` (`unix:PATH`, `inet:HOST:PORT`, `vsock:CID:PORT`; port 0 picks one,
    /// see ``port``). Nothing is served before ``start()``.
    public init(
        root: BinderObject, address: String, maxThreads: Int32 = 1, protocolVersion: UInt32 = RpcProtocolVersion.current,
        maxConnections: Int = 64, logger: Logger = Logger(label: "swiftbinder.rpc")
    ) throws(RpcError) {
        self.address = try RpcSocketAddress(parsing: address)
        self.root = root
        self.maxThreads = max(1, maxThreads)
        self.protocolVersion = min(protocolVersion, RpcProtocolVersion.current)
        self.maxConnections = maxConnections
        self.logger = logger
        listener = try RpcSocket.listen(at: self.address)
        do {
            wakeUp = try FileDescriptor.pipe()
        } catch {
            throw .system("pipe", errno: (error as? Errno)?.rawValue ?? EIO)
        }
    }

    deinit {
        try? wakeUp.readEnd.close()
        try? wakeUp.writeEnd.close()
    }

    /// The port an `inet:` server listens on (the one the system chose for port 0).
    public var port: UInt16? { listener.boundPort }

    /// Accepts and serves connections on threads of their own until ``shutdown()``.
    public func start() {
        state.withLock { $0.threads += 1 }
        if let errno = startDetachedThread(named: "rpc-accept", { [self] in
            acceptLoop()
            ended()
        }) {
            logger.error("starting the RPC accept thread failed", metadata: ["error": "\(errno)"])
            ended()
        }
    }

    /// A thread of the server is done.
    private func ended() {
        state.withLock { $0.threads -= 1 }
        finished.lock()
        finished.broadcast()
        finished.unlock()
    }

    /// Stops accepting, closes every connection and waits for their threads to end.
    public func shutdown() {
        let (sockets, sessions) = state.withLock { state -> ([RpcSocket], [RpcSessionState]) in
            state.stopped = true
            return (Array(state.connections.values), state.sessions.values.map(\.session))
        }
        listener.shutdownBoth()
        _ = try? wakeUp.writeEnd.writeAll([1])
        for socket in sockets { socket.shutdownBoth() }
        // Their connections to the clients too (a thread calling a client returns).
        for session in sessions { session.ended() }
        finished.lock()
        while state.withLock({ $0.threads }) > 0 { finished.wait() }
        finished.unlock()
        if case .unix(let path) = address { _ = unlink(path) }
    }

    private func acceptLoop() {
        while true {
            let socket: RpcSocket?
            do {
                socket = try listener.accept(unlessWoken: wakeUp.readEnd)
            } catch {
                // Out of descriptors, most likely: back off rather than spin.
                logger.error("accepting an RPC connection failed", metadata: ["error": "\(error)"])
                var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
                nanosleep(&pause, nil)
                continue
            }
            guard let socket else { break }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.connections.count < maxConnections else { return false }
                state.connections[ObjectIdentifier(socket)] = socket
                state.threads += 1
                return true
            }
            guard admitted else {
                logger.warning("refusing an RPC connection: \(maxConnections) connections are open")
                continue  // closed as `socket` goes
            }
            let failure = startDetachedThread(named: "rpc-connection") { [self] in
                serve(socket)
                state.withLock { $0.connections[ObjectIdentifier(socket)] = nil }
                ended()
            }
            if let failure {
                logger.error("starting an RPC connection thread failed", metadata: ["error": "\(failure)"])
                state.withLock { $0.connections[ObjectIdentifier(socket)] = nil }
                ended()
            }
        }
    }

    /// Serves a socket that is already connected (one end of a `socketpair`, a connection
    /// accepted elsewhere) on the calling thread, until it closes or breaks the protocol; the
    /// server owns and closes the descriptor.
    public func serve(connected fd: FileDescriptor) {
        serve(RpcSocket(fd: fd.rawValue))
    }

    /// One connection: its handshake, then its commands until it closes or misbehaves.
    private func serve(_ socket: RpcSocket) {
        var joined: RpcSessionState?
        defer {
            if let joined {
                let last = state.withLock { state -> Bool in
                    guard let entry = state.sessions[joined.sessionID] else { return false }
                    state.sessions[joined.sessionID] = entry.connections > 1 ? (entry.session, entry.connections - 1) : nil
                    return entry.connections == 1
                }
                // The session's last connection is gone: the client is, and its proxies die.
                if last { joined.ended() }
            }
        }
        do {
            // nil: a connection the client serves, which now carries the session's calls.
            guard let (session, connection) = try handshake(socket) else { return }
            joined = session
            try session.serveCommands(on: connection)
        } catch RpcError.connectionClosed {
            // The client went away.
        } catch {
            logger.warning("closing an RPC connection", metadata: ["error": "\(error)"])
        }
        socket.shutdownBoth()
    }

    /// Reads the connection header (and the session id of a joining connection), answers a new
    /// session with the agreed version, and reads "cci" (libbinder's `establishConnection`).
    /// The most connections a client may open for the server's calls to it.
    static let maxIncomingPerSession = 16

    /// How long a new connection may take to say who it is.
    static let handshakeTimeout: Duration = .seconds(10)

    private func handshake(_ socket: RpcSocket) throws(RpcError) -> (RpcSessionState, RpcConnection)? {
        socket.setReceiveTimeout(Self.handshakeTimeout)
        defer { socket.setReceiveTimeout(nil) }
        let (header, idSize) = RpcConnectionHeader.decodeFixed(try socket.read(RpcConnectionHeader.size, during: "the connection header"))
        guard idSize == 0 || idSize == 32 else { throw .malformed("a session id of \(idSize) bytes") }
        // Descriptors travel only over unix sockets (SCM_RIGHTS); a server elsewhere refuses the
        // mode, as libbinder refuses a mode it was not told to support.
        var unixSocket = false
        if case .unix = address { unixSocket = true }
        guard header.fileDescriptorTransportMode == 0
            || (header.fileDescriptorTransportMode == RpcConnectionHeader.unixDescriptorMode && unixSocket)
        else {
            throw .malformed("file descriptor transport mode \(header.fileDescriptorTransportMode) is not supported here")
        }
        let id = idSize == 0 ? nil : try socket.read(32, during: "the session id")
        if header.options & RpcConnectionHeader.incomingOption != 0 {
            // A connection the client serves: this server sends "cci" and its calls go there.
            guard let id else { throw .malformed("a new session's first connection asks to be incoming") }
            guard let session = state.withLock({ $0.sessions[id]?.session }) else { throw .malformed("an unknown session id") }
            guard session.serverOutgoing.count < Self.maxIncomingPerSession else {
                throw .malformed("more than \(Self.maxIncomingPerSession) incoming connections for one session")
            }
            try socket.write(RpcConnectionInit.encoded)
            session.serverOutgoing.add(
                RpcConnection(
                    socket: socket, version: session.version,
                    carriesDescriptors: header.fileDescriptorTransportMode == RpcConnectionHeader.unixDescriptorMode))
            return nil
        }
        if id == nil {
            try socket.write(RpcNewSessionResponse(version: min(header.version, protocolVersion)).encoded)
        }
        guard RpcConnectionInit.isValid(try socket.read(RpcConnectionInit.size, during: "the connection init")) else {
            throw .malformed("the connection init is not \"cci\"")
        }
        // Registered only once the handshake is whole: a connection that fails it leaves nothing.
        let session: RpcSessionState
        if let id {
            // A session serves at most maxThreads connections (libbinder refuses more).
            let existing = state.withLock { state -> RpcSessionState? in
                guard let entry = state.sessions[id], entry.connections < maxThreads else { return nil }
                state.sessions[id] = (entry.session, entry.connections + 1)
                return entry.session
            }
            guard let existing else { throw .malformed("an unknown session id, or a session with all its connections") }
            session = existing
        } else {
            var newID = [UInt8](repeating: 0, count: 32)
            var random = SystemRandomNumberGenerator()
            for index in newID.indices { newID[index] = random.next() }
            session = RpcSessionState(
                isServer: true, version: min(header.version, protocolVersion), root: root, maxIncomingThreads: maxThreads,
                sessionID: newID)
            state.withLock { $0.sessions[newID] = (session, 1) }
        }
        return (
            session,
            RpcConnection(
                socket: socket, version: session.version,
                carriesDescriptors: header.fileDescriptorTransportMode == RpcConnectionHeader.unixDescriptorMode)
        )
    }
}
