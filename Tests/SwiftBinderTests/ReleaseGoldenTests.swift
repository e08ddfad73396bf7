import SwiftBinder
import Testing

/// Golden bytes per Android release: interface tokens, stability trailers, servicemanager code
/// tables and reply layouts. Sources: /tmp/aosp-facts.md (cited as "facts §N" with the AOSP tag
/// and file) and PROTOCOL.md §3.7, §3.8, §3.12, §4.2.
@Suite struct ReleaseGoldenTests {
    static let descriptor = "android.os.IServiceManager"
    /// BINDER_TYPE_BINDER ('sb*', used for null and local objects) and BINDER_TYPE_HANDLE ('sh*').
    static let binderType: [UInt8] = [0x85, 0x2A, 0x62, 0x73]
    static let handleType: [UInt8] = [0x85, 0x2A, 0x68, 0x73]
    /// String16 "manager": length 7, UTF-16LE, NUL, padding.
    static let manager: [UInt8] = le(7) + [0x6D, 0, 0x61, 0, 0x6E, 0, 0x61, 0, 0x67, 0, 0x65, 0, 0x72, 0, 0, 0]

    /// Little-endian bytes of 32-bit words.
    static func le(_ words: UInt32...) -> [UInt8] {
        words.flatMap { word -> [UInt8] in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
    }

    /// The trailer words after a null object and after a SYSTEM object, per release (facts §3,
    /// PROTOCOL.md §3.7): none at 10; int32 Level at 11 (android-11.0.0_r1 libs/binder/Parcel.cpp
    /// finishFlattenBinder); Category `1 | level<<24` at 12 (android-12.0.0_r1
    /// libs/binder/Stability.cpp); int16 level at 13+ (android-13.0.0_r1 … A16 Parcel.cpp).
    static func trailers(_ release: AndroidRelease) -> (null: [UInt8], system: [UInt8]) {
        switch release {
        case .android10: return ([], [])
        case .android11: return (le(0), le(0x0000_000C))
        case .android12: return (le(0x0000_0001), le(0x0C00_0001))
        default: return (le(0), le(0x0000_000C))
        }
    }

    /// A registry on no device, called by root.
    static func registry(_ release: AndroidRelease) -> ServiceManagerService {
        ServiceManagerService(
            detachedWithCaller: { CallerIdentity(pid: 1, euid: 0, securityContext: nil, flags: []) }, release: release)
    }

    /// Sends `code` to `registry` in process: the release's interface token, then `arguments`.
    static func call(
        _ registry: ServiceManagerService, _ code: UInt32, _ arguments: (inout Parcel) -> Void = { _ in }
    ) throws -> Parcel {
        var request = Parcel(wireFormat: registry.release.wireFormat)
        request.writeInterfaceToken(descriptor)
        arguments(&request)
        let reply = try registry.binder.transact(code: code, data: request)
        withExtendedLifetime(registry) {}  // its stub holds it unowned
        return reply
    }

    /// checkService's code in each release's table (facts §1, §2).
    static func checkServiceCode(_ release: AndroidRelease) -> UInt32 {
        switch release {
        case .android10: return Android10ServiceManager.Code.checkService
        case .android11: return android.os.IServiceManagerAndroid11.Code.checkService
        case .android12: return android.os.IServiceManagerAndroid12.Code.checkService
        case .android13: return android.os.IServiceManagerAndroid13.Code.checkService
        case .android14, .android15r1: return android.os.IServiceManagerAndroid14.Code.checkService
        case .android15: return android.os.IServiceManagerAndroid15.Code.checkService
        case .android16: return android.os.IServiceManager.Code.checkService
        }
    }

    // MARK: - 1. Interface tokens

    static let releasesWithHeader = AndroidRelease.allCases.filter { $0 != .android10 }

    /// PROTOCOL.md §3.12: checkService("foo"), 84 bytes, the same from Android 11 to 16: policy |
    /// STRICT_MODE_PENALTY_GATHER (1<<31), work source -1, 'SYST' (54 53 59 53), String16
    /// descriptor, String16 name (android-11.0.0_r1 … A16 libs/binder/Parcel.cpp writeInterfaceToken).
    @Test(arguments: ReleaseGoldenTests.releasesWithHeader)
    func checkServiceRequestFromAndroid11On(_ release: AndroidRelease) throws {
        let expected = ParcelGoldenTests.bytes(
            """
            0000: 00 00 00 80 ff ff ff ff 54 53 59 53 1a 00 00 00
            0010: 61 00 6e 00 64 00 72 00 6f 00 69 00 64 00 2e 00
            0020: 6f 00 73 00 2e 00 49 00 53 00 65 00 72 00 76 00
            0030: 69 00 63 00 65 00 4d 00 61 00 6e 00 61 00 67 00
            0040: 65 00 72 00 00 00 00 00 03 00 00 00 66 00 6f 00
            0050: 6f 00 00 00
            """)
        #expect(expected.count == 84)
        var request = Parcel(wireFormat: release.wireFormat)
        request.writeInterfaceToken(Self.descriptor)
        request.writeString16("foo")
        #expect(request.dataBytes == expected)
        #expect(request.objectOffsets.isEmpty)
        try request.enforceInterface(Self.descriptor)
        #expect(try request.readString16() == "foo")
        try request.requireFullyRead()
    }

    /// android-10.0.0_r1 libs/binder/IServiceManager.cpp checkService: token (no header) + name
    /// (facts §2): the §3.12 request without the 'SYST' word, 80 bytes.
    @Test func checkServiceRequestAndroid10() throws {
        let expected = ParcelGoldenTests.bytes(
            """
            0000: 00 00 00 80 ff ff ff ff 1a 00 00 00 61 00 6e 00
            0010: 64 00 72 00 6f 00 69 00 64 00 2e 00 6f 00 73 00
            0020: 2e 00 49 00 53 00 65 00 72 00 76 00 69 00 63 00
            0030: 65 00 4d 00 61 00 6e 00 61 00 67 00 65 00 72 00
            0040: 00 00 00 00 03 00 00 00 66 00 6f 00 6f 00 00 00
            """)
        #expect(expected.count == 80)
        var request = Parcel(wireFormat: AndroidRelease.android10.wireFormat)
        request.writeInterfaceToken(Self.descriptor)
        request.writeString16("foo")
        #expect(request.dataBytes == expected)
        try request.enforceInterface(Self.descriptor)
        #expect(try request.readString16() == "foo")
        try request.requireFullyRead()
    }

    @Test func interfaceTokenOfAnotherDialectIsRefused() throws {
        // An Android 11+ reader takes the Android 10 descriptor length (26) for the header word
        // and rejects it ("Mixing copies of libbinder?", PROTOCOL.md §3.8, Parcel.cpp@11).
        var old = Parcel(wireFormat: .android10)
        old.writeInterfaceToken(Self.descriptor)
        old.wireFormat = .android13
        let lengthAsHeader = InterfaceHeader(rawValue: 26)
        #expect(throws: ParcelError.interfaceHeaderMismatch(expected: .system, found: lengthAsHeader)) {
            try old.enforceInterface(Self.descriptor)
        }
        // Android 10's servicemanager reads 'SYST' as the String16 length: not the descriptor →
        // -1 (facts §2, android-10.0.0_r1 cmds/servicemanager/service_manager.c svcmgr_handler).
        var modern = Parcel(wireFormat: .android11)
        modern.writeInterfaceToken(Self.descriptor)
        modern.wireFormat = .android10
        #expect(throws: ParcelError.unexpectedInterfaceHeader(.system)) { try modern.enforceInterface(Self.descriptor) }
        #expect("\(ParcelError.interfaceHeaderMismatch(expected: .system, found: lengthAsHeader))".contains("speaks Android 10"))
        // A vendor libbinder's 'VNDR' token is refused by a system reader (PROTOCOL.md §3.8).
        let vendorFormat = WireFormat(stability: .level16, hasInterfaceHeader: true, interfaceHeader: .vendor)
        var vendor = Parcel(wireFormat: vendorFormat)
        vendor.writeInterfaceToken(Self.descriptor)
        vendor.wireFormat = .android13
        #expect(throws: ParcelError.interfaceHeaderMismatch(expected: .system, found: .vendor)) {
            try vendor.enforceInterface(Self.descriptor)
        }
    }

    // MARK: - 2. Stability trailers

    /// A null object then `.handle(5)` at SYSTEM; the flags word is checked separately below.
    @Test(arguments: AndroidRelease.allCases)
    func stabilityTrailerPerRelease(_ release: AndroidRelease) throws {
        var parcel = Parcel(wireFormat: release.wireFormat)
        parcel.writeBinder(nil)
        parcel.writeBinder(.handle(5), stability: .system)
        let (nullTrailer, systemTrailer) = Self.trailers(release)
        let bytes = parcel.dataBytes
        let second = 24 + nullTrailer.count
        try #require(bytes.count == second + 24 + systemTrailer.count)
        // Null: type BINDER, binder 0, cookie 0, not in the offsets (facts §3, Parcel.cpp@A16
        // writeObject; facts §2 for android-10.0.0_r1).
        #expect(Array(bytes[0..<4]) == Self.binderType)
        #expect(Array(bytes[8..<24]) == [UInt8](repeating: 0, count: 16))
        #expect(Array(bytes[24..<second]) == nullTrailer)
        // Handle: type HANDLE, handle 5, cookie 0, listed (facts §3).
        #expect(Array(bytes[second..<(second + 4)]) == Self.handleType)
        #expect(Array(bytes[(second + 8)..<(second + 24)]) == Self.le(5, 0, 0, 0))
        #expect(Array(bytes[(second + 24)...]) == systemTrailer)
        #expect(parcel.objectOffsets == [UInt64(second)])
    }

    /// facts §3 table (android-11.0.0_r1, 12.0.0_r1: 0x13 | ACCEPTS_FDS; 13.0.0_r1, 14.0.0_r1, A16:
    /// 0 | schedBits 0x13; libs/binder/Parcel.cpp flattenBinder) and facts §2 (android-10.0.0_r1
    /// Parcel.cpp flatten_binder: 0x13 | ACCEPTS_FDS). Default scheduling (not servicemanager's).
    @Test(arguments: AndroidRelease.allCases)
    func nullAndHandleFlagsFollowTheRelease(_ release: AndroidRelease) throws {
        var parcel = Parcel(wireFormat: release.wireFormat)
        parcel.writeBinder(nil)
        parcel.writeBinder(.handle(5), stability: .system)
        let expected = Self.le(release <= .android12 ? 0x0000_0113 : 0x0000_0013)
        let bytes = parcel.dataBytes
        let second = 24 + Self.trailers(release).null.count
        try #require(bytes.count >= second + 24)
        #expect(Array(bytes[4..<8]) == expected, "null object")
        #expect(Array(bytes[(second + 4)..<(second + 8)]) == expected, "handle object")
    }

    // MARK: - 3. Readers

    @Test(arguments: AndroidRelease.allCases)
    func readerAcceptsItsOwnWriter(_ release: AndroidRelease) throws {
        var parcel = Parcel(wireFormat: release.wireFormat)
        parcel.writeBinder(nil)
        parcel.writeBinder(.handle(5), stability: .system)
        #expect(try parcel.readNullableBinder() == nil)
        let handle = try parcel.readNullableBinder()
        #expect(handle?.reference == BinderReference.handle(5))
        // Android 10 carries no level: the reader assumes its own (SYSTEM).
        #expect(handle?.stability == .system)
        try parcel.requireFullyRead()
    }

    struct TrailerCase: Sendable, CustomStringConvertible {
        var reader: AndroidRelease
        var isNull: Bool
        var word: UInt32
        var accepted: Bool
        var description: String {
            "\(reader) reading \(isNull ? "null" : "handle") + 0x\(String(word, radix: 16))"
        }
    }

    /// facts §3 (libs/binder/Parcel.cpp finishUnflattenBinder, Stability.cpp setRepr at
    /// android-11.0.0_r1, 12.0.0_r1, 13.0.0_r1, A16): BAD_TYPE for a null with a level, a non-null
    /// without a declared level (3, 12, 63); at 12 also for a Category of version < 1; at 13+ the
    /// word is cast to int16, so 0x0c000001 becomes 1, not a level.
    static let trailerCases: [TrailerCase] = [
        TrailerCase(reader: .android11, isNull: true, word: 0, accepted: true),
        TrailerCase(reader: .android11, isNull: true, word: 1, accepted: false),
        TrailerCase(reader: .android11, isNull: false, word: 0x0C, accepted: true),
        TrailerCase(reader: .android11, isNull: false, word: 0x0C00_0001, accepted: false),
        TrailerCase(reader: .android11, isNull: false, word: 0, accepted: false),
        TrailerCase(reader: .android12, isNull: true, word: 0x0000_0001, accepted: true),
        TrailerCase(reader: .android12, isNull: true, word: 0, accepted: false),
        TrailerCase(reader: .android12, isNull: false, word: 0x0C00_0001, accepted: true),
        TrailerCase(reader: .android12, isNull: false, word: 0x3F00_0001, accepted: true),
        TrailerCase(reader: .android12, isNull: false, word: 0x0000_0001, accepted: false),
        TrailerCase(reader: .android12, isNull: false, word: 0x0000_000C, accepted: false),
        TrailerCase(reader: .android13, isNull: true, word: 0, accepted: true),
        TrailerCase(reader: .android13, isNull: true, word: 1, accepted: false),
        TrailerCase(reader: .android13, isNull: false, word: 0x03, accepted: true),
        TrailerCase(reader: .android13, isNull: false, word: 0x0C, accepted: true),
        TrailerCase(reader: .android13, isNull: false, word: 0x3F, accepted: true),
        TrailerCase(reader: .android13, isNull: false, word: 0x0C00_0001, accepted: false),
        TrailerCase(reader: .android13, isNull: false, word: 0, accepted: false),
    ]

    @Test(arguments: ReleaseGoldenTests.trailerCases)
    func readerChecksTheTrailer(_ testCase: TrailerCase) {
        var parcel = Parcel(wireFormat: testCase.reader.wireFormat)
        if testCase.isNull {
            parcel.writeObject(FlatBinderObject(type: .binder), listed: false)
        } else {
            parcel.writeObject(FlatBinderObject(type: .handle, binderOrHandle: 5), listed: true)
        }
        parcel.writeInteger(testCase.word)
        let accepted: Bool
        do {
            _ = try parcel.readNullableBinder()
            accepted = true
        } catch {
            accepted = false
        }
        #expect(accepted == testCase.accepted)
        if !testCase.accepted { #expect(parcel.readerIndex == 0) }
    }

    /// android-10.0.0_r1 Parcel.cpp unflatten_binder reads the object only (facts §2): a newer
    /// peer's trailer is left in place and read as the next value.
    @Test func android10ReaderLeavesANewerTrailerUnread() throws {
        var parcel = Parcel(wireFormat: .android11)
        parcel.writeBinder(nil)
        parcel.wireFormat = .android10
        #expect(try parcel.readNullableBinder() == nil)
        #expect(parcel.readerIndex == 24)
        #expect(try parcel.readInt32() == 0)
    }

    // MARK: - 4. servicemanager code tables
    // facts §1 table: libs/binder/aidl/android/os/IServiceManager.aidl at each tag.

    /// android-10.0.0_r1 cmds/servicemanager/binder.h SVC_MGR_* and
    /// libs/binder/include/binder/IServiceManager.h (facts §2).
    @Test func android10Codes() {
        typealias C = Android10ServiceManager.Code
        #expect([C.getService, C.checkService, C.addService, C.listServices] == [1, 2, 3, 4])
    }

    /// android-11.0.0_r1.
    @Test func android11Codes() {
        typealias C = android.os.IServiceManagerAndroid11.Code
        #expect([C.getService, C.checkService, C.addService, C.listServices] == [1, 2, 3, 4])
        #expect([C.registerForNotifications, C.unregisterForNotifications, C.isDeclared] == [5, 6, 7])
        #expect([C.registerClientCallback, C.tryUnregisterService] == [8, 9])
    }

    /// android-12.0.0_r1.
    @Test func android12Codes() {
        typealias C = android.os.IServiceManagerAndroid12.Code
        #expect([C.getService, C.checkService, C.addService, C.listServices] == [1, 2, 3, 4])
        #expect([C.registerForNotifications, C.unregisterForNotifications, C.isDeclared] == [5, 6, 7])
        #expect([C.getDeclaredInstances, C.updatableViaApex, C.registerClientCallback] == [8, 9, 10])
        #expect([C.tryUnregisterService, C.getServiceDebugInfo] == [11, 12])
    }

    /// android-13.0.0_r1.
    @Test func android13Codes() {
        typealias C = android.os.IServiceManagerAndroid13.Code
        #expect([C.getService, C.checkService, C.addService, C.listServices] == [1, 2, 3, 4])
        #expect([C.registerForNotifications, C.unregisterForNotifications, C.isDeclared] == [5, 6, 7])
        #expect([C.getDeclaredInstances, C.updatableViaApex, C.getConnectionInfo] == [8, 9, 10])
        #expect([C.registerClientCallback, C.tryUnregisterService, C.getServiceDebugInfo] == [11, 12, 13])
    }

    /// android-14.0.0_r1, which android-15.0.0_r1…r5 share (`.android15r1`).
    @Test func android14Codes() {
        typealias C = android.os.IServiceManagerAndroid14.Code
        #expect([C.getService, C.checkService, C.addService, C.listServices] == [1, 2, 3, 4])
        #expect([C.registerForNotifications, C.unregisterForNotifications, C.isDeclared] == [5, 6, 7])
        #expect([C.getDeclaredInstances, C.updatableViaApex] == [8, 9])
        #expect([C.getUpdatableNames, C.getConnectionInfo] == [10, 11])
        #expect([C.registerClientCallback, C.tryUnregisterService, C.getServiceDebugInfo] == [12, 13, 14])
    }

    /// android-15.0.0_r6 (X:7c3bec84d0): getService2 inserted at 2.
    @Test func android15Codes() {
        typealias C = android.os.IServiceManagerAndroid15.Code
        #expect([C.getService, C.getService2, C.checkService, C.addService, C.listServices] == [1, 2, 3, 4, 5])
        #expect([C.registerForNotifications, C.unregisterForNotifications, C.isDeclared] == [6, 7, 8])
        #expect([C.getDeclaredInstances, C.updatableViaApex] == [9, 10])
        #expect([C.getUpdatableNames, C.getConnectionInfo] == [11, 12])
        #expect([C.registerClientCallback, C.tryUnregisterService, C.getServiceDebugInfo] == [13, 14, 15])
    }

    /// android-16.0.0_r1 (A16 = X:8fb273ac9d): checkService2 inserted at 4.
    @Test func android16Codes() {
        typealias C = android.os.IServiceManager.Code
        #expect([C.getService, C.getService2, C.checkService, C.checkService2, C.addService] == [1, 2, 3, 4, 5])
        #expect([C.listServices, C.registerForNotifications, C.unregisterForNotifications] == [6, 7, 8])
        #expect([C.isDeclared, C.getDeclaredInstances, C.updatableViaApex] == [9, 10, 11])
        #expect([C.getUpdatableNames, C.getConnectionInfo] == [12, 13])
        #expect([C.registerClientCallback, C.tryUnregisterService, C.getServiceDebugInfo] == [14, 15, 16])
    }

    // MARK: - 5. Replies of a detached registry

    /// checkService of a registered name with each release's code ("manager" from 11 on; the C
    /// servicemanager of 10 does not register itself). 10: a bare object (facts §2,
    /// service_manager.c bio_put_ref; in process it stays a local object). 15 (r6+): the
    /// Service union (facts §1, android-15.0.0_r6). 11–14, 15r1 and 16: Status + IBinder
    /// (facts §1: A16 restored `@nullable IBinder checkService`).
    @Test(arguments: AndroidRelease.allCases)
    func checkServiceFoundReplyPerRelease(_ release: AndroidRelease) throws {
        let registry = Self.registry(release)
        var name = "manager"
        if release == .android10 {
            name = "test.svc"
            try Self.addAndroid10(registry, name)
        }
        let reply = try Self.call(registry, Self.checkServiceCode(release)) { $0.writeString16(name) }
        let bytes = reply.dataBytes
        switch release {
        case .android10:
            try #require(bytes.count == 24)
            #expect(Array(bytes[0..<4]) == Self.binderType)
            #expect(reply.objectOffsets == [0])
        case .android15:
            // EX_NONE, non-null union, tag 0. The member is a bare IBinder at _r6/_r10 and a
            // android.os.ServiceWithMetadata from _r20 (facts §1), so only the prefix is fixed here.
            try #require(bytes.count >= 12)
            #expect(Array(bytes[0..<12]) == Self.le(0, 1, 0))
            #expect(reply.objectOffsets.count == 1)
        default:
            try #require(bytes.count == 4 + 24 + 4)
            #expect(Array(bytes[0..<4]) == Self.le(0))
            #expect(Array(bytes[4..<8]) == Self.binderType)
            #expect(Array(bytes[28..<32]) == Self.trailers(release).system)
            #expect(reply.objectOffsets == [4])
        }
    }

    /// android-13.0.0_r1: Status EX_NONE, then the binder with trailer int16 SYSTEM (PROTOCOL.md §3.12).
    @Test func android13CheckServiceReplyDecodes() throws {
        let registry = Self.registry(.android13)
        var reply = try Self.call(registry, android.os.IServiceManagerAndroid13.Code.checkService) {
            $0.writeString16("manager")
        }
        #expect(try reply.readStatus().isOK)
        let binder = try reply.readNullableBinder()
        let node = NodeIdentity(pointer: registry.binder.nodeID, cookie: registry.binder.nodeCookie)
        #expect(binder?.reference == BinderReference.local(node))
        #expect(binder?.stability == .system)
        try reply.requireFullyRead()
    }

    /// checkService("missing"). 10: `break` → reply uint32 0, 4 bytes, no object (facts §2,
    /// android-10.0.0_r1 cmds/servicemanager/service_manager.c). 11+: Status::ok() and a null
    /// binder (facts §7(a), android-14.0.0_r1 and A16 cmds/servicemanager/ServiceManager.cpp;
    /// PROTOCOL.md §3.12) with the release's null trailer (facts §3: 0x00000001 at 12, else 0).
    @Test(arguments: AndroidRelease.allCases)
    func checkServiceMissingReplyPerRelease(_ release: AndroidRelease) throws {
        let registry = Self.registry(release)
        var reply = try Self.call(registry, Self.checkServiceCode(release)) { $0.writeString16("missing") }
        let bytes = reply.dataBytes
        #expect(reply.objectOffsets.isEmpty)
        switch release {
        case .android10:
            #expect(bytes == [0, 0, 0, 0])
        case .android15:
            // org.swiftbinder.test.Union tag 0 with no service in it (facts §7(a)); the member's layout is r6 vs r20.
            try #require(bytes.count >= 12)
            #expect(Array(bytes[0..<12]) == Self.le(0, 1, 0))
        default:
            try #require(bytes.count == 32)
            #expect(Array(bytes[0..<8]) == Self.le(0) + Self.binderType)
            #expect(Array(bytes[12..<28]) == [UInt8](repeating: 0, count: 16))
            #expect(Array(bytes[28..<32]) == Self.trailers(release).null)
            #expect(try reply.readStatus().isOK)
            #expect(try reply.readNullableBinder() == nil)
        }
    }

    /// android-11.0.0_r1 listServices(DUMP_FLAG_PRIORITY_ALL): Status, int32 count, String16s
    /// (`@utf8InCpp String[]`, facts §1). The registry lists itself as "manager".
    @Test func android11ListServicesReply() throws {
        let registry = Self.registry(.android11)
        let reply = try Self.call(registry, android.os.IServiceManagerAndroid11.Code.listServices) {
            $0.writeInt32(android.os.IServiceManager.dumpFlagPriorityAll)
        }
        #expect(reply.dataBytes == Self.le(0, 1) + Self.manager)
    }

    /// A16 checkService2 (code 4): Status, non-null union (1), tag 0, non-null android.os.ServiceWithMetadata
    /// (1), size 36, binder + trailer, isLazyService false (facts §1, §7(a) A16
    /// cmds/servicemanager/ServiceManager.cpp; Parcel::writeParcelable writes 1 first, facts §4).
    @Test func android16CheckService2Reply() throws {
        let registry = Self.registry(.android16)
        let reply = try Self.call(registry, android.os.IServiceManager.Code.checkService2) { $0.writeString16("manager") }
        let bytes = reply.dataBytes
        try #require(bytes.count == 52)
        #expect(Array(bytes[0..<20]) == Self.le(0, 1, 0, 1, 36))
        #expect(Array(bytes[20..<24]) == Self.binderType)
        #expect(Array(bytes[44..<52]) == Self.le(0x0C, 0))
        #expect(reply.objectOffsets == [20])
    }

    /// android-10.0.0_r1 SVC_MGR_ADD_SERVICE: name, binder, int32 allowIsolated, int32
    /// priority; the reply is uint32 0 (facts §2).
    static func addAndroid10(_ registry: ServiceManagerService, _ name: String) throws {
        let reply = try call(registry, Android10ServiceManager.Code.addService) {
            $0.writeString16(name)
            $0.writeStrongBinder(BinderObject())
            $0.writeInt32(0)
            $0.writeInt32(android.os.IServiceManager.dumpFlagPriorityDefault)
        }
        #expect(reply.dataBytes == le(0))
    }

    /// android-10.0.0_r1 service_manager.c SVC_MGR_LIST: int32 index, int32 priority; the reply
    /// is the String16 alone, walking a list new services are prepended to (newest first, and
    /// no "manager": the C servicemanager does not register itself); past the end the handler
    /// returns -1, sent as a TF_STATUS_CODE reply (facts §2).
    @Test func android10ListServicesReplies() throws {
        let registry = Self.registry(.android10)
        try Self.addAndroid10(registry, "test.a")
        try Self.addAndroid10(registry, "test.b")
        var names: [String] = []
        for index in 0..<2 {
            var reply = try Self.call(registry, Android10ServiceManager.Code.listServices) {
                $0.writeInt32(Int32(index))
                $0.writeInt32(android.os.IServiceManager.dumpFlagPriorityAll)
            }
            names.append(try reply.readString16())
        }
        #expect(names == ["test.b", "test.a"])
        #expect(throws: BinderError.remoteStatus(Android10ServiceManager.refusal)) {
            _ = try Self.call(registry, Android10ServiceManager.Code.listServices) {
                $0.writeInt32(2)
                $0.writeInt32(android.os.IServiceManager.dumpFlagPriorityAll)
            }
        }
    }

    /// android-10.0.0_r1 service_manager.c: an interface string other than the descriptor → -1
    /// (facts §2); an Android 11 token's 'SYST' word is read as the string's length.
    @Test func android10RegistryRefusesAnAndroid11Token() throws {
        let registry = Self.registry(.android10)
        var request = Parcel(wireFormat: .android11)
        request.writeInterfaceToken(Self.descriptor)
        request.writeString16("manager")
        request.wireFormat = .android10
        #expect(throws: BinderError.remoteStatus(Android10ServiceManager.refusal)) {
            _ = try registry.binder.transact(code: Android10ServiceManager.Code.checkService, data: request)
        }
        withExtendedLifetime(registry) {}
    }
}
