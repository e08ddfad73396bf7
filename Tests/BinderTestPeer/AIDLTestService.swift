import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage

/// The implementation of the generated `org.swiftbinder.test.ITestService` (served by `binder-test-peer aidl`).
final class AIDLTestService: org.swiftbinder.test.ITestService.Service, @unchecked Sendable {
    private let recorded = Mutex<[Int32]>([])

    func RepeatBoolean(token: Bool) throws -> Bool { token }
    func RepeatByte(token: Int8) throws -> Int8 { token }
    func RepeatChar(token: UInt16) throws -> UInt16 { token }
    func RepeatInt(token: Int32) throws -> Int32 { token }
    func RepeatLong(token: Int64) throws -> Int64 { token }
    func RepeatFloat(token: Float) throws -> Float { token }
    func RepeatDouble(token: Double) throws -> Double { token }
    func RepeatString(token: String) throws -> String { token }
    func RepeatNullableString(token: String?) throws -> String? { token }
    func RepeatUtf8CppString(token: String) throws -> String { token }
    func RepeatByteEnum(token: org.swiftbinder.test.ByteEnum) throws -> org.swiftbinder.test.ByteEnum { token }
    func RepeatIntEnum(token: org.swiftbinder.test.IntEnum) throws -> org.swiftbinder.test.IntEnum { token }
    func RepeatLongEnum(token: org.swiftbinder.test.LongEnum) throws -> org.swiftbinder.test.LongEnum { token }
    func RepeatNestedEnum(token: org.swiftbinder.test.ITestService.NestedEnum) throws -> org.swiftbinder.test.ITestService.NestedEnum { token }

    private func reverse<T>(_ input: [T], _ repeated: inout [T]) -> [T] {
        repeated = input
        return input.reversed()
    }
    func ReverseBoolean(input: [Bool], repeated: inout [Bool]) throws -> [Bool] { reverse(input, &repeated) }
    func ReverseByte(input: [UInt8], repeated: inout [UInt8]) throws -> [UInt8] { reverse(input, &repeated) }
    func ReverseChar(input: [UInt16], repeated: inout [UInt16]) throws -> [UInt16] { reverse(input, &repeated) }
    func ReverseInt(input: [Int32], repeated: inout [Int32]) throws -> [Int32] { reverse(input, &repeated) }
    func ReverseLong(input: [Int64], repeated: inout [Int64]) throws -> [Int64] { reverse(input, &repeated) }
    func ReverseFloat(input: [Float], repeated: inout [Float]) throws -> [Float] { reverse(input, &repeated) }
    func ReverseDouble(input: [Double], repeated: inout [Double]) throws -> [Double] { reverse(input, &repeated) }
    func ReverseString(input: [String], repeated: inout [String]) throws -> [String] { reverse(input, &repeated) }
    func ReverseByteEnum(input: [org.swiftbinder.test.ByteEnum], repeated: inout [org.swiftbinder.test.ByteEnum]) throws -> [org.swiftbinder.test.ByteEnum] { reverse(input, &repeated) }
    func ReverseStringList(input: [String], repeated: inout [String]) throws -> [String] { reverse(input, &repeated) }
    func DoubleInPlace(values: inout [Int32]) throws { values = values.map { $0 * 2 } }
    func RepeatNullableIntArray(input: [Int32]?) throws -> [Int32]? { input }

    func FillOutStructuredParcelable(parcel: inout org.swiftbinder.test.StructuredParcelable) throws {
        parcel.shouldBeJerry = "Jerry"
        parcel.shouldContainThreeFs = [parcel.f, parcel.f, parcel.f]
        parcel.shouldBeByteBar = .bar
        parcel.shouldBeIntBar = .bar
    }
    func RepeatParcelable(input: org.swiftbinder.test.StructuredParcelable, repeated: inout org.swiftbinder.test.StructuredParcelable) throws -> org.swiftbinder.test.StructuredParcelable {
        repeated = input
        return input
    }
    func RepeatNullableParcelable(input: org.swiftbinder.test.StructuredParcelable?) throws -> org.swiftbinder.test.StructuredParcelable? { input }
    func RepeatUnion(token: org.swiftbinder.test.Union) throws -> org.swiftbinder.test.Union { token }
    func RepeatBox(box: org.swiftbinder.test.GenericBox<String>) throws -> org.swiftbinder.test.GenericBox<String> { box }
    func RepeatNested(nested: org.swiftbinder.test.ITestService.Nested) throws -> org.swiftbinder.test.ITestService.Nested { nested }
    func RepeatFixedSizeArray(input: [[Int32]]) throws -> [[Int32]] { input }

    func RepeatBinder(token: any IBinder) throws -> any IBinder { token }
    func RepeatNullableBinder(token: (any IBinder)?) throws -> (any IBinder)? { token }
    func GetCallback(name: String) throws -> any org.swiftbinder.test.INamedCallback.Service { NamedCallback(name) }
    func CallbackName(callback: any org.swiftbinder.test.INamedCallback.Service) throws -> String { try callback.GetName() }
    func RepeatParcelFileDescriptor(read: SharedFileDescriptor) throws -> SharedFileDescriptor { read }
    func RepeatFileDescriptor(read: SharedFileDescriptor) throws -> SharedFileDescriptor { read }

    func Shadowing(binder: any IBinder, request: Int32, reply: Int32, status: Int32, result: Int32, data: Int32, code: Int32)
        throws -> Int32
    {
        request + reply + status + result + data + code
    }

    func ThrowServiceException(code: Int32) throws {
        throw Status.serviceSpecific(code, message: "thrown on request")
    }
    func Record(value: Int32) throws { recorded.withLock { $0.append(value) } }
    func Recorded() throws -> [Int32] { recorded.withLock { $0 } }
}

final class NamedCallback: org.swiftbinder.test.INamedCallback.Service, @unchecked Sendable {
    let name: String
    init(_ name: String) { self.name = name }
    func GetName() throws -> String { name }
}
