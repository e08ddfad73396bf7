import CBinder
import SystemPackage

// Single-threaded transactions spoken directly in the driver's command language, with no
// thread pool and no objects of our own beyond what a parcel carries. They exist for
// diagnostics (`binder raw`) and for the driver tests; applications use the runtime.

/// A transaction as a raw server receives it: the kernel-stamped sender and a copy of the data.
public struct RawIncomingTransaction: Sendable {
    public var code: UInt32
    public var flags: TransactionFlags
    /// The sender's process id, stamped by the kernel (0 for oneway transactions).
    public var senderPID: Int32
    /// The sender's effective uid, stamped by the kernel.
    public var senderEUID: UInt32
    public var data: [UInt8]
    /// Offsets of the objects in `data`, as delivered by the kernel.
    public var objectOffsets: [UInt64]
}

/// A reply as a raw client receives it.
public enum RawReply: Equatable, Sendable {
    /// Reply data.
    case data([UInt8])
    /// A `TF_STATUS_CODE` reply: a bare 32-bit status.
    case status(Int32)
}

/// What a raw server answers.
public enum RawServerAnswer: Sendable {
    case reply([UInt8])
    case status(Int32)
}

/// A reply read in place from the receive buffer, with the flags it came with
/// (`TF_STATUS_CODE` when it is a bare status).
public struct RawParcelReply: ~Copyable {
    public var flags: TransactionFlags
    public var parcel: Parcel

    /// The reply parcel, to read it.
    public consuming func takeParcel() -> Parcel { parcel }
}

/// Hands a received buffer back with its own `BC_FREE_BUFFER` ioctl, at once. For the raw
/// helpers only: the runtime batches these with its other commands.
final class ImmediateBufferReleaser: ReceivedBufferOwner, @unchecked Sendable {
    private let fileDescriptor: FileDescriptor
    private let path: FilePath

    init(_ device: borrowing BinderDevice) {
        fileDescriptor = device.fileDescriptor
        path = device.path
    }

    func releaseReceivedBuffer(at address: UInt64) {
        var commands = CommandBuffer(capacity: 12)
        commands.append(.freeBuffer, value: address)
        _ = try? writeCommands(commands, to: fileDescriptor, path: path)
    }
}

/// Writes `commands` to the driver without reading.
private func writeCommands(_ commands: CommandBuffer, to fd: FileDescriptor, path: FilePath) throws(BinderError) {
    let result = commands.withUnsafeBytes { write in
        Result { () throws(BinderError) in
            var request = binder_write_read(
                write_size: UInt64(write.count), write_consumed: 0,
                write_buffer: UInt64(UInt(bitPattern: write.baseAddress)),
                read_size: 0, read_consumed: 0, read_buffer: 0)
            try ioctl(fd, CBinder_BINDER_WRITE_READ, "BINDER_WRITE_READ", path: path, &request)
        }
    }
    try result.get()
}

extension BinderDevice {
    /// Size of the read buffer used by the raw helpers (libbinder uses 256 bytes too).
    static let rawReadBufferSize = 256

    // MARK: - Client

    /// Sends `data` to `handle` on the calling thread and, unless the call is oneway, waits for
    /// the reply and returns a copy of it. The reply buffer is handed back before this returns.
    ///
    /// - Throws: ``BinderError/transactionFailed(_:)`` on `BR_DEAD_REPLY`, `BR_FAILED_REPLY` or
    ///   `BR_FROZEN_REPLY`; a driver or decoding error.
    @discardableResult
    public func transactRaw(
        handle: UInt32, code: UInt32, data: [UInt8], flags: TransactionFlags = [.acceptFileDescriptors]
    ) throws(BinderError) -> RawReply? {
        let result = data.withUnsafeBytes { payload in
            Result { () throws(BinderError) -> TransactionData? in
                try performTransaction(
                    TransactionData(
                        target: UInt64(handle), code: code, flags: flags, dataSize: UInt64(payload.count),
                        dataAddress: UInt64(UInt(bitPattern: payload.baseAddress))))
            }
        }
        guard let reply = try result.get() else { return nil }
        let bytes = try copyData(of: reply)
        try freeBuffer(at: reply.dataAddress)
        if reply.flags.contains(.statusCode) {
            guard bytes.count >= 4 else { throw .malformedReturn("status reply of \(bytes.count) bytes") }
            return .status(bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        }
        return .data(bytes)
    }

    /// Sends `parcel` (data and objects) to `handle` and, unless the call is oneway, returns
    /// the reply as a parcel that reads the receive buffer in place and frees it when released.
    public func transactRaw(
        handle: UInt32, code: UInt32, parcel: borrowing Parcel, flags: TransactionFlags = [.acceptFileDescriptors]
    ) throws(BinderError) -> RawParcelReply? {
        let result = parcel.withUnsafeDataBytes { data in
            parcel.withUnsafeObjectOffsets { offsets in
                Result { () throws(BinderError) -> TransactionData? in
                    try performTransaction(
                        TransactionData(
                            target: UInt64(handle), code: code, flags: flags, dataSize: UInt64(data.count),
                            offsetsSize: UInt64(offsets.count), dataAddress: UInt64(UInt(bitPattern: data.baseAddress)),
                            offsetsAddress: UInt64(UInt(bitPattern: offsets.baseAddress))))
                }
            }
        }
        guard let reply = try result.get() else { return nil }
        return RawParcelReply(flags: reply.flags, parcel: try receivedParcel(reply))
    }

    /// Writes `BC_TRANSACTION` and reads until the reply (returned with its buffer still held),
    /// or, for oneway, until the driver has taken the transaction (returns nil).
    private func performTransaction(_ transaction: TransactionData) throws(BinderError) -> TransactionData? {
        var commands = CommandBuffer()
        commands.append(.transaction, transaction: transaction)
        let oneWay = transaction.flags.contains(.oneWay)
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.rawReadBufferSize, alignment: 8)
        defer { readBuffer.deallocate() }
        while true {
            let filled = try exchange(&commands, readInto: readBuffer)
            var reply: TransactionData?
            var failure: TransactionFailure?
            var completed = false
            var reader = DriverReturnReader(UnsafeRawBufferPointer(rebasing: readBuffer[..<filled]))
            while let entry = try reader.next() {
                switch entry {
                case .transactionComplete, .onewaySpamSuspect, .transactionPendingFrozen: completed = true
                case .reply(let data): reply = data
                case .deadReply: failure = .deadTarget
                case .failedReply: failure = .failed
                case .frozenReply: failure = .frozenTarget
                // A local object the parcel carried: the driver asks us to hold it.
                case .incrementWeak(let node): commands.append(.incrementWeakDone, node: node)
                case .incrementStrong(let node): commands.append(.incrementStrongDone, node: node)
                default: break
                }
            }
            if !commands.isEmpty { try flush(&commands) }
            if let failure { throw .transactionFailed(failure) }
            if let reply { return reply }
            if oneWay && completed { return nil }
        }
    }

    // MARK: - Server

    /// Becomes a looper thread and serves incoming transactions on the calling thread: each
    /// one's data is copied, its buffer freed, and, unless it is oneway, `answer`'s result is
    /// sent back. Returns after `limit` transactions (or never, when `limit` is nil).
    public func serveRaw(
        limit: Int? = nil, answer: (RawIncomingTransaction) -> RawServerAnswer
    ) throws(BinderError) {
        try serveLoop(limit: limit) { (transaction) throws(BinderError) -> Bool in
            let data = try copyData(of: transaction)
            let offsets = try copyObjectOffsets(of: transaction)
            try freeBuffer(at: transaction.dataAddress)
            if transaction.flags.contains(.oneWay) { return false }
            let request = RawIncomingTransaction(
                code: transaction.code, flags: transaction.flags, senderPID: transaction.senderPID,
                senderEUID: transaction.senderEUID, data: data, objectOffsets: offsets)
            switch answer(request) {
            case .reply(let bytes): try sendReply(bytes: bytes, flags: [])
            case .status(let status): try sendReply(bytes: withUnsafeBytes(of: status) { Array($0) }, flags: [.statusCode])
            }
            return true
        }
    }

    /// Serves incoming transactions as parcels read in place: `answer` reads the request and
    /// writes the reply (its return value is the reply's flags, e.g. `.statusCode`). The
    /// reply is sent before the request buffer is freed, so handles the request carried stay
    /// valid while the reply refers to them.
    public func serveRawParcels(
        limit: Int? = nil,
        answer: (_ request: inout Parcel, _ reply: inout Parcel, _ transaction: TransactionData) -> TransactionFlags
    ) throws(BinderError) {
        try serveLoop(limit: limit) { (transaction) throws(BinderError) -> Bool in
            var request = try receivedParcel(transaction)
            if transaction.flags.contains(.oneWay) {
                var ignored = Parcel()
                _ = answer(&request, &ignored, transaction)
                return false
            }
            var reply = Parcel()
            let flags = answer(&request, &reply, transaction)
            try sendReply(reply, flags: flags)
            _ = consume request  // frees the request buffer, after the reply
            return true
        }
    }

    /// Reads and dispatches incoming transactions until `limit` were handled. `handle` returns
    /// whether it sent a reply (whose completion the loop then collects).
    private func serveLoop(
        limit: Int?, handle: (TransactionData) throws(BinderError) -> Bool
    ) throws(BinderError) {
        var commands = CommandBuffer()
        commands.append(.enterLooper)
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.rawReadBufferSize, alignment: 8)
        defer { readBuffer.deallocate() }
        var served = 0
        var awaitingCompletion = false
        while limit.map({ served < $0 }) ?? true {
            let filled = try exchange(&commands, readInto: readBuffer)
            awaitingCompletion = false
            var incoming: [TransactionData] = []
            var reader = DriverReturnReader(UnsafeRawBufferPointer(rebasing: readBuffer[..<filled]))
            while let entry = try reader.next() {
                switch entry {
                case .transaction(let transaction), .transactionWithSecurityContext(let transaction, _):
                    incoming.append(transaction)
                case .incrementWeak(let node): commands.append(.incrementWeakDone, node: node)
                case .incrementStrong(let node): commands.append(.incrementStrongDone, node: node)
                default: break
                }
            }
            if !commands.isEmpty { try flush(&commands) }
            for transaction in incoming {
                served += 1
                if try handle(transaction) { awaitingCompletion = true }
            }
        }
        commands.append(.exitLooper)
        if awaitingCompletion {
            // Collect the last reply's BR_TRANSACTION_COMPLETE (queued on this thread, so the
            // read does not block) rather than leave it undelivered.
            _ = try exchange(&commands, readInto: readBuffer)
        } else {
            try flush(&commands)
        }
    }

    /// Sends `BC_REPLY` with a parcel's data and objects, without waiting for its completion
    /// (the serving loop reads it with the next batch, so no incoming transaction is dropped).
    private func sendReply(_ reply: borrowing Parcel, flags: TransactionFlags) throws(BinderError) {
        let result = reply.withUnsafeDataBytes { data in
            reply.withUnsafeObjectOffsets { offsets in
                Result { () throws(BinderError) in
                    var commands = CommandBuffer()
                    commands.append(
                        .reply,
                        transaction: TransactionData(
                            target: UInt64(UInt32.max), flags: flags, dataSize: UInt64(data.count),
                            offsetsSize: UInt64(offsets.count), dataAddress: UInt64(UInt(bitPattern: data.baseAddress)),
                            offsetsAddress: UInt64(UInt(bitPattern: offsets.baseAddress))))
                    try flush(&commands)
                }
            }
        }
        try result.get()
    }

    private func sendReply(bytes: [UInt8], flags: TransactionFlags) throws(BinderError) {
        let result = bytes.withUnsafeBytes { data in
            Result { () throws(BinderError) in
                var commands = CommandBuffer()
                commands.append(
                    .reply,
                    transaction: TransactionData(
                        target: UInt64(UInt32.max), flags: flags, dataSize: UInt64(data.count),
                        dataAddress: UInt64(UInt(bitPattern: data.baseAddress))))
                try flush(&commands)
            }
        }
        try result.get()
    }

    // MARK: - Received buffers

    private func receivedBytes(_ address: UInt64, _ count: UInt64) throws(BinderError) -> UnsafeRawBufferPointer {
        if count == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard let bytes = mappedBytes(at: address, count: count) else {
            throw .malformedReturn("transaction buffer outside the receive mapping")
        }
        return bytes
    }

    private func copyData(of transaction: TransactionData) throws(BinderError) -> [UInt8] {
        Array(try receivedBytes(transaction.dataAddress, transaction.dataSize))
    }

    private func copyObjectOffsets(of transaction: TransactionData) throws(BinderError) -> [UInt64] {
        let offsets = try receivedBytes(transaction.offsetsAddress, transaction.offsetsSize)
        return (0..<offsets.count / 8).map { offsets.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
    }

    /// A parcel over a received transaction's buffer that frees it when released.
    private func receivedParcel(_ transaction: TransactionData) throws(BinderError) -> Parcel {
        let data: UnsafeRawBufferPointer
        let offsets: UnsafeRawBufferPointer
        do {
            data = try receivedBytes(transaction.dataAddress, transaction.dataSize)
            offsets = try receivedBytes(transaction.offsetsAddress, transaction.offsetsSize)
        } catch {
            try? freeBuffer(at: transaction.dataAddress)
            throw error
        }
        return Parcel(
            received: data, objectOffsets: offsets, bufferAddress: transaction.dataAddress,
            owner: ImmediateBufferReleaser(self))
    }

    private func freeBuffer(at address: UInt64) throws(BinderError) {
        var commands = CommandBuffer(capacity: 12)
        commands.append(.freeBuffer, value: address)
        try flush(&commands)
    }

    // MARK: - I/O

    /// Writes `commands` and blocks until the driver returns something; returns the bytes read.
    private func exchange(_ commands: inout CommandBuffer, readInto readBuffer: UnsafeMutableRawBufferPointer)
        throws(BinderError) -> Int
    {
        defer { commands.removeAll() }
        let result = commands.withUnsafeBytes { write in
            Result { () throws(BinderError) -> Int in
                var request = binder_write_read(
                    write_size: UInt64(write.count), write_consumed: 0,
                    write_buffer: UInt64(UInt(bitPattern: write.baseAddress)),
                    read_size: UInt64(readBuffer.count), read_consumed: 0,
                    read_buffer: UInt64(UInt(bitPattern: readBuffer.baseAddress)))
                try writeRead(&request)
                return Int(request.read_consumed)
            }
        }
        return try result.get()
    }

    /// Writes `commands` without reading: this thread does not wait for what they cause (a
    /// transaction's reply stays queued for it until it reads, or is refused if it is gone).
    public func write(_ commands: CommandBuffer) throws(BinderError) {
        try writeCommands(commands, to: fileDescriptor, path: path)
    }

    /// Writes `commands` without reading.
    func flush(_ commands: inout CommandBuffer) throws(BinderError) {
        defer { commands.removeAll() }
        try writeCommands(commands, to: fileDescriptor, path: path)
    }
}
