/// A value that travels in a parcel as a body (AIDL parcelables, unions, and hand-written
/// types). As an argument, field or array element a parcelable is preceded by a presence
/// marker (int32 1, or 0 for null): see ``Parcel/writeParcelable(_:)``.
public protocol Parcelable {
    /// Writes the body (for a structured parcelable: size prefix and fields).
    func write(to parcel: inout Parcel) throws(ParcelError)
    /// Reads the body written by ``write(to:)``.
    init(from parcel: inout Parcel) throws(ParcelError)
}

/// The extent of a structured parcelable's body, from its size prefix.
public struct ParcelableFrame: Sendable {
    /// Offset of the size prefix.
    public let start: Int
    /// Offset just past the body.
    public let end: Int

    /// Whether another field follows before the end the writer declared. Fields a newer
    /// writer added are skipped at the end; fields an older writer did not send keep their
    /// defaults.
    public func hasMoreFields(_ parcel: borrowing Parcel) -> Bool { parcel.readerIndex < end }
}

extension Parcel {
    // MARK: Structured parcelables (stable AIDL framing)

    /// Writes a structured parcelable body: int32 size (bytes from the size itself to the end
    /// of the body), then whatever `writeFields` writes.
    public mutating func writeStructured<E: Error>(_ writeFields: (inout Parcel) throws(E) -> Void) throws(E) {
        let start = dataSize
        writeInt32(0)
        try writeFields(&self)
        let size = Int32(truncatingIfNeeded: dataSize - start)
        patchInt32(size, at: start)
    }

    /// How deep parcelables (structured ones and unions) may nest in one parcel: reading
    /// recurses, so a peer sending a recursive parcelable (`@nullable Node next`) nested without
    /// end would exhaust the thread's stack. AOSP's backends set no bound; 256 levels is far beyond any real
    /// structure and a small part of a thread's stack.
    public static let maximumNesting: UInt16 = 256

    /// Reads a structured parcelable body: checks the size prefix (at least 4, inside the data),
    /// lets `readFields` read while ``ParcelableFrame/hasMoreFields(_:)`` says so, and leaves
    /// the reader at the declared end, skipping fields this reader does not know.
    public mutating func readStructured<T>(
        _ readFields: (inout Parcel, ParcelableFrame) throws(ParcelError) -> T
    ) throws(ParcelError) -> T {
        let start = readerIndex
        let size = try readInt32()
        guard size >= 4, Int(size) <= dataSize - start else {
            readerIndex = start
            throw .invalidParcelableSize(size, offset: start)
        }
        let frame = ParcelableFrame(start: start, end: start + Int(size))
        do throws(ParcelError) {
            let value = try readFields(&self, frame)
            guard readerIndex <= frame.end else { throw .parcelableOverrun(offset: readerIndex, end: frame.end) }
            readerIndex = frame.end
            return value
        } catch {
            readerIndex = start
            throw error
        }
    }

    // MARK: Presence markers

    /// Writes a non-null parcelable as AIDL does: int32 1, then the body.
    public mutating func writeParcelable<P: Parcelable>(_ value: P) throws(ParcelError) {
        writeInt32(1)
        try value.write(to: &self)
    }

    /// Writes a nullable parcelable: int32 0 for null, else int32 1 and the body.
    public mutating func writeNullableParcelable<P: Parcelable>(_ value: P?) throws(ParcelError) {
        guard let value else {
            writeInt32(0)
            return
        }
        try writeParcelable(value)
    }

    /// Reads a parcelable that may be null.
    /// Throws ``ParcelError/nestedTooDeeply(offset:)`` past ``maximumNesting`` levels.
    public mutating func readNullableParcelable<P: Parcelable>(_ type: P.Type = P.self) throws(ParcelError) -> P? {
        let start = readerIndex
        let marker = try readInt32()
        guard marker != 0 else { return nil }
        guard structuredDepth < Parcel.maximumNesting else {
            readerIndex = start
            throw .nestedTooDeeply(offset: start)
        }
        structuredDepth += 1
        defer { structuredDepth -= 1 }
        do throws(ParcelError) {
            return try P(from: &self)
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a non-null parcelable.
    public mutating func readParcelable<P: Parcelable>(_ type: P.Type = P.self) throws(ParcelError) -> P {
        try nonNull { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableParcelable(P.self) }
    }

    // MARK: Enums

    /// Writes an AIDL enum by its backing type: `byte` and `int` as int32, `long` as int64.
    public mutating func writeEnum<E: RawRepresentable>(_ value: E) where E.RawValue: FixedWidthInteger {
        writeInteger(value.rawValue)
    }

    /// Reads an AIDL enum. Generated enums are open (any raw value is one); for a closed Swift
    /// enum, a value that is none of its cases is an error.
    public mutating func readEnum<E: RawRepresentable>(_ type: E.Type = E.self) throws(ParcelError) -> E
    where E.RawValue: FixedWidthInteger {
        let start = readerIndex
        let raw = try readInteger(as: E.RawValue.self)
        guard let value = E(rawValue: raw) else {
            readerIndex = start
            throw .invalidEnumValue(Int64(truncatingIfNeeded: raw), offset: start)
        }
        return value
    }

    /// Writes an array of enums: byte-backed packed like `byte[]`, int/long-backed like
    /// `int[]`/`long[]`.
    public mutating func writeEnumArray<E: RawRepresentable>(_ values: [E]?) where E.RawValue: FixedWidthInteger {
        writeIntegerArray(values?.map(\.rawValue))
    }

    public mutating func readNullableEnumArray<E: RawRepresentable>(_ type: E.Type = E.self) throws(ParcelError) -> [E]?
    where E.RawValue: FixedWidthInteger {
        let start = readerIndex
        guard let raws = try readNullableIntegerArray(of: E.RawValue.self) else { return nil }
        var values: [E] = []
        values.reserveCapacity(raws.count)
        for raw in raws {
            guard let value = E(rawValue: raw) else {
                readerIndex = start
                throw .invalidEnumValue(Int64(truncatingIfNeeded: raw), offset: start)
            }
            values.append(value)
        }
        return values
    }

    // MARK: Unions

    /// Reads a union's tag (the 0-based index of the member that follows), checking it names
    /// one of `memberCount` members.
    public mutating func readUnionTag(memberCount: Int) throws(ParcelError) -> Int {
        let start = readerIndex
        let tag = try readInt32()
        guard tag >= 0, Int(tag) < memberCount else {
            readerIndex = start
            throw .unknownUnionTag(tag, offset: start)
        }
        return Int(tag)
    }
}
