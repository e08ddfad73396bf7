extension Parcel {
    // MARK: Counts

    /// Reads an array count: −1 means null (nil); any other negative value, or a count whose
    /// elements (at least `minimumElementSize` bytes each) could not fit in the remaining
    /// data, is refused before anything is allocated.
    public mutating func readArrayCount(minimumElementSize: Int) throws(ParcelError) -> Int? {
        let start = readerIndex
        let count = try readInt32()
        if count == -1 { return nil }
        guard count >= 0, Int(count) <= readableBytes / max(minimumElementSize, 1) else {
            readerIndex = start
            throw .invalidLength(Int64(count), offset: start)
        }
        return Int(count)
    }

    // MARK: byte[] (packed)

    /// Writes AIDL `byte[]`: int32 count, the bytes packed, zero-padded to 4; null is −1.
    public mutating func writeByteArray(_ bytes: [UInt8]?) {
        guard let bytes else {
            writeInt32(-1)
            return
        }
        writeInt32(Int32(truncatingIfNeeded: bytes.count))
        writeBytes(bytes)
    }

    /// Writes AIDL `byte[]` from memory.
    public mutating func writeByteArray(_ bytes: UnsafeRawBufferPointer) {
        writeInt32(Int32(truncatingIfNeeded: bytes.count))
        writeBytes(bytes)
    }

    /// Reads a `byte[]` that may be null.
    public mutating func readNullableByteArray() throws(ParcelError) -> [UInt8]? {
        let start = readerIndex
        guard let count = try readArrayCount(minimumElementSize: 1) else { return nil }
        do throws(ParcelError) {
            return try readBytes(count: count) { Array($0) }
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a non-null `byte[]`.
    public mutating func readByteArray() throws(ParcelError) -> [UInt8] {
        try nonNull { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableByteArray() }
    }

    // MARK: Arrays of integers, floats, booleans and chars

    /// Writes an integer array as AIDL does: 1-byte elements packed (`byte[]`), 2-byte elements
    /// one per int32 (`char[]`), 4- and 8-byte elements packed (`int[]`, `long[]`).
    public mutating func writeIntegerArray<T: FixedWidthInteger>(_ values: [T]?) {
        guard let values else {
            writeInt32(-1)
            return
        }
        writeInt32(Int32(truncatingIfNeeded: values.count))
        switch T.bitWidth {
        case 8: values.withUnsafeBytes { writeBytes($0) }
        case 16: for value in values { writeInteger(value) }
        default:
            let start = reserveForWriting(values.count * MemoryLayout<T>.size)
            if !values.isEmpty { values.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        }
    }

    /// Reads an integer array written by ``writeIntegerArray(_:)``; nil for null.
    public mutating func readNullableIntegerArray<T: FixedWidthInteger>(of type: T.Type = T.self)
        throws(ParcelError) -> [T]?
    {
        let start = readerIndex
        let wireSize = T.bitWidth == 16 ? 4 : MemoryLayout<T>.size
        guard let count = try readArrayCount(minimumElementSize: wireSize) else { return nil }
        do throws(ParcelError) {
            if T.bitWidth == 16 {
                var values: [T] = []
                values.reserveCapacity(count)
                for _ in 0..<count { values.append(try readInteger(as: T.self)) }
                return values
            }
            let bytes = try peekReadable(count * wireSize)
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(start: bytes, count: count * wireSize))
                initialized = count
            }
            advanceReader(count * wireSize)
            return values
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a non-null integer array.
    public mutating func readIntegerArray<T: FixedWidthInteger>(of type: T.Type = T.self) throws(ParcelError) -> [T] {
        try nonNull { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableIntegerArray(of: T.self) }
    }

    /// AIDL `boolean[]`: one int32 per element.
    public mutating func writeBoolArray(_ values: [Bool]?) {
        writeArray(values) { parcel, value in parcel.writeBool(value) }
    }

    public mutating func readNullableBoolArray() throws(ParcelError) -> [Bool]? {
        try readNullableArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readBool() }
    }

    /// AIDL `float[]`: packed binary32.
    public mutating func writeFloatArray(_ values: [Float]?) {
        writeIntegerArray(values?.map(\.bitPattern))
    }

    public mutating func readNullableFloatArray() throws(ParcelError) -> [Float]? {
        try readNullableIntegerArray(of: UInt32.self)?.map(Float.init(bitPattern:))
    }

    /// AIDL `double[]`: packed binary64.
    public mutating func writeDoubleArray(_ values: [Double]?) {
        writeIntegerArray(values?.map(\.bitPattern))
    }

    public mutating func readNullableDoubleArray() throws(ParcelError) -> [Double]? {
        try readNullableIntegerArray(of: UInt64.self)?.map(Double.init(bitPattern:))
    }

    // MARK: Arrays of anything

    /// Writes int32 count and each element with `writeElement`; null is −1. Used for
    /// `String[]`, `List<T>`, arrays of parcelables and binders, and fixed-size arrays.
    public mutating func writeArray<Element, E: Error>(
        _ elements: [Element]?, _ writeElement: (inout Parcel, Element) throws(E) -> Void
    ) throws(E) {
        guard let elements else {
            writeInt32(-1)
            return
        }
        writeInt32(Int32(truncatingIfNeeded: elements.count))
        for element in elements { try writeElement(&self, element) }
    }

    /// Reads an array written by ``writeArray(_:_:)``; nil for null. Each element occupies at
    /// least 4 bytes on the wire, which bounds the count before anything is allocated.
    public mutating func readNullableArray<Element>(
        _ readElement: (inout Parcel) throws(ParcelError) -> Element
    ) throws(ParcelError) -> [Element]? {
        let start = readerIndex
        guard let count = try readArrayCount(minimumElementSize: 4) else { return nil }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        do throws(ParcelError) {
            for _ in 0..<count { elements.append(try readElement(&self)) }
        } catch {
            readerIndex = start
            throw error
        }
        return elements
    }

    /// Reads a non-null array.
    public mutating func readArray<Element>(
        _ readElement: (inout Parcel) throws(ParcelError) -> Element
    ) throws(ParcelError) -> [Element] {
        try nonNull { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableArray(readElement) }
    }

    /// Checks the count of a fixed-size array about to be written (nil: a null array).
    public func checkFixedSize(_ count: Int?, _ expected: Int) throws(ParcelError) {
        guard let count, count != expected else { return }
        throw .fixedSizeMismatch(expected: expected, found: Int32(truncatingIfNeeded: count), offset: dataSize)
    }

    /// Reads a fixed-size array (AIDL `T[N]`, Android 13+), as libbinder's `readFixedArray`
    /// (libs/binder/include/binder/Parcel.h at android-13.0.0_r1): the count must be `count`
    /// (a negative one is an unexpected null), then `readArray` reads the array, count
    /// included, exactly as a `T[]` of the same elements is encoded (`byte[N]` packed).
    /// Multi-dimensional arrays nest: each inner array has its own count.
    public mutating func readFixedSizeArray<Element>(
        count: Int, _ readArray: (inout Parcel) throws(ParcelError) -> [Element]?
    ) throws(ParcelError) -> [Element] {
        let start = readerIndex
        guard let array = try readNullableFixedSizeArray(count: count, readArray) else {
            readerIndex = start
            throw .unexpectedNull(offset: start)
        }
        return array
    }

    /// A nullable fixed-size array (AIDL `@nullable T[N]`): −1 is null; otherwise as
    /// ``readFixedSizeArray(count:_:)``.
    public mutating func readNullableFixedSizeArray<Element>(
        count: Int, _ readArray: (inout Parcel) throws(ParcelError) -> [Element]?
    ) throws(ParcelError) -> [Element]? {
        let start = readerIndex
        let found = try readInt32()
        if found == -1 { return nil }
        readerIndex = start
        guard found >= 0 else { throw .unexpectedNull(offset: start) }
        guard found == count else { throw .fixedSizeMismatch(expected: count, found: found, offset: start) }
        do throws(ParcelError) {
            guard let array = try readArray(&self), array.count == count else {
                throw .fixedSizeMismatch(expected: count, found: found, offset: start)
            }
            return array
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// AIDL `String[]` and `List<String>`: count, then a String16 each (elements may be null).
    public mutating func writeStringArray(_ strings: [String?]?) {
        writeArray(strings) { parcel, string in parcel.writeString16(string) }
    }

    public mutating func readNullableStringArray() throws(ParcelError) -> [String?]? {
        try readNullableArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableString16() }
    }

    // MARK: Helpers

    /// Runs a nullable read and turns nil into ``ParcelError/unexpectedNull(offset:)``, leaving
    /// the reader where it was.
    @inline(__always)
    mutating func nonNull<T>(_ read: (inout Parcel) throws(ParcelError) -> T?) throws(ParcelError) -> T {
        let start = readerIndex
        guard let value = try read(&self) else {
            readerIndex = start
            throw .unexpectedNull(offset: start)
        }
        return value
    }
}
