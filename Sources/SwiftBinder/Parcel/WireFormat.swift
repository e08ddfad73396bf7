/// How a parcel encodes what changed between Android releases: the stability trailer after
/// each binder object and the interface token's header word (PROTOCOL.md §3.7, §3.8).
///
/// The default is Android 13 and later. Choose an older format to talk to older peers.
public struct WireFormat: Hashable, Sendable, CustomStringConvertible {
    /// The stability trailer after each binder object.
    public enum StabilityEncoding: UInt8, Hashable, Sendable {
        /// Android 10 and earlier: no trailer.
        case none
        /// Android 11: int32 level.
        case level32
        /// Android 12 and 12L: int32 "category", byte 0 the wire version (1), byte 3 the level.
        case category
        /// Android 13 and later: int32 holding the int16 level.
        case level16
    }

    /// Every field in one word: bits 0–7 the scheduling bits, 8–23 the local stability, 24–55
    /// the interface header, 56–57 the stability encoding, 58 whether there is a header. Every
    /// parcel carries a format and every call compares two, so it is one word to move and one
    /// to compare (field by field it was about 30 instructions a call, callgrind).
    private var bits: UInt64

    // Inlined: each read of a field is a shift and a mask (an outlined call per binder object
    // read or written, callgrind).
    @inline(__always)
    private func field(_ shift: UInt64, _ width: UInt64) -> UInt64 { (bits >> shift) & ((1 << width) - 1) }

    private mutating func setField(_ shift: UInt64, _ width: UInt64, _ value: UInt64) {
        let mask: UInt64 = ((1 << width) - 1) << shift
        bits = (bits & ~mask) | ((value << shift) & mask)
    }

    public var stability: StabilityEncoding {
        // Every 2-bit value is a case.
        @inline(__always) get { StabilityEncoding(rawValue: UInt8(field(56, 2))).unsafelyUnwrapped }
        set { setField(56, 2, UInt64(newValue.rawValue)) }
    }
    /// Whether the interface token carries a header word (Android 11 and later).
    public var hasInterfaceHeader: Bool {
        get { field(58, 1) != 0 }
        set { setField(58, 1, newValue ? 1 : 0) }
    }
    /// The header word this side writes and expects.
    public var interfaceHeader: InterfaceHeader {
        get { InterfaceHeader(rawValue: UInt32(field(24, 32))) }
        set { setField(24, 32, UInt64(newValue.rawValue)) }
    }
    /// A parcel for an RPC session rather than the kernel driver (libbinder's `markForRpc`):
    /// the interface token is the descriptor alone, and binder objects are session addresses
    /// (libs/binder/Parcel.cpp at android-14.0.0_r20; docs/rpc-protocol-notes.md §4).
    public var isRPC: Bool {
        @inline(__always) get { field(59, 1) != 0 }
        set { setField(59, 1, newValue ? 1 : 0) }
    }
    /// The stability level this side gives the objects it sends (SYSTEM by default).
    public var localStability: StabilityLevel {
        @inline(__always) get { StabilityLevel(rawValue: Int16(bitPattern: UInt16(field(8, 16)))) }
        set { setField(8, 16, UInt64(UInt16(bitPattern: newValue.rawValue))) }
    }
    /// The minimum-priority bits libbinder writes in every binder object: nice 19 (0x13), or 0
    /// in processes that disable background scheduling, as servicemanager does from Android 15.
    public var schedulingBits: UInt8 {
        @inline(__always) get { UInt8(field(0, 8)) }
        set { setField(0, 8, UInt64(newValue)) }
    }

    public init(
        stability: StabilityEncoding, hasInterfaceHeader: Bool, interfaceHeader: InterfaceHeader = .system,
        localStability: StabilityLevel = .system
    ) {
        bits = 0
        self.stability = stability
        self.hasInterfaceHeader = hasInterfaceHeader
        self.interfaceHeader = interfaceHeader
        self.localStability = localStability
        self.schedulingBits = 0x13
    }

    /// Whether null and handle objects carry `FLAT_BINDER_FLAG_ACCEPTS_FDS`: libbinder set it
    /// on every object up to Android 12, and only on local objects from Android 13
    /// (libs/binder/Parcel.cpp `flattenBinder` at android-12.0.0_r1 and android-13.0.0_r1).
    public var referencesAcceptFileDescriptors: Bool {
        @inline(__always) get { stability != .level16 }
    }

    /// Whether generated stubs refuse requests with unread data: Android 13 and later (its
    /// AIDL stubs call `Parcel::enforceNoDataAvail`), the releases with this trailer encoding.
    public var refusesUnreadRequestData: Bool { stability == .level16 }

    /// The `flags` word of a null or handle object in this format.
    public var referenceFlags: UInt32 {
        @inline(__always) get {
            (referencesAcceptFileDescriptors ? BinderObjectFlags.acceptsFileDescriptors : 0) | UInt32(schedulingBits)
        }
    }

    /// This format in a process that disables background scheduling (libbinder's
    /// `IPCThreadState::disableBackgroundScheduling`, which servicemanager calls at startup).
    public func disablingBackgroundScheduling() -> WireFormat {
        var format = self
        format.schedulingBits = 0
        return format
    }

    public static let android13 = WireFormat(stability: .level16, hasInterfaceHeader: true)
    public static let android12 = WireFormat(stability: .category, hasInterfaceHeader: true)
    public static let android11 = WireFormat(stability: .level32, hasInterfaceHeader: true)
    public static let android10 = WireFormat(stability: .none, hasInterfaceHeader: false)
    public static let `default` = android13
    /// RPC binder's parcels (every release that has RPC binder encodes them the same way).
    public static let rpc: WireFormat = {
        var format = WireFormat(stability: .level16, hasInterfaceHeader: false)
        format.isRPC = true
        return format
    }()

    public var description: String {
        let trailer: String
        switch stability {
        case .none: trailer = "no stability trailer"
        case .level32: trailer = "int32 stability level"
        case .category: trailer = "stability category word"
        case .level16: trailer = "int16 stability level"
        }
        if isRPC { return "RPC binder's wire format, local stability \(localStability)" }
        let token = hasInterfaceHeader ? "interface header \(interfaceHeader)" : "no interface header"
        return "the wire format with \(token), \(trailer), local stability \(localStability)"
    }
}

/// A binder object's stability level: which partitions may call it (libbinder `Stability`).
public struct StabilityLevel: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// Not declared: only on null objects.
    public static let undeclared = Self(rawValue: 0)
    public static let vendor = Self(rawValue: 0b000011)
    public static let system = Self(rawValue: 0b001100)
    public static let vintf = Self(rawValue: 0b111111)

    /// The levels a non-null object may carry.
    public var isDeclared: Bool { self == .vendor || self == .system || self == .vintf }

    public var description: String {
        switch self {
        case .undeclared: return "UNDECLARED"
        case .vendor: return "VENDOR"
        case .system: return "SYSTEM"
        case .vintf: return "VINTF"
        default: return "stability(\(rawValue))"
        }
    }
}

/// The word in an interface token that says which libbinder build wrote it.
public struct InterfaceHeader: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    private static func pack(_ text: StaticString) -> UInt32 {
        text.withUTF8Buffer { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }

    /// `'SYST'`: system libbinder; what everything on `/dev/binder` expects.
    public static let system = Self(rawValue: pack("SYST"))
    /// `'VNDR'`: vendor libbinder (`/dev/vndbinder`).
    public static let vendor = Self(rawValue: pack("VNDR"))
    /// `'RECO'`: recovery builds.
    public static let recovery = Self(rawValue: pack("RECO"))
    /// `'UNKN'`: libbinder built for a non-Android kernel binder.
    public static let unknown = Self(rawValue: pack("UNKN"))

    public var description: String {
        let bytes = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: rawValue >> $0) }
        if bytes.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return "'" + String(decoding: bytes, as: UTF8.self) + "'"
        }
        return "0x" + String(rawValue, radix: 16)
    }
}
