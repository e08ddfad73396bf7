import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Generated proxies calling the generated stub of `org.swiftbinder.test.ITestService` in another process.
@Suite(.requiresBinder) struct AIDLServiceTests {
    final class Setup {
        let device: TestDevice
        let server: ChildProcess
        let process: BinderProcess
        let service: org.swiftbinder.test.ITestService.Proxy

        init(_ label: String, asyncCallThreads: Int = BinderProcess.defaultAsyncCallThreads) throws {
            device = try TestDevice(label)
            server = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["aidl", device.path.string])
            let ready = try server.readLine()
            guard ready == "ready" else { throw BinderError.unsupported("the peer said \(ready ?? "nothing")") }
            process = try BinderProcess(path: device.path, asyncCallThreads: asyncCallThreads)
            service = org.swiftbinder.test.ITestService.Proxy(try process.contextObject)
        }

        deinit { process.shutdown() }
    }

    @Test func primitivesStringsAndEnumsRoundTrip() throws {
        let setup = try Setup("aidl-prim")
        let service = setup.service
        #expect(try service.RepeatBoolean(token: true) == true)
        #expect(try service.RepeatByte(token: -128) == -128)
        #expect(try service.RepeatChar(token: 0x263A) == 0x263A)
        #expect(try service.RepeatInt(token: org.swiftbinder.test.ITestService.constant2) == -68)
        #expect(try service.RepeatLong(token: org.swiftbinder.test.ITestService.longConstant) == 1 << 40)
        #expect(try service.RepeatFloat(token: org.swiftbinder.test.ITestService.floatConstant) == 1.5)
        #expect(try service.RepeatDouble(token: org.swiftbinder.test.ITestService.doubleConstant) == 25)
        #expect(try service.RepeatString(token: org.swiftbinder.test.ITestService.stringConstant) == "foobar")
        #expect(try service.RepeatNullableString(token: nil) == nil)
        #expect(try service.RepeatUtf8CppString(token: "ünïcödé") == "ünïcödé")
        #expect(try service.RepeatByteEnum(token: .baz) == .baz)
        #expect(try service.RepeatIntEnum(token: .qux) == .qux)
        #expect(org.swiftbinder.test.IntEnum.qux.rawValue == 1000 | 2000)
        #expect(try service.RepeatLongEnum(token: .baz) == .baz)
        #expect(try service.RepeatNestedEnum(token: .c) == .c)
        #expect(org.swiftbinder.test.ITestService.hexConstant == -1)
        #expect(org.swiftbinder.test.ITestService.byteConstant == -1)
    }

    @Test func arraysAreReversedThroughOutParameters() throws {
        let setup = try Setup("aidl-arrays")
        let service = setup.service
        var booleans: [Bool] = []
        #expect(try service.ReverseBoolean(input: [true, false, false], repeated: &booleans) == [false, false, true])
        #expect(booleans == [true, false, false])
        // byte[] is [UInt8], as AOSP's C++ and Rust backends make it; the bytes on the wire are the same.
        var bytes: [UInt8] = [0, 0, 0]
        #expect(try service.ReverseByte(input: [1, 0xFE, 3], repeated: &bytes) == [3, 0xFE, 1])
        #expect(bytes == [1, 0xFE, 3])
        var chars: [UInt16] = [0, 0]
        #expect(try service.ReverseChar(input: [65, 66], repeated: &chars) == [66, 65])
        var ints = [Int32](repeating: 0, count: 3)
        #expect(try service.ReverseInt(input: [1, 2, 3], repeated: &ints) == [3, 2, 1])
        #expect(ints == [1, 2, 3])
        var longs = [Int64](repeating: 0, count: 2)
        #expect(try service.ReverseLong(input: [.min, .max], repeated: &longs) == [.max, .min])
        var floats = [Float](repeating: 0, count: 2)
        #expect(try service.ReverseFloat(input: [1.5, -2], repeated: &floats) == [-2, 1.5])
        var doubles = [Double](repeating: 0, count: 1)
        #expect(try service.ReverseDouble(input: [3.25], repeated: &doubles) == [3.25])
        var strings = ["", ""]
        #expect(try service.ReverseString(input: ["a", "b"], repeated: &strings) == ["b", "a"])
        #expect(strings == ["a", "b"])
        var enums: [org.swiftbinder.test.ByteEnum] = [.foo, .foo]
        #expect(try service.ReverseByteEnum(input: [.bar, .baz], repeated: &enums) == [.baz, .bar])
        var list = ["", "", ""]
        #expect(try service.ReverseStringList(input: ["x", "y", "z"], repeated: &list) == ["z", "y", "x"])
        var doubled: [Int32] = [1, 2, 3]
        try service.DoubleInPlace(values: &doubled)
        #expect(doubled == [2, 4, 6])
        #expect(try service.RepeatNullableIntArray(input: nil) == nil)
        #expect(try service.RepeatNullableIntArray(input: [7]) == [7])
        #expect(try service.RepeatFixedSizeArray(input: [[1, 2, 3], [4, 5, 6]]) == [[1, 2, 3], [4, 5, 6]])
    }

    /// The length of an `out` array comes from the caller: the stub checks it as libbinder's
    /// `resizeOutVector` does (libs/binder/Parcel.cpp, `readOutVectorSizeWithCheck`, at
    /// android-13.0.0_r1 and android-14.0.0_r1). A negative length for a non-null array is
    /// answered EX_NULL_POINTER, as AOSP's C++ stubs answer UNEXPECTED_NULL; an array of a
    /// million bytes or more is refused with NO_MEMORY. The service stays up.
    @Test(arguments: [(Int32(-1), "null"), (250_000, "no memory"), (249_999, "ok"), (Int32.max, "no memory")])
    func outArrayLengthsAreCheckedAsLibbinderChecksThem(length: Int32, expected: String) throws {
        let setup = try Setup("aidl-outlen")
        let binder = try setup.process.contextObject
        var request = binder.prepareTransaction()
        request.writeInterfaceToken(org.swiftbinder.test.ITestService.encodedDescriptor)
        try request.writeArray([Int32(1), 2]) { (parcel: inout Parcel, value) throws(ParcelError) in parcel.writeInt32(value) }
        request.writeInt32(length)
        switch expected {
        case "no memory":
            let error = #expect(throws: BinderError.self) { try binder.transact(code: org.swiftbinder.test.ITestService.Code.ReverseInt, data: request) }
            #expect(error == .remoteStatus(.noMemory))
        default:
            var reply = try binder.transact(code: org.swiftbinder.test.ITestService.Code.ReverseInt, data: request)
            let status = try reply.readStatus()
            if expected == "null" {
                #expect(status.exception == .nullPointer)
            } else {
                #expect(status.isOK)
                let reversed = try reply.readArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readInt32() }
                #expect(reversed == [2, 1])
                let repeated = try reply.readArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readInt32() }
                #expect(repeated == [1, 2])  // the service fills the array it was given with the input
            }
        }
        var repeated: [Int32] = []
        #expect(try setup.service.ReverseInt(input: [5, 6], repeated: &repeated) == [6, 5])
    }

    @Test func parcelablesUnionsGenericsAndNestedTypes() throws {
        let setup = try Setup("aidl-parcelables")
        let service = setup.service
        var parcelable = org.swiftbinder.test.StructuredParcelable(f: 17)
        #expect(parcelable.defaultInt == 83)
        #expect(parcelable.defaultLong == 1 << 40)
        #expect(parcelable.defaultString == "Hello, binder")
        #expect(parcelable.defaultChar == 65)
        #expect(parcelable.fixedPair == [1, 2])
        #expect(parcelable.bits == 3)
        #expect(parcelable.shouldBeByteBar == .bar)
        try service.FillOutStructuredParcelable(parcel: &parcelable)
        #expect(parcelable.shouldBeJerry == "Jerry")
        #expect(parcelable.shouldContainThreeFs == [17, 17, 17])
        var repeated = org.swiftbinder.test.StructuredParcelable()
        let returned = try service.RepeatParcelable(input: parcelable, repeated: &repeated)
        #expect(returned.shouldBeJerry == "Jerry" && repeated.shouldContainThreeFs == [17, 17, 17])
        #expect(try service.RepeatNullableParcelable(input: nil) == nil)
        #expect(try service.RepeatNullableParcelable(input: parcelable)?.f == 17)
        guard case .s(let text) = try service.RepeatUnion(token: .s("union")) else {
            Issue.record("expected the string member back")
            return
        }
        #expect(text == "union")
        guard case .be(let member) = try service.RepeatUnion(token: .be(.baz)) else {
            Issue.record("expected the enum member back")
            return
        }
        #expect(member == .baz)
        #expect(org.swiftbinder.test.Union.s1 == "a string constant in a union")
        let box = try service.RepeatBox(box: org.swiftbinder.test.GenericBox(value: "generic", tag: 9))
        #expect(box.value == "generic" && box.tag == 9)
        let nested = try service.RepeatNested(nested: org.swiftbinder.test.ITestService.Nested(label: "inner", pair: [3, 4]))
        #expect(nested.label == "inner" && nested.pair == [3, 4])
    }

    @Test func bindersCallbacksAndFileDescriptors() throws {
        let setup = try Setup("aidl-binders")
        let service = setup.service
        let token = Token()
        #expect(try service.RepeatBinder(token: token) === token)
        #expect(try service.RepeatNullableBinder(token: nil) == nil)
        let callback = try service.GetCallback(name: "remote")
        #expect(try callback.GetName() == "remote")
        // A local callback passed to the service is called back (a nested call into this process).
        #expect(try service.CallbackName(callback: LocalCallback()) == "local")
        // A file descriptor there and back.
        let pipe = try FileDescriptor.pipe()
        _ = try pipe.writeEnd.writeAll(Array("through AIDL".utf8))
        try pipe.writeEnd.close()
        let returned = try service.RepeatParcelFileDescriptor(read: SharedFileDescriptor(pipe.readEnd))
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = try bytes.withUnsafeMutableBytes { try returned.fileDescriptor.read(into: $0) }
        #expect(String(decoding: bytes[..<count], as: UTF8.self) == "through AIDL")
    }

    @Test func serviceSpecificErrorsAndOnewayCalls() throws {
        let setup = try Setup("aidl-errors")
        let service = setup.service
        let error = #expect(throws: RemoteError.self) { try service.ThrowServiceException(code: org.swiftbinder.test.ITestService.badParameter) }
        #expect(error == .exception(.serviceSpecific(1, message: "thrown on request")))
        for value in 0..<50 { try service.Record(value: Int32(value)) }
        #expect(try eventually(within: 5) { try service.Recorded().count == 50 })
        #expect(try service.Recorded() == (0..<50).map(Int32.init))
    }

    @Test func parametersNamedLikeGeneratedVariables() throws {
        let setup = try Setup("aidl-shadow")
        let sum = try setup.service.Shadowing(binder: Token(), request: 1, reply: 2, status: 3, result: 4, data: 5, code: 6)
        #expect(sum == 21)
    }

    /// An async callback that calls the service back from inside the call it serves.
    final class EchoingCallback: org.swiftbinder.test.INamedCallback.AsyncService {
        let service: org.swiftbinder.test.ITestService.AsyncProxy
        let callers = Mutex<Set<Int32>>([])
        init(service: org.swiftbinder.test.ITestService.AsyncProxy) { self.service = service }

        func GetName(context: CallContext) async throws -> String {
            callers.withLock { _ = $0.insert(context.caller.pid) }
            return try await service.RepeatString(token: "echoed")
        }
    }

    /// Async service methods are served while the thread that received the call waits, and the
    /// calls they make go out from that thread: eight concurrent calls, each answered by a
    /// callback into this process that calls the service again, complete with two call threads
    /// and no looper. (Were the callback's own call queued for a call thread, both would be
    /// waiting for replies that need it, and every call would hang.)
    @Test func asyncMethodsCallingOutNeedNoThreadsOfTheirOwn() async throws {
        let setup = try Setup("aidl-async-serve", asyncCallThreads: 2)
        let service = org.swiftbinder.test.ITestService.AsyncProxy(try setup.process.contextObject)
        let callback = EchoingCallback(service: service)
        let asCallback = callback.asAsyncProxy
        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await service.CallbackName(callback: asCallback) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(names == Array(repeating: "echoed", count: 8))
        #expect(callback.callers.withLock { $0 } == [setup.server.pid])  // the kernel-stamped caller
        #expect(setup.process.looperThreadsStarted == 0)
    }

    /// `AsyncProxy` makes every method async, `out` and `inout` ones included, on the
    /// process's call threads; sync calls on `Proxy` still compile inside async functions.
    @Test func asyncProxyMethods() async throws {
        let setup = try Setup("aidl-async")
        let service = org.swiftbinder.test.ITestService.AsyncProxy(try setup.process.contextObject)
        #expect(try await service.RepeatString(token: "async") == "async")
        var repeated: [Int32] = []
        #expect(try await service.ReverseInt(input: [1, 2, 3], repeated: &repeated) == [3, 2, 1])
        #expect(repeated == [1, 2, 3])
        var values: [Int32] = [1, 2]
        try await service.DoubleInPlace(values: &values)
        #expect(values == [2, 4])
        #expect(try setup.service.RepeatInt(token: 7) == 7)  // the blocking proxy, no `await`
        // More calls at once than the process has call threads: they take turns, and all end.
        let results = try await withThrowingTaskGroup(of: Int32.self) { group in
            for value in 0..<16 { group.addTask { try await service.RepeatInt(token: Int32(value)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == Array(0..<16))
        #expect(setup.process.asyncCallThreads == BinderProcess.defaultAsyncCallThreads)
    }
}

final class Token: BinderObject, @unchecked Sendable {}

final class LocalCallback: org.swiftbinder.test.INamedCallback.Service, @unchecked Sendable {
    func GetName() throws -> String { "local" }
}
