import AIDLTestInterfaces
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The checks of AOSP's AIDL integration-test client (system/tools/aidl/tests/
/// aidl_test_client_*.cpp at android-14.0.0_r21), ported to Swift, against `aidl-test-service`
/// registered with servicemanager: the Swift service must answer as AOSP's C++ service does.
/// The service reports the Rust backend (it has no ICppJavaTests), so the client's C++/Java-only
/// checks are left out, as AOSP's client leaves them out for Rust.
@Suite(.requiresBinder) struct AOSPTestClientTests {
    typealias Tests = android.aidl.tests

    final class Setup {
        /// servicemanager on a device of its own, and this process (with a looper: the service
        /// calls callbacks back), as the servicemanager tests set them up.
        let registry: ServiceManagerTests.Setup
        let server: ChildProcess
        var manager: ServiceManager { registry.manager }

        init(_ label: String) throws {
            registry = try ServiceManagerTests.Setup(label, release: .android16)
            server = try ChildProcess(
                ChildProcess.builtProduct("aidl-test-service"), ["--device", registry.device.path.string],
                environment: ["SWIFTBINDER_ANDROID_RELEASE": "android16"])
            let ready = try server.readLine() ?? ""
            guard ready.hasPrefix("aidl-test-service: serving") else {
                throw BinderError.unsupported("aidl-test-service said \(ready)")
            }
        }

        func service(_ name: String) throws -> any IBinder {
            guard let binder = try manager.checkService(name) else { throw BinderError.unsupported("\(name) is not registered") }
            return binder
        }

        var testService: Tests.ITestService.Proxy {
            get throws { Tests.ITestService.Proxy(try service(Tests.ITestService.descriptor)) }
        }

        deinit {
            kill(server.pid, SIGTERM)
            _ = try? server.waitForExit()
        }
    }

    /// Every service AOSP's C++ service registers is there, under its descriptor, and says so.
    @Test func theServicesAreRegisteredUnderTheirDescriptors() throws {
        let setup = try Setup("aosp-names")
        defer { withExtendedLifetime(setup) {} }
        for name in AOSPTestServices.names {
            #expect(try setup.service(name).interfaceDescriptor() == name)
        }
        #expect(try setup.manager.listServices().filter { $0.hasPrefix("android.aidl.") }.sorted() == AOSPTestServices.names.sorted())
    }

    // MARK: aidl_test_client_primitives.cpp

    @Test func primitivesAndTheirConstantsComeBack() throws {
        let setup = try Setup("aosp-prim")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        #expect(try service.RepeatBoolean(token: true) == true)
        #expect(try service.RepeatByte(token: -128) == -128)
        #expect(try service.RepeatChar(token: UInt16(UInt8(ascii: "A"))) == 65)
        #expect(try service.RepeatInt(token: 1 << 30) == 1 << 30)
        #expect(try service.RepeatLong(token: 1 << 60) == 1 << 60)
        #expect(try service.RepeatFloat(token: 1.0 / 3.0) == 1.0 / 3.0)
        #expect(try service.RepeatDouble(token: 1.0 / 3.0) == 1.0 / 3.0)
        #expect(try service.RepeatByte(token: Tests.ITestService.byteTestConstant) == 17)
        let ints: [Int32] = [
            Tests.ITestService.testConstant, Tests.ITestService.testConstant2, Tests.ITestService.testConstant3,
            Tests.ITestService.testConstant4, Tests.ITestService.testConstant5, Tests.ITestService.testConstant6,
            Tests.ITestService.testConstant7, Tests.ITestService.testConstant8, Tests.ITestService.testConstant9,
            Tests.ITestService.testConstant10, Tests.ITestService.testConstant11, Tests.ITestService.testConstant12,
        ]
        #expect(ints == [42, -42, 42, 4, -4, 0, 0, 0, 0x56, 0xa5, 0xFA, -1])
        for value in ints { #expect(try service.RepeatInt(token: value) == value) }
        #expect(try service.RepeatLong(token: Tests.ITestService.longTestConstant) == 1 << 40)
        let floats: [Float] = [
            Tests.ITestService.floatTestConstant, Tests.ITestService.floatTestConstant2,
            Tests.ITestService.floatTestConstant3, Tests.ITestService.floatTestConstant4,
            Tests.ITestService.floatTestConstant5, Tests.ITestService.floatTestConstant6,
            Tests.ITestService.floatTestConstant7,
        ]
        for value in floats { #expect(try service.RepeatFloat(token: value).bitPattern == value.bitPattern) }
        #expect(Tests.ITestService.floatTestConstant6.sign == .minus)  // -0.0f
        let doubles: [Double] = [
            Tests.ITestService.doubleTestConstant, Tests.ITestService.doubleTestConstant2,
            Tests.ITestService.doubleTestConstant3, Tests.ITestService.doubleTestConstant4,
            Tests.ITestService.doubleTestConstant5, Tests.ITestService.doubleTestConstant6,
            Tests.ITestService.doubleTestConstant7, Tests.ITestService.doubleTestConstant8,
            Tests.ITestService.doubleTestConstant9,
        ]
        for value in doubles { #expect(try service.RepeatDouble(token: value).bitPattern == value.bitPattern) }
        // A float literal initialising a double is the double of its digits: AOSP's generated
        // C++ has DOUBLE_TEST_CONSTANT8 = 1.100000 (golden_output, ITestService.h at android-14.0.0_r21).
        #expect(Tests.ITestService.doubleTestConstant8 == 1.1)
    }

    @Test func stringsComeBackUnchanged() throws {
        let setup = try Setup("aosp-strings")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        // U+10437 (a surrogate pair in UTF-16) and U+20AC, embedded NULs, the empty string.
        let strings = [
            "Deliver us from evil.", "", "\0\0", "\u{10437}\u{20AC}", Tests.ITestService.stringTestConstant,
            Tests.ITestService.stringTestConstant2,
        ]
        for string in strings { #expect(try service.RepeatString(token: string) == string) }
        // aidl_test_client_utf8_strings.cpp: the same over @utf8InCpp, and nulls.
        for string in strings { #expect(try service.RepeatUtf8CppString(token: string) == string) }
        #expect(try service.RepeatNullableUtf8CppString(token: nil) == nil)
        #expect(try service.RepeatNullableUtf8CppString(token: "héllo") == "héllo")
        var repeated: [String?]? = nil
        let input: [String?] = ["a", nil, "c"]
        #expect(try service.ReverseNullableUtf8CppString(input: input, repeated: &repeated) == ["c", nil, "a"])
        #expect(repeated == input)
        var repeatedList: [String?]? = []
        #expect(try service.ReverseUtf8CppStringList(input: nil, repeated: &repeatedList) == nil)
        #expect(repeatedList == nil)
    }

    @Test func arraysComeBackReversed() throws {
        let setup = try Setup("aosp-arrays")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        func check<T: Equatable>(_ input: [T], _ call: ([T], inout [T]) throws -> [T]) throws {
            var repeated = input.map { $0 }  // preallocated, as the client does for Java servers
            let reversed = try call(input, &repeated)
            #expect(repeated == input)
            #expect(reversed == input.reversed())
        }
        try check([true, false, false]) { try service.ReverseBoolean(input: $0, repeated: &$1) }
        try check([255, 0, 127] as [UInt8]) { try service.ReverseByte(input: $0, repeated: &$1) }
        try check([65, 66, 67] as [UInt16]) { try service.ReverseChar(input: $0, repeated: &$1) }
        try check([1, 2, 3] as [Int32]) { try service.ReverseInt(input: $0, repeated: &$1) }
        try check([-1, 0, 1 << 60] as [Int64]) { try service.ReverseLong(input: $0, repeated: &$1) }
        try check([-0.3, -0.7, 8.0] as [Float]) { try service.ReverseFloat(input: $0, repeated: &$1) }
        try check([1.0 / 3.0, 1.0 / 7.0, 42.0]) { try service.ReverseDouble(input: $0, repeated: &$1) }
        try check(["f", "a", "b"]) { try service.ReverseString(input: $0, repeated: &$1) }
        try check([.foo, .bar, .bar] as [Tests.ByteEnum]) { try service.ReverseByteEnum(input: $0, repeated: &$1) }
        try check(Tests.ByteEnum.allCases) { try service.ReverseByteEnum(input: $0, repeated: &$1) }
        try check([.foo, .bar, .bar] as [Tests.IntEnum]) { try service.ReverseIntEnum(input: $0, repeated: &$1) }
        try check([.foo, .bar, .bar] as [Tests.LongEnum]) { try service.ReverseLongEnum(input: $0, repeated: &$1) }
        try check(["f", "a", "b"]) { try service.ReverseStringList(input: $0, repeated: &$1) }
    }

    /// The constant expressions of ITestService (A1…A57) all evaluate to 1, as AOSP's aidl
    /// evaluates them.
    @Test func constantExpressionsAreOne() {
        let values: [Int32] = [
            Tests.ITestService.a1, Tests.ITestService.a2, Tests.ITestService.a3, Tests.ITestService.a4,
            Tests.ITestService.a5, Tests.ITestService.a6, Tests.ITestService.a7, Tests.ITestService.a8,
            Tests.ITestService.a9, Tests.ITestService.a10, Tests.ITestService.a11, Tests.ITestService.a12,
            Tests.ITestService.a13, Tests.ITestService.a14, Tests.ITestService.a15, Tests.ITestService.a16,
            Tests.ITestService.a17, Tests.ITestService.a18, Tests.ITestService.a19, Tests.ITestService.a20,
            Tests.ITestService.a21, Tests.ITestService.a22, Tests.ITestService.a23, Tests.ITestService.a24,
            Tests.ITestService.a25, Tests.ITestService.a26, Tests.ITestService.a27, Tests.ITestService.a28,
            Tests.ITestService.a29, Tests.ITestService.a30, Tests.ITestService.a31, Tests.ITestService.a32,
            Tests.ITestService.a33, Tests.ITestService.a34, Tests.ITestService.a35, Tests.ITestService.a36,
            Tests.ITestService.a37, Tests.ITestService.a38, Tests.ITestService.a39, Tests.ITestService.a40,
            Tests.ITestService.a41, Tests.ITestService.a42, Tests.ITestService.a43, Tests.ITestService.a44,
            Tests.ITestService.a45, Tests.ITestService.a46, Tests.ITestService.a47, Tests.ITestService.a48,
            Tests.ITestService.a49, Tests.ITestService.a50, Tests.ITestService.a51, Tests.ITestService.a52,
            Tests.ITestService.a53, Tests.ITestService.a54, Tests.ITestService.a55, Tests.ITestService.a56,
            Tests.ITestService.a57,
        ]
        #expect(values == Array(repeating: 1, count: 57))
    }

    // MARK: Interfaces (primitives.cpp binderArray, aidl_test_client.cpp)

    @Test func namedCallbacksAreSharedAndVerified() throws {
        let setup = try Setup("aosp-callbacks")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        let names = ["Larry", "Curly", "Moe"]
        let got = try service.GetInterfaceArray(names: names)
        #expect(try service.VerifyNamesWithInterfaceArray(services: got, names: names))
        #expect(try got.map { try $0.GetName() } == names)
        // The same name is the same object.
        let larry = try service.GetOtherTestService(name: "Larry")
        #expect(larry.asBinder() === got[0].asBinder())
        #expect(try service.VerifyName(service: larry, name: "Larry"))
        #expect(try !service.VerifyName(service: larry, name: "Moe"))

        let withNull: [String?] = ["Larry", nil, "Moe"]
        let nullable = try #require(try service.GetNullableInterfaceArray(names: withNull))
        let middleIsNull = nullable.count == 3 && nullable[1] == nil
        #expect(middleIsNull)
        #expect(try nullable[0]?.GetName() == "Larry" && nullable[2]?.GetName() == "Moe")
        #expect(try service.VerifyNamesWithNullableInterfaceArray(services: nullable, names: withNull))
        #expect(try !service.VerifyNamesWithNullableInterfaceArray(services: nullable, names: ["Larry", "Curly", "Moe"]))
        #expect(try service.VerifyNamesWithNullableInterfaceArray(services: nil, names: nil))
        #expect(try !service.VerifyNamesWithNullableInterfaceArray(services: nil, names: withNull))
        let list = try #require(try service.GetInterfaceList(names: withNull))
        #expect(try service.VerifyNamesWithInterfaceList(services: list, names: withNull))
        #expect(try service.GetNullableInterfaceArray(names: nil)?.isEmpty == true)

        // A callback of this process, stored and checked by the service through calls back here.
        final class Local: Tests.INamedCallback.Service {
            func GetName() throws -> String { "local" }
        }
        let local = Local()
        #expect(try !service.SetOtherTestService(name: "local", service: local))
        #expect(try service.SetOtherTestService(name: "local", service: local))
        #expect(try service.VerifyName(service: local, name: "local"))
        #expect(try service.GetOtherTestService(name: "local").GetName() == "local")

        #expect(try service.GetCallback(return_null: true) == nil)
        #expect(try service.GetCallback(return_null: false)?.GetName() == "ABT: always be testing")
    }

    @Test func bindersGoThroughAndComeBackReversed() throws {
        let setup = try Setup("aosp-binders")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        let objects: [any IBinder] = [BinderObject(), BinderObject(), BinderObject()]
        try service.TakesAnIBinder(input: objects[0])
        try service.TakesANullableIBinder(input: nil)
        try service.TakesAnIBinderList(input: objects)
        try service.TakesANullableIBinderList(input: [objects[0], nil])
        var repeated: [any IBinder] = []
        let reversed = try service.ReverseIBinderArray(input: objects, repeated: &repeated)
        #expect(zip(repeated, objects).allSatisfy { $0 === $1 })
        #expect(zip(reversed, objects.reversed()).allSatisfy { $0 === $1 })
        var repeatedNullable: [(any IBinder)?]? = nil
        let nullable = try #require(try service.ReverseNullableIBinderArray(input: [objects[0], nil], repeated: &repeatedNullable))
        #expect(nullable[0] == nil && nullable[1] === objects[0])
        #expect(try service.ReverseNullableIBinderArray(input: nil, repeated: &repeatedNullable) == nil)
    }

    // MARK: aidl_test_client_nullables.cpp

    @Test func nullablesComeBackAsSent() throws {
        let setup = try Setup("aosp-nullables")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        #expect(try service.RepeatNullableIntArray(input: nil) == nil)
        #expect(try service.RepeatNullableIntArray(input: [1, 2, 3]) == [1, 2, 3])
        #expect(try service.RepeatNullableByteEnumArray(input: [.foo, .bar]) == [.foo, .bar])
        #expect(try service.RepeatNullableIntEnumArray(input: nil) == nil)
        #expect(try service.RepeatNullableLongEnumArray(input: [.bar]) == [.bar])
        #expect(try service.RepeatNullableString(input: nil) == nil)
        #expect(try service.RepeatNullableString(input: "Blooob") == "Blooob")
        #expect(try service.RepeatNullableStringList(input: nil) == nil)
        #expect(try service.RepeatNullableStringList(input: ["Wat", nil, "Blooob"]) == ["Wat", nil, "Blooob"])
        #expect(try service.RepeatNullableParcelable(input: nil) == nil)
        #expect(try service.RepeatNullableParcelable(input: Tests.ITestService.Empty()) == Tests.ITestService.Empty())
        #expect(try service.RepeatNullableParcelableArray(input: [Tests.ITestService.Empty(), nil])?.count == 2)
        #expect(try service.RepeatNullableParcelableList(input: [nil, Tests.ITestService.Empty()])?[0] == nil)
    }

    // MARK: aidl_test_client_service_exceptions.cpp, aidl_test_client.cpp

    @Test func errorsReachTheCallerAsAOSPReportsThem() throws {
        let setup = try Setup("aosp-errors")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        for code: Int32 in [-1, 0, 1] {
            let error = #expect(throws: RemoteError.self) { try service.ThrowServiceException(code: code) }
            #expect(error == .exception(.serviceSpecific(code)))
        }
        // The C++ service answers UnimplementedMethod (code 1) with UNKNOWN_TRANSACTION.
        let error = #expect(throws: RemoteError.self) { _ = try service.UnimplementedMethod(arg: 1) }
        #expect(error == .transport(.remoteStatus(.unknownTransaction)))
        // Its failure is not reported to a oneway caller.
        try service.TestOneway()
        try service.Deprecated()
        #expect(try service.RepeatInt(token: 7) == 7)  // and it still serves
    }

    // MARK: aidl_test_client_file_descriptors.cpp

    @Test func descriptorsComeBackToTheSameFile() throws {
        let setup = try Setup("aosp-fds")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.writeEnd.close() }
        let write = SharedFileDescriptor(pipe.writeEnd)
        let returned = try service.RepeatParcelFileDescriptor(read: write)
        // Written through the descriptor that came back, read from the pipe's other end.
        _ = try returned.fileDescriptor.writeAll("Hello".utf8)
        var bytes = [UInt8](repeating: 0, count: 5)
        _ = try bytes.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) }
        #expect(bytes == Array("Hello".utf8))
        try pipe.readEnd.close()

        let pipes = try (0..<2).map { _ in try FileDescriptor.pipe() }
        defer { for pipe in pipes { try? pipe.readEnd.close(); try? pipe.writeEnd.close() } }
        var repeated: [SharedFileDescriptor] = []
        let reversed = try service.ReverseParcelFileDescriptorArray(
            input: try pipes.map { SharedFileDescriptor(try $0.writeEnd.duplicate()) },
            repeated: &repeated)
        #expect(repeated.count == 2 && reversed.count == 2)
        // reversed[0] writes into the second pipe.
        _ = try reversed[0].fileDescriptor.writeAll("1".utf8)
        var byte: [UInt8] = [0]
        _ = try byte.withUnsafeMutableBytes { try pipes[1].readEnd.read(into: $0) }
        #expect(byte == [UInt8(ascii: "1")])
    }

    // MARK: aidl_test_client_parcelables.cpp

    @Test func structuredParcelableIsFilledOutAsAOSPDoes() throws {
        let setup = try Setup("aosp-parcelable")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        var parcelable = Tests.StructuredParcelable()
        parcelable.f = 17
        try service.FillOutStructuredParcelable(parcel: &parcelable)
        #expect(parcelable.shouldContainThreeFs == [17, 17, 17])
        #expect(parcelable.shouldBeJerry == "Jerry")
        #expect(parcelable.shouldBeByteBar == .bar && parcelable.shouldBeIntBar == .bar && parcelable.shouldBeLongBar == .bar)
        #expect(parcelable.shouldContainTwoByteFoos == [.foo, .foo])
        #expect(parcelable.shouldContainTwoIntFoos == [.foo, .foo])
        #expect(parcelable.shouldContainTwoLongFoos == [.foo, .foo])
        // The defaults travel too.
        #expect(parcelable.stringDefaultsToFoo == "foo")
        #expect(parcelable.byteDefaultsToFour == 4 && parcelable.intDefaultsToFive == 5)
        #expect(parcelable.longDefaultsToNegativeSeven == -7 && parcelable.booleanDefaultsToTrue)
        #expect(parcelable.charDefaultsToC == UInt16(UInt8(ascii: "C")))
        #expect(parcelable.floatDefaultsToPi == 3.14 && parcelable.doubleWithDefault == -3.14e17)
        #expect(parcelable.arrayDefaultsTo123 == [1, 2, 3] && parcelable.arrayDefaultsToEmpty.isEmpty)
        #expect(parcelable.checkDoubleFromFloat == 3.14)  // AOSP's C++: 3.140000, a double
        #expect(parcelable.checkStringArray1 == ["a", "b"] && parcelable.checkStringArray2 == ["a", "b"])
        #expect(parcelable.int32_min == .min && parcelable.int32_max == .max && parcelable.int64_max == .max)
        #expect(parcelable.hexInt32_neg_1 == -1)
        // Arrays of constant expressions, every one true (1) as AOSP's aidl evaluates them.
        #expect(!parcelable.int8_1.isEmpty && parcelable.int8_1.allSatisfy { $0 == 1 })
        #expect(!parcelable.int32_1.isEmpty && parcelable.int32_1.allSatisfy { $0 == 1 })
        #expect(!parcelable.int64_1.isEmpty && parcelable.int64_1.allSatisfy { $0 == 1 })
        #expect(parcelable.hexInt32_pos_1 == 1 && parcelable.hexInt64_pos_1 == 1)
        for value in [
            parcelable.const_exprs_1, parcelable.const_exprs_2, parcelable.const_exprs_3, parcelable.const_exprs_4,
            parcelable.const_exprs_5, parcelable.const_exprs_6, parcelable.const_exprs_7, parcelable.const_exprs_8,
            parcelable.const_exprs_9, parcelable.const_exprs_10,
        ] {
            #expect(value.rawValue == 1)
        }
        #expect(parcelable.addString1 == "hello world!" && parcelable.addString2 == "The quick brown fox jumps over the lazy dog.")
        #expect(parcelable.shouldSetBit0AndBit2 == 5)
        // (Union holds an IBinder case, so it is matched rather than compared.)
        guard case .ns(let numbers)? = parcelable.u, case .s(let string)? = parcelable.shouldBeConstS1 else {
            Issue.record("u is \(String(describing: parcelable.u)), shouldBeConstS1 \(String(describing: parcelable.shouldBeConstS1))")
            return
        }
        #expect(numbers == [1, 2, 3])
        #expect(string == "a string constant in union")
        #expect(parcelable.defaultWithFoo == .foo)
    }

    @Test func extensionsListsUnionsAndCirclesComeBackAsAOSPs() throws {
        let setup = try Setup("aosp-parcelables")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        // RepeatExtendableParcelable copies a, b and the MyExt extension only.
        var ext = ParcelableHolder()
        var extParcel = Parcel()
        try extParcel.writeParcelable(Tests.`extension`.MyExt(a: 42, b: "EXT"))
        ext.payload = extParcel.dataBytes
        var ep = Tests.`extension`.ExtendableParcelable()
        ep.a = 1
        ep.b = "a"
        ep.c = 42
        ep.ext = ext
        var ep2 = Tests.`extension`.ExtendableParcelable()
        try service.RepeatExtendableParcelable(ep: ep, ep2: &ep2)
        #expect(ep2.a == 1 && ep2.b == "a" && ep2.c == Tests.`extension`.ExtendableParcelable().c)
        #expect(ep2.ext.payload == ext.payload)

        // ReverseList: 0 → 1 → … → 9 becomes 9 → … → 0.
        var list: Tests.RecursiveList?
        for value in (0..<10).reversed() { list = Tests.RecursiveList(value: Int32(value), next: list) }
        var reversed: Tests.RecursiveList? = try service.ReverseList(list: list!)
        var values: [Int32] = []
        while let node = reversed {
            values.append(node.value)
            reversed = node.next
        }
        #expect(values == Array((0..<10).reversed()))

        let unions: [Tests.Union] = [.ns([]), .n(0), .m(0), .s(""), .ibinder(nil), .ss([]), .be(.foo)]
        #expect(try service.GetUnionTags(input: unions) == [.ns, .n, .m, .s, .ibinder, .ss, .be])

        var circular = Tests.CircularParcelable()
        let other = try service.GetCircular(cp: &circular)
        #expect(circular.testService != nil)
        #expect(try other.GetTestService() != nil)
        #expect(try service.getBackendType() == .rust)
        #expect(try service.GetCppJavaTests() == nil)
    }

    // MARK: aidl_test_client_renamed_interface.cpp

    @Test func renamedInterfacesKeepTheOldDescriptor() throws {
        let setup = try Setup("aosp-renamed")
        defer { withExtendedLifetime(setup) {} }
        let service = try setup.testService
        let old = try service.GetOldNameInterface()
        let new = try service.GetNewNameInterface()
        #expect(try old.asBinder().interfaceDescriptor() == "android.aidl.tests.IOldName")
        #expect(try new.asBinder().interfaceDescriptor() == "android.aidl.tests.IOldName")
        #expect(try old.RealName() == "OldName")
        #expect(try new.RealName() == "NewName")
        // Each is the other on the wire: the same descriptor, the same code.
        #expect(try Tests.IOldName.Proxy(new.asBinder()).RealName() == "NewName")
        #expect(try Tests.INewName.Proxy(old.asBinder()).RealName() == "OldName")
    }

    // MARK: aidl_test_client_versioned_interface.cpp

    @Test func theVersionedServiceIsVersionOne() throws {
        let setup = try Setup("aosp-versioned")
        defer { withExtendedLifetime(setup) {} }
        let versioned = android.aidl.versioned.tests.IFooInterface.Proxy(
            try setup.service(android.aidl.versioned.tests.IFooInterface.descriptor))
        #expect(try versioned.getInterfaceVersion() == 1)
        #expect(try versioned.getInterfaceHash() == "9e7be1859820c59d9d55dd133e71a3687b5d2e5b")
        try versioned.originalApi()
        #expect(try versioned.acceptUnionAndReturnString(u: .intNum(42)) == "42")
        var inoutFoo = android.aidl.versioned.tests.Foo()
        var outFoo = android.aidl.versioned.tests.Foo()
        #expect(try versioned.ignoreParcelablesAndRepeatInt(inFoo: .init(), inoutFoo: &inoutFoo, outFoo: &outFoo, value: 43) == 43)
        #expect(try versioned.returnsLengthOfFooArray(foos: [.init(), .init(), .init()]) == 3)
        // Version 2's newApi (code 5) is not there.
        let error = #expect(throws: BinderError.self) {
            _ = try versioned.binder.transact(code: ReservedTransactionCode.firstCall + 4, data: versioned.binder.prepareTransaction())
        }
        #expect(error == .remoteStatus(.unknownTransaction))
    }

    // MARK: aidl_test_client_loggable_interface.cpp, _nested.cpp

    @Test func loggableAndNestedServicesAnswerAsAOSPs() throws {
        let setup = try Setup("aosp-loggable")
        defer { withExtendedLifetime(setup) {} }
        let loggable = android.aidl.loggable.ILoggableInterface.Proxy(
            try setup.service(android.aidl.loggable.ILoggableInterface.descriptor))
        var bools = [true]
        var bytes: [UInt8] = [1]
        var chars: [UInt16] = [65]
        var ints: [Int32] = [1]
        var longs: [Int64] = [1]
        var floats: [Float] = [1]
        var doubles: [Double] = [1]
        var strings = ["a"]
        var list = ["b"]
        var pfd: SharedFileDescriptor? = nil
        var pfds: [SharedFileDescriptor] = []
        let answer = try loggable.LogThis(
            boolValue: true, boolArray: &bools, byteValue: 41, byteArray: &bytes, charValue: 66, charArray: &chars,
            intValue: 42, intArray: &ints, longValue: 43, longArray: &longs, floatValue: 44, floatArray: &floats,
            doubleValue: 45, doubleArray: &doubles, stringValue: "def", stringArray: &strings, listValue: &list,
            dataValue: android.aidl.loggable.Data(), binderValue: nil, pfdValue: &pfd, pfdArray: &pfds)
        #expect(answer == ["loggable"])
        #expect(bools == [true] && strings == ["a"] && list == ["b"])  // inout, left as they were

        typealias Nested = android.aidl.tests.nested
        let nested = Nested.INestedService.Proxy(try setup.service(Nested.INestedService.descriptor))
        #expect(try nested.flipStatus(p: Nested.ParcelableWithNested(status: .ok)).status == .notOk)
        #expect(try nested.flipStatus(p: Nested.ParcelableWithNested(status: .notOk)).status == .ok)
        // The service calls this process back with the flipped status.
        final class Done: Nested.INestedService.ICallback.Service, @unchecked Sendable {
            var status: Nested.ParcelableWithNested.Status?
            func done(status: Nested.ParcelableWithNested.Status) throws { self.status = status }
        }
        let done = Done()
        try nested.flipStatusWithCallback(status: .notOk, cb: done)
        #expect(done.status == .ok)
    }

    // MARK: Fixed-size arrays (aidl_test_client_parcelables.cpp, FixedSizeArrayTest)

    @Test func fixedSizeArraysComeBack() throws {
        let setup = try Setup("aosp-fixed")
        defer { withExtendedLifetime(setup) {} }
        typealias Example = android.aidl.fixedsizearray.FixedSizeArrayExample
        let service = Example.IRepeatFixedSizeArray.Proxy(try setup.service(Example.IRepeatFixedSizeArray.descriptor))
        var bytes: [UInt8] = []
        #expect(try service.RepeatBytes(input: [1, 2, 3], repeated: &bytes) == [1, 2, 3])
        #expect(bytes == [1, 2, 3])
        var ints: [Int32] = []
        #expect(try service.RepeatInts(input: [1, 2, 3], repeated: &ints) == [1, 2, 3])
        let objects: [any IBinder] = [BinderObject(), BinderObject(), BinderObject()]
        var binders: [any IBinder] = []
        let back = try service.RepeatBinders(input: objects, repeated: &binders)
        #expect(zip(back, objects).allSatisfy { $0 === $1 } && zip(binders, objects).allSatisfy { $0 === $1 })
        var parcelables: [Example.IntParcelable] = []
        let sent = (1...3).map { Example.IntParcelable(value: Int32($0)) }
        #expect(try service.RepeatParcelables(input: sent, repeated: &parcelables) == sent)
        var grid: [[Int32]] = []
        #expect(try service.Repeat2dInts(input: [[1, 2, 3], [4, 5, 6]], repeated: &grid) == [[1, 2, 3], [4, 5, 6]])
        #expect(grid == [[1, 2, 3], [4, 5, 6]])
        // A wrong size is refused before anything is sent.
        #expect(throws: RemoteError.self) { _ = try service.RepeatInts(input: [1, 2], repeated: &ints) }
    }

    // MARK: aidl_test_client_builtin_transactions.cpp

    @Test func builtInTransactionsAreAnswered() throws {
        let setup = try Setup("aosp-builtin")
        defer { withExtendedLifetime(setup) {} }
        let binder = try setup.service(Tests.ITestService.descriptor)
        try binder.ping()
        #expect(try binder.interfaceDescriptor() == Tests.ITestService.descriptor)
        #expect(try (binder as? BinderProxy)?.debugPID() == setup.server.pid)
    }
}
