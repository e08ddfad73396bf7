import BinderTestSupport
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every type written and read back, with its exact size on the wire.
@Suite struct ParcelRoundTripTests {
    /// A recursive parcelable (`@nullable Node next`) compiles (the field is boxed) and round
    /// trips; nesting past `Parcel.maximumNesting` is refused with a typed error, not a stack
    /// overflow.
    @Test func recursiveParcelablesRoundTripAndTheirDepthIsBounded() throws {
        func chain(_ length: Int) -> org.swiftbinder.test.Node {
            var node = org.swiftbinder.test.Node(value: Int32(length))
            for value in (0..<length - 1).reversed() { node = org.swiftbinder.test.Node(value: Int32(value), next: node) }
            return node
        }
        let tree = org.swiftbinder.test.Node(value: 1, next: chain(3), children: [org.swiftbinder.test.Node(value: 2), chain(2)])
        var parcel = Parcel()
        try parcel.writeParcelable(tree)
        #expect(try parcel.readParcelable(org.swiftbinder.test.Node.self) == tree)

        let fine = chain(Int(Parcel.maximumNesting))
        var deep = Parcel()
        try deep.writeParcelable(fine)
        #expect(try deep.readParcelable(org.swiftbinder.test.Node.self) == fine)

        var tooDeep = Parcel()
        try tooDeep.writeParcelable(chain(Int(Parcel.maximumNesting) + 1))
        let error = #expect(throws: ParcelError.self) { try tooDeep.readParcelable(org.swiftbinder.test.Node.self) }
        guard case .nestedTooDeeply? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(tooDeep.readerIndex == 0)
    }

    @Test func primitivesAreWidenedTo32Bits() throws {
        var parcel = Parcel()
        parcel.writeBool(true)
        parcel.writeInteger(Int8(-3))
        parcel.writeChar(0x00E9)
        parcel.writeInt32(Int32.min)
        parcel.writeInteger(UInt32.max)
        parcel.writeInt64(Int64.min + 1)
        parcel.writeInteger(UInt64.max - 1)
        parcel.writeFloat(-1.5)
        parcel.writeDouble(.pi)
        #expect(parcel.dataSize == 4 * 6 + 8 * 3)
        // byte is sign-extended into its int32
        #expect(Array(parcel.dataBytes[4..<8]) == [0xFD, 0xFF, 0xFF, 0xFF])

        #expect(try parcel.readBool() == true)
        #expect(try parcel.readInteger(as: Int8.self) == -3)
        #expect(try parcel.readChar() == 0x00E9)
        #expect(try parcel.readInt32() == Int32.min)
        #expect(try parcel.readInteger(as: UInt32.self) == UInt32.max)
        #expect(try parcel.readInt64() == Int64.min + 1)
        #expect(try parcel.readInteger(as: UInt64.self) == UInt64.max - 1)
        #expect(try parcel.readFloat() == -1.5)
        #expect(try parcel.readDouble() == .pi)
        try parcel.requireFullyRead()
    }

    @Test(arguments: ["", "a", "ab", "abc", "héllo", "日本語", "emoji 🎉 surrogate pair", String(repeating: "x", count: 1000)])
    func string16(_ string: String) throws {
        var parcel = Parcel()
        parcel.writeString16(string)
        let units = string.utf16.count
        #expect(parcel.dataSize == 4 + ((units + 1) * 2 + 3) / 4 * 4)
        #expect(try parcel.readString16() == string)
        try parcel.requireFullyRead()
    }

    @Test(arguments: ["android.os.IServiceManager", "", "héllo", "emoji 🎉"])
    func string16Matching(_ string: String) throws {
        var parcel = Parcel()
        for candidate in [string, string + "x", String(string.dropLast()), "android.os.IServiceManageR", "h\u{E9}llo"] {
            parcel.writeString16(candidate)
        }
        #expect(try parcel.readString16(matching: string))
        #expect(try !parcel.readString16(matching: string))
        #expect(try parcel.readString16(matching: string) == string.isEmpty)  // "" drops nothing
        #expect(try parcel.readString16(matching: string) == (string == "android.os.IServiceManageR"))
        #expect(try parcel.readString16(matching: string) == (string == "héllo"))
        try parcel.requireFullyRead()
    }

    @Test func emptyAndNullString16OnTheWire() throws {
        var parcel = Parcel()
        parcel.writeString16("")
        parcel.writeString16(nil)
        #expect(parcel.dataBytes == [0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try parcel.readNullableString16() == "")
        #expect(try parcel.readNullableString16() == nil)
    }

    @Test func nullIsNotANonNullString() throws {
        var parcel = Parcel()
        parcel.writeString16(nil)
        #expect(throws: ParcelError.unexpectedNull(offset: 0)) { try parcel.readString16() }
        #expect(parcel.readerIndex == 0)
    }

    @Test(arguments: ["", "abc", "naïve", "four"])
    func string8AndCString(_ string: String) throws {
        var parcel = Parcel()
        parcel.writeString8(string)
        parcel.writeString8(nil)
        try parcel.writeCString(string)
        #expect(try parcel.readString8() == string)
        #expect(try parcel.readNullableString8() == nil)
        #expect(try parcel.readCString() == string)
        try parcel.requireFullyRead()
    }

    @Test func cStringWithEmbeddedNULIsRefused() {
        var parcel = Parcel()
        #expect(throws: ParcelError.self) { try parcel.writeCString("a\u{0}b") }
    }

    @Test func byteArraysArePacked() throws {
        var parcel = Parcel()
        parcel.writeByteArray([1, 2, 3, 4, 5])
        parcel.writeByteArray(nil)
        parcel.writeByteArray([])
        #expect(parcel.dataBytes == [5, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        #expect(try parcel.readByteArray() == [1, 2, 3, 4, 5])
        #expect(try parcel.readNullableByteArray() == nil)
        #expect(try parcel.readByteArray() == [])
    }

    @Test func primitiveArrays() throws {
        var parcel = Parcel()
        parcel.writeIntegerArray([Int32(1), -2, 3])
        parcel.writeIntegerArray([Int64.max, Int64.min])
        parcel.writeIntegerArray([UInt16(0x41), 0xFFFF])  // char[]: one int32 each
        parcel.writeBoolArray([true, false, true])
        parcel.writeFloatArray([1.25, -0])
        parcel.writeDoubleArray([2.5])
        parcel.writeIntegerArray(nil as [Int32]?)
        #expect(parcel.dataSize == (4 + 12) + (4 + 16) + (4 + 8) + (4 + 12) + (4 + 8) + (4 + 8) + 4)

        #expect(try parcel.readIntegerArray(of: Int32.self) == [1, -2, 3])
        #expect(try parcel.readIntegerArray(of: Int64.self) == [Int64.max, Int64.min])
        #expect(try parcel.readIntegerArray(of: UInt16.self) == [0x41, 0xFFFF])
        #expect(try parcel.readNullableBoolArray() == [true, false, true])
        #expect(try parcel.readNullableFloatArray() == [1.25, -0])
        #expect(try parcel.readNullableDoubleArray() == [2.5])
        #expect(try parcel.readNullableIntegerArray(of: Int32.self) == nil)
        try parcel.requireFullyRead()
    }

    @Test func stringArraysWithNullElements() throws {
        var parcel = Parcel()
        parcel.writeStringArray(["a", nil, "ccc"])
        parcel.writeStringArray(nil)
        #expect(try parcel.readNullableStringArray() == ["a", nil, "ccc"])
        #expect(try parcel.readNullableStringArray() == nil)
    }

    @Test func fixedSizeArraysNest() throws {
        var parcel = Parcel()
        let matrix: [[Int32]] = [[1, 2, 3], [4, 5, 6]]
        parcel.writeArray(matrix) { parcel, row in parcel.writeIntegerArray(row) }
        #expect(parcel.dataSize == 4 + 2 * (4 + 12))
        let read = try parcel.readFixedSizeArray(count: 2) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in
                try parcel.readFixedSizeArray(count: 3) { (parcel: inout Parcel) throws(ParcelError) in
                    try parcel.readNullableIntegerArray(of: Int32.self)
                }
            }
        }
        #expect(read == matrix)
    }

    @Test func fixedSizeArrayOfTheWrongSizeIsRefused() throws {
        var parcel = Parcel()
        parcel.writeIntegerArray([Int32(1), 2])
        #expect(throws: ParcelError.fixedSizeMismatch(expected: 3, found: 2, offset: 0)) {
            try parcel.readFixedSizeArray(count: 3) { (parcel: inout Parcel) throws(ParcelError) in
                try parcel.readNullableIntegerArray(of: Int32.self)
            }
        }
        #expect(parcel.readerIndex == 0)
    }

    @Test func parcelablesWithPresenceMarkers() throws {
        var parcel = Parcel()
        let point = Point(x: 3, y: -4, label: "p")
        try parcel.writeParcelable(point)
        try parcel.writeNullableParcelable(nil as Point?)
        try parcel.writeArray([point, Point(x: 0, y: 0, label: nil)]) { (parcel: inout Parcel, element) throws(ParcelError) in
            try parcel.writeParcelable(element)
        }
        // marker 1, size 20 (size + x + y + label "p")
        #expect(Array(parcel.dataBytes[0..<8]) == [1, 0, 0, 0, 20, 0, 0, 0])
        #expect(try parcel.readParcelable(Point.self) == point)
        #expect(try parcel.readNullableParcelable(Point.self) == nil)
        let array = try parcel.readArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readParcelable(Point.self) }
        #expect(array == [point, Point(x: 0, y: 0, label: nil)])
        try parcel.requireFullyRead()
    }

    @Test func aNewerWritersExtraFieldsAreSkipped() throws {
        var parcel = Parcel()
        try Point3D(x: 1, y: 2, label: "q", z: 99).write(to: &parcel)
        parcel.writeInt32(0x1234)
        let older = try Point(from: &parcel)
        #expect(older == Point(x: 1, y: 2, label: "q"))
        #expect(try parcel.readInt32() == 0x1234)
    }

    @Test func anOlderWritersMissingFieldsGetDefaults() throws {
        var parcel = Parcel()
        try Point(x: 5, y: 6, label: "old").write(to: &parcel)
        parcel.writeInt32(0x5678)
        let newer = try Point3D(from: &parcel)
        #expect(newer == Point3D(x: 5, y: 6, label: "old", z: Point3D.defaultZ))
        #expect(try parcel.readInt32() == 0x5678)
    }

    @Test func unions() throws {
        var parcel = Parcel()
        try parcel.writeParcelable(Shape.circle(radius: 7))
        try parcel.writeParcelable(Shape.named("square"))
        #expect(try parcel.readParcelable(Shape.self) == .circle(radius: 7))
        #expect(try parcel.readParcelable(Shape.self) == .named("square"))
    }

    @Test func unknownUnionTagIsRefused() throws {
        var parcel = Parcel()
        parcel.writeInt32(1)
        parcel.writeInt32(5)
        #expect(throws: ParcelError.unknownUnionTag(5, offset: 4)) { try parcel.readParcelable(Shape.self) }
        #expect(parcel.readerIndex == 0)
    }

    @Test func enumsByBackingType() throws {
        var parcel = Parcel()
        parcel.writeEnum(SampleByteEnum.b)
        parcel.writeEnum(SampleIntEnum.large)
        parcel.writeEnum(SampleLongEnum.huge)
        parcel.writeEnumArray([SampleByteEnum.a, .b, .a])
        parcel.writeEnumArray([SampleLongEnum.huge])
        // byte-backed: int32 widened; arrays of byte-backed enums are packed bytes
        #expect(parcel.dataSize == 4 + 4 + 8 + (4 + 4) + (4 + 8))
        #expect(try parcel.readEnum(SampleByteEnum.self) == .b)
        #expect(try parcel.readEnum(SampleIntEnum.self) == .large)
        #expect(try parcel.readEnum(SampleLongEnum.self) == .huge)
        #expect(try parcel.readNullableEnumArray(SampleByteEnum.self) == [.a, .b, .a])
        #expect(try parcel.readNullableEnumArray(SampleLongEnum.self) == [.huge])
    }

    @Test func unknownEnumValueIsRefused() throws {
        var parcel = Parcel()
        parcel.writeInt32(42)
        #expect(throws: ParcelError.invalidEnumValue(42, offset: 0)) { try parcel.readEnum(SampleIntEnum.self) }
    }

    @Test(arguments: [WireFormat.android13, .android12, .android11, .android10])
    func bindersWithStability(_ format: WireFormat) throws {
        var parcel = Parcel(wireFormat: format)
        let node = NodeIdentity(pointer: 0x1000, cookie: 0x2000)
        parcel.writeBinder(.local(node), flags: BinderObjectFlags.localDefault)
        parcel.writeBinder(nil)
        parcel.writeBinder(.handle(7))
        parcel.writeBinder(.handle(0))
        let trailer = format.stability == .none ? 0 : 4
        #expect(parcel.dataSize == 4 * (24 + trailer))
        // the null binder and handle 0 are not listed
        #expect(parcel.objectOffsets == [0, UInt64(2 * (24 + trailer))])

        let local = try parcel.readBinder()
        #expect(local.reference == .local(node))
        #expect(local.flags == BinderObjectFlags.localDefault)
        #expect(try parcel.readNullableBinder() == nil)
        #expect(try parcel.readBinder().reference == .handle(7))
        #expect(try parcel.readBinder().reference == .handle(0))
        if format != .android10 { #expect(local.stability == .system) }
    }

    @Test func stabilityTrailerEncodings() throws {
        func trailer(_ format: WireFormat, null: Bool) -> [UInt8] {
            var parcel = Parcel(wireFormat: format)
            parcel.writeBinder(null ? nil : .handle(3))
            return Array(parcel.dataBytes[24...])
        }
        #expect(trailer(.android13, null: false) == [0x0C, 0, 0, 0])
        #expect(trailer(.android13, null: true) == [0, 0, 0, 0])
        #expect(trailer(.android12, null: false) == [0x01, 0, 0, 0x0C])
        #expect(trailer(.android12, null: true) == [0x01, 0, 0, 0])
        #expect(trailer(.android11, null: false) == [0x0C, 0, 0, 0])
        #expect(trailer(.android10, null: false) == [])
    }

    @Test func fileDescriptorsAndOwnership() throws {
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        var parcel = Parcel()
        parcel.writeFileDescriptor(pipe.readEnd)
        parcel.writeFileDescriptor(pipe.writeEnd, takeOwnership: true)
        #expect(parcel.objectOffsets == [0, 24])
        #expect(Array(parcel.dataBytes[16..<24]) == [0, 0, 0, 0, 0, 0, 0, 0])  // cookie 0: not owned
        #expect(Array(parcel.dataBytes[40..<48]) == [1, 0, 0, 0, 0, 0, 0, 0])  // cookie 1: owned
        #expect(try parcel.readFileDescriptor() == pipe.readEnd)
        #expect(try parcel.readFileDescriptor() == pipe.writeEnd)
        let writeEndIdentity = FileIdentity(pipe.writeEnd.rawValue)
        parcel.clear()
        // The parcel owned the write end and closed it; it did not own the read end.
        #expect(isClosed(pipe.writeEnd.rawValue, was: writeEndIdentity))
        #expect(fcntl(pipe.readEnd.rawValue, F_GETFD) != -1)
    }

    @Test func parcelFileDescriptor() throws {
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.writeEnd.close() }
        let value = ParcelFileDescriptor(pipe.readEnd)
        var parcel = Parcel()
        parcel.writeParcelFileDescriptor(value)
        parcel.writeNullParcelFileDescriptor()
        #expect(Array(parcel.dataBytes[0..<8]) == [1, 0, 0, 0, 0, 0, 0, 0])
        let read = try parcel.readParcelFileDescriptor()
        #expect(read.fileDescriptor == pipe.readEnd)
        #expect(try parcel.readNullableParcelFileDescriptor() == nil)
        _ = read.take()  // `value` still owns the descriptor and closes it
    }

    @Test func interfaceToken() throws {
        var parcel = Parcel()
        parcel.writeInterfaceToken("com.example.IFoo", strictModePolicy: 0x20)
        let token = try parcel.enforceInterface("com.example.IFoo")
        #expect(token.strictModePolicy == 0x20)
        #expect(token.workSource == -1)
    }

    @Test func interfaceTokenMismatchesSayWhich() throws {
        var parcel = Parcel()
        parcel.writeInterfaceToken("com.example.IFoo")
        #expect(throws: ParcelError.interfaceDescriptorMismatch(expected: "com.example.IBar", found: "com.example.IFoo")) {
            try parcel.enforceInterface("com.example.IBar")
        }
        var vendor = Parcel(wireFormat: WireFormat(stability: .level16, hasInterfaceHeader: true, interfaceHeader: .vendor))
        vendor.writeInterfaceToken("com.example.IFoo")
        var reader = Parcel()
        vendor.withUnsafeDataBytes { reader.writeBytes($0) }
        #expect(throws: ParcelError.interfaceHeaderMismatch(expected: .system, found: .vendor)) {
            try reader.enforceInterface("com.example.IFoo")
        }
        #expect(reader.readerIndex == 0)
    }

    @Test(arguments: [
        Status.ok, Status(exception: .security, message: "denied"), Status(exception: .illegalArgument),
        Status.serviceSpecific(42, message: "quota"), Status(exception: .nullPointer, message: "x"),
    ])
    func statusRoundTrips(_ status: Status) throws {
        var parcel = Parcel()
        parcel.writeStatus(status)
        parcel.writeInt32(0x77)
        #expect(try parcel.readStatus() == status)
        #expect(try parcel.readInt32() == 0x77)
    }

    @Test func javaFatReplyHeadersAreSkipped() throws {
        var parcel = Parcel()
        parcel.writeInt32(-128)  // StrictMode header: size 12 including itself, then no exception
        parcel.writeInt32(12)
        parcel.writeInt64(0)
        parcel.writeInt32(0x99)
        #expect(try parcel.readStatus() == .ok)
        #expect(try parcel.readInt32() == 0x99)

        var appOps = Parcel()
        appOps.writeInt32(-127)  // app-ops header, then the real code
        appOps.writeInt32(8)
        appOps.writeInt32(0)
        appOps.writeInt32(ExceptionCode.security.rawValue)
        appOps.writeString16("no")
        appOps.writeInt32(0)
        #expect(try appOps.readStatus() == Status(exception: .security, message: "no"))
    }

    @Test func remoteStackTraceIsSkipped() throws {
        var parcel = Parcel()
        parcel.writeInt32(ExceptionCode.illegalState.rawValue)
        parcel.writeString16("bad state")
        parcel.writeInt32(12)  // trace header: size including itself
        parcel.writeInt64(0)
        parcel.writeInt32(0x55)
        #expect(try parcel.readStatus() == Status(exception: .illegalState, message: "bad state"))
        #expect(try parcel.readInt32() == 0x55)
    }

    @Test func clearedParcelIsReusedWithoutGrowing() throws {
        var parcel = Parcel(capacity: 256)
        for round in 0..<3 {
            parcel.clear()
            parcel.writeInterfaceToken("android.os.IServiceManager")
            parcel.writeString16("service-\(round)")
            #expect(try parcel.enforceInterface("android.os.IServiceManager").workSource == -1)
            #expect(try parcel.readString16() == "service-\(round)")
        }
    }

    /// The word-at-a-time ASCII paths: every length around the 4- and 8-byte steps, and a
    /// difference at every position, compare and write as the code-unit loop would.
    @Test func asciiString16sOfEveryLengthMatchOnlyThemselves() throws {
        for length in 0...19 {
            let text = String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
            var parcel = Parcel()
            parcel.writeString16(text)
            // int32 length, then one UTF-16 unit per character, then NUL.
            var expected = withUnsafeBytes(of: Int32(length)) { Array($0) }
            for unit in text.utf16 { expected += withUnsafeBytes(of: unit) { Array($0) } }
            expected += [0, 0]
            parcel.withUnsafeDataBytes { written in #expect(Array(written.prefix(expected.count)) == expected) }
            #expect(try parcel.readString16(matching: text))
            for position in 0..<length {
                var changed = Array(text.utf8)
                changed[position] = UInt8(ascii: "Z")
                var again = Parcel()
                again.writeString16(text)
                #expect(try again.readString16(matching: String(decoding: changed, as: UTF8.self)) == false)
            }
            var longer = Parcel()
            longer.writeString16(text)
            #expect(try longer.readString16(matching: text + "x") == false)
        }
    }

    /// A descriptor encoded once writes the same token as the String form, in every wire
    /// format, and is enforced the same way: a match, another descriptor, a cut-short one.
    @Test(arguments: [WireFormat.android10, .android11, .android12, .android13])
    func encodedDescriptorsWriteAndEnforceTheSameToken(_ format: WireFormat) throws {
        for name in ["", "a.B", "android.os.IServiceManager", "org.swiftbinder.bench.IBenchmark", "é.IUnicode"] {
            var viaString = Parcel(wireFormat: format)
            viaString.writeInterfaceToken(name)
            var viaEncoded = Parcel(wireFormat: format)
            viaEncoded.writeInterfaceToken(InterfaceDescriptor(name))
            let stringBytes = viaString.withUnsafeDataBytes { Array($0) }
            #expect(viaEncoded.withUnsafeDataBytes { Array($0) } == stringBytes)
            #expect(try viaEncoded.enforceInterface(InterfaceDescriptor(name)).descriptor == name)
            #expect(viaEncoded.readableBytes == 0)

            var other = Parcel(wireFormat: format)
            other.writeInterfaceToken(name)
            let mismatch = #expect(throws: ParcelError.self) { try other.enforceInterface(InterfaceDescriptor(name + "x")) }
            #expect(mismatch == .interfaceDescriptorMismatch(expected: name + "x", found: name))
            #expect(other.readerIndex == 0)

            var truncated = Parcel(wireFormat: format)
            stringBytes.dropLast(4).withUnsafeBytes { truncated.writeBytes($0) }
            #expect(throws: ParcelError.self) { try truncated.enforceInterface(InterfaceDescriptor(name)) }
            #expect(truncated.readerIndex == 0)
        }
    }
}
