import CBinder
import SwiftBinder
import Testing

/// The command and return encodings, checked against the values PROTOCOL.md §1.4/§1.5 list.
@Suite struct DriverProtocolTests {
    @Test func commandValuesMatchTheKernel() {
        #expect(DriverCommand.transaction.rawValue == 0x4040_6300)
        #expect(DriverCommand.reply.rawValue == 0x4040_6301)
        #expect(DriverCommand.freeBuffer.rawValue == 0x4008_6303)
        #expect(DriverCommand.enterLooper.rawValue == 0x0000_630C)
        // The packed 12-byte binder_handle_cookie: 0x4010630E would mean 16 bytes.
        #expect(DriverCommand.requestDeathNotification.rawValue == 0x400C_630E)
        #expect(DriverCommand.clearDeathNotification.rawValue == 0x400C_630F)
        #expect(DriverCommand.requestFreezeNotification.rawValue == 0x400C_6313)
        #expect(DriverCommand.clearFreezeNotification.rawValue == 0x400C_6314)
        #expect(DriverCommand.freezeNotificationDone.rawValue == 0x4008_6315)
    }

    @Test func returnValuesMatchTheKernel() {
        #expect(DriverReturnCode.transaction.rawValue == 0x8040_7202)
        #expect(DriverReturnCode.transactionWithSecurityContext.rawValue == 0x8048_7202)
        #expect(DriverReturnCode.reply.rawValue == 0x8040_7203)
        #expect(DriverReturnCode.noop.rawValue == 0x0000_720C)
        #expect(DriverReturnCode.transactionPendingFrozen.rawValue == 0x0000_7214)
        #expect(DriverReturnCode.frozenBinder.rawValue == 0x8010_7215)
        #expect(DriverReturnCode.clearFreezeNotificationDone.rawValue == 0x8008_7216)
        #expect(DriverReturnCode.frozenBinder.payloadSize == 16)
    }

    /// The object types, written out as constants, are the UAPI header's `BINDER_TYPE_*`.
    @Test func objectTypesMatchTheKernel() {
        let expected: [(BinderObjectType, Int)] = [
            (.binder, BINDER_TYPE_BINDER), (.weakBinder, BINDER_TYPE_WEAK_BINDER), (.handle, BINDER_TYPE_HANDLE),
            (.weakHandle, BINDER_TYPE_WEAK_HANDLE), (.fileDescriptor, BINDER_TYPE_FD),
            (.fileDescriptorArray, BINDER_TYPE_FDA), (.pointer, BINDER_TYPE_PTR),
        ]
        for (type, uapi) in expected { #expect(Int(type.rawValue) == uapi) }
    }

    @Test func transactionFlagsMatchTheKernel() {
        #expect(TransactionFlags.oneWay.rawValue == 0x01)
        #expect(TransactionFlags.statusCode.rawValue == 0x08)
        #expect(TransactionFlags.acceptFileDescriptors.rawValue == 0x10)
        #expect(TransactionFlags.clearBuffer.rawValue == 0x20)
    }

    @Test func handleCookieCommandsArePacked() {
        var commands = CommandBuffer()
        commands.append(.requestDeathNotification, handle: 7, cookie: 0x1122_3344_5566_7788)
        let bytes = commands.bytes
        #expect(bytes.count == 4 + 12)
        #expect(Array(bytes[4..<8]) == [7, 0, 0, 0])
        #expect(Array(bytes[8..<16]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
    }

    @Test func pairedReferenceCommandsAreTwoCommands() {
        var paired = CommandBuffer()
        paired.append(.incrementWeak, .incrementStrong, handle: 0x0102_0304)
        var single = CommandBuffer()
        single.append(.incrementWeak, handle: 0x0102_0304)
        single.append(.incrementStrong, handle: 0x0102_0304)
        #expect(paired.bytes == single.bytes)
    }

    @Test func transactionCommandIs68Bytes() {
        var commands = CommandBuffer()
        commands.append(.transaction, transaction: TransactionData(target: 3, code: 0x5F50_4E47, dataSize: 9))
        let bytes = commands.bytes
        #expect(bytes.count == 4 + 64)
        // code at payload offset 16, data_size at 32
        #expect(Array(bytes[20..<24]) == [0x47, 0x4E, 0x50, 0x5F])
        #expect(bytes[36] == 9)
    }

    @Test func commandBufferGrowsAndRemovesCommandsInPlace() {
        var commands = CommandBuffer(capacity: 16)
        for handle in 0..<10 { commands.append(.incrementStrong, handle: UInt32(handle)) }
        commands.append(.transaction, transaction: TransactionData(target: 1, dataAddress: 0xABC))
        commands.append(.freeBuffer, value: 0x55)
        #expect(commands.bytes.count == 10 * 8 + 68 + 12)
        // The transaction in the middle goes; what follows it moves up intact.
        commands.removeTransaction(dataAddress: 0xABC)
        var bytes = commands.bytes
        #expect(bytes.count == 10 * 8 + 12)
        #expect(Array(bytes[80..<84]) == withUnsafeBytes(of: DriverCommand.freeBuffer.rawValue) { Array($0) })
        #expect(bytes[84] == 0x55)
        commands.removeFirst(8)
        bytes = commands.bytes
        #expect(bytes.count == 9 * 8 + 12)
        #expect(bytes[4] == 1)  // the handle of the second command
        commands.removeFirst(1000)
        let isEmpty = commands.isEmpty
        #expect(isEmpty)
    }

    @Test func decodesASequenceOfReturns() throws {
        var stream = CommandBuffer()  // reused as a byte builder for the return stream
        stream.append(DriverCommand(rawValue: DriverReturnCode.noop.rawValue))
        stream.append(DriverCommand(rawValue: DriverReturnCode.transactionComplete.rawValue))
        stream.append(
            DriverCommand(rawValue: DriverReturnCode.reply.rawValue),
            transaction: TransactionData(code: 5, senderPID: 42, senderEUID: 1000, dataSize: 3, dataAddress: 0x1000))
        stream.append(DriverCommand(rawValue: DriverReturnCode.deadBinder.rawValue), value: 99)
        let returns = try stream.bytes.withUnsafeBytes { bytes in
            var reader = DriverReturnReader(bytes)
            var decoded: [DriverReturn] = []
            while let entry = try reader.next() { decoded.append(entry) }
            return decoded
        }
        #expect(
            returns == [
                .noop, .transactionComplete,
                .reply(TransactionData(code: 5, senderPID: 42, senderEUID: 1000, dataSize: 3, dataAddress: 0x1000)),
                .deadBinder(cookie: 99),
            ])
    }

    @Test func truncatedPayloadThrowsAndDoesNotAdvance() throws {
        var stream = CommandBuffer()
        stream.append(DriverCommand(rawValue: DriverReturnCode.noop.rawValue))
        stream.append(DriverCommand(rawValue: DriverReturnCode.incrementStrong.rawValue), value: 1)  // 8 of 16 bytes
        try stream.bytes.withUnsafeBytes { bytes throws in
            var reader = DriverReturnReader(bytes)
            #expect(try reader.next() == .noop)
            #expect(throws: BinderError.self) { try reader.next() }
            #expect(reader.readerIndex == 4)
        }
    }

    @Test(arguments: [[0xEF, 0xBE, 0xAD, 0xDE] as [UInt8], [0x0C, 0x72], [0x0C, 0x72, 0x00, 0x00, 0x01]])
    func unknownOrStrayBytesThrow(_ bytes: [UInt8]) throws {
        bytes.withUnsafeBytes { raw in
            var reader = DriverReturnReader(raw)
            var decoded = 0
            #expect(throws: BinderError.self) {
                while try reader.next() != nil { decoded += 1 }
            }
            #expect(decoded <= 1)
        }
    }
}
