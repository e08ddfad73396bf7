import BinderTestSupport
import Synchronization
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The service `binder-test-peer serve` offers as context manager.
final class TestService: BinderObject, @unchecked Sendable {
    let process: BinderProcess
    private let recordedValues = Mutex<[Int32]>([])
    private let servingThreads = Mutex<Set<UInt>>([])
    private let running = Atomic<Int>(0)
    private let mostAtOnce = Atomic<Int>(0)

    init(process: BinderProcess) {
        self.process = process
    }

    override var interfaceDescriptor: String { testServiceDescriptor }

    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        guard let call = TestServiceCode(rawValue: code) else { throw StatusCode.unknownTransaction }
        switch call {
        case .echo:
            reply.writeString16(try data.readString16())
        case .whoAmI:
            let caller = process.callingIdentity ?? .ownProcess
            reply.writeInt32(caller.pid)
            reply.writeInteger(caller.euid)
        case .record:
            let value = try data.readInt32()
            recordedValues.withLock { $0.append(value) }
        case .recorded:
            reply.writeIntegerArray(recordedValues.withLock { $0 })
        case .nested:
            try nested(data: &data, reply: &reply, from: self)
        case .work:
            let microseconds = try data.readInt32()
            servingThreads.withLock { _ = $0.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
            let now = running.add(1, ordering: .relaxed).newValue
            var most = mostAtOnce.load(ordering: .relaxed)
            while now > most {
                let (exchanged, original) = mostAtOnce.compareExchange(expected: most, desired: now, ordering: .relaxed)
                if exchanged { break }
                most = original
            }
            usleep(useconds_t(microseconds))
            running.subtract(1, ordering: .relaxed)
        case .threadStats:
            reply.writeInt32(Int32(servingThreads.withLock { $0.count }))
            reply.writeInt32(Int32(mostAtOnce.load(ordering: .relaxed)))
            reply.writeInt32(Int32(process.looperThreadsStarted))
            reply.writeInt32(Int32(process.maxThreads))
        case .newObject:
            reply.writeStrongBinder(ChildObject())
        case .objectCount:
            reply.writeInt32(Int32(process.localObjectCount))
        case .reversePipe:
            let incoming = try data.readParcelFileDescriptor()
            let bytes = try readToEnd(incoming.fileDescriptor)
            _ = consume incoming
            let pipe = try FileDescriptor.pipe()
            _ = try pipe.writeEnd.writeAll(bytes.reversed())
            try pipe.writeEnd.close()
            reply.writeParcelFileDescriptor(transferring: ParcelFileDescriptor(pipe.readEnd))
        case .asyncUppercase:
            throw StatusCode.unknownTransaction  // served by AsyncTestService
        case .openFileDescriptors:
            reply.writeInt32(Int32(countOpenFileDescriptors()))
        case .heapBytesInUse:
            reply.writeInt64(Int64(heapBytesInUse()))
        case .slowOneway:
            usleep(useconds_t(try data.readInt32()))
        case .block:
            print("in call")
            fflush(nil)
            while true { pause() }
        }
    }

    override func dump(to fd: FileDescriptor, arguments: [String]) throws {
        let count = recordedValues.withLock { $0.count }
        _ = try fd.writeAll(Array("TestService: \(count) recorded; arguments: \(arguments.joined(separator: " "))\n".utf8))
    }

    private func readToEnd(_ fd: FileDescriptor) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }
}

/// The `nested` call, shared by the service and the test's callback object: call the other
/// side back with depth − 1, reply with the hops below.
func nested(data: inout Parcel, reply: inout Parcel, from me: BinderObject) throws {
    let other = try data.readStrongBinder()
    let depth = try data.readInt32()
    guard depth > 0 else {
        reply.writeInt32(0)
        return
    }
    var request = Parcel()
    request.writeStrongBinder(me)
    request.writeInt32(depth - 1)
    var answer = try other.transact(code: TestServiceCode.nested.rawValue, data: request)
    reply.writeInt32(try answer.readInt32() + 1)
}

/// An object handed out by `newObject`.
final class ChildObject: BinderObject, @unchecked Sendable {
    override var interfaceDescriptor: String { "org.swiftbinder.test.IChild" }
}

/// A service method implemented as async, on an object of its own (its extension).
final class AsyncTestService: AsyncBinderObject, @unchecked Sendable {
    override var interfaceDescriptor: String { "org.swiftbinder.test.IAsync" }

    override func handleTransaction(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags)
        async throws
    {
        guard code == TestServiceCode.asyncUppercase.rawValue else { throw StatusCode.unknownTransaction }
        let text = try data.readString16()
        await Task.yield()
        reply.writeString16(text.uppercased())
    }
}
