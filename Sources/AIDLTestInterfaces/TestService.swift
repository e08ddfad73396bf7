import Synchronization
import SwiftBinder

#if canImport(Glibc)
import Glibc
#endif

/// `android.aidl.tests.ITestService`, behaving as AOSP's C++ test service does
/// (system/tools/aidl/tests/aidl_test_service.cpp at android-14.0.0_r21), so that the checks of
/// its test client hold against it.
public final class TestService: android.aidl.tests.ITestService.Service, @unchecked Sendable {
    public init() {}

    public typealias Tests = android.aidl.tests
    public typealias Callback = any Tests.INamedCallback.Service

    /// The named callbacks handed out (GetOtherTestService) or stored (SetOtherTestService).
    private let callbacks = Mutex<[String: Callback]>([:])

    // The C++ service answers code 1 with UNKNOWN_TRANSACTION before its stub sees it: a client
    // checks that an unimplemented method fails that way (and that its default takes over).
    public func UnimplementedMethod(arg: Int32) throws -> Int32 { throw Status.transactionFailed(.unknownTransaction) }
    public func Deprecated() throws {}
    // Fails as the C++ one does; being oneway, the caller never hears of it.
    public func TestOneway() throws { throw Status.transactionFailed(.unknownError) }

    public func RepeatBoolean(token: Bool) throws -> Bool { token }
    public func RepeatByte(token: Int8) throws -> Int8 { token }
    public func RepeatChar(token: UInt16) throws -> UInt16 { token }
    public func RepeatInt(token: Int32) throws -> Int32 { token }
    public func RepeatLong(token: Int64) throws -> Int64 { token }
    public func RepeatFloat(token: Float) throws -> Float { token }
    public func RepeatDouble(token: Double) throws -> Double { token }
    public func RepeatString(token: String) throws -> String { token }
    public func RepeatByteEnum(token: Tests.ByteEnum) throws -> Tests.ByteEnum { token }
    public func RepeatIntEnum(token: Tests.IntEnum) throws -> Tests.IntEnum { token }
    public func RepeatLongEnum(token: Tests.LongEnum) throws -> Tests.LongEnum { token }

    /// The Reverse methods: `repeated` gets the input, the result is the input reversed.
    private func reverse<T>(_ input: [T], _ repeated: inout [T]) -> [T] {
        repeated = input
        return input.reversed()
    }

    public func ReverseBoolean(input: [Bool], repeated: inout [Bool]) throws -> [Bool] { reverse(input, &repeated) }
    public func ReverseByte(input: [UInt8], repeated: inout [UInt8]) throws -> [UInt8] { reverse(input, &repeated) }
    public func ReverseChar(input: [UInt16], repeated: inout [UInt16]) throws -> [UInt16] { reverse(input, &repeated) }
    public func ReverseInt(input: [Int32], repeated: inout [Int32]) throws -> [Int32] { reverse(input, &repeated) }
    public func ReverseLong(input: [Int64], repeated: inout [Int64]) throws -> [Int64] { reverse(input, &repeated) }
    public func ReverseFloat(input: [Float], repeated: inout [Float]) throws -> [Float] { reverse(input, &repeated) }
    public func ReverseDouble(input: [Double], repeated: inout [Double]) throws -> [Double] { reverse(input, &repeated) }
    public func ReverseString(input: [String], repeated: inout [String]) throws -> [String] { reverse(input, &repeated) }
    public func ReverseByteEnum(input: [Tests.ByteEnum], repeated: inout [Tests.ByteEnum]) throws -> [Tests.ByteEnum] {
        reverse(input, &repeated)
    }
    public func ReverseIntEnum(input: [Tests.IntEnum], repeated: inout [Tests.IntEnum]) throws -> [Tests.IntEnum] {
        reverse(input, &repeated)
    }
    public func ReverseLongEnum(input: [Tests.LongEnum], repeated: inout [Tests.LongEnum]) throws -> [Tests.LongEnum] {
        reverse(input, &repeated)
    }
    public func ReverseStringList(input: [String], repeated: inout [String]) throws -> [String] { reverse(input, &repeated) }
    public func ReverseUtf8CppString(input: [String], repeated: inout [String]) throws -> [String] { reverse(input, &repeated) }
    public func ReverseIBinderArray(input: [any IBinder], repeated: inout [any IBinder]) throws -> [any IBinder] {
        reverse(input, &repeated)
    }

    /// The nullable Reverse methods: a null input leaves both outputs null.
    private func reverse<T>(_ input: [T]?, _ repeated: inout [T]?) -> [T]? {
        guard let input else { return nil }
        repeated = input
        return input.reversed()
    }

    public func ReverseNullableUtf8CppString(input: [String?]?, repeated: inout [String?]?) throws -> [String?]? {
        reverse(input, &repeated)
    }
    public func ReverseUtf8CppStringList(input: [String?]?, repeated: inout [String?]?) throws -> [String?]? {
        reverse(input, &repeated)
    }
    public func ReverseNullableIBinderArray(input: [(any IBinder)?]?, repeated: inout [(any IBinder)?]?) throws -> [(any IBinder)?]? {
        reverse(input, &repeated)
    }

    // MARK: Named callbacks

    public func GetOtherTestService(name: String) throws -> Callback {
        callbacks.withLock { callbacks in
            if let existing = callbacks[name] { return existing }
            let callback = NamedCallback(name: name)
            callbacks[name] = callback
            return callback
        }
    }

    /// True if `service` is already stored under `name` (the same binder); otherwise stores it.
    public func SetOtherTestService(name: String, service: Callback) throws -> Bool {
        callbacks.withLock { callbacks in
            if let existing = callbacks[name], existing.asBinder() === service.asBinder() { return true }
            callbacks[name] = service
            return false
        }
    }

    public func VerifyName(service: Callback, name: String) throws -> Bool {
        try service.GetName() == name
    }

    public func GetInterfaceArray(names: [String]) throws -> [Callback] {
        try names.map { try GetOtherTestService(name: $0) }
    }

    public func VerifyNamesWithInterfaceArray(services: [Callback], names: [String]) throws -> Bool {
        guard services.count == names.count else { return false }
        for (service, name) in zip(services, names) where try !VerifyName(service: service, name: name) { return false }
        return true
    }

    /// A null list of names gives an empty list; a null name a null entry.
    public func GetNullableInterfaceArray(names: [String?]?) throws -> [Callback?]? {
        try (names ?? []).map { name in try name.map { try GetOtherTestService(name: $0) } }
    }

    /// Pairs must match: a null service goes with a null name; both lists null is a match too.
    public func VerifyNamesWithNullableInterfaceArray(services: [Callback?]?, names: [String?]?) throws -> Bool {
        guard let services, let names else { return (services == nil) == (names == nil) }
        guard services.count == names.count else { return false }
        for (service, name) in zip(services, names) {
            switch (service, name) {
            case (let service?, let name?): if try !VerifyName(service: service, name: name) { return false }
            case (nil, nil): continue
            default: return false
            }
        }
        return true
    }

    public func GetInterfaceList(names: [String?]?) throws -> [Callback?]? { try GetNullableInterfaceArray(names: names) }
    public func VerifyNamesWithInterfaceList(services: [Callback?]?, names: [String?]?) throws -> Bool {
        try VerifyNamesWithNullableInterfaceArray(services: services, names: names)
    }

    public func GetCallback(return_null: Bool) throws -> Callback? {
        return_null ? nil : try GetOtherTestService(name: "ABT: always be testing")
    }

    // MARK: Descriptors

    // The C++ service dups what it returns; here the same shared descriptor goes back, which the
    // kernel installs afresh in the caller.
    public func RepeatParcelFileDescriptor(read: SharedFileDescriptor) throws -> SharedFileDescriptor { read }
    public func ReverseParcelFileDescriptorArray(
        input: [SharedFileDescriptor], repeated: inout [SharedFileDescriptor]
    ) throws -> [SharedFileDescriptor] {
        reverse(input, &repeated)
    }

    public func ThrowServiceException(code: Int32) throws { throw Status.serviceSpecific(code) }

    // MARK: Nullables

    public func RepeatNullableIntArray(input: [Int32]?) throws -> [Int32]? { input }
    public func RepeatNullableByteEnumArray(input: [Tests.ByteEnum]?) throws -> [Tests.ByteEnum]? { input }
    public func RepeatNullableIntEnumArray(input: [Tests.IntEnum]?) throws -> [Tests.IntEnum]? { input }
    public func RepeatNullableLongEnumArray(input: [Tests.LongEnum]?) throws -> [Tests.LongEnum]? { input }
    public func RepeatNullableString(input: String?) throws -> String? { input }
    public func RepeatNullableStringList(input: [String?]?) throws -> [String?]? { input }
    public func RepeatNullableParcelable(input: Tests.ITestService.Empty?) throws -> Tests.ITestService.Empty? { input }
    public func RepeatNullableParcelableArray(input: [Tests.ITestService.Empty?]?) throws -> [Tests.ITestService.Empty?]? { input }
    public func RepeatNullableParcelableList(input: [Tests.ITestService.Empty?]?) throws -> [Tests.ITestService.Empty?]? { input }

    public func TakesAnIBinder(input: any IBinder) throws {}
    public func TakesANullableIBinder(input: (any IBinder)?) throws {}
    public func TakesAnIBinderList(input: [any IBinder]) throws {}
    public func TakesANullableIBinderList(input: [(any IBinder)?]?) throws {}

    public func RepeatUtf8CppString(token: String) throws -> String { token }
    public func RepeatNullableUtf8CppString(token: String?) throws -> String? { token }

    // MARK: Parcelables

    public func FillOutStructuredParcelable(parcel: inout Tests.StructuredParcelable) throws {
        parcel.shouldBeJerry = "Jerry"
        parcel.shouldContainThreeFs = [parcel.f, parcel.f, parcel.f]
        parcel.shouldBeByteBar = .bar
        parcel.shouldBeIntBar = .bar
        parcel.shouldBeLongBar = .bar
        parcel.shouldContainTwoByteFoos = [.foo, .foo]
        parcel.shouldContainTwoIntFoos = [.foo, .foo]
        parcel.shouldContainTwoLongFoos = [.foo, .foo]
        parcel.const_exprs_1 = .decInt32_1
        parcel.const_exprs_2 = .decInt32_2
        parcel.const_exprs_3 = .decInt64_1
        parcel.const_exprs_4 = .decInt64_2
        parcel.const_exprs_5 = .decInt64_3
        parcel.const_exprs_6 = .decInt64_4
        parcel.const_exprs_7 = .hexInt32_1
        parcel.const_exprs_8 = .hexInt32_2
        parcel.const_exprs_9 = .hexInt32_3
        parcel.const_exprs_10 = .hexInt64_1
        parcel.shouldSetBit0AndBit2 = Tests.StructuredParcelable.bit0 | Tests.StructuredParcelable.bit2
        parcel.u = .ns([1, 2, 3])
        parcel.shouldBeConstS1 = .s(Tests.Union.s1)
    }

    /// Copies `a`, `b` and the extension; `c` and `ext2` keep their defaults.
    public func RepeatExtendableParcelable(ep: Tests.`extension`.ExtendableParcelable, ep2: inout Tests.`extension`.ExtendableParcelable) throws {
        ep2.a = ep.a
        ep2.b = ep.b
        ep2.ext = ep.ext
    }

    public func ReverseList(list: Tests.RecursiveList) throws -> Tests.RecursiveList {
        var reversed: Tests.RecursiveList?
        var current: Tests.RecursiveList? = list
        while let node = current {
            reversed = Tests.RecursiveList(value: node.value, next: reversed)
            current = node.next
        }
        return reversed!
    }

    public func GetUnionTags(input: [Tests.Union]) throws -> [Tests.Union.Tag] { input.map(\.tag) }

    // MARK: Other interfaces

    public func GetOldNameInterface() throws -> any Tests.IOldName.Service { OldName() }
    public func GetNewNameInterface() throws -> any Tests.INewName.Service { NewName() }

    // ICppJavaTests needs unstructured parcelables (BadParcelable, SimpleParcelable) and
    // PersistableBundle, which SwiftBinder does not define: this service says it is not the C++
    // backend, as AOSP's Rust service does (null here, RUST below), and the client then skips
    // those checks.
    public func GetCppJavaTests() throws -> (any IBinder)? { nil }
    public func getBackendType() throws -> Tests.BackendType { .rust }

    public func GetCircular(cp: inout Tests.CircularParcelable) throws -> any Tests.ICircular.Service {
        cp.testService = self
        return Circular(service: self)
    }
}

public final class NamedCallback: android.aidl.tests.INamedCallback.Service {
    let name: String
    public init(name: String) { self.name = name }
    public func GetName() throws -> String { name }
}

public final class OldName: android.aidl.tests.IOldName.Service {
    public init() {}

    public func RealName() throws -> String { "OldName" }
}

public final class NewName: android.aidl.tests.INewName.Service {
    public init() {}

    public func RealName() throws -> String { "NewName" }
}

public final class Circular: android.aidl.tests.ICircular.Service {
    let service: any android.aidl.tests.ITestService.Service
    public init(service: any android.aidl.tests.ITestService.Service) { self.service = service }
    public func GetTestService() throws -> (any android.aidl.tests.ITestService.Service)? { service }
}
