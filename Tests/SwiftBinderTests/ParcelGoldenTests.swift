import SwiftBinder
import Testing

/// Byte-exact compatibility with libbinder, from PROTOCOL.md §3.12 and §4.3.
@Suite struct ParcelGoldenTests {
    /// Parses the hex dump layout of PROTOCOL.md: "0000: 00 11 22 …   comment".
    static func bytes(_ dump: String) -> [UInt8] {
        dump.split(separator: "\n").flatMap { line -> [UInt8] in
            let hex = line.split(separator: ":", maxSplits: 1)[1].prefix(49)
            return hex.split(separator: " ").map { UInt8($0, radix: 16)! }
        }
    }

    @Test func checkServiceRequest() throws {
        let expected = Self.bytes(
            """
            0000: 00 00 00 80 ff ff ff ff 54 53 59 53 1a 00 00 00
            0010: 61 00 6e 00 64 00 72 00 6f 00 69 00 64 00 2e 00
            0020: 6f 00 73 00 2e 00 49 00 53 00 65 00 72 00 76 00
            0030: 69 00 63 00 65 00 4d 00 61 00 6e 00 61 00 67 00
            0040: 65 00 72 00 00 00 00 00 03 00 00 00 66 00 6f 00
            0050: 6f 00 00 00
            """)
        #expect(expected.count == 84)

        var request = Parcel()
        request.writeInterfaceToken("android.os.IServiceManager")
        request.writeString16("foo")
        #expect(request.dataBytes == expected)
        #expect(request.objectOffsets.isEmpty)

        try request.enforceInterface("android.os.IServiceManager")
        #expect(try request.readString16() == "foo")
        try request.requireFullyRead()
    }

    /// servicemanager disables background scheduling from Android 15 (cmds/servicemanager/main.cpp,
    /// commit 310fce2f0e), so the objects it writes carry no priority bits; from Android 13 null
    /// and handle objects carry no ACCEPTS_FDS either (libs/binder/Parcel.cpp flattenBinder at
    /// android-13.0.0_r1): flags 0. (PROTOCOL.md §3.12 shows this for Android 13+; at 13 and 14
    /// servicemanager still writes the priority bits, 0x13.)
    static let serviceManagerFormat = WireFormat.android13.disablingBackgroundScheduling()

    @Test func checkServiceReplyFound() throws {
        var reply = Parcel(wireFormat: Self.serviceManagerFormat)
        reply.writeStatus(.ok)
        reply.writeBinder(.handle(5))
        #expect(
            reply.dataBytes == [
                0, 0, 0, 0,
                0x85, 0x2A, 0x68, 0x73, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0x0C, 0, 0, 0,
            ])
        #expect(reply.objectOffsets == [4])
        #expect(try reply.readStatus().isOK)
        let binder = try reply.readBinder()
        #expect(binder.reference == .handle(5))
        #expect(binder.stability == .system)
    }

    @Test func checkServiceReplyNotFound() throws {
        var reply = Parcel(wireFormat: Self.serviceManagerFormat)
        reply.writeStatus(.ok)
        reply.writeBinder(nil)
        #expect(reply.dataBytes == [0, 0, 0, 0, 0x85, 0x2A, 0x62, 0x73] + [UInt8](repeating: 0, count: 24))
        #expect(reply.objectOffsets.isEmpty)
        #expect(try reply.readStatus().isOK)
        #expect(try reply.readNullableBinder() == nil)
    }

    /// Android 16 `getService2` reply: Status, a non-null `Service` union (tag 0), a non-null
    /// `android.os.ServiceWithMetadata` parcelable of size 36 holding a binder and `isLazyService`.
    @Test func getService2Reply() throws {
        var reply = Parcel()
        reply.writeStatus(.ok)
        reply.writeInt32(1)  // non-null union
        reply.writeInt32(0)  // tag: serviceWithMetadata
        reply.writeInt32(1)  // non-null parcelable
        reply.writeStructured { parcel in
            parcel.writeBinder(.handle(9))
            parcel.writeBool(true)
        }
        #expect(reply.dataSize == 16 + 36)
        #expect(Array(reply.dataBytes[16..<20]) == [36, 0, 0, 0])
        #expect(reply.objectOffsets == [20])

        #expect(try reply.readStatus().isOK)
        #expect(try reply.readInt32() == 1)
        #expect(try reply.readUnionTag(memberCount: 2) == 0)
        #expect(try reply.readInt32() == 1)
        let (binder, lazy) = try reply.readStructured { (parcel: inout Parcel, frame) throws(ParcelError) in
            (try parcel.readBinder(), try parcel.readBool())
        }
        #expect(binder.reference == .handle(9))
        #expect(lazy)
        try reply.requireFullyRead()
    }

    @Test func reservedTransactionCodes() {
        #expect(ReservedTransactionCode.ping == 0x5F50_4E47)
        #expect(ReservedTransactionCode.interface == 0x5F4E_5446)
        #expect(ReservedTransactionCode.dump == 0x5F44_4D50)
    }
}
