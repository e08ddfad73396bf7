import SwiftBinder

/// Parcelables, unions and enums written the way generated AIDL code will write them, shared
/// by the tests and the test peer process.
public struct Point: Parcelable, Equatable, Sendable {
    public var x: Int32 = 0
    public var y: Int32 = 0
    public var label: String? = nil

    public init(x: Int32, y: Int32, label: String?) {
        self.x = x
        self.y = y
        self.label = label
    }

    public func write(to parcel: inout Parcel) throws(ParcelError) {
        parcel.writeStructured { parcel in
            parcel.writeInt32(x)
            parcel.writeInt32(y)
            parcel.writeString16(label)
        }
    }

    public init(from parcel: inout Parcel) throws(ParcelError) {
        self = try parcel.readStructured { (parcel: inout Parcel, frame) throws(ParcelError) in
            var value = Point(x: 0, y: 0, label: nil)
            if frame.hasMoreFields(parcel) { value.x = try parcel.readInt32() }
            if frame.hasMoreFields(parcel) { value.y = try parcel.readInt32() }
            if frame.hasMoreFields(parcel) { value.label = try parcel.readNullableString16() }
            return value
        }
    }
}

/// `Point` with a field added at the end, as a newer version of the same parcelable.
public struct Point3D: Parcelable, Equatable, Sendable {
    public static let defaultZ: Int64 = -1
    public var x: Int32
    public var y: Int32
    public var label: String?
    public var z: Int64

    public init(x: Int32, y: Int32, label: String?, z: Int64) {
        self.x = x
        self.y = y
        self.label = label
        self.z = z
    }

    public func write(to parcel: inout Parcel) throws(ParcelError) {
        parcel.writeStructured { parcel in
            parcel.writeInt32(x)
            parcel.writeInt32(y)
            parcel.writeString16(label)
            parcel.writeInt64(z)
        }
    }

    public init(from parcel: inout Parcel) throws(ParcelError) {
        self = try parcel.readStructured { (parcel: inout Parcel, frame) throws(ParcelError) in
            var value = Point3D(x: 0, y: 0, label: nil, z: Point3D.defaultZ)
            if frame.hasMoreFields(parcel) { value.x = try parcel.readInt32() }
            if frame.hasMoreFields(parcel) { value.y = try parcel.readInt32() }
            if frame.hasMoreFields(parcel) { value.label = try parcel.readNullableString16() }
            if frame.hasMoreFields(parcel) { value.z = try parcel.readInt64() }
            return value
        }
    }
}

public enum Shape: Parcelable, Equatable, Sendable {
    case circle(radius: Int32)
    case named(String)

    public func write(to parcel: inout Parcel) throws(ParcelError) {
        switch self {
        case .circle(let radius):
            parcel.writeInt32(0)
            parcel.writeInt32(radius)
        case .named(let name):
            parcel.writeInt32(1)
            parcel.writeString16(name)
        }
    }

    public init(from parcel: inout Parcel) throws(ParcelError) {
        switch try parcel.readUnionTag(memberCount: 2) {
        case 0: self = .circle(radius: try parcel.readInt32())
        default: self = .named(try parcel.readString16())
        }
    }
}

public enum SampleByteEnum: Int8, Sendable { case a = 1, b = -2 }
public enum SampleIntEnum: Int32, Sendable { case small = 1, large = 0x7FFF_0000 }
public enum SampleLongEnum: Int64, Sendable { case huge = 0x1_0000_0000 }
