import AIDLCorpus
import SwiftBinder
import Testing

/// Encodings where SwiftBinder once differed from AOSP, each pinned to the AOSP source and tag
/// the expectation comes from (frameworks/native and system/tools/aidl).
@Suite struct FidelityTests {
    /// The int32 words of a parcel's data (little-endian), for comparing layouts.
    static func words(_ parcel: borrowing Parcel) -> [UInt32] {
        let bytes: [UInt8] = parcel.dataBytes
        var words: [UInt32] = []
        var index = 0
        while index + 4 <= bytes.count {
            let b0 = UInt32(bytes[index]), b1 = UInt32(bytes[index + 1])
            let b2 = UInt32(bytes[index + 2]), b3 = UInt32(bytes[index + 3])
            words.append(b0 | b1 << 8 | b2 << 16 | b3 << 24)
            index += 4
        }
        return words
    }

    // MARK: ParcelableHolder

    /// A ParcelableHolder field is written with `writeParcelable`: the non-null marker 1, then the
    /// holder's stability (0 local), its size (0: empty). AIDL aidl_to_cpp.cpp maps the type to
    /// `Parcelable`; libs/binder/ParcelableHolder.cpp writeToParcel at android-12.0.0_r1 and
    /// android-16.0.0_r1; include/binder/Parcel.h writeData(const Parcelable&).
    @Test func aHolderFieldCarriesTheNonNullMarker() throws {
        var parcel = Parcel()
        try parcel.writeParcelable(com.example.corpus.Point())
        let words = Self.words(parcel)
        #expect(Array(words.suffix(3)) == [1, 0, 0])
        #expect(try parcel.readParcelable(com.example.corpus.Point.self) == com.example.corpus.Point())
    }

    /// Inside a `@VintfStability` parcelable the holder is VINTF (stability word 1): AIDL
    /// generate_cpp.cpp initialises the field with STABILITY_VINTF.
    @Test func aHolderInAVintfParcelableIsVintf() throws {
        #expect(com.example.corpus.VintfExtendable().extension.stability == .vintf)
        var parcel = Parcel()
        try parcel.writeParcelable(com.example.corpus.VintfExtendable())
        // marker, size, a, then the holder: marker 1, stability 1, size 0.
        #expect(Array(Self.words(parcel)[3..<6]) == [1, 1, 0])
        #expect(try parcel.readParcelable(com.example.corpus.VintfExtendable.self).extension.stability == .vintf)
    }

    /// Readers refuse a holder without the marker (UNEXPECTED_NULL, Parcel.h readParcelable);
    /// from Android 13 one of the other stability (BAD_VALUE, ParcelableHolder.cpp
    /// readFromParcel at android-13.0.0_r1); Android 12 takes the stability it is given
    /// (ParcelableHolder.cpp at android-12.0.0_r1).
    @Test func holderReadersFollowTheRelease() throws {
        var unmarked = Parcel()
        unmarked.writeInt32(0)
        #expect(throws: ParcelError.unexpectedNull(offset: 0)) { try unmarked.readParcelableHolder() }

        for release in [AndroidRelease.android13, .android16, .android12] {
            var parcel = Parcel(wireFormat: release.wireFormat)
            parcel.writeParcelableHolder(ParcelableHolder(stability: .local))
            if release == .android12 {
                #expect(try parcel.readParcelableHolder(stability: .vintf).stability == .local)
            } else {
                #expect(throws: ParcelError.invalidStability(0, offset: 4)) {
                    try parcel.readParcelableHolder(stability: .vintf)
                }
                #expect(parcel.readerIndex == 0)
            }
        }
    }

    // MARK: Fixed-size arrays

    /// `byte[N]` and byte-backed enum `[N]` are packed bytes after the count, written and read
    /// (include/binder/Parcel.h writeData/readData(std::array) at android-13.0.0_r1:
    /// int8/uint8 and 1-byte enums are "pointer-equivalent" and copied in one block); nested
    /// arrays repeat their own count; a null fixed array is −1.
    @Test func fixedByteArraysArePacked() throws {
        var value = com.example.corpus.VintfExtendable()
        value.a = 7
        value.bytes = [0x11, 0x22, 0x33]
        value.levels = [.low, .high]
        value.maybeBytes = nil
        value.grid = [[1, 2, 3], [4, 5, 6]]
        var parcel = Parcel()
        try parcel.writeParcelable(value)
        let words = Self.words(parcel)
        // marker, size, a, holder (3 words), then the arrays.
        #expect(Array(words[6...]) == [
            3, 0x0033_2211,  // byte[3]: count, packed
            2, 0x0000_01FF,  // Level[2] (byte-backed): LOW = -1, HIGH = 1, packed
            0xFFFF_FFFF,  // @nullable byte[2]: null
            2, 3, 1, 2, 3, 3, 4, 5, 6,  // int[2][3]: outer count, then each row with its count
        ])
        #expect(try parcel.readParcelable(com.example.corpus.VintfExtendable.self) == value)

        value.maybeBytes = [9, 8]
        var again = Parcel()
        try again.writeParcelable(value)
        #expect(try again.readParcelable(com.example.corpus.VintfExtendable.self).maybeBytes == [9, 8])
    }

    /// A count other than N is BAD_VALUE; a negative one is UNEXPECTED_NULL, and so is −1 where
    /// the array is not nullable (Parcel.h readData(std::array) at android-13.0.0_r1).
    @Test func fixedArrayCountsAreChecked() throws {
        let readThree = { (parcel: inout Parcel) throws(ParcelError) -> [Int8]? in
            try parcel.readNullableIntegerArray(of: Int8.self)
        }
        var wrong = Parcel()
        wrong.writeIntegerArray([Int8(1), 2])
        #expect(throws: ParcelError.fixedSizeMismatch(expected: 3, found: 2, offset: 0)) {
            try wrong.readFixedSizeArray(count: 3, readThree)
        }
        var null = Parcel()
        null.writeInt32(-1)
        #expect(throws: ParcelError.unexpectedNull(offset: 0)) { try null.readFixedSizeArray(count: 3, readThree) }
        #expect(try null.readNullableFixedSizeArray(count: 3, readThree) == nil)
        var negative = Parcel()
        negative.writeInt32(-2)
        #expect(throws: ParcelError.unexpectedNull(offset: 0)) { try negative.readNullableFixedSizeArray(count: 3, readThree) }
    }

    // MARK: Enums

    /// An enumerator a newer peer added is a value, read and written back unchanged: AOSP's C++
    /// and Rust backends make enums open (aidl generate_cpp.cpp `enum class : int8_t`,
    /// generate_rust.rs `declare_binder_enum!`), so a parcel that holds one is not refused.
    @Test func unknownEnumeratorsRoundTrip() throws {
        let newer = com.example.corpus.Level(rawValue: 7)
        #expect(!com.example.corpus.Level.allCases.contains(newer))
        #expect(newer.description == "Level(7)")
        #expect(com.example.corpus.Level.high.description == "HIGH")
        var parcel = Parcel()
        parcel.writeEnum(newer)
        parcel.writeEnumArray([com.example.corpus.Color.red, com.example.corpus.Color(rawValue: 64)])
        #expect(try parcel.readEnum(com.example.corpus.Level.self) == newer)
        #expect(try parcel.readNullableEnumArray(com.example.corpus.Color.self) == [.red, com.example.corpus.Color(rawValue: 64)])
        #expect(com.example.corpus.Color.aliasOfRed == .red)
    }

    // MARK: Binder objects

    /// Null and handle objects carry ACCEPTS_FDS and the nice-19 priority bits up to Android 12
    /// (0x113) and only the priority bits from Android 13 (0x13): libs/binder/Parcel.cpp
    /// flattenBinder at android-11.0.0_r1, android-12.0.0_r1, android-13.0.0_r1.
    @Test(arguments: AndroidRelease.allCases) func nullAndHandleFlagsFollowTheRelease(_ release: AndroidRelease) {
        var parcel = Parcel(wireFormat: release.wireFormat)
        parcel.writeBinder(nil)
        parcel.writeBinder(.handle(3))
        let words = Self.words(parcel)
        let trailer = release.wireFormat.stability == .none ? 0 : 1
        let expected: UInt32 = release < .android13 ? 0x113 : 0x13
        #expect(words[1] == expected)
        #expect(words[6 + trailer + 1] == expected)
        #expect(WireFormat.android13.disablingBackgroundScheduling().referenceFlags == 0)
    }

    /// Weak binder types are refused where a strong binder is read: unflattenBinder accepts only
    /// BINDER_TYPE_BINDER and BINDER_TYPE_HANDLE (BAD_TYPE otherwise), libs/binder/Parcel.cpp at
    /// android-13.0.0_r1 and android-16.0.0_r1.
    @Test func weakBindersAreRefused() throws {
        for type in [BinderObjectType.weakBinder, .weakHandle] {
            var parcel = Parcel()
            parcel.writeObject(FlatBinderObject(type: type, binderOrHandle: 4, cookie: 1), listed: true)
            parcel.writeInt32(0x0C)
            #expect(throws: ParcelError.unexpectedObjectType(type.rawValue, offset: 0)) { try parcel.readNullableBinder() }
        }
    }

    // MARK: Status

    /// A fat reply header is skipped to exactly its start plus its size, as
    /// Status::readFromParcel sets the position (libs/binder/Status.cpp at android-16.0.0_r1).
    @Test func replyHeadersAreSkippedByTheirExactSize() throws {
        // EX_HAS_NOTED_APPOPS_REPLY_HEADER, a header of 6 bytes, then EX_NONE at offset 10.
        var reply = Parcel()
        reply.writeInt32(ExceptionCode.hasNotedAppOpsReplyHeader.rawValue)
        reply.writeBytes([6, 0, 0, 0, 0xAA, 0xBB, 0, 0, 0, 0, 0, 0])
        #expect(try reply.readStatus().isOK)
        #expect(reply.readerIndex == 14)
    }

    /// EX_TRANSACTION_FAILED never reaches the wire: Status::writeToParcel returns the error and
    /// the call fails with it (libs/binder/Status.cpp at android-13.0.0_r1).
    @Test func transactionFailedIsNotWritten() {
        var reply = Parcel()
        #expect(throws: StatusCode.failedTransaction) {
            try reply.writeReplyStatus(Status(exception: .transactionFailed, message: "x"))
        }
        #expect(reply.dataSize == 0)
    }
}

/// Per-release answers of libbinder's BBinder, generated stubs and servicemanager, in process.
@Suite struct ReleaseAnswerTests {
    final class Plain: BinderObject, @unchecked Sendable {}

    /// Android 10's BBinder::transact answered PING with an int32 (pingBinder()) and had no
    /// EXTENSION or DEBUG_PID codes (libs/binder/Binder.cpp at android-10.0.0_r1); from Android 11
    /// PING's reply is empty.
    @Test func android10ObjectsAnswerMetaCodesAsAndroid10() throws {
        let object = Plain()
        let ping10 = try object.transact(code: ReservedTransactionCode.ping, data: Parcel(wireFormat: .android10))
        #expect(ping10.dataBytes == [0, 0, 0, 0])
        let ping11 = try object.transact(code: ReservedTransactionCode.ping, data: Parcel(wireFormat: .android11))
        #expect(ping11.dataSize == 0)
        #expect(throws: BinderError.remoteStatus(.unknownTransaction)) {
            _ = try object.transact(code: ReservedTransactionCode.debugPID, data: Parcel(wireFormat: .android10))
        }
        #expect(throws: BinderError.remoteStatus(.unknownTransaction)) {
            _ = try object.transact(code: ReservedTransactionCode.extension, data: Parcel(wireFormat: .android10))
        }
        #expect(try object.transact(code: ReservedTransactionCode.debugPID, data: Parcel(wireFormat: .android11)).dataSize == 4)
    }

    /// A ParcelableHolder is kept as bytes, so one that carries a binder object is refused, not
    /// sent on without it.
    @Test func aHolderWithObjectsIsRefused() throws {
        var parcel = Parcel()
        parcel.writeInt32(1)
        parcel.writeInt32(0)
        parcel.writeInt32(Int32(FlatBinderObject.size + 4))
        parcel.writeBinder(.handle(3))
        #expect(throws: ParcelError.self) { try parcel.readParcelableHolder() }
        #expect(parcel.readerIndex == 0)
    }

    /// servicemanager's refusals carry each release's message (cmds/servicemanager/
    /// ServiceManager.cpp): none at android-11.0.0_r1 and android-12.0.0_r1, addService's at
    /// android-13.0.0_r1 ("Invalid service name"), android-14.0.0_r1's, and from android-15.0.0_r6
    /// "SELinux denied for service." for denied adds.
    @Test func refusalsCarryEachReleasesMessage() throws {
        let expected: [AndroidRelease: String?] = [
            .android11: nil, .android12: nil, .android13: "Invalid service name", .android14: "Invalid service name.",
            .android16: "Invalid service name.",
        ]
        for (release, message) in expected {
            let registry = ServiceManagerService(
                detachedWithCaller: { CallerIdentity(pid: 1, euid: 0, securityContext: nil, flags: []) }, release: release)
            let error = #expect(throws: Status.self) { try registry.addService(name: "no spaces", service: Plain(), allowIsolated: false, dumpPriority: 8) }
            #expect(error == Status(exception: .illegalArgument, message: message), "\(release)")
        }
        let denied = [AndroidRelease.android14: "SELinux denied.", .android15: "SELinux denied for service."]
        for (release, message) in denied {
            let registry = ServiceManagerService(
                detachedWithCaller: { CallerIdentity(pid: 1, euid: 1000, securityContext: nil, flags: []) }, release: release)
            let error = #expect(throws: Status.self) { try registry.addService(name: "x", service: Plain(), allowIsolated: false, dumpPriority: 8) }
            #expect(error == Status(exception: .security, message: message), "\(release)")
        }
    }

    /// Android 11 kept the first registration of a name (mNameToService.emplace at
    /// android-11.0.0_r1); later releases overwrite it.
    @Test func android11KeepsTheFirstRegistration() throws {
        for (release, keepsFirst) in [(AndroidRelease.android11, true), (.android12, false)] {
            let registry = ServiceManagerService(
                detachedWithCaller: { CallerIdentity(pid: 1, euid: 0, securityContext: nil, flags: []) }, release: release)
            let first = Plain()
            let second = Plain()
            try registry.addService(name: "test.name", service: first, allowIsolated: false, dumpPriority: 8)
            try registry.addService(name: "test.name", service: second, allowIsolated: false, dumpPriority: 8)
            let found: (any IBinder)? = try registry.checkService(name: "test.name")
            #expect(found === (keepsFirst ? first : second), "\(release)")
        }
    }

    /// From Android 13 generated stubs refuse unread request data with EX_BAD_PARCELABLE naming
    /// the size (Parcel::enforceNoDataAvail); android-12.0.0_r1 has no such check.
    @Test func unreadRequestDataIsRefusedFromAndroid13() throws {
        for release in [AndroidRelease.android12, .android13] {
            let registry = ServiceManagerService(
                detachedWithCaller: { CallerIdentity(pid: 1, euid: 0, securityContext: nil, flags: []) }, release: release)
            var request = Parcel(wireFormat: release.wireFormat)
            request.writeInterfaceToken(ServiceManagerService.descriptor)
            request.writeString16("manager")
            request.writeInt32(42)
            let code = release == .android12 ? android.os.IServiceManagerAndroid12.Code.checkService : android.os.IServiceManagerAndroid13.Code.checkService
            var reply = try registry.binder.transact(code: code, data: request)
            let status = try reply.readStatus()
            if release == .android12 {
                #expect(status.isOK)
            } else {
                #expect(status == Status(exception: .badParcelable, message: "Parcel data not fully consumed, unread size: 4"))
            }
            withExtendedLifetime(registry) {}
        }
    }
}
