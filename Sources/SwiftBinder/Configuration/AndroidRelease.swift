/// An Android release whose binder dialect SwiftBinder speaks: the parcel wire format (interface
/// token, stability trailer) and servicemanager's code table, both of which changed between
/// releases (PROTOCOL.md §3.7, §3.8, §4.2).
///
/// A device speaks one release; a process may speak different releases on different devices
/// (one ``BinderProcess`` per device). Which one comes from ``BinderConfiguration``.
public enum AndroidRelease: String, CaseIterable, Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Android 10 (API 29): the C servicemanager, interface tokens without a header word, no
    /// stability trailers.
    case android10
    /// Android 11 (API 30): servicemanager generated from AIDL; header word; int32 stability level.
    case android11
    /// Android 12 and 12L (API 31, 32): stability as a "category" word.
    case android12
    /// Android 13 (API 33): stability as an int16 level in an int32.
    case android13
    /// Android 14 (API 34).
    case android14
    /// Android 15 as first released (android-15.0.0_r1 to _r5): Android 14's servicemanager
    /// table, unchanged.
    case android15r1
    /// Android 15 as devices ship it (android-15.0.0_r6 and later, the QPR branches): the table
    /// with `getService2` at code 2 and `checkService` returning the `Service` union. The
    /// union's first member is a bare binder at _r6 and _r10 and a `android.os.ServiceWithMetadata` from
    /// _r20: SwiftBinder reads both and writes the later one.
    case android15
    /// Android 16 (API 36).
    case android16

    /// What SwiftBinder speaks when nothing is configured.
    public static let `default` = android16

    /// The API level (SDK_INT) of the release.
    public var apiLevel: Int {
        switch self {
        case .android10: return 29
        case .android11: return 30
        case .android12: return 31
        case .android13: return 33
        case .android14: return 34
        case .android15r1, .android15: return 35
        case .android16: return 36
        }
    }

    /// The release of an API level: 29…36 (32, Android 12L, speaks Android 12; 35 speaks the
    /// Android 15 numbering devices ship). Nil outside that range.
    public init?(apiLevel: Int) {
        switch apiLevel {
        case 29: self = .android10
        case 30: self = .android11
        case 31, 32: self = .android12
        case 33: self = .android13
        case 34: self = .android14
        case 35: self = .android15
        case 36: self = .android16
        default: return nil
        }
    }

    /// A release by its name (`android13`) or API level (`33`).
    public init?(parsing text: String) {
        let text = text.trimmingASCIIWhitespace().lowercased()
        if let release = AndroidRelease(rawValue: text) {
            self = release
        } else if let level = Int(text), let release = AndroidRelease(apiLevel: level) {
            self = release
        } else {
            return nil
        }
    }

    /// The names ``init(parsing:)`` accepts, for help texts.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// How parcels are encoded for a peer of this release.
    public var wireFormat: WireFormat {
        switch self {
        case .android10: return .android10
        case .android11: return .android11
        case .android12: return .android12
        case .android13, .android14, .android15r1, .android15, .android16: return .android13
        }
    }

    /// The AOSP tag whose `android.os.IServiceManager` (libs/binder/aidl/android/os/IServiceManager.aidl,
    /// or for Android 10 cmds/servicemanager/service_manager.c) this release's table reproduces.
    public var aospTag: String {
        switch self {
        case .android10: return "android-10.0.0_r1"
        case .android11: return "android-11.0.0_r1"
        case .android12: return "android-12.0.0_r1"
        case .android13: return "android-13.0.0_r1"
        case .android14: return "android-14.0.0_r1"
        case .android15r1: return "android-15.0.0_r1"
        case .android15: return "android-15.0.0_r6"
        case .android16: return "android-16.0.0_r1"
        }
    }

    public var description: String { rawValue }

    /// Whether AOSP's servicemanager of this release disables background scheduling, so that
    /// the objects it writes carry no priority bits: from Android 15 (commit 310fce2f0e,
    /// "sm: disableBackgroundScheduling", in no android-14 tag).
    public var serviceManagerDisablesBackgroundScheduling: Bool { self >= .android15r1 }

    /// The release whose servicemanager table this one uses (Android 15 r1 has Android 14's).
    public var serviceManagerTable: AndroidRelease { self == .android15r1 ? .android14 : self }

    public static func < (lhs: AndroidRelease, rhs: AndroidRelease) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

extension StringProtocol {
    func trimmingASCIIWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" || first == "\n" {
            slice.removeFirst()
        }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" || last == "\n" { slice.removeLast() }
        return String(slice)
    }
}

extension AndroidRelease {
    /// What this release puts on the wire, one line per aspect (for `binder config` and the
    /// README's table).
    public var protocolSummary: [String] {
        let format = wireFormat
        let token = format.hasInterfaceHeader
            ? "interface token: strict-mode policy, work source, header \(format.interfaceHeader), descriptor"
            : "interface token: strict-mode policy, work source, descriptor (no header word)"
        let stability: String
        switch format.stability {
        case .none: stability = "stability: none after binder objects"
        case .level32: stability = "stability: int32 level after each binder object (SYSTEM = 0x0000000c)"
        case .category: stability = "stability: int32 category after each binder object (SYSTEM = 0x0c000001)"
        case .level16: stability = "stability: int16 level in an int32 after each binder object (SYSTEM = 0x0000000c)"
        }
        let serviceManager: String
        switch self {
        case .android10: serviceManager = "servicemanager: the C protocol, codes 1-4 (\(aospTag))"
        case .android15r1: serviceManager = "servicemanager: Android 14's table, 14 codes (\(aospTag))"
        default: serviceManager = "servicemanager: android.os.IServiceManager as at \(aospTag)"
        }
        return [token, stability, serviceManager]
    }
}
