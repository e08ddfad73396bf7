extension Parcel {
    // MARK: String16 (AIDL `String`, also `@utf8InCpp String`: the wire is always UTF-16)

    /// Writes a String16: int32 length in UTF-16 code units, the units, a NUL unit, padding.
    /// A null string is the single int32 −1.
    public mutating func writeString16(_ string: String?) {
        guard let string else {
            writeInt32(-1)
            return
        }
        // ASCII (interface descriptors, service names, most strings): widen the UTF-8 bytes
        // directly instead of iterating the UTF-16 view.
        let wroteASCII = string.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard ASCII.isASCII(bytes) else { return false }
            writeInt32(Int32(truncatingIfNeeded: bytes.count))
            let start = reserveForWriting((bytes.count + 1) * 2)
            ASCII.widen(bytes, into: start)
            start.storeBytes(of: 0, toByteOffset: bytes.count * 2, as: UInt16.self)
            return true
        }
        if wroteASCII == true { return }
        let units = string.utf16
        let count = units.count
        writeInt32(Int32(truncatingIfNeeded: count))
        let start = reserveForWriting((count + 1) * 2)
        var offset = 0
        for unit in units {
            start.storeBytes(of: unit, toByteOffset: offset, as: UInt16.self)
            offset += 2
        }
        start.storeBytes(of: 0, toByteOffset: offset, as: UInt16.self)
    }

    /// Reads a non-null String16.
    public mutating func readString16() throws(ParcelError) -> String {
        let start = readerIndex
        guard let string = try readNullableString16() else {
            readerIndex = start
            throw .unexpectedNull(offset: start)
        }
        return string
    }

    /// Reads a String16 that may be null. Rejects a length below −1 or beyond the data, a
    /// missing NUL terminator, and invalid UTF-16 (an unpaired surrogate).
    public mutating func readNullableString16() throws(ParcelError) -> String? {
        let start = readerIndex
        let length = try readInt32()
        if length == -1 { return nil }
        do throws(ParcelError) {
            guard length >= 0, Int(length) < (dataSize - readerIndex) / 2 else {
                throw .invalidLength(Int64(length), offset: start)
            }
            let count = Int(length)
            let units = try peekReadable((count + 1) * 2)
            guard units.loadUnaligned(fromByteOffset: count * 2, as: UInt16.self) == 0 else {
                throw .invalidString(offset: start, reason: "missing NUL terminator")
            }
            let codeUnits = UnalignedCodeUnits<UInt16>(base: units, count: count)
            guard let string = String(validating: codeUnits, as: UTF16.self) else {
                throw .invalidString(offset: start, reason: "invalid UTF-16")
            }
            advanceReader((count + 1) * 2)
            return string
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a String16 and says whether it is `expected`, without making a String; the reader
    /// moves past it either way. Throws only when the data is not a String16 at all.
    public mutating func readString16(matching expected: String) throws(ParcelError) -> Bool {
        let start = readerIndex
        let length = try readInt32()
        guard length >= 0 else { return false }
        guard Int(length) < (dataSize - readerIndex) / 2 else {
            readerIndex = start
            throw .invalidLength(Int64(length), offset: start)
        }
        let count = Int(length)
        let units: UnsafeRawPointer
        do throws(ParcelError) {
            units = try peekReadable((count + 1) * 2)
        } catch {
            readerIndex = start
            throw error
        }
        advanceReader((count + 1) * 2)
        guard units.loadUnaligned(fromByteOffset: count * 2, as: UInt16.self) == 0 else { return false }
        // ASCII (every interface descriptor in practice): compare with the UTF-8 bytes directly.
        let asciiMatch = expected.utf8.withContiguousStorageIfAvailable { utf8 -> Bool? in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard ASCII.isASCII(bytes) else { return nil }
            guard bytes.count == count else { return false }
            return ASCII.equals(bytes, widenedAt: units)
        }
        if let asciiMatch, let matched = asciiMatch { return matched }
        var index = 0
        for unit in expected.utf16 {
            guard index < count, units.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self) == unit else { return false }
            index += 1
        }
        return index == count
    }

    // MARK: String8 and C strings (legacy forms, not used by AIDL)

    /// Writes a String8: int32 length in bytes, the UTF-8 bytes, a NUL, padding; null is −1.
    public mutating func writeString8(_ string: String?) {
        guard let string else {
            writeInt32(-1)
            return
        }
        let utf8 = string.utf8
        let count = utf8.count
        writeInt32(Int32(truncatingIfNeeded: count))
        let start = reserveForWriting(count + 1)
        var offset = 0
        for byte in utf8 {
            start.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        start.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
    }

    /// Reads a String8 that may be null; rejects bad lengths, a missing NUL and invalid UTF-8.
    public mutating func readNullableString8() throws(ParcelError) -> String? {
        let start = readerIndex
        let length = try readInt32()
        if length == -1 { return nil }
        do throws(ParcelError) {
            guard length >= 0, Int(length) < dataSize - readerIndex else {
                throw .invalidLength(Int64(length), offset: start)
            }
            let count = Int(length)
            let bytes = try peekReadable(count + 1)
            guard bytes.load(fromByteOffset: count, as: UInt8.self) == 0 else {
                throw .invalidString(offset: start, reason: "missing NUL terminator")
            }
            guard let string = String(validating: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)
            else {
                throw .invalidString(offset: start, reason: "invalid UTF-8")
            }
            advanceReader(count + 1)
            return string
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a non-null String8.
    public mutating func readString8() throws(ParcelError) -> String {
        let start = readerIndex
        guard let string = try readNullableString8() else {
            readerIndex = start
            throw .unexpectedNull(offset: start)
        }
        return string
    }

    /// Writes a C string: the UTF-8 bytes and a NUL, padded; no length. Refuses a string with
    /// an embedded NUL, which would be read back cut short.
    public mutating func writeCString(_ string: String) throws(ParcelError) {
        let utf8 = Array(string.utf8)
        guard !utf8.contains(0) else { throw .unwritableString(reason: "embedded NUL in a C string") }
        let start = reserveForWriting(utf8.count + 1)
        if !utf8.isEmpty { utf8.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) } }
        start.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
    }

    /// Reads a C string: bytes up to a NUL inside the data, which must be valid UTF-8.
    public mutating func readCString() throws(ParcelError) -> String {
        let start = try peekReadable(0)
        let available = readableBytes
        var length = 0
        while length < available, start.load(fromByteOffset: length, as: UInt8.self) != 0 { length += 1 }
        guard length < available else {
            throw .invalidString(offset: readerIndex, reason: "missing NUL terminator")
        }
        guard Self.padded(length + 1) <= available else {
            throw .notEnoughData(offset: readerIndex, needed: Self.padded(length + 1), available: available)
        }
        guard let string = String(validating: UnsafeRawBufferPointer(start: start, count: length), as: UTF8.self) else {
            throw .invalidString(offset: readerIndex, reason: "invalid UTF-8")
        }
        advanceReader(length + 1)
        return string
    }
}

/// Code units read one by one from memory that need not be aligned for them.
struct UnalignedCodeUnits<Unit: FixedWidthInteger>: Sequence {
    let base: UnsafeRawPointer
    let count: Int

    struct Iterator: IteratorProtocol {
        let base: UnsafeRawPointer
        let count: Int
        var index = 0
        mutating func next() -> Unit? {
            guard index < count else { return nil }
            defer { index += 1 }
            return base.loadUnaligned(fromByteOffset: index * MemoryLayout<Unit>.size, as: Unit.self)
        }
    }

    func makeIterator() -> Iterator { Iterator(base: base, count: count) }
    var underestimatedCount: Int { count }
}

/// ASCII text as UTF-16, a word at a time: interface descriptors and service names, on every
/// call (the code-unit loops were a tenth of a call's instructions, callgrind).
enum ASCII {
    /// Whether every byte is below 0x80.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var combined: UInt64 = 0
        var index = 0
        while index + 8 <= bytes.count {
            combined |= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            combined |= UInt64(bytes[index])
            index += 1
        }
        return combined & 0x8080_8080_8080_8080 == 0
    }

    /// Four ASCII bytes (a little-endian word) as four UTF-16LE code units.
    @inline(__always)
    private static func widen(_ word: UInt32) -> UInt64 {
        let value = UInt64(word)
        return (value & 0xFF) | (value & 0xFF00) << 8 | (value & 0xFF_0000) << 16 | (value & 0xFF00_0000) << 24
    }

    /// Writes `bytes` (ASCII) as UTF-16 code units at `destination`.
    @inline(__always)
    static func widen(_ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer) {
        var index = 0
        #if _endian(little)
        while index + 4 <= bytes.count {
            let units = widen(bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self))
            destination.storeBytes(of: units, toByteOffset: index * 2, as: UInt64.self)
            index += 4
        }
        #endif
        while index < bytes.count {
            destination.storeBytes(of: UInt16(bytes[index]), toByteOffset: index * 2, as: UInt16.self)
            index += 1
        }
    }

    /// Whether the UTF-16 code units at `units` are `bytes` (ASCII), widened.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, widenedAt units: UnsafeRawPointer) -> Bool {
        var index = 0
        #if _endian(little)
        while index + 4 <= bytes.count {
            let expected = widen(bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self))
            guard units.loadUnaligned(fromByteOffset: index * 2, as: UInt64.self) == expected else { return false }
            index += 4
        }
        #endif
        while index < bytes.count {
            guard units.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self) == UInt16(bytes[index]) else {
                return false
            }
            index += 1
        }
        return true
    }
}
