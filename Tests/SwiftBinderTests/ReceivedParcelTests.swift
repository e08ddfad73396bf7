import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A parcel over a received buffer: read in place, objects checked against the kernel's array,
/// buffer released exactly once, descriptors owned. The buffers here imitate the kernel's; the
/// in-VM tests use the real ones.
@Suite struct ReceivedParcelTests {
    final class Releaser: ReceivedBufferOwner, @unchecked Sendable {
        let released = Mutex<[UInt64]>([])
        override func releaseReceivedBuffer(at address: UInt64) { released.withLock { $0.append(address) } }
    }

    /// Copies `parcel`'s data and objects into "kernel" memory and calls `body` with a received
    /// parcel over it.
    func withReceived<R>(
        _ parcel: borrowing Parcel, objects: [UInt64]? = nil, releaser: Releaser,
        _ body: (inout Parcel) throws -> R
    ) rethrows -> R {
        let data = parcel.dataBytes
        let offsets = objects ?? parcel.objectOffsets
        return try data.withUnsafeBytes { dataBytes in
            try offsets.withUnsafeBytes { offsetBytes in
                var received = Parcel(
                    received: dataBytes, objectOffsets: offsetBytes, bufferAddress: 0xB0FF, owner: releaser)
                return try body(&received)
            }
        }
    }

    @Test func theBufferIsReleasedExactlyOnceWithTheKernelsAddress() throws {
        let releaser = Releaser()
        var parcel = Parcel()
        parcel.writeString16("hello")
        try withReceived(parcel, releaser: releaser) { received throws in
            let isReceived = received.isReceived
            #expect(isReceived)
            #expect(try received.readString16() == "hello")
        }
        #expect(releaser.released.withLock { $0 } == [0xB0FF])
    }

    @Test func anEmptyBufferIsReleasedToo() throws {
        let releaser = Releaser()
        do {
            let received = Parcel(
                received: UnsafeRawBufferPointer(start: nil, count: 0),
                objectOffsets: UnsafeRawBufferPointer(start: nil, count: 0), bufferAddress: 0x1234, owner: releaser)
            let size = received.dataSize
            #expect(size == 0)
        }
        #expect(releaser.released.withLock { $0 } == [0x1234])
    }

    @Test func receivedDescriptorsAreClosedUnlessTaken() throws {
        let releaser = Releaser()
        let first = try FileDescriptor.pipe()
        let second = try FileDescriptor.pipe()
        defer {
            try? first.writeEnd.close()
            try? second.writeEnd.close()
        }
        let firstIdentity = FileIdentity(first.readEnd.rawValue)
        var parcel = Parcel()
        parcel.writeFileDescriptor(first.readEnd)
        parcel.writeFileDescriptor(second.readEnd)
        let taken = try withReceived(parcel, releaser: releaser) { received throws in
            _ = try received.readFileDescriptor()
            let fd = try received.takeFileDescriptor()
            #expect(throws: ParcelError.self) {
                try received.moveReaderIndex(to: 24)
                _ = try received.takeFileDescriptor()
            }
            return fd
        }
        // As the kernel's parcel, it closed the descriptor it still owned and kept the taken one.
        #expect(isClosed(first.readEnd.rawValue, was: firstIdentity))
        #expect(fcntl(taken.rawValue, F_GETFD) != -1)
        try taken.close()
    }

    @Test func overlappingObjectsAreRefused() throws {
        let releaser = Releaser()
        var parcel = Parcel()
        parcel.writeBinder(.handle(1))
        parcel.writeBinder(.handle(2))
        _ = try withReceived(parcel, objects: [0, 8], releaser: releaser) { received throws in
            #expect(throws: ParcelError.self) { try received.readBinder() }
        }
        _ = try withReceived(parcel, objects: [28, 0], releaser: releaser) { received throws in
            #expect(throws: ParcelError.self) { try received.readBinder() }
        }
        _ = try withReceived(parcel, objects: [0, 1000], releaser: releaser) { received throws in
            #expect(throws: ParcelError.self) { try received.readBinder() }
        }
        _ = try withReceived(parcel, objects: [2], releaser: releaser) { received throws in
            #expect(throws: ParcelError.self) { try received.readBinder() }
        }
        #expect(releaser.released.withLock { $0.count } == 4)
    }

    @Test func objectsAtUnlistedOffsetsAreRefused() throws {
        let releaser = Releaser()
        var parcel = Parcel()
        parcel.writeBinder(.handle(1))
        parcel.writeBinder(.handle(2))
        _ = try withReceived(parcel, objects: [0], releaser: releaser) { received throws in
            #expect(try received.readBinder().reference == .handle(1))
            #expect(throws: ParcelError.objectNotListed(offset: 28)) { try received.readBinder() }
        }
    }

    @Test func receivedParcelsAreReadInPlace() throws {
        let releaser = Releaser()
        var parcel = Parcel()
        parcel.writeByteArray([9, 8, 7])
        let data = parcel.dataBytes
        data.withUnsafeBytes { bytes in
            let received = Parcel(
                received: bytes, objectOffsets: UnsafeRawBufferPointer(start: nil, count: 0), bufferAddress: 1,
                owner: releaser)
            let base = received.withUnsafeDataBytes { $0.baseAddress }
            #expect(base == bytes.baseAddress)
        }
    }
}
