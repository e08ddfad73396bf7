/// The commands a thread writes to the driver in one `BINDER_WRITE_READ`: a stream of 32-bit
/// command words, each followed by its payload, unaligned and unpadded, in host byte order.
///
/// The buffer keeps its storage between batches (``removeAll()`` keeps the capacity), so a
/// thread that reuses one allocates nothing per call in steady state.
public struct CommandBuffer: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var isEmpty: Bool { bytes.isEmpty }
    public var count: Int { bytes.count }

    /// Empties the buffer, keeping its storage.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Drops the first `count` bytes (the part the driver consumed).
    public mutating func removeFirst(_ count: Int) {
        if count >= bytes.count { removeAll() } else { bytes.removeFirst(count) }
    }

    /// Bytes of the command starting at `offset` (its word plus the payload its ioctl-style
    /// encoding declares), or nil past the end.
    func commandLength(at offset: Int) -> Int? {
        guard offset + 4 <= bytes.count else { return nil }
        let word = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        return 4 + Int((word >> 16) & 0x3FFF)
    }

    /// Removes the command at the front (the one the driver refused), keeping what follows.
    mutating func removeFirstCommand() {
        removeFirst(commandLength(at: 0) ?? bytes.count)
    }

    /// Removes a queued `BC_TRANSACTION`/`BC_REPLY` whose data is at `dataAddress`: it must not
    /// be written once the parcel it points into is gone.
    mutating func removeTransaction(dataAddress: UInt64) {
        var offset = 0
        while let length = commandLength(at: offset), offset + length <= bytes.count {
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
            if (word == DriverCommand.transaction.rawValue || word == DriverCommand.reply.rawValue),
                bytes.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: offset + 4 + 48, as: UInt64.self) }) == dataAddress
            {
                bytes.removeSubrange(offset..<(offset + length))
                return
            }
            offset += length
        }
    }

    @inline(__always)
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// A command without payload: `BC_ENTER_LOOPER`, `BC_REGISTER_LOOPER`, `BC_EXIT_LOOPER`.
    public mutating func append(_ command: DriverCommand) {
        appendInteger(command.rawValue)
    }

    /// A reference command on a handle: `BC_INCREFS`, `BC_ACQUIRE`, `BC_RELEASE`, `BC_DECREFS`.
    public mutating func append(_ command: DriverCommand, handle: UInt32) {
        appendInteger(command.rawValue)
        appendInteger(handle)
    }

    /// A command carrying one 64-bit value: `BC_FREE_BUFFER` (buffer address),
    /// `BC_DEAD_BINDER_DONE` and `BC_FREEZE_NOTIFICATION_DONE` (cookie).
    public mutating func append(_ command: DriverCommand, value: UInt64) {
        appendInteger(command.rawValue)
        appendInteger(value)
    }

    /// An acknowledgement of `BR_INCREFS`/`BR_ACQUIRE`: `BC_INCREFS_DONE`, `BC_ACQUIRE_DONE`.
    public mutating func append(_ command: DriverCommand, node: NodeIdentity) {
        appendInteger(command.rawValue)
        appendInteger(node.pointer)
        appendInteger(node.cookie)
    }

    /// A notification request on a handle: `BC_REQUEST_DEATH_NOTIFICATION`,
    /// `BC_CLEAR_DEATH_NOTIFICATION` and their freeze counterparts. The payload is the packed
    /// 12-byte `binder_handle_cookie`: u32 handle, then u64 cookie, no padding.
    public mutating func append(_ command: DriverCommand, handle: UInt32, cookie: UInt64) {
        appendInteger(command.rawValue)
        appendInteger(handle)
        appendInteger(cookie)
    }

    /// `BC_TRANSACTION` or `BC_REPLY` with its 64-byte `binder_transaction_data`.
    ///
    /// The data and offsets addresses in `transaction` must stay valid until the driver has
    /// consumed this command.
    public mutating func append(_ command: DriverCommand, transaction: TransactionData) {
        appendInteger(command.rawValue)
        appendInteger(transaction.target)
        appendInteger(transaction.cookie)
        appendInteger(transaction.code)
        appendInteger(transaction.flags.rawValue)
        appendInteger(transaction.senderPID)
        appendInteger(transaction.senderEUID)
        appendInteger(transaction.dataSize)
        appendInteger(transaction.offsetsSize)
        appendInteger(transaction.dataAddress)
        appendInteger(transaction.offsetsAddress)
    }
}
