import SwiftBinder

/// One value of every plain type a parcel carries, in a fixed order. The in-VM test sends it
/// to another process, which reads it with the same code and writes it back.
public struct EveryType: Equatable, Sendable {
    public var bool = true
    public var byte: Int8 = -7
    public var char: UInt16 = 0x263A
    public var int: Int32 = -123_456
    public var long: Int64 = 0x0123_4567_89AB_CDEF
    public var unsigned: UInt32 = 0xFFFF_FFF0
    public var float: Float = 3.25
    public var double: Double = -2.0e-300
    public var string: String = "binder ✓ 𝄞"
    public var nullString: String? = nil
    public var string8: String = "legacy String8"
    public var cString: String = "c string"
    public var bytes: [UInt8] = [0, 1, 2, 254, 255]
    public var nullBytes: [UInt8]? = nil
    public var ints: [Int32] = [1, -1, Int32.max]
    public var longs: [Int64] = [Int64.min, 0, Int64.max]
    public var floats: [Float] = [0.5, -0.25]
    public var doubles: [Double] = [1e100]
    public var bools: [Bool] = [false, true, true]
    public var chars: [UInt16] = [0x61, 0xD7FF]
    public var strings: [String?] = ["one", nil, "three"]
    public var matrix: [[Int32]] = [[1, 2], [3, 4], [5, 6]]
    public var point = Point(x: 10, y: -20, label: "origin")
    public var nullPoint: Point? = nil
    public var points: [Point] = [Point(x: 1, y: 1, label: nil), Point(x: 2, y: 2, label: "two")]
    public var shape = Shape.named("union member")
    public var byteEnum = SampleByteEnum.b
    public var intEnum = SampleIntEnum.large
    public var longEnum = SampleLongEnum.huge
    public var byteEnums: [SampleByteEnum] = [.a, .b]
    public var status = Status.serviceSpecific(-77, message: "nested status")

    public init() {}

    public func write(to parcel: inout Parcel) throws(ParcelError) {
        parcel.writeBool(bool)
        parcel.writeInteger(byte)
        parcel.writeChar(char)
        parcel.writeInt32(int)
        parcel.writeInt64(long)
        parcel.writeInteger(unsigned)
        parcel.writeFloat(float)
        parcel.writeDouble(double)
        parcel.writeString16(string)
        parcel.writeString16(nullString)
        parcel.writeString8(string8)
        try parcel.writeCString(cString)
        parcel.writeByteArray(bytes)
        parcel.writeByteArray(nullBytes)
        parcel.writeIntegerArray(ints)
        parcel.writeIntegerArray(longs)
        parcel.writeFloatArray(floats)
        parcel.writeDoubleArray(doubles)
        parcel.writeBoolArray(bools)
        parcel.writeIntegerArray(chars)
        parcel.writeStringArray(strings)
        parcel.writeArray(matrix) { parcel, row in parcel.writeIntegerArray(row) }
        try parcel.writeParcelable(point)
        try parcel.writeNullableParcelable(nullPoint)
        try parcel.writeArray(points) { (parcel: inout Parcel, point) throws(ParcelError) in try parcel.writeParcelable(point) }
        try parcel.writeParcelable(shape)
        parcel.writeEnum(byteEnum)
        parcel.writeEnum(intEnum)
        parcel.writeEnum(longEnum)
        parcel.writeEnumArray(byteEnums)
        parcel.writeStatus(status)
    }

    public init(from parcel: inout Parcel) throws(ParcelError) {
        bool = try parcel.readBool()
        byte = try parcel.readInteger()
        char = try parcel.readChar()
        int = try parcel.readInt32()
        long = try parcel.readInt64()
        unsigned = try parcel.readInteger()
        float = try parcel.readFloat()
        double = try parcel.readDouble()
        string = try parcel.readString16()
        nullString = try parcel.readNullableString16()
        string8 = try parcel.readString8()
        cString = try parcel.readCString()
        bytes = try parcel.readByteArray()
        nullBytes = try parcel.readNullableByteArray()
        ints = try parcel.readIntegerArray()
        longs = try parcel.readIntegerArray()
        floats = try parcel.readNullableFloatArray() ?? []
        doubles = try parcel.readNullableDoubleArray() ?? []
        bools = try parcel.readNullableBoolArray() ?? []
        chars = try parcel.readIntegerArray()
        strings = try parcel.readNullableStringArray() ?? []
        matrix = try parcel.readFixedSizeArray(count: 3) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in
                try parcel.readFixedSizeArray(count: 2) { (parcel: inout Parcel) throws(ParcelError) in
                    try parcel.readNullableIntegerArray(of: Int32.self)
                }
            }
        }
        point = try parcel.readParcelable()
        nullPoint = try parcel.readNullableParcelable()
        points = try parcel.readArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readParcelable(Point.self) }
        shape = try parcel.readParcelable()
        byteEnum = try parcel.readEnum()
        intEnum = try parcel.readEnum()
        longEnum = try parcel.readEnum()
        byteEnums = try parcel.readNullableEnumArray() ?? []
        status = try parcel.readStatus()
    }
}

/// The interface the every-type exchange pretends to be.
public let everyTypeDescriptor = "org.swiftbinder.test.IEveryType"
