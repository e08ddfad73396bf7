/// The commands a thread writes to the driver in one `BINDER_WRITE_READ`: a stream of 32-bit
/// command words, each followed by its payload, unaligned and unpadded, in host byte order.
///
/// The buffer owns raw storage that only grows and is kept between batches (``removeAll()``
/// keeps it), so a thread that reuses one allocates nothing per call in steady state, and
/// appending a command is a few stores into it. It is non-copyable: it has one owner, the
/// thread writing it.
public struct CommandBuffer: ~Copyable, @unchecked Sendable {
    /// Storage of ``capacity`` bytes; the first ``count`` are the commands.
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    /// Bytes of commands in the buffer.
    public private(set) var count = 0

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit {
        storage.deallocate()
    }

    /// The commands, as a copy (for inspection; the driver is handed ``withUnsafeBytes(_:)``).
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: storage, count: count)) }

    public var isEmpty: Bool { count == 0 }

    /// The commands in place, valid until the buffer is next changed.
    var unsafeBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    /// Calls `body` with the commands in place.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(unsafeBytes)
    }

    /// Empties the buffer, keeping its storage.
    public mutating func removeAll() { count = 0 }

    /// Drops the first `count` bytes (the part the driver consumed).
    @inline(__always)
    public mutating func removeFirst(_ consumed: Int) {
        if consumed >= count {
            count = 0  // the usual case: the driver took everything
        } else if consumed > 0 {
            removeSubrange(0..<consumed)
        }
    }

    private mutating func removeSubrange(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let tail = count - range.upperBound
        if tail > 0 {
            (storage + range.lowerBound).copyMemory(from: storage + range.upperBound, byteCount: tail)
        }
        count -= range.count
    }

    /// Bytes of the command starting at `offset` (its word plus the payload its ioctl-style
    /// encoding declares), or nil past the end.
    func commandLength(at offset: Int) -> Int? {
        guard offset + 4 <= count else { return nil }
        return 4 + Int((load(UInt32.self, at: offset) >> 16) & 0x3FFF)
    }

    private func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        storage.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    /// Removes the command at the front (the one the driver refused), keeping what follows.
    public mutating func removeFirstCommand() {
        removeFirst(commandLength(at: 0) ?? count)
    }

    /// Removes a queued `BC_TRANSACTION`/`BC_REPLY` whose data is at `dataAddress`: it must not
    /// be written once the parcel it points into is gone.
    public mutating func removeTransaction(dataAddress: UInt64) {
        var offset = 0
        while let length = commandLength(at: offset), offset + length <= count {
            let word = load(UInt32.self, at: offset)
            if word == DriverCommand.transaction.rawValue || word == DriverCommand.reply.rawValue,
                load(UInt64.self, at: offset + 4 + 48) == dataAddress
            {
                removeSubrange(offset..<(offset + length))
                return
            }
            offset += length
        }
    }

    /// Appends `size` bytes written by `body` at the pointer it is given.
    @inline(__always)
    private mutating func append(size: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        if count + size > capacity { grow(toAtLeast: count + size) }
        body(storage + count)
        count += size
    }

    @inline(never)
    private mutating func grow(toAtLeast needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        newStorage.copyMemory(from: storage, byteCount: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    @inline(__always)
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        append(size: MemoryLayout<T>.size) { $0.storeBytes(of: value, as: T.self) }
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

    /// Two reference commands on one handle, in that order (a proxy takes or drops its weak and
    /// strong references together): one bounds check and eight stores.
    public mutating func append(_ first: DriverCommand, _ second: DriverCommand, handle: UInt32) {
        append(size: 16) { out in
            out.storeBytes(of: first.rawValue, as: UInt32.self)
            (out + 4).storeBytes(of: handle, as: UInt32.self)
            (out + 8).storeBytes(of: second.rawValue, as: UInt32.self)
            (out + 12).storeBytes(of: handle, as: UInt32.self)
        }
    }

    /// A command carrying one 64-bit value: `BC_FREE_BUFFER` (buffer address),
    /// `BC_DEAD_BINDER_DONE` and `BC_FREEZE_NOTIFICATION_DONE` (cookie).
    public mutating func append(_ command: DriverCommand, value: UInt64) {
        append(size: 4 + 8) { out in
            out.storeBytes(of: command.rawValue, as: UInt32.self)
            (out + 4).storeBytes(of: value, as: UInt64.self)
        }
    }

    /// An acknowledgement of `BR_INCREFS`/`BR_ACQUIRE`: `BC_INCREFS_DONE`, `BC_ACQUIRE_DONE`.
    public mutating func append(_ command: DriverCommand, node: NodeIdentity) {
        append(size: 4 + 16) { out in
            out.storeBytes(of: command.rawValue, as: UInt32.self)
            (out + 4).storeBytes(of: node.pointer, as: UInt64.self)
            (out + 12).storeBytes(of: node.cookie, as: UInt64.self)
        }
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
        append(size: 4 + 64) { out in
            out.storeBytes(of: command.rawValue, as: UInt32.self)
            (out + 4).storeBytes(of: transaction.target, as: UInt64.self)
            (out + 12).storeBytes(of: transaction.cookie, as: UInt64.self)
            (out + 20).storeBytes(of: transaction.code, as: UInt32.self)
            (out + 24).storeBytes(of: transaction.flags.rawValue, as: UInt32.self)
            (out + 28).storeBytes(of: transaction.senderPID, as: Int32.self)
            (out + 32).storeBytes(of: transaction.senderEUID, as: UInt32.self)
            (out + 36).storeBytes(of: transaction.dataSize, as: UInt64.self)
            (out + 44).storeBytes(of: transaction.offsetsSize, as: UInt64.self)
            (out + 52).storeBytes(of: transaction.dataAddress, as: UInt64.self)
            (out + 60).storeBytes(of: transaction.offsetsAddress, as: UInt64.self)
        }
    }
}
