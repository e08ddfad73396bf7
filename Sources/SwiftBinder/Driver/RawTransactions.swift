import CBinder

// Single-threaded transactions spoken directly in the driver's command language, with no
// objects, no thread pool and no Parcel. They exist for diagnostics (`binder raw`) and for the
// driver tests; applications use the runtime.

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

extension BinderDevice {
    /// Size of the read buffer used by the raw helpers (libbinder uses 256 bytes too).
    static let rawReadBufferSize = 256

    /// Sends one transaction to `handle` on the calling thread and, unless it is oneway, waits
    /// for the reply and returns a copy of it. The reply buffer is handed back to the driver
    /// (`BC_FREE_BUFFER`) before this returns.
    ///
    /// - Throws: ``BinderError/transactionFailed(_:)`` on `BR_DEAD_REPLY`, `BR_FAILED_REPLY` or
    ///   `BR_FROZEN_REPLY`; a driver or decoding error.
    @discardableResult
    public func transactRaw(
        handle: UInt32, code: UInt32, data: [UInt8], flags: TransactionFlags = [.acceptFileDescriptors]
    ) throws(BinderError) -> RawReply? {
        let result = data.withUnsafeBytes { payload in
            Result { () throws(BinderError) -> RawReply? in
                var commands = CommandBuffer()
                commands.append(
                    .transaction,
                    transaction: TransactionData(
                        target: UInt64(handle), code: code, flags: flags, dataSize: UInt64(payload.count),
                        dataAddress: UInt64(UInt(bitPattern: payload.baseAddress))))
                return try awaitReply(sending: &commands, oneWay: flags.contains(.oneWay))
            }
        }
        return try result.get()
    }

    private func awaitReply(sending commands: inout CommandBuffer, oneWay: Bool) throws(BinderError) -> RawReply? {
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.rawReadBufferSize, alignment: 8)
        defer { readBuffer.deallocate() }
        while true {
            let filled = try exchange(&commands, readInto: readBuffer)
            var reply: RawReply?
            var failure: TransactionFailure?
            var completed = false
            var reader = DriverReturnReader(UnsafeRawBufferPointer(rebasing: readBuffer[..<filled]))
            while let entry = try reader.next() {
                switch entry {
                case .transactionComplete, .onewaySpamSuspect, .transactionPendingFrozen:
                    completed = true
                case .reply(let transaction):
                    reply = try copyAndFree(transaction, into: &commands)
                case .deadReply: failure = .deadTarget
                case .failedReply: failure = .failed
                case .frozenReply: failure = .frozenTarget
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

    /// Becomes a looper thread and serves incoming transactions on the calling thread: each
    /// one's data is copied, its buffer freed, and, unless it is oneway, `answer`'s result is
    /// sent back. Returns after `limit` transactions (or never, when `limit` is nil).
    public func serveRaw(
        limit: Int? = nil, answer: (RawIncomingTransaction) -> RawServerAnswer
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
            var incoming: [RawIncomingTransaction] = []
            var reader = DriverReturnReader(UnsafeRawBufferPointer(rebasing: readBuffer[..<filled]))
            while let entry = try reader.next() {
                switch entry {
                case .transaction(let transaction), .transactionWithSecurityContext(let transaction, _):
                    incoming.append(try copyAndFreeRequest(transaction, into: &commands))
                case .incrementWeak(let node): commands.append(.incrementWeakDone, node: node)
                case .incrementStrong(let node): commands.append(.incrementStrongDone, node: node)
                default: break
                }
            }
            for request in incoming {
                served += 1
                if request.flags.contains(.oneWay) { continue }
                try sendReply(answer(request), commands: &commands)
                awaitingCompletion = true
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

    private func sendReply(_ answer: RawServerAnswer, commands: inout CommandBuffer) throws(BinderError) {
        let (bytes, flags): ([UInt8], TransactionFlags)
        switch answer {
        case .reply(let data): (bytes, flags) = (data, [])
        case .status(let status): (bytes, flags) = (withUnsafeBytes(of: status) { Array($0) }, [.statusCode])
        }
        // The reply goes out without waiting for its BR_TRANSACTION_COMPLETE: the serving loop
        // reads it with the next batch, so no incoming transaction is read here and dropped.
        let result = bytes.withUnsafeBytes { payload in
            Result { () throws(BinderError) in
                commands.append(
                    .reply,
                    transaction: TransactionData(
                        target: UInt64(UInt32.max), flags: flags, dataSize: UInt64(payload.count),
                        dataAddress: UInt64(UInt(bitPattern: payload.baseAddress))))
                try flush(&commands)
            }
        }
        try result.get()
    }

    private func copyAndFree(_ transaction: TransactionData, into commands: inout CommandBuffer) throws(BinderError)
        -> RawReply
    {
        let request = try copyAndFreeRequest(transaction, into: &commands)
        if transaction.flags.contains(.statusCode) {
            guard request.data.count >= 4 else { throw .malformedReturn("status reply of \(request.data.count) bytes") }
            return .status(request.data.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        }
        return .data(request.data)
    }

    private func copyAndFreeRequest(_ transaction: TransactionData, into commands: inout CommandBuffer)
        throws(BinderError) -> RawIncomingTransaction
    {
        // Hand the buffer back whatever happens next, with the kernel's own pointer.
        commands.append(.freeBuffer, value: transaction.dataAddress)
        guard let data = mappedBytes(at: transaction.dataAddress, count: transaction.dataSize),
            let offsets = mappedBytes(at: transaction.offsetsAddress, count: transaction.offsetsSize)
        else {
            throw .malformedReturn("transaction buffer outside the receive mapping")
        }
        return RawIncomingTransaction(
            code: transaction.code, flags: transaction.flags, senderPID: transaction.senderPID,
            senderEUID: transaction.senderEUID, data: Array(data),
            objectOffsets: (0..<offsets.count / 8).map { offsets.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) })
    }

    /// Writes `commands` and blocks until the driver returns something; returns the bytes read.
    private func exchange(_ commands: inout CommandBuffer, readInto readBuffer: UnsafeMutableRawBufferPointer)
        throws(BinderError) -> Int
    {
        defer { commands.removeAll() }
        let result = commands.bytes.withUnsafeBytes { write in
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

    /// Writes `commands` without reading.
    func flush(_ commands: inout CommandBuffer) throws(BinderError) {
        defer { commands.removeAll() }
        let result = commands.bytes.withUnsafeBytes { write in
            Result { () throws(BinderError) in
                var request = binder_write_read(
                    write_size: UInt64(write.count), write_consumed: 0,
                    write_buffer: UInt64(UInt(bitPattern: write.baseAddress)),
                    read_size: 0, read_consumed: 0, read_buffer: 0)
                try writeRead(&request)
            }
        }
        try result.get()
    }
}
