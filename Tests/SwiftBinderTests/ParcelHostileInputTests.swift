import BinderTestSupport
import SwiftBinder
import Testing

/// Malformed data from a peer: every case is a typed error, the reader does not move, and no
/// count or length makes the reader allocate more than the data could hold.
@Suite struct ParcelHostileInputTests {
    /// A parcel holding exactly `words` (int32 each) and then `bytes`.
    func parcel(_ words: [Int32], bytes: [UInt8] = []) -> Parcel {
        var parcel = Parcel()
        for word in words { parcel.writeInt32(word) }
        if !bytes.isEmpty { parcel.writeBytes(bytes) }
        return parcel
    }

    @Test func truncatedPrimitives() throws {
        var empty = Parcel()
        #expect(throws: ParcelError.notEnoughData(offset: 0, needed: 4, available: 0)) { try empty.readInt32() }
        var four = parcel([7])
        #expect(throws: ParcelError.self) { try four.readInt64() }
        #expect(four.readerIndex == 0)
        #expect(try four.readInt32() == 7)
    }

    @Test(arguments: [Int32(-2), Int32.min, 1_000_000, Int32.max])
    func hugeOrNegativeLengthsAreRefusedBeforeAllocating(_ length: Int32) throws {
        var strings = parcel([length, 0x0041_0041])
        #expect(throws: ParcelError.invalidLength(Int64(length), offset: 0)) { try strings.readNullableString16() }
        #expect(strings.readerIndex == 0)
        var bytes = parcel([length, 0])
        #expect(throws: ParcelError.invalidLength(Int64(length), offset: 0)) { try bytes.readNullableByteArray() }
        var ints = parcel([length, 0])
        #expect(throws: ParcelError.self) { try ints.readNullableIntegerArray(of: Int64.self) }
        var strings8 = parcel([length, 0])
        #expect(throws: ParcelError.self) { try strings8.readNullableString8() }
        var generic = parcel([length, 0])
        #expect(throws: ParcelError.self) {
            try generic.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readString16() }
        }
        #expect(generic.readerIndex == 0)
    }

    @Test func arrayCountBeyondItsElementsIsRefused() throws {
        // 3 int64 claimed, 2 present
        var parcel = parcel([3, 1, 0, 2, 0])
        #expect(throws: ParcelError.self) { try parcel.readNullableIntegerArray(of: Int64.self) }
        #expect(parcel.readerIndex == 0)
    }

    @Test func string16WithoutNULIsRefused() throws {
        var parcel = parcel([1], bytes: [0x41, 0, 0x42, 0])  // "A" then 'B' where NUL belongs
        #expect(throws: ParcelError.invalidString(offset: 0, reason: "missing NUL terminator")) {
            try parcel.readString16()
        }
        #expect(parcel.readerIndex == 0)
    }

    @Test func unpairedSurrogateIsRefused() throws {
        var parcel = parcel([1], bytes: [0x00, 0xD8, 0, 0])  // lone high surrogate U+D800
        #expect(throws: ParcelError.invalidString(offset: 0, reason: "invalid UTF-16")) { try parcel.readString16() }
    }

    @Test func invalidUTF8IsRefused() throws {
        var string8 = parcel([2], bytes: [0xC3, 0x28, 0, 0])
        #expect(throws: ParcelError.self) { try string8.readString8() }
        var cString = parcel([], bytes: [0xFF, 0xFE, 0, 0])
        #expect(throws: ParcelError.self) { try cString.readCString() }
        var unterminated = parcel([], bytes: [0x41, 0x42, 0x43, 0x44])
        #expect(throws: ParcelError.self) { try unterminated.readCString() }
    }

    @Test(arguments: [Int32(0), 3, -1, 1000])
    func parcelableSizeBelow4OrBeyondTheDataIsRefused(_ size: Int32) throws {
        var parcel = parcel([1, size, 0])
        #expect(throws: ParcelError.self) { try parcel.readParcelable(Point.self) }
        #expect(parcel.readerIndex == 0)
    }

    @Test func parcelableFieldsThatOverrunTheirSizeAreRefused() throws {
        // size 6 ends inside the first field: reading it runs past the declared end.
        var parcel = parcel([1, 6, 5, 6, -1])
        #expect(throws: ParcelError.self) { try parcel.readParcelable(Point.self) }
    }

    @Test func anObjectWhereNoneIsListedIsRefused() throws {
        var honest = Parcel()
        honest.writeBinder(.handle(3))
        // The same bytes, copied as plain data: no objects array.
        var forged = Parcel()
        honest.withUnsafeDataBytes { forged.writeBytes($0) }
        #expect(throws: ParcelError.objectNotListed(offset: 0)) { try forged.readBinder() }
        #expect(forged.readerIndex == 0)
    }

    @Test func aForgedFileDescriptorIsRefused() throws {
        var forged = Parcel()
        forged.writeInteger(BinderObjectType.fileDescriptor.rawValue)
        forged.writeInt32(0)
        forged.writeInt64(0)  // fd 0, unlisted
        forged.writeInt64(0)
        #expect(throws: ParcelError.objectNotListed(offset: 0)) { try forged.readFileDescriptor() }
    }

    @Test func invalidStabilityIsRefused() throws {
        var parcel = Parcel()
        parcel.writeBinder(.handle(3), stability: StabilityLevel(rawValue: 5))
        #expect(throws: ParcelError.invalidStability(5, offset: 24)) { try parcel.readBinder() }
        #expect(parcel.readerIndex == 0)
        var null = Parcel()
        null.writeObject(FlatBinderObject(type: .binder), listed: false)
        null.writeInt32(12)  // a null binder must be UNDECLARED
        #expect(throws: ParcelError.self) { try null.readNullableBinder() }
    }

    @Test func trailingGarbageIsReported() throws {
        var parcel = parcel([1, 2])
        _ = try parcel.readInt32()
        #expect(throws: ParcelError.trailingData(count: 4)) { try parcel.requireFullyRead() }
    }

    @Test func statusWithABadHeaderSizeIsRefused() throws {
        var parcel = parcel([-128, 1_000_000])
        #expect(throws: ParcelError.self) { try parcel.readStatus() }
        #expect(parcel.readerIndex == 0)
        var trace = Parcel()
        trace.writeInt32(-3)
        trace.writeString16(nil)
        trace.writeInt32(-5)  // stack trace header size
        #expect(throws: ParcelError.self) { try trace.readStatus() }
    }
}
