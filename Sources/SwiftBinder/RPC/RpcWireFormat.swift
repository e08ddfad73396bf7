import SystemPackage

// AOSP's RPC binder wire format (libs/binder/RpcWireFormat.h and include/binder/RpcSession.h at
// android-14.0.0_r20 through android-16.0.0_r3; docs/rpc-protocol-notes.md): fixed-size
// little-endian structs without padding, sent as a byte stream over a socket.

/// The RPC wire protocol versions SwiftBinder speaks: 0 (Android 13), 1 (Android 14 through
/// 16.0.0_r3) and 2 (android-16.0.0_r4). A peer offering more is clamped to 2, as libbinder
/// clamps with `min`; an older peer is spoken to in its version.
public enum RpcProtocolVersion {
    /// Android 13: a 4-byte reply header, no parcel size, no object table, no descriptors.
    public static let v0: UInt32 = 0
    /// Android 14 to 16.0.0_r3 (`RPC_WIRE_PROTOCOL_VERSION`): the parcel's size in the
    /// transaction, a 20-byte reply header, an object table after the data.
    public static let v1: UInt32 = 1
    /// android-16.0.0_r4 ("RPC Binder: add protocol V2 - binder objects"): the object table
    /// also lists every non-null binder object, and a receiver refuses one it does not list.
    public static let v2: UInt32 = 2
    /// The newest this side speaks (`RPC_WIRE_PROTOCOL_VERSION`).
    public static let current: UInt32 = v2
    /// What libbinder calls `RPC_WIRE_PROTOCOL_VERSION_EXPERIMENTAL`: refused off Android.
    public static let experimental: UInt32 = 0xF000_0000
}

/// What goes wrong on an RPC connection: each closes the session, never the process.
public enum RpcError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The peer closed the connection (or it broke) in the middle of `what`.
    case connectionClosed(during: String)
    /// A frame or struct that breaks the protocol.
    case malformed(String)
    /// A body larger than the protocol allows (libbinder's `kMaxTransactionAllocation`).
    case tooLarge(Int, limit: Int)
    /// The peer answered with a protocol version this side does not speak.
    case unsupportedVersion(UInt32)
    /// A system call failed.
    case system(String, errno: Int32)
    /// The peer did not answer in time (while connecting: the session's setup timeout).
    case timedOut(during: String)
    /// An address that is not `unix:PATH`, `inet:HOST:PORT` or `vsock:CID:PORT`.
    case badAddress(String)
    /// The session has ended.
    case sessionEnded
    /// The peer answered a call with a failed status (a status_t, such as UNKNOWN_TRANSACTION);
    /// the connection is fine.
    case callFailed(status: Int32)

    public var description: String {
        switch self {
        case .connectionClosed(let what): "the RPC connection closed during \(what)"
        case .malformed(let why): "malformed RPC data: \(why)"
        case .tooLarge(let size, let limit): "an RPC body of \(size) bytes is larger than \(limit)"
        case .unsupportedVersion(let version): "unsupported RPC protocol version \(version)"
        case .system(let call, let errno): "\(call) failed: \(Errno(rawValue: errno))"
        case .timedOut(let what): "no answer in time during \(what)"
        case .badAddress(let address): "'\(address)' is not unix:PATH, inet:HOST:PORT or vsock:CID:PORT"
        case .sessionEnded: "the RPC session has ended"
        case .callFailed(let status): "the peer answered \(StatusCode(rawValue: status))"
        }
    }
}

/// Little-endian fields in a byte array, at fixed offsets.
struct WireBytes {
    private(set) var bytes: [UInt8]

    init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for index in 0..<raw.count { bytes[offset + index] = raw[index] }
        }
    }

    func get<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { raw in
            for index in 0..<raw.count { raw[index] = bytes[offset + index] }
        }
        return T(littleEndian: value)
    }
}

/// The first bytes on every new connection, client to server (`RpcConnectionHeader`, 16 bytes,
/// then `sessionIdSize` bytes of session id).
public struct RpcConnectionHeader: Hashable, Sendable {
    public static let size = 16
    /// `RPC_CONNECTION_OPTION_INCOMING`: the connection carries commands from the server.
    public static let incomingOption: UInt8 = 0x1
    /// `FileDescriptorTransportMode::UNIX`: descriptors travel as SCM_RIGHTS.
    public static let unixDescriptorMode: UInt8 = 1

    public var version: UInt32
    public var options: UInt8
    /// Android 14+: 0 none, 1 unix (SCM_RIGHTS), 2 trusty. Android 13 had a reserved byte here.
    public var fileDescriptorTransportMode: UInt8
    /// Empty for a new session; the 32-byte id for a connection joining one.
    public var sessionID: [UInt8]

    public init(version: UInt32, options: UInt8 = 0, fileDescriptorTransportMode: UInt8 = 0, sessionID: [UInt8] = []) {
        self.version = version
        self.options = options
        self.fileDescriptorTransportMode = fileDescriptorTransportMode
        self.sessionID = sessionID
    }

    public var encoded: [UInt8] {
        var wire = WireBytes(count: Self.size)
        wire.set(version, at: 0)
        wire.set(options, at: 4)
        wire.set(fileDescriptorTransportMode, at: 5)
        wire.set(UInt16(sessionID.count), at: 14)
        return wire.bytes + sessionID
    }

    /// The fixed part; `sessionIDSize` says how many id bytes follow.
    static func decodeFixed(_ bytes: [UInt8]) -> (header: RpcConnectionHeader, sessionIDSize: Int) {
        let wire = WireBytes(bytes)
        let header = RpcConnectionHeader(
            version: wire.get(UInt32.self, at: 0), options: wire.get(UInt8.self, at: 4),
            fileDescriptorTransportMode: wire.get(UInt8.self, at: 5))
        return (header, Int(wire.get(UInt16.self, at: 14)))
    }
}

/// The server's answer to a new session (`RpcNewSessionResponse`, 8 bytes): the version both
/// speak.
public struct RpcNewSessionResponse: Hashable, Sendable {
    public static let size = 8
    public var version: UInt32

    public init(version: UInt32) { self.version = version }

    public var encoded: [UInt8] {
        var wire = WireBytes(count: Self.size)
        wire.set(version, at: 0)
        return wire.bytes
    }

    static func decode(_ bytes: [UInt8]) -> RpcNewSessionResponse {
        RpcNewSessionResponse(version: WireBytes(bytes).get(UInt32.self, at: 0))
    }
}

/// "cci": sent once on a connection by the side that will send commands on it
/// (`RpcOutgoingConnectionInit`, 8 bytes).
public enum RpcConnectionInit {
    public static let size = 8
    public static let encoded: [UInt8] = [0x63, 0x63, 0x69, 0, 0, 0, 0, 0]

    static func isValid(_ bytes: [UInt8]) -> Bool { bytes.prefix(4).elementsEqual(encoded.prefix(4)) }
}

/// The commands of an established connection (`RPC_COMMAND_*`).
public enum RpcCommand: UInt32, Sendable {
    case transact = 0
    case reply = 1
    case decStrong = 2
}

/// Every command's header (`RpcWireHeader`, 16 bytes): the command and the size of its body.
public struct RpcWireHeader: Hashable, Sendable {
    public static let size = 16
    public var command: UInt32
    public var bodySize: UInt32

    public init(command: RpcCommand, bodySize: UInt32) {
        self.command = command.rawValue
        self.bodySize = bodySize
    }

    init(rawCommand: UInt32, bodySize: UInt32) {
        self.command = rawCommand
        self.bodySize = bodySize
    }

    public var encoded: [UInt8] {
        var wire = WireBytes(count: Self.size)
        wire.set(command, at: 0)
        wire.set(bodySize, at: 4)
        return wire.bytes
    }

    static func decode(_ bytes: [UInt8]) -> RpcWireHeader {
        let wire = WireBytes(bytes)
        return RpcWireHeader(rawCommand: wire.get(UInt32.self, at: 0), bodySize: wire.get(UInt32.self, at: 4))
    }
}

/// An object's address in a session (`RpcWireAddress`, one u64): bit 0 of the options says the
/// address was made by its sender (CREATED), bit 1 that the server made it (FOR_SERVER); the
/// upper 32 bits are the session's counter.
public struct RpcAddress: Hashable, Sendable, CustomStringConvertible {
    public static let created: UInt32 = 0x1
    public static let forServer: UInt32 = 0x2
    /// Address 0: the special transactions (GET_ROOT, GET_MAX_THREADS, GET_SESSION_ID).
    public static let special = RpcAddress(rawValue: 0)

    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// A new address made by a server (or a client) with the session's `counter`.
    public init(counter: UInt32, madeByServer: Bool) {
        rawValue = UInt64(counter) << 32 | UInt64(Self.created | (madeByServer ? Self.forServer : 0))
    }

    public var options: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
    public var madeByServer: Bool { options & Self.forServer != 0 }
    /// Only CREATED and FOR_SERVER are defined; libbinder refuses anything else (BAD_VALUE).
    public var hasValidOptions: Bool { options & ~(Self.created | Self.forServer) == 0 && options & Self.created != 0 }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// The special transactions, sent to address 0 with an empty parcel.
public enum RpcSpecialTransaction {
    public static let getRoot: UInt32 = 0
    public static let getMaxThreads: UInt32 = 1
    public static let getSessionID: UInt32 = 2
}

/// The body of TRANSACT (`RpcWireTransaction`, 40 bytes, then the parcel's data, then from
/// version 1 the object table: u32 positions of the file descriptors in the data).
public struct RpcWireTransaction: Hashable, Sendable {
    public static let size = 40
    public var address: RpcAddress
    public var code: UInt32
    public var flags: UInt32
    /// A oneway call's place in its target's order (0 for two-way calls).
    public var asyncNumber: UInt64
    public var data: [UInt8]
    public var objectTable: [UInt32]

    public init(
        address: RpcAddress, code: UInt32, flags: UInt32 = 0, asyncNumber: UInt64 = 0, data: [UInt8] = [],
        objectTable: [UInt32] = []
    ) {
        self.address = address
        self.code = code
        self.flags = flags
        self.asyncNumber = asyncNumber
        self.data = data
        self.objectTable = objectTable
    }

    public var isOneway: Bool { flags & TransactionFlags.oneWay.rawValue != 0 }

    /// The body, for `version`: version 0 has no parcel size (its bytes are reserved).
    public func encoded(version: UInt32) -> [UInt8] {
        var wire = WireBytes(count: Self.size)
        wire.set(address.rawValue, at: 0)
        wire.set(code, at: 8)
        wire.set(flags, at: 12)
        wire.set(asyncNumber, at: 16)
        // libbinder from Android 14 fills the size in every session (v0 receivers ignore it).
        wire.set(UInt32(data.count), at: 24)
        var bytes = wire.bytes + data
        if version >= RpcProtocolVersion.v1 { for position in objectTable { bytes += WireBytes.encoded(position) } }
        return bytes
    }

    /// Reads a body of `version`, checked as libbinder's `processTransactInternal` checks it.
    public static func decode(_ body: [UInt8], version: UInt32) throws(RpcError) -> RpcWireTransaction {
        guard body.count >= size else { throw .malformed("a transaction of \(body.count) bytes, less than \(size)") }
        let wire = WireBytes(body)
        let rest = Array(body[size...])
        var data = rest
        var objectTable: [UInt32] = []
        if version >= RpcProtocolVersion.v1 {
            let dataSize = Int(wire.get(UInt32.self, at: 24))
            guard dataSize <= rest.count else {
                throw .malformed("a parcel of \(dataSize) bytes in a transaction body of \(rest.count)")
            }
            data = Array(rest[..<dataSize])
            objectTable = try WireBytes.positions(Array(rest[dataSize...]))
        }
        return RpcWireTransaction(
            address: RpcAddress(rawValue: wire.get(UInt64.self, at: 0)), code: wire.get(UInt32.self, at: 8),
            flags: wire.get(UInt32.self, at: 12), asyncNumber: wire.get(UInt64.self, at: 16), data: data,
            objectTable: objectTable)
    }
}

/// The body of REPLY (`RpcWireReply`: 4 bytes at version 0, 20 from version 1), then the
/// parcel's data and, from version 1, its object table.
public struct RpcWireReply: Hashable, Sendable {
    public var status: Int32
    public var data: [UInt8]
    public var objectTable: [UInt32]

    public init(status: Int32, data: [UInt8] = [], objectTable: [UInt32] = []) {
        self.status = status
        self.data = data
        self.objectTable = objectTable
    }

    public static func headerSize(version: UInt32) -> Int { version == RpcProtocolVersion.v0 ? 4 : 20 }

    public func encoded(version: UInt32) -> [UInt8] {
        var wire = WireBytes(count: Self.headerSize(version: version))
        wire.set(status, at: 0)
        if version >= RpcProtocolVersion.v1 { wire.set(UInt32(data.count), at: 4) }
        var bytes = wire.bytes + data
        if version >= RpcProtocolVersion.v1 { for position in objectTable { bytes += WireBytes.encoded(position) } }
        return bytes
    }

    /// Reads a reply body; a failed status's data is ignored, as libbinder's `waitForReply` does.
    public static func decode(_ body: [UInt8], version: UInt32) throws(RpcError) -> RpcWireReply {
        let headerSize = headerSize(version: version)
        guard body.count >= headerSize else { throw .malformed("a reply of \(body.count) bytes, less than \(headerSize)") }
        let wire = WireBytes(body)
        let status = wire.get(Int32.self, at: 0)
        guard status == 0 else { return RpcWireReply(status: status) }
        let rest = Array(body[headerSize...])
        guard version >= RpcProtocolVersion.v1 else { return RpcWireReply(status: 0, data: rest) }
        let dataSize = Int(wire.get(UInt32.self, at: 4))
        guard dataSize <= rest.count else { throw .malformed("a parcel of \(dataSize) bytes in a reply body of \(rest.count)") }
        return RpcWireReply(status: 0, data: Array(rest[..<dataSize]), objectTable: try WireBytes.positions(Array(rest[dataSize...])))
    }
}

/// The body of DEC_STRONG (`RpcDecStrong`, 16 bytes): the peer returns `amount` references it
/// received to `address`.
public struct RpcDecStrong: Hashable, Sendable {
    public static let size = 16
    public var address: RpcAddress
    public var amount: UInt32

    public init(address: RpcAddress, amount: UInt32) {
        self.address = address
        self.amount = amount
    }

    public var encoded: [UInt8] {
        var wire = WireBytes(count: Self.size)
        wire.set(address.rawValue, at: 0)
        wire.set(amount, at: 8)
        return wire.bytes
    }

    static func decode(_ body: [UInt8]) throws(RpcError) -> RpcDecStrong {
        guard body.count == size else { throw .malformed("a DEC_STRONG of \(body.count) bytes, not \(size)") }
        let wire = WireBytes(body)
        return RpcDecStrong(address: RpcAddress(rawValue: wire.get(UInt64.self, at: 0)), amount: wire.get(UInt32.self, at: 8))
    }
}

extension WireBytes {
    static func encoded(_ value: UInt32) -> [UInt8] {
        var wire = WireBytes(count: 4)
        wire.set(value, at: 0)
        return wire.bytes
    }

    /// An object table: whole u32 positions, ascending (libbinder binary-searches it).
    static func positions(_ bytes: [UInt8]) throws(RpcError) -> [UInt32] {
        guard bytes.count % 4 == 0 else { throw .malformed("an object table of \(bytes.count) bytes") }
        let wire = WireBytes(bytes)
        let positions = (0..<bytes.count / 4).map { wire.get(UInt32.self, at: $0 * 4) }
        guard zip(positions, positions.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .malformed("object table positions out of order")
        }
        return positions
    }
}
