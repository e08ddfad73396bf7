import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The request header of every AIDL call (`writeInterfaceToken` / `enforceInterface`).
public struct InterfaceToken: Hashable, Sendable {
    /// The caller's StrictMode policy, without the `0x80000000` gather bit.
    public var strictModePolicy: Int32
    /// The uid the caller attributes the work to (−1 when unset). Never an identity: only the
    /// kernel's sender euid is.
    public var workSource: Int32
    public var descriptor: String
}

/// An interface descriptor with its String16 wire form encoded once: generated code keeps one per
/// interface, so that writing and checking the interface token of every call is a copy and a
/// comparison of bytes (encoding the descriptor per call was a tenth of a call, callgrind).
public struct InterfaceDescriptor: Hashable, @unchecked Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The descriptor, e.g. `android.os.IServiceManager`.
    public let name: String
    /// Exactly what ``Parcel/writeString16(_:)`` writes for `name`: int32 length in UTF-16 units,
    /// the units, a NUL unit, zero padding to 4 bytes.
    ///
    /// Interned: one encoding per distinct name (by its exact UTF-8 bytes, not Swift's canonical
    /// string equality: the bytes are what goes on the wire), kept for the life of the process,
    /// so that using a descriptor retains no storage (an array here was retained and released
    /// on every call, callgrind). Descriptors are meant to be the constants of generated code;
    /// each distinct name made at run time adds its encoding for good.
    let string16: UnsafeRawBufferPointer

    public init(_ name: String) {
        self.name = name
        let key = Array(name.utf8)
        string16 = Self.encodings.withLock { encodings in
            if let existing = encodings[key] { return existing }
            var parcel = Parcel()
            parcel.writeString16(name)
            let encoded = parcel.withUnsafeDataBytes { bytes in
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 4)
                copy.copyMemory(from: bytes)
                return UnsafeRawBufferPointer(copy)
            }
            encodings[key] = encoded
            return encoded
        }
    }

    public init(stringLiteral value: String) { self.init(value) }

    public var description: String { name }

    /// Equal when the names are the same bytes (two spellings Swift calls equal, such as a
    /// precomposed and a decomposed "é", are different descriptors on the wire).
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.name.utf8.elementsEqual(rhs.name.utf8) }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes: UnsafeRawBufferPointer(string16)) }

    private struct Encodings: @unchecked Sendable {
        var byName: [[UInt8]: UnsafeRawBufferPointer] = [:]
        subscript(name: [UInt8]) -> UnsafeRawBufferPointer? {
            get { byName[name] }
            set { byName[name] = newValue }
        }
    }

    private static let encodings = Mutex(Encodings())
}

extension Parcel {
    /// The bit libbinder sets in the strict-mode word (`STRICT_MODE_PENALTY_GATHER`).
    static let strictModePenaltyGather: Int32 = Int32(bitPattern: 0x8000_0000)

    /// Writes the interface token that starts every AIDL request: the strict-mode word with the
    /// gather bit, the work source (−1 unset), the header word (Android 11+), and the
    /// descriptor as String16.
    public mutating func writeInterfaceToken(_ descriptor: String, strictModePolicy: Int32 = 0, workSource: Int32 = -1) {
        if !wireFormat.isRPC {
            _ = reserveInterfaceToken(strictModePolicy: strictModePolicy, workSource: workSource, descriptorBytes: 0)
        }
        writeString16(descriptor)
    }

    /// ``writeInterfaceToken(_:strictModePolicy:workSource:)`` with a descriptor encoded once.
    public mutating func writeInterfaceToken(
        _ descriptor: InterfaceDescriptor, strictModePolicy: Int32 = 0, workSource: Int32 = -1
    ) {
        guard !wireFormat.isRPC else {
            let encoded = descriptor.string16
            reserveForWriting(encoded.count).copyMemory(from: encoded.baseAddress!, byteCount: encoded.count)
            return
        }
        writeKernelInterfaceToken(descriptor, strictModePolicy: strictModePolicy, workSource: workSource)
    }

    /// The interface token of a parcel known to be a kernel parcel (a kernel proxy's AIDL
    /// request, on the path of every such call): without the RPC check, whose branch made the
    /// optimizer outline the call's request writing (about 30 instructions a call, callgrind).
    mutating func writeKernelInterfaceToken(_ descriptor: InterfaceDescriptor, strictModePolicy: Int32 = 0, workSource: Int32 = -1) {
        // The whole token in one reservation: the words, then the encoded descriptor.
        let encoded = descriptor.string16
        reserveInterfaceToken(strictModePolicy: strictModePolicy, workSource: workSource, descriptorBytes: encoded.count)
            .copyMemory(from: encoded.baseAddress!, byteCount: encoded.count)
    }

    /// Bytes of an interface token before its descriptor: the strict-mode word, the work source
    /// and, from Android 11, the header word. Over RPC, none: the token is the descriptor alone
    /// (libbinder's `writeInterfaceToken` writes the header words only for kernel parcels).
    private var interfaceTokenHeaderSize: Int { wireFormat.isRPC ? 0 : kernelInterfaceTokenHeaderSize }
    private var kernelInterfaceTokenHeaderSize: Int { wireFormat.hasInterfaceHeader ? 12 : 8 }

    /// Writes the words that precede the descriptor in a kernel parcel (the strict-mode word
    /// with the gather bit, the work source, from Android 11 the header word) with room for
    /// `descriptorBytes` after them, and returns where the descriptor goes.
    @inline(__always)
    private mutating func reserveInterfaceToken(
        strictModePolicy: Int32, workSource: Int32, descriptorBytes: Int
    ) -> UnsafeMutableRawPointer {
        let headerSize = kernelInterfaceTokenHeaderSize
        let token = reserveForWriting(headerSize + descriptorBytes)
        token.storeBytes(of: strictModePolicy | Self.strictModePenaltyGather, as: Int32.self)
        token.storeBytes(of: workSource, toByteOffset: 4, as: Int32.self)
        if wireFormat.hasInterfaceHeader {
            token.storeBytes(of: wireFormat.interfaceHeader.rawValue, toByteOffset: 8, as: UInt32.self)
        }
        return token + headerSize
    }

    /// ``enforceInterface(_:)`` without making the ``InterfaceToken`` (what generated stubs call):
    /// checks the header and the descriptor and moves past them, or throws as
    /// ``enforceInterface(_:)`` does.
    public mutating func checkInterfaceToken(_ descriptor: InterfaceDescriptor) throws(ParcelError) {
        if skipMatchingInterfaceToken(descriptor) == nil { try enforceInterface(descriptor) }
    }

    /// The usual case in one bounds check: the whole token is there and matches. Returns the
    /// strict-mode word and the work source and moves past the token, or nil and moves nothing.
    @inline(__always)
    private mutating func skipMatchingInterfaceToken(_ descriptor: InterfaceDescriptor) -> (Int32, Int32)? {
        let headerSize = interfaceTokenHeaderSize
        let expected = descriptor.string16
        guard readableBytes >= headerSize + expected.count, let base = unsafeDataBytes.baseAddress else { return nil }
        let token = UnsafeRawPointer(base + readerIndex)
        if wireFormat.hasInterfaceHeader,
            token.loadUnaligned(fromByteOffset: 8, as: UInt32.self) != wireFormat.interfaceHeader.rawValue
        {
            return nil
        }
        guard memcmp(token + headerSize, expected.baseAddress!, expected.count) == 0 else { return nil }
        readerIndex += headerSize + expected.count
        guard headerSize > 0 else { return (0, -1) }
        return (token.loadUnaligned(as: Int32.self), token.loadUnaligned(fromByteOffset: 4, as: Int32.self))
    }

    /// ``enforceInterface(_:)`` with a descriptor encoded once: the descriptor is compared as
    /// bytes in place.
    @discardableResult
    public mutating func enforceInterface(_ descriptor: InterfaceDescriptor) throws(ParcelError) -> InterfaceToken {
        if let (policy, workSource) = skipMatchingInterfaceToken(descriptor) {
            return InterfaceToken(
                strictModePolicy: policy & ~Self.strictModePenaltyGather, workSource: workSource,
                descriptor: descriptor.name)
        }
        let start = readerIndex
        do throws(ParcelError) {
            let (policy, workSource) = try readTokenHeader()
            let expected = descriptor.string16
            let matches =
                readableBytes >= expected.count && {
                    guard let found = try? peekReadable(expected.count) else { return false }
                    return memcmp(found, expected.baseAddress!, expected.count) == 0
                }()
            if matches {
                advanceReader(expected.count)
            } else {
                throw .interfaceDescriptorMismatch(expected: descriptor.name, found: try? readNullableString16())
            }
            return InterfaceToken(
                strictModePolicy: policy & ~Self.strictModePenaltyGather, workSource: workSource,
                descriptor: descriptor.name)
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// The strict-mode word, the work source and the header word of an interface token.
    private mutating func readTokenHeader() throws(ParcelError) -> (policy: Int32, workSource: Int32) {
        if wireFormat.isRPC { return (0, -1) }
        let policy = try readInt32()
        let workSource = try readInt32()
        if wireFormat.hasInterfaceHeader {
            let header = InterfaceHeader(rawValue: try readInteger())
            guard header == wireFormat.interfaceHeader else {
                throw .interfaceHeaderMismatch(expected: wireFormat.interfaceHeader, found: header)
            }
        } else if readableBytes >= 4 {
            // Android 10 reads the descriptor's length here; a later release's header word
            // would be taken for one. Name it instead.
            let next = readerIndex
            let word = InterfaceHeader(rawValue: try readInteger())
            readerIndex = next
            if [.system, .vendor, .recovery, .unknown].contains(word) { throw .unexpectedInterfaceHeader(word) }
        }
        return (policy, workSource)
    }

    /// Reads the interface token and checks it is for `descriptor`, with the header word this
    /// parcel's wire format expects. Reports which of the two did not match.
    @discardableResult
    public mutating func enforceInterface(_ descriptor: String) throws(ParcelError) -> InterfaceToken {
        let start = readerIndex
        do throws(ParcelError) {
            let (policy, workSource) = try readTokenHeader()
            // Compared in place, code unit by code unit: no String is made for the usual match.
            let descriptorStart = readerIndex
            if try readString16(matching: descriptor) == false {
                readerIndex = descriptorStart
                throw .interfaceDescriptorMismatch(expected: descriptor, found: try? readNullableString16())
            }
            return InterfaceToken(
                strictModePolicy: policy & ~Self.strictModePenaltyGather, workSource: workSource, descriptor: descriptor)
        } catch {
            readerIndex = start
            throw error
        }
    }
}
