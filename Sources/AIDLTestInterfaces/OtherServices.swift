import SwiftBinder

// The other services AOSP's C++ test service registers (aidl_test_service.cpp at
// android-14.0.0_r21), with the same behaviour.

/// Version 1 of `android.aidl.versioned.tests.IFooInterface` (its stub answers
/// getInterfaceVersion 1 and the frozen version's hash).
public final class VersionedService: android.aidl.versioned.tests.IFooInterface.Service {
    public init() {}

    public typealias Versioned = android.aidl.versioned.tests

    public func originalApi() throws {}

    public func acceptUnionAndReturnString(u: Versioned.BazUnion) throws -> String {
        switch u {
        case .intNum(let value): String(value)
        }
    }

    /// The parcelables are ignored: a newer client's `Foo` fields come back at their defaults.
    public func ignoreParcelablesAndRepeatInt(
        inFoo: Versioned.Foo, inoutFoo: inout Versioned.Foo, outFoo: inout Versioned.Foo, value: Int32
    ) throws -> Int32 {
        value
    }

    public func returnsLengthOfFooArray(foos: [Versioned.Foo]) throws -> Int32 { Int32(foos.count) }
}

/// `android.aidl.loggable.ILoggableInterface`: answers ["loggable"], leaving its inout arguments.
public final class LoggableService: android.aidl.loggable.ILoggableInterface.Service {
    public init() {}

    public func LogThis(
        boolValue: Bool, boolArray: inout [Bool], byteValue: Int8, byteArray: inout [UInt8], charValue: UInt16,
        charArray: inout [UInt16], intValue: Int32, intArray: inout [Int32], longValue: Int64, longArray: inout [Int64],
        floatValue: Float, floatArray: inout [Float], doubleValue: Double, doubleArray: inout [Double],
        stringValue: String, stringArray: inout [String], listValue: inout [String], dataValue: android.aidl.loggable.Data,
        binderValue: (any IBinder)?, pfdValue: inout SharedFileDescriptor?, pfdArray: inout [SharedFileDescriptor]
    ) throws -> [String] {
        ["loggable"]
    }
}

/// `android.aidl.tests.nested.INestedService`: flips a status, directly or through a callback.
public final class NestedService: android.aidl.tests.nested.INestedService.Service {
    public init() {}

    public typealias Nested = android.aidl.tests.nested

    private func flipped(_ status: Nested.ParcelableWithNested.Status) -> Nested.ParcelableWithNested.Status {
        status == .ok ? .notOk : .ok
    }

    public func flipStatus(p: Nested.ParcelableWithNested) throws -> Nested.INestedService.Result {
        Nested.INestedService.Result(status: flipped(p.status))
    }

    /// The callback's own failure is this call's.
    public func flipStatusWithCallback(
        status: Nested.ParcelableWithNested.Status, cb: any Nested.INestedService.ICallback.Service
    ) throws {
        try cb.done(status: flipped(status))
    }
}

/// `android.aidl.fixedsizearray.FixedSizeArrayExample.IRepeatFixedSizeArray`: every method
/// sets `repeated` to its input and returns it.
public final class FixedSizeArrayService: android.aidl.fixedsizearray.FixedSizeArrayExample.IRepeatFixedSizeArray.Service {
    public init() {}

    public typealias IntParcelable = android.aidl.fixedsizearray.FixedSizeArrayExample.IntParcelable

    private func repeatArray<T>(_ input: T, _ repeated: inout T) -> T {
        repeated = input
        return input
    }

    public func RepeatBytes(input: [UInt8], repeated: inout [UInt8]) throws -> [UInt8] { repeatArray(input, &repeated) }
    public func RepeatInts(input: [Int32], repeated: inout [Int32]) throws -> [Int32] { repeatArray(input, &repeated) }
    public func RepeatBinders(input: [any IBinder], repeated: inout [any IBinder]) throws -> [any IBinder] {
        repeatArray(input, &repeated)
    }
    public func RepeatParcelables(input: [IntParcelable], repeated: inout [IntParcelable]) throws -> [IntParcelable] {
        repeatArray(input, &repeated)
    }
    public func Repeat2dBytes(input: [[UInt8]], repeated: inout [[UInt8]]) throws -> [[UInt8]] { repeatArray(input, &repeated) }
    public func Repeat2dInts(input: [[Int32]], repeated: inout [[Int32]]) throws -> [[Int32]] { repeatArray(input, &repeated) }
    public func Repeat2dBinders(input: [[any IBinder]], repeated: inout [[any IBinder]]) throws -> [[any IBinder]] {
        repeatArray(input, &repeated)
    }
    public func Repeat2dParcelables(input: [[IntParcelable]], repeated: inout [[IntParcelable]]) throws -> [[IntParcelable]] {
        repeatArray(input, &repeated)
    }
}
