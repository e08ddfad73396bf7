/// Why a parcel could not be read or written.
///
/// Reading treats the data as hostile: every malformed input maps to one of these cases, and a
/// failed read leaves the parcel's reader index where it was.
public enum ParcelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A read needed `needed` bytes at `offset`, but only `available` remain.
    case notEnoughData(offset: Int, needed: Int, available: Int)
    /// A length or count on the wire is negative (other than the −1 of null) or larger than
    /// the data that could follow it.
    case invalidLength(Int64, offset: Int)
    /// A non-nullable value was null on the wire.
    case unexpectedNull(offset: Int)
    /// A string's UTF-16 (or UTF-8) is not valid or not NUL-terminated.
    case invalidString(offset: Int, reason: String)
    /// A string cannot be written in the requested form (e.g. an embedded NUL in a C string).
    case unwritableString(reason: String)
    /// A structured parcelable's size prefix is below 4 or runs past the data.
    case invalidParcelableSize(Int32, offset: Int)
    /// Reading a parcelable's fields went past the end its size prefix declared.
    case parcelableOverrun(offset: Int, end: Int)
    /// Parcelables nested deeper than ``Parcel/maximumNesting`` (a recursive parcelable or union such as
    /// `@nullable Node next` from a peer that nests without end).
    case nestedTooDeeply(offset: Int)
    /// A union's tag names no member.
    case unknownUnionTag(Int32, offset: Int)
    /// An enum's value on the wire is not one of its cases.
    case invalidEnumValue(Int64, offset: Int)
    /// A fixed-size array on the wire has another size.
    case fixedSizeMismatch(expected: Int, found: Int32, offset: Int)
    /// An object was read where the objects array lists none.
    case objectNotListed(offset: Int)
    /// The objects array is not ascending, overlaps, or points outside the data.
    case malformedObjects(reason: String)
    /// An object of another type than expected.
    case unexpectedObjectType(UInt32, offset: Int)
    /// A binder object's stability trailer is not a level this wire format allows.
    case invalidStability(Int32, offset: Int)
    /// The interface token's header word is not the expected one.
    case interfaceHeaderMismatch(expected: InterfaceHeader, found: InterfaceHeader)
    /// An Android 11+ token (with a header word) where Android 10's (without) is expected.
    case unexpectedInterfaceHeader(InterfaceHeader)
    /// The interface token names another interface.
    case interfaceDescriptorMismatch(expected: String, found: String?)
    /// Bytes remain after everything expected was read.
    case trailingData(count: Int)
    /// Writing would exceed the parcel's size limit.
    case tooLarge(Int)
    /// A file descriptor was already taken out of the parcel.
    case fileDescriptorAlreadyTaken(offset: Int)
    /// The parcel is a received buffer and cannot be written.
    case readOnly

    /// Whether a value was null where one is required.
    public var isUnexpectedNull: Bool {
        if case .unexpectedNull = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .notEnoughData(let offset, let needed, let available):
            return "not enough data at offset \(offset): needed \(needed) bytes, \(available) remain"
        case .invalidLength(let length, let offset):
            return "invalid length \(length) at offset \(offset)"
        case .unexpectedNull(let offset):
            return "unexpected null at offset \(offset)"
        case .invalidString(let offset, let reason):
            return "invalid string at offset \(offset): \(reason)"
        case .unwritableString(let reason):
            return "string cannot be written: \(reason)"
        case .invalidParcelableSize(let size, let offset):
            return "invalid parcelable size \(size) at offset \(offset)"
        case .parcelableOverrun(let offset, let end):
            return "parcelable fields read to offset \(offset), past its declared end \(end)"
        case .nestedTooDeeply(let offset):
            return "parcelables nested more than \(Parcel.maximumNesting) deep at offset \(offset)"
        case .unknownUnionTag(let tag, let offset):
            return "unknown union tag \(tag) at offset \(offset)"
        case .invalidEnumValue(let value, let offset):
            return "invalid enum value \(value) at offset \(offset)"
        case .fixedSizeMismatch(let expected, let found, let offset):
            return "fixed-size array at offset \(offset) has \(found) elements, expected \(expected)"
        case .objectNotListed(let offset):
            return "no object is listed at offset \(offset)"
        case .malformedObjects(let reason):
            return "malformed objects array: \(reason)"
        case .unexpectedObjectType(let type, let offset):
            return "unexpected object type 0x\(String(type, radix: 16)) at offset \(offset)"
        case .invalidStability(let level, let offset):
            return "invalid stability \(level) at offset \(offset)"
        case .interfaceHeaderMismatch(let expected, let found):
            // A small number where the header should be is the descriptor's length: Android 10's
            // token has no header word.
            let hint = (1..<0x1_0000).contains(found.rawValue)
                ? " (a String16 length: the peer speaks Android 10, whose token has no header word)" : ""
            return "interface header mismatch: expected \(expected), found \(found)\(hint)"
        case .unexpectedInterfaceHeader(let header):
            return "interface token with header \(header): the peer speaks Android 11 or later, this side Android 10"
        case .interfaceDescriptorMismatch(let expected, let found):
            return "interface descriptor mismatch: expected '\(expected)', found '\(found ?? "null")'"
        case .trailingData(let count):
            return "\(count) bytes of unread trailing data"
        case .tooLarge(let size):
            return "parcel would grow to \(size) bytes, over its limit"
        case .fileDescriptorAlreadyTaken(let offset):
            return "the file descriptor at offset \(offset) was already taken"
        case .readOnly:
            return "a received parcel cannot be written"
        }
    }
}
