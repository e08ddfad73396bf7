import SystemPackage

/// The type word that starts every object in a parcel's data.
public struct BinderObjectType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    // The UAPI's B_PACK_CHARS(c1, c2, c3, B_TYPE_LARGE): three characters and 0x85, written
    // out so that each is a constant (computed, each use went through a lazy global's
    // `swift_once`, callgrind).

    /// A local object, strong. `BINDER_TYPE_BINDER` ("sb*").
    public static let binder = Self(rawValue: 0x7362_2a85)
    /// A local object, weak. `BINDER_TYPE_WEAK_BINDER` ("wb*").
    public static let weakBinder = Self(rawValue: 0x7762_2a85)
    /// A remote object, strong. `BINDER_TYPE_HANDLE` ("sh*").
    public static let handle = Self(rawValue: 0x7368_2a85)
    /// A remote object, weak. `BINDER_TYPE_WEAK_HANDLE` ("wh*").
    public static let weakHandle = Self(rawValue: 0x7768_2a85)
    /// A file descriptor. `BINDER_TYPE_FD` ("fd*").
    public static let fileDescriptor = Self(rawValue: 0x6664_2a85)
    /// An fd array inside a scatter-gather buffer (HIDL). `BINDER_TYPE_FDA` ("fda").
    public static let fileDescriptorArray = Self(rawValue: 0x6664_6185)
    /// A scatter-gather buffer (HIDL). `BINDER_TYPE_PTR` ("pt*").
    public static let pointer = Self(rawValue: 0x7074_2a85)

    /// Bytes the object occupies in the data, or 0 for an unknown type.
    public var wireSize: Int {
        switch self {
        case .binder, .weakBinder, .handle, .weakHandle, .fileDescriptor: return 24
        case .fileDescriptorArray: return 32
        case .pointer: return 40
        default: return 0
        }
    }
}

/// A `flat_binder_object` (24 bytes): type, flags, the binder pointer or handle, the cookie.
public struct FlatBinderObject: Hashable, Sendable {
    public var type: BinderObjectType
    public var flags: UInt32
    /// `binder` (a local node's id) or, in its low 32 bits, `handle` / `fd`.
    public var binderOrHandle: UInt64
    public var cookie: UInt64

    public static let size = 24

    public init(type: BinderObjectType, flags: UInt32 = 0, binderOrHandle: UInt64 = 0, cookie: UInt64 = 0) {
        self.type = type
        self.flags = flags
        self.binderOrHandle = binderOrHandle
        self.cookie = cookie
    }

    public var handle: UInt32 { UInt32(truncatingIfNeeded: binderOrHandle) }
}

/// Flags of a `flat_binder_object`.
public enum BinderObjectFlags {
    /// Minimum nice value for incoming sync transactions, in the low byte.
    public static let priorityMask: UInt32 = 0xFF
    /// The node accepts file descriptors. `FLAT_BINDER_FLAG_ACCEPTS_FDS`.
    public static let acceptsFileDescriptors: UInt32 = 0x100
    /// Transactions to the node carry the sender's security context. `FLAT_BINDER_FLAG_TXN_SECURITY_CTX`.
    public static let securityContext: UInt32 = 0x1000
    /// What libbinder writes for a typical local object: accepts fds, priority 19.
    public static let localDefault: UInt32 = 0x113
}

/// What a binder object in a parcel refers to.
public enum BinderReference: Hashable, Sendable {
    /// An object of the process that reads the parcel (the kernel translated a handle back).
    case local(NodeIdentity)
    /// A handle in the reading process's table.
    case handle(UInt32)
}

/// A binder object read from a parcel, with its stability level.
public struct ReceivedBinder: Hashable, Sendable {
    public var reference: BinderReference
    public var flags: UInt32
    public var stability: StabilityLevel
}

extension Parcel {
    // MARK: Raw objects

    /// Writes a `flat_binder_object` at the current position and lists it in the objects array
    /// when `listed` (null binders are not listed).
    public mutating func writeObject(_ object: FlatBinderObject, listed: Bool) {
        let offset = dataSize
        let start = reserveForWriting(FlatBinderObject.size)
        start.storeBytes(of: object.type.rawValue, toByteOffset: 0, as: UInt32.self)
        start.storeBytes(of: object.flags, toByteOffset: 4, as: UInt32.self)
        start.storeBytes(of: object.binderOrHandle, toByteOffset: 8, as: UInt64.self)
        start.storeBytes(of: object.cookie, toByteOffset: 16, as: UInt64.self)
        if listed { appendObjectOffset(offset) }
    }

    /// Reads the `flat_binder_object` at the current position. Unless its binder/handle and
    /// cookie are both 0 (a null binder or handle 0), the objects array must list it.
    public mutating func readObject() throws(ParcelError) -> FlatBinderObject {
        let offset = readerIndex
        let start = try peekReadable(FlatBinderObject.size)
        let object = FlatBinderObject(
            type: BinderObjectType(rawValue: start.loadUnaligned(as: UInt32.self)),
            flags: start.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
            binderOrHandle: start.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            cookie: start.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        // As in libbinder, a binder object whose binder/handle and cookie are both 0 is never
        // listed (a null binder, or handle 0: the context manager) and is accepted without a
        // listing. A file descriptor must always be listed: fd 0 is no exception.
        let isUnlisted = object.binderOrHandle == 0 && object.cookie == 0 && object.type != .fileDescriptor
        if !isUnlisted {
            guard object.type.wireSize == FlatBinderObject.size else {
                throw .unexpectedObjectType(object.type.rawValue, offset: offset)
            }
            guard try isObjectListed(at: offset) else { throw .objectNotListed(offset: offset) }
        }
        advanceReader(FlatBinderObject.size)
        return object
    }

    // MARK: Binders with stability

    /// Writes a strong binder (AIDL `IBinder` or an interface) and its stability trailer.
    ///
    /// - Parameters:
    ///   - reference: a local object, a handle, or nil for null. A handle 0 is not listed in
    ///     the objects array (it means the context manager in every process), as in libbinder.
    ///   - flags: for local objects, see ``BinderObjectFlags``; null and handle objects carry
    ///     the wire format's ``WireFormat/referenceFlags`` (as libbinder's `flattenBinder`).
    ///   - stability: the level to declare; by default the wire format's local stability.
    public mutating func writeBinder(_ reference: BinderReference?, flags: UInt32 = 0, stability: StabilityLevel? = nil) {
        switch reference {
        case nil:
            writeObject(FlatBinderObject(type: .binder, flags: wireFormat.referenceFlags), listed: false)
        case .local(let node):
            writeObject(
                FlatBinderObject(type: .binder, flags: flags, binderOrHandle: node.pointer, cookie: node.cookie),
                listed: node.pointer != 0 || node.cookie != 0)
        case .handle(let handle):
            writeObject(
                FlatBinderObject(type: .handle, flags: wireFormat.referenceFlags, binderOrHandle: UInt64(handle)),
                listed: handle != 0)
        }
        writeStabilityTrailer(reference == nil ? .undeclared : (stability ?? wireFormat.localStability))
    }

    /// Reads a strong binder written by ``writeBinder(_:flags:stability:)`` (nil for null) and
    /// checks its stability trailer. Weak objects are refused, as libbinder's `unflattenBinder`
    /// refuses them (BAD_TYPE).
    public mutating func readNullableBinder() throws(ParcelError) -> ReceivedBinder? {
        let start = readerIndex
        do throws(ParcelError) {
            let object = try readObject()
            let reference: BinderReference?
            switch object.type {
            case .binder:
                reference = object.binderOrHandle == 0 && object.cookie == 0
                    ? nil : .local(NodeIdentity(pointer: object.binderOrHandle, cookie: object.cookie))
            case .handle:
                reference = .handle(object.handle)
            default:
                throw .unexpectedObjectType(object.type.rawValue, offset: start)
            }
            let stability = try readStabilityTrailer(isNull: reference == nil)
            return reference.map { ReceivedBinder(reference: $0, flags: object.flags, stability: stability) }
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a non-null strong binder.
    public mutating func readBinder() throws(ParcelError) -> ReceivedBinder {
        try nonNull { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableBinder() }
    }

    private mutating func writeStabilityTrailer(_ level: StabilityLevel) {
        switch wireFormat.stability {
        case .none: break
        case .level32, .level16: writeInt32(Int32(level.rawValue))
        case .category: writeInt32(Int32(truncatingIfNeeded: UInt32(UInt8(truncatingIfNeeded: level.rawValue)) << 24 | 1))
        }
    }

    private mutating func readStabilityTrailer(isNull: Bool) throws(ParcelError) -> StabilityLevel {
        let offset = readerIndex
        let level: StabilityLevel
        switch wireFormat.stability {
        case .none:
            return isNull ? .undeclared : wireFormat.localStability
        case .level32:
            let word = try readInt32()
            guard let value = Int16(exactly: word) else { throw .invalidStability(word, offset: offset) }
            level = StabilityLevel(rawValue: value)
        case .level16:
            // Android 13+: the int32 is cast to int16 (Stability::setRepr), upper bits ignored.
            level = StabilityLevel(rawValue: Int16(truncatingIfNeeded: try readInt32()))
        case .category:
            // Android 12: {version, reserved, reserved, level}; a version below 1 is refused
            // (libs/binder/Stability.cpp at android-12.0.0_r1), the reserved bytes are not read.
            let word = try readInt32()
            guard word & 0xFF >= 1 else { throw .invalidStability(word, offset: offset) }
            level = StabilityLevel(rawValue: Int16(UInt32(bitPattern: word) >> 24))
        }
        guard isNull ? level == .undeclared : level.isDeclared else {
            readerIndex = offset
            throw .invalidStability(Int32(level.rawValue), offset: offset)
        }
        return level
    }

    // MARK: File descriptors

    /// Writes a file descriptor object (AIDL `FileDescriptor`). The kernel gives the receiver
    /// its own descriptor for the same file.
    ///
    /// - Parameter takeOwnership: the parcel closes `fd` when it is cleared or destroyed
    ///   (cookie 1, as libbinder marks it).
    public mutating func writeFileDescriptor(_ fd: FileDescriptor, takeOwnership: Bool = false) {
        if wireFormat.isRPC {
            writeRPCFileDescriptor(fd, takeOwnership: takeOwnership)
            return
        }
        writeObject(
            FlatBinderObject(
                type: .fileDescriptor, binderOrHandle: UInt64(UInt32(bitPattern: fd.rawValue)),
                cookie: takeOwnership ? 1 : 0),
            listed: true)
    }

    /// Reads a file descriptor object. The descriptor stays owned by the parcel (a received
    /// parcel closes it when released): use it while the parcel lives, or
    /// ``takeFileDescriptor()`` to keep it.
    public mutating func readFileDescriptor() throws(ParcelError) -> FileDescriptor {
        if wireFormat.isRPC { return try readRPCFileDescriptor().fd }
        let offset = readerIndex
        let object = try readObject()
        guard object.type == .fileDescriptor else {
            readerIndex = offset
            throw .unexpectedObjectType(object.type.rawValue, offset: offset)
        }
        return FileDescriptor(rawValue: Int32(bitPattern: object.handle))
    }

    /// Reads a file descriptor object and takes the descriptor: the parcel will not close it.
    public mutating func takeFileDescriptor() throws(ParcelError) -> FileDescriptor {
        if wireFormat.isRPC { return try takeRPCFileDescriptor() }
        let offset = readerIndex
        let fd = try readFileDescriptor()
        do throws(ParcelError) {
            try markDescriptorTaken(at: offset)
        } catch {
            readerIndex = offset
            throw error
        }
        return fd
    }

    // MARK: ParcelFileDescriptor

    /// Writes a non-null `ParcelFileDescriptor` as an AIDL value: int32 1, int32 0 (no comm
    /// channel), the fd object. The descriptor stays owned by `value`.
    public mutating func writeParcelFileDescriptor(_ value: borrowing ParcelFileDescriptor) {
        writeInt32(1)
        writeInt32(0)
        writeFileDescriptor(value.fileDescriptor)
    }

    /// Writes a non-null `ParcelFileDescriptor` and hands its descriptor to the parcel, which
    /// closes it when cleared or destroyed (after the transaction has been sent).
    public mutating func writeParcelFileDescriptor(transferring value: consuming ParcelFileDescriptor) {
        writeInt32(1)
        writeInt32(0)
        writeFileDescriptor(value.take(), takeOwnership: true)
    }

    /// Writes a null `ParcelFileDescriptor` (AIDL `@nullable`): int32 0.
    public mutating func writeNullParcelFileDescriptor() {
        writeInt32(0)
    }

    /// Reads a `ParcelFileDescriptor` that may be null, taking ownership of its descriptor.
    /// A comm-channel descriptor (Java peers may send one) is taken and closed.
    public mutating func readNullableParcelFileDescriptor() throws(ParcelError) -> ParcelFileDescriptor? {
        let start = readerIndex
        guard try readInt32() != 0 else { return nil }
        do throws(ParcelError) {
            let hasCommChannel = try readInt32() != 0
            let fd = try takeFileDescriptor()
            if hasCommChannel { try? takeFileDescriptor().close() }
            return ParcelFileDescriptor(fd)
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Reads a non-null `ParcelFileDescriptor`, taking ownership of its descriptor.
    public mutating func readParcelFileDescriptor() throws(ParcelError) -> ParcelFileDescriptor {
        let start = readerIndex
        guard let value = try readNullableParcelFileDescriptor() else {
            readerIndex = start
            throw .unexpectedNull(offset: start)
        }
        return value
    }
}

/// A file descriptor with one owner, as AIDL's `ParcelFileDescriptor`: closed when the value is
/// destroyed unless taken.
public struct ParcelFileDescriptor: ~Copyable, Sendable {
    public let fileDescriptor: FileDescriptor

    /// Takes ownership of `fd`.
    public init(_ fd: FileDescriptor) {
        fileDescriptor = fd
    }

    deinit {
        try? fileDescriptor.close()
    }

    /// Gives up ownership: the caller closes the descriptor.
    public consuming func take() -> FileDescriptor {
        let fd = fileDescriptor
        discard self
        return fd
    }
}
