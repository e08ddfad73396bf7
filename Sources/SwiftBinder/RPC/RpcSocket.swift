import SystemPackage

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
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(during: what) }
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
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(during: "a write") }
                throw .system("send", errno: errno)
            }
        }
    }

    /// The most descriptors one message carries (libbinder's `kMaxFdsPerMsg`).
    static let maximumDescriptors = 253

    /// Writes `bytes` with `descriptors` (SCM_RIGHTS) on the first part, as libbinder sends a
    /// command's descriptors with its header; the rest, if the first write was short, follows.
    func write(_ bytes: [UInt8], descriptors: [Int32]) throws(RpcError) {
        guard !descriptors.isEmpty else { return try write(bytes) }
        guard descriptors.count <= Self.maximumDescriptors else {
            throw .tooLarge(descriptors.count, limit: Self.maximumDescriptors)
        }
        // struct cmsghdr: cmsg_len (size_t), cmsg_level (int), cmsg_type (int), then the fds.
        let headerSize = MemoryLayout<Int>.size + 8
        let length = headerSize + descriptors.count * 4
        var control = [UInt8](repeating: 0, count: (length + 7) & ~7)
        control.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length, toByteOffset: 0, as: Int.self)
            raw.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
            raw.storeBytes(of: Int32(SCM_RIGHTS), toByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
            for (index, fd) in descriptors.enumerated() { raw.storeBytes(of: fd, toByteOffset: headerSize + index * 4, as: Int32.self) }
        }
        var sent = -1
        while sent < 0 {
            sent = bytes.withUnsafeBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: data.baseAddress), iov_len: data.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                    }
                }
            }
            if sent < 0 && errno != EINTR {
                if errno == EPIPE || errno == ECONNRESET { throw .connectionClosed(during: "a write") }
                throw .system("sendmsg", errno: errno)
            }
        }
        if sent < bytes.count { try write(Array(bytes[sent...])) }
    }

    /// Reads exactly `count` bytes, collecting the descriptors (SCM_RIGHTS) that come with them;
    /// more than ``maximumDescriptors`` (a truncated control message) is an error.
    func read(_ count: Int, collectingDescriptorsDuring what: String) throws(RpcError) -> (bytes: [UInt8], descriptors: [Int32]) {
        var bytes = [UInt8](repeating: 0, count: count)
        var descriptors: [Int32] = []
        var filled = 0
        let headerSize = MemoryLayout<Int>.size + 8
        var control = [UInt8](repeating: 0, count: (headerSize + Self.maximumDescriptors * 4 + 7) & ~7)
        while filled < count {
            var flags: Int32 = 0
            var controlLength = 0
            let result = bytes.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: data.baseAddress! + filled, iov_len: count - filled)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        let received = recvmsg(fd, &message, Int32(MSG_CMSG_CLOEXEC))
                        flags = message.msg_flags
                        controlLength = message.msg_controllen
                        return received
                    }
                }
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = errno
                closeAll(descriptors)
                if error == ECONNRESET { throw .connectionClosed(during: what) }
                throw .system("recvmsg", errno: error)
            }
            // Every control message that arrived: SCM_RIGHTS adds descriptors (ours to close).
            var offset = 0
            while offset + headerSize <= controlLength {
                let length = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int.self) }
                let level = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self) }
                let type = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self) }
                guard length >= headerSize, offset + length <= controlLength else { break }
                if level == SOL_SOCKET && type == Int32(SCM_RIGHTS) {
                    for index in 0..<(length - headerSize) / 4 {
                        descriptors.append(control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + headerSize + index * 4, as: Int32.self) })
                    }
                }
                offset += (length + 7) & ~7
            }
            // At most one message's worth per command, however the header's bytes were split.
            if flags & Int32(MSG_CTRUNC) != 0 || descriptors.count > Self.maximumDescriptors {
                closeAll(descriptors)
                throw .malformed("more descriptors than a message may carry")
            }
            if result == 0 {
                closeAll(descriptors)
                throw .connectionClosed(during: what)
            }
            filled += result
        }
        return (bytes, descriptors)
    }

    /// Bounds how long a read may wait (nil: for ever), e.g. for a handshake.
    func setReceiveTimeout(_ timeout: Duration?) {
        setTimeout(SO_RCVTIMEO, timeout)
    }

    /// Bounds how long a read, a write or a connect may wait (nil: for ever).
    func setTimeouts(_ timeout: Duration?) {
        setTimeout(SO_RCVTIMEO, timeout)
        setTimeout(SO_SNDTIMEO, timeout)
    }

    private func setTimeout(_ option: Int32, _ timeout: Duration?) {
        // At least a microsecond: zero means for ever.
        let (seconds, attoseconds) = (timeout.map { max($0, .microseconds(1)) } ?? .zero).components
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Ends both directions: a thread blocked reading this socket returns (the peer sees EOF).
    func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    // MARK: - Connecting and listening

    /// A socket connected to `address`, its reads and writes bounded by `timeout` (which also
    /// bounds the connect itself) until ``setTimeouts(_:)`` changes them.
    static func connect(to address: RpcSocketAddress, timeout: Duration? = nil) throws(RpcError) -> RpcSocket {
        let socket = try make(address)
        socket.setTimeouts(timeout)
        let result = try withSocketAddress(address) { pointer, length in Glibc.connect(socket.fd, pointer, length) }
        guard result == 0 else {
            // A blocking connect that ran out of SO_SNDTIMEO: EINPROGRESS (inet), EAGAIN (unix).
            if errno == EINPROGRESS || errno == EAGAIN { throw .timedOut(during: "connect to \(address)") }
            throw .system("connect to \(address)", errno: errno)
        }
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

    /// The next connection, or nil once the listening socket was shut down or `wakeUp` became
    /// readable. Shutting a listening socket down wakes a blocked accept for unix and inet
    /// sockets but not for vsock (vsock_shutdown refuses an unconnected socket), so the wait is a
    /// poll on both, as libbinder's accept waits on its FdTrigger.
    func accept(unlessWoken wakeUp: FileDescriptor) throws(RpcError) -> RpcSocket? {
        while true {
            var waits = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeUp.rawValue, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&waits, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system("poll", errno: errno)
            }
            if waits[1].revents != 0 { return nil }
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
