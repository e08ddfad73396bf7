/// One decoded entry of the driver's return stream (`BR_*` and its payload).
public enum DriverReturn: Equatable, Sendable {
    case noop
    case ok
    case error(Int32)
    case transaction(TransactionData)
    /// An incoming transaction with the address of the sender's security context string.
    case transactionWithSecurityContext(TransactionData, securityContext: UInt64)
    case reply(TransactionData)
    case acquireResult(Int32)
    case deadReply
    case transactionComplete
    case incrementWeak(NodeIdentity)
    case incrementStrong(NodeIdentity)
    case decrementStrong(NodeIdentity)
    case decrementWeak(NodeIdentity)
    case attemptAcquire(priority: Int32, NodeIdentity)
    case spawnLooper
    case finished
    case deadBinder(cookie: UInt64)
    case clearDeathNotificationDone(cookie: UInt64)
    case failedReply
    case frozenReply
    case onewaySpamSuspect
    case transactionPendingFrozen
    case frozenBinder(cookie: UInt64, isFrozen: Bool)
    case clearFreezeNotificationDone(cookie: UInt64)
}

/// Decodes the bytes the driver wrote into a read buffer, one return at a time.
///
/// The stream is untrusted input as far as this type is concerned: an unknown return code, or
/// a payload cut short, throws ``BinderError/malformedReturn(_:)`` and leaves the reader where
/// it was. It never reads outside `bytes`.
public struct DriverReturnReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var readerIndex: Int = 0

    /// - Parameter bytes: the filled part of a read buffer. Do not let the reader outlive it.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { readerIndex >= bytes.count }

    /// Decodes the next return, or returns nil at the end of the stream.
    public mutating func next() throws(BinderError) -> DriverReturn? {
        guard readerIndex < bytes.count else { return nil }
        var cursor = readerIndex
        guard let raw: UInt32 = load(&cursor) else {
            throw .malformedReturn("\(bytes.count - readerIndex) stray bytes at offset \(readerIndex)")
        }
        let code = DriverReturnCode(rawValue: raw)
        let decoded: DriverReturn?
        switch code {
        case .noop: decoded = .noop
        case .transactionComplete: decoded = .transactionComplete
        case .transaction: decoded = loadTransaction(&cursor).map { .transaction($0) }
        case .reply: decoded = loadTransaction(&cursor).map { .reply($0) }
        case .ok: decoded = .ok
        case .error: decoded = load(&cursor).map { .error($0) }
        case .transactionWithSecurityContext:
            if let data = loadTransaction(&cursor), let context: UInt64 = load(&cursor) {
                decoded = .transactionWithSecurityContext(data, securityContext: context)
            } else {
                decoded = nil
            }
        case .acquireResult: decoded = load(&cursor).map { .acquireResult($0) }
        case .deadReply: decoded = .deadReply
        case .incrementWeak: decoded = loadNode(&cursor).map { .incrementWeak($0) }
        case .incrementStrong: decoded = loadNode(&cursor).map { .incrementStrong($0) }
        case .decrementStrong: decoded = loadNode(&cursor).map { .decrementStrong($0) }
        case .decrementWeak: decoded = loadNode(&cursor).map { .decrementWeak($0) }
        case .attemptAcquire:
            if let priority: Int32 = load(&cursor), let _: UInt32 = load(&cursor), let node = loadNode(&cursor) {
                decoded = .attemptAcquire(priority: priority, node)
            } else {
                decoded = nil
            }
        case .spawnLooper: decoded = .spawnLooper
        case .finished: decoded = .finished
        case .deadBinder: decoded = load(&cursor).map { .deadBinder(cookie: $0) }
        case .clearDeathNotificationDone: decoded = load(&cursor).map { .clearDeathNotificationDone(cookie: $0) }
        case .failedReply: decoded = .failedReply
        case .frozenReply: decoded = .frozenReply
        case .onewaySpamSuspect: decoded = .onewaySpamSuspect
        case .transactionPendingFrozen: decoded = .transactionPendingFrozen
        case .frozenBinder:
            if let cookie: UInt64 = load(&cursor), let frozen: UInt32 = load(&cursor), let _: UInt32 = load(&cursor) {
                decoded = .frozenBinder(cookie: cookie, isFrozen: frozen != 0)
            } else {
                decoded = nil
            }
        case .clearFreezeNotificationDone: decoded = load(&cursor).map { .clearFreezeNotificationDone(cookie: $0) }
        default:
            throw .malformedReturn("unknown return code 0x\(String(raw, radix: 16)) at offset \(readerIndex)")
        }
        guard let decoded else {
            throw .malformedReturn("\(code) at offset \(readerIndex) is cut short (\(bytes.count - readerIndex) bytes left)")
        }
        readerIndex = cursor
        return decoded
    }

    @inline(__always)
    private func load<T: FixedWidthInteger>(_ cursor: inout Int) -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count - cursor >= size else { return nil }
        let value = bytes.loadUnaligned(fromByteOffset: cursor, as: T.self)
        cursor += size
        return value
    }

    private func loadNode(_ cursor: inout Int) -> NodeIdentity? {
        guard let pointer: UInt64 = load(&cursor), let cookie: UInt64 = load(&cursor) else { return nil }
        return NodeIdentity(pointer: pointer, cookie: cookie)
    }

    /// `struct binder_transaction_data`: one bounds check, then the fields at their offsets.
    private func loadTransaction(_ cursor: inout Int) -> TransactionData? {
        guard bytes.count - cursor >= TransactionData.size, let base = bytes.baseAddress else { return nil }
        let fields = base + cursor
        cursor += TransactionData.size
        return TransactionData(loading: fields)
    }
}

extension TransactionData {
    /// The `struct binder_transaction_data` at `fields` (``size`` bytes, any alignment), as
    /// ``CommandBuffer/append(_:transaction:)`` writes it.
    @inline(__always)
    package init(loading fields: UnsafeRawPointer) {
        self.init(
            target: fields.loadUnaligned(as: UInt64.self),
            cookie: fields.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            code: fields.loadUnaligned(fromByteOffset: 16, as: UInt32.self),
            flags: TransactionFlags(rawValue: fields.loadUnaligned(fromByteOffset: 20, as: UInt32.self)),
            senderPID: fields.loadUnaligned(fromByteOffset: 24, as: Int32.self),
            senderEUID: fields.loadUnaligned(fromByteOffset: 28, as: UInt32.self),
            dataSize: fields.loadUnaligned(fromByteOffset: 32, as: UInt64.self),
            offsetsSize: fields.loadUnaligned(fromByteOffset: 40, as: UInt64.self),
            dataAddress: fields.loadUnaligned(fromByteOffset: 48, as: UInt64.self),
            offsetsAddress: fields.loadUnaligned(fromByteOffset: 56, as: UInt64.self))
    }
}
