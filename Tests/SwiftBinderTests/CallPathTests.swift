import SwiftBinder
import Testing

/// The shortcuts generated code takes on every call read and write exactly what the general
/// paths do, and refuse exactly what they refuse.
@Suite struct CallPathTests {
    static let descriptor = InterfaceDescriptor("org.swiftbinder.test.ICallPath")

    /// `checkInterfaceToken` (what generated stubs call) accepts the token
    /// `writeInterfaceToken` writes at every release and stops right after it.
    @Test(arguments: AndroidRelease.allCases)
    func theTokenCheckAcceptsEveryReleasesToken(_ release: AndroidRelease) throws {
        var parcel = Parcel(wireFormat: release.wireFormat)
        parcel.writeInterfaceToken(Self.descriptor)
        parcel.writeInt32(42)
        try parcel.checkInterfaceToken(Self.descriptor)
        #expect(try parcel.readInt32() == 42)
    }

    /// A token for another interface, or with another release's header word, gets the same
    /// error as `enforceInterface`, and the reader does not move.
    @Test(arguments: [
        (AndroidRelease.android16, AndroidRelease.android16, "org.swiftbinder.test.IOther"),
        (.android16, .android10, "org.swiftbinder.test.ICallPath"),
        (.android10, .android16, "org.swiftbinder.test.ICallPath"),
        (.android10, .android10, "org.swiftbinder.test.ICallPat"),
    ])
    func aMismatchIsRefusedAsEnforceInterfaceRefusesIt(
        written: AndroidRelease, reading: AndroidRelease, descriptor: String
    ) throws {
        var written16 = Parcel(wireFormat: written.wireFormat)
        written16.writeInterfaceToken(InterfaceDescriptor(descriptor))
        let bytes = written16.dataBytes
        let expected = try bytes.withUnsafeBytes { raw in
            var parcel = Parcel(wireFormat: reading.wireFormat)
            parcel.writeBytes(raw)
            return try #require(throws: ParcelError.self) { try parcel.enforceInterface(Self.descriptor) }
        }
        var parcel = Parcel(wireFormat: reading.wireFormat)
        parcel.writeBytes(bytes)
        let error = try #require(throws: ParcelError.self) { try parcel.checkInterfaceToken(Self.descriptor) }
        #expect(error == expected)
        #expect(parcel.readerIndex == 0)
    }

    /// A token cut short is refused, whichever way it is checked.
    @Test func aTruncatedTokenIsRefused() throws {
        var whole = Parcel()
        whole.writeInterfaceToken(Self.descriptor)
        var parcel = Parcel()
        parcel.writeBytes(Array(whole.dataBytes.dropLast(4)))
        #expect(throws: ParcelError.self) { try parcel.checkInterfaceToken(Self.descriptor) }
        #expect(parcel.readerIndex == 0)
    }

    /// A wire format is one packed word: each field set leaves the others as they were, and
    /// two formats are equal exactly when every field is.
    @Test func wireFormatFieldsAreIndependent() {
        var format = WireFormat.android12
        format.interfaceHeader = .vendor
        format.localStability = .vintf
        format.schedulingBits = 0
        #expect(format.stability == .category)
        #expect(format.hasInterfaceHeader)
        #expect(format.interfaceHeader == .vendor)
        #expect(format.localStability == .vintf)
        #expect(format.schedulingBits == 0)
        #expect(format != .android12)
        format.interfaceHeader = .system
        format.localStability = .system
        format.schedulingBits = 0x13
        #expect(format == .android12)
        format.stability = .none
        format.hasInterfaceHeader = false
        #expect(format == .android10)
    }

    /// The packed fields keep their extremes: a negative stability level, an all-ones header.
    @Test func wireFormatFieldsKeepTheirExtremes() {
        var format = WireFormat(stability: .level16, hasInterfaceHeader: true)
        format.localStability = StabilityLevel(rawValue: Int16.min)
        format.interfaceHeader = InterfaceHeader(rawValue: .max)
        format.schedulingBits = .max
        #expect(format.localStability.rawValue == Int16.min)
        #expect(format.interfaceHeader.rawValue == .max)
        #expect(format.schedulingBits == .max)
        #expect(format.stability == .level16 && format.hasInterfaceHeader)
    }

    /// Descriptors are the bytes on the wire: two spellings of "é" that Swift calls equal are
    /// two descriptors, each with its own encoding.
    @Test func descriptorsAreTheirBytes() {
        let composed = InterfaceDescriptor("org.example.Caf\u{E9}")
        let decomposed = InterfaceDescriptor("org.example.Cafe\u{301}")
        #expect(composed.name == decomposed.name)  // Swift's canonical equivalence
        #expect(composed != decomposed)
        var a = Parcel()
        a.writeInterfaceToken(composed)
        var b = Parcel()
        b.writeInterfaceToken(decomposed)
        #expect(a.dataBytes != b.dataBytes)
        var expected = Parcel()
        expected.writeInterfaceToken("org.example.Cafe\u{301}")
        #expect(b.dataBytes == expected.dataBytes)
    }

    /// `writeNoException` writes what libbinder's `Parcel::writeNoException` writes: a
    /// `binder::Status` of EX_NONE, which is the int32 0 and nothing more
    /// (libs/binder/Status.cpp `Status::writeToParcel`, android-14.0.0_r1).
    @Test func noExceptionIsOneZeroWord() throws {
        var parcel = Parcel()
        parcel.writeNoException()
        #expect(parcel.dataBytes == [0, 0, 0, 0])
        var general = Parcel()
        general.writeStatus(.ok)
        #expect(general.dataBytes == parcel.dataBytes)
        #expect(try parcel.readStatus().isOK)
    }
}
