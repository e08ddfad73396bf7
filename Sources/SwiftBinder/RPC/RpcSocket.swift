#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an RPC server listens or a session connects: `unix:PATH`, `inet:HOST:PORT` or
/// `vsock:CID:PORT`, as AOSP's tools write them.
public enum RpcSocketAddress: Hashable, Sendable, CustomStringConvertible {
    case unix(path: String)
    case inet(host: String, port: UInt16)
    case vsock(cid: UInt32, port: UInt32)

    public init(parsing text: String) throws(RpcError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else { throw .badAddress(text) }
        switch parts[0] {
        case "unix":
            self = .unix(path: parts[1])
        case "inet":
            guard let colon = parts[1].lastIndex(of: ":"), let port = UInt16(parts[1][parts[1].index(after: colon)...]) else {
                throw .badAddress(text)
            }
            self = .inet(host: String(parts[1][..<colon]), port: port)
        case "vsock":
            let numbers = parts[1].split(separator: ":").compactMap { UInt32($0) }
            guard numbers.count == 2 else { throw .badAddress(text) }
            self = .vsock(cid: numbers[0], port: numbers[1])
        default:
            throw .badAddress(text)
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .inet(let host, let port): "inet:\(host):\(port)"
        case .vsock(let cid, let port): "vsock:\(cid):\(port)"
        }
    }
}

/// A connected stream socket carrying one RPC connection, read and written whole: every read is
/// of an exact size (the protocol's structs and bodies), every write complete. The socket calls
/// of the RPC layer are all here, each failure a typed ``RpcError``.
final class RpcSocket: @unchecked Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { _ = close(fd) }

    /// Reads exactly `count` bytes; the peer closing first is ``RpcError/connectionClosed(during:)``.
    func read(_ count: Int, during what: String) throws(RpcError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                recv(fd, buffer.baseAddress! + filled, count - filled, 0)
            }
            if result > 0 {
                filled += result
            } else if result == 0 {
                throw .connectionClosed(during: what)
            } else if errno != EINTR {
                if errno == ECONNRESET || errno == EBADF || errno == ENOTCONN { throw .connectionClosed(during: what) }
                throw .system("recv", errno: errno)
            }
        }
        return bytes
    }

    /// Writes all of `bytes` (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
    func write(_ bytes: [UInt8]) throws(RpcError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                send(fd, buffer.baseAddress! + written, bytes.count - written, Int32(MSG_NOSIGNAL))
            }
            if result >= 0 {
                written += result
            } else if errno != EINTR {
                if errno == EPIPE || errno == ECONNRESET || errno == EBADF { throw .connectionClosed(during: "a write") }
                throw .system("send", errno: errno)
            }
        }
    }

    /// Ends both directions: a thread blocked reading this socket returns (the peer sees EOF).
    func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    // MARK: - Connecting and listening

    static func connect(to address: RpcSocketAddress) throws(RpcError) -> RpcSocket {
        let socket = try make(address)
        let result = try withSocketAddress(address) { pointer, length in Glibc.connect(socket.fd, pointer, length) }
        guard result == 0 else { throw .system("connect to \(address)", errno: errno) }
        if case .inet = address { socket.setNoDelay() }
        return socket
    }

    /// A socket listening at `address` (a unix socket's path is replaced).
    static func listen(at address: RpcSocketAddress, backlog: Int32 = 50) throws(RpcError) -> RpcSocket {
        let socket = try make(address)
        var one: Int32 = 1
        if case .inet = address { setsockopt(socket.fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if case .unix(let path) = address { _ = unlink(path) }
        let bound = try withSocketAddress(address) { pointer, length in bind(socket.fd, pointer, length) }
        guard bound == 0 else { throw .system("bind to \(address)", errno: errno) }
        guard Glibc.listen(socket.fd, backlog) == 0 else { throw .system("listen", errno: errno) }
        return socket
    }

    /// The next connection, or nil once the listening socket was shut down.
    func accept() throws(RpcError) -> RpcSocket? {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let socket = RpcSocket(fd: client)
                socket.setNoDelay()
                return socket
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EINVAL, EBADF: return nil  // shut down
            default: throw .system("accept", errno: errno)
            }
        }
    }

    /// The port an inet socket is bound to (after binding port 0).
    var boundPort: UInt16? {
        var storage = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0, storage.sin_family == sa_family_t(AF_INET) else { return nil }
        return UInt16(bigEndian: storage.sin_port)
    }

    private func setNoDelay() {
        var one: Int32 = 1
        // Harmless on a unix socket (it fails there); libbinder sets it on inet sockets.
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func make(_ address: RpcSocketAddress) throws(RpcError) -> RpcSocket {
        let family: Int32
        switch address {
        case .unix: family = AF_UNIX
        case .inet: family = AF_INET
        case .vsock: family = 40  // AF_VSOCK
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno: errno) }
        return RpcSocket(fd: fd)
    }

    /// Calls `body` with `address` as a `sockaddr` (an inet host is resolved to IPv4 with
    /// getaddrinfo).
    private static func withSocketAddress(
        _ address: RpcSocketAddress, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws(RpcError) -> Int32 {
        switch address {
        case .unix(let path):
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: storage.sun_path)
            let bytes = Array(path.utf8)
            guard bytes.count < capacity else { throw .badAddress("unix:\(path) (longer than \(capacity - 1) bytes)") }
            withUnsafeMutableBytes(of: &storage.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        case .inet(let host, let port):
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var results: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &results)
            guard status == 0, let first = results, let resolved = first.pointee.ai_addr else {
                throw .badAddress("inet:\(host):\(port) (it does not resolve)")
            }
            defer { freeaddrinfo(results) }
            return body(resolved, first.pointee.ai_addrlen)
        case .vsock(let cid, let port):
            // struct sockaddr_vm: family (u16), reserved (u16), port (u32), cid (u32), flags, zero[3].
            var raw = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: UInt16(40)) { for index in 0..<2 { raw[index] = $0[index] } }
            withUnsafeBytes(of: port) { for index in 0..<4 { raw[4 + index] = $0[index] } }
            withUnsafeBytes(of: cid) { for index in 0..<4 { raw[8 + index] = $0[index] } }
            return raw.withUnsafeBytes { $0.withMemoryRebound(to: sockaddr.self) { body($0.baseAddress!, 16) } }
        }
    }
}
