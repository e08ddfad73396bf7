@testable import SwiftBinder
import Synchronization
import Testing

/// The requests the `ServiceManager` client sends at each release, captured from the generated
/// proxies (and Android 10's hand-written one) on a target that records them: the code, the
/// interface token and the binder object's trailer follow the release the target speaks.
/// Layouts: IServiceManager.aidl `addService(String name, IBinder service, boolean allowIsolated,
/// int dumpPriority)` at each tag; Android 10, libs/binder/IServiceManager.cpp BpServiceManager
/// at android-10.0.0_r1 (allowIsolated and dumpPriority as int32 after the binder).
@Suite struct ServiceManagerRequestTests {
    /// A target that keeps the requests sent to it and answers Status OK.
    final class Recorder: IBinder, @unchecked Sendable {
        let release: AndroidRelease
        let sent = Mutex<[(code: UInt32, bytes: [UInt8])]>([])

        init(_ release: AndroidRelease) { self.release = release }

        func prepareTransaction() -> Parcel { Parcel(wireFormat: release.wireFormat) }

        func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel {
            let bytes = data.dataBytes
            sent.withLock { $0.append((code, bytes)) }
            var reply = Parcel(wireFormat: release.wireFormat)
            reply.writeInt32(0)  // EX_NONE (Android 10: addService's int32 0)
            return reply
        }

        var isAlive: Bool { true }
        func ping() throws(BinderError) {}
        func interfaceDescriptorOrNil() throws(BinderError) -> String? { ServiceManagerService.descriptor }
    }

    static func le(_ words: UInt32...) -> [UInt8] {
        words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
    }

    static func string16(_ text: String) -> [UInt8] {
        var bytes = le(UInt32(text.utf16.count))
        for unit in text.utf16 { bytes += [UInt8(truncatingIfNeeded: unit), UInt8(truncatingIfNeeded: unit >> 8)] }
        bytes += [0, 0]
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    @Test(arguments: AndroidRelease.allCases) func addServiceRequests(_ release: AndroidRelease) throws {
        let recorder = Recorder(release)
        let backend = release.serviceManagerBackend(recorder)
        let service = BinderObject()
        try backend.addService(name: "foo", service: service, allowIsolated: true, dumpPriority: 8)
        let (code, bytes) = try #require(recorder.sent.withLock { $0.first })

        let expectedCode: UInt32
        switch release {
        case .android15: expectedCode = 4
        case .android16: expectedCode = 5
        default: expectedCode = 3
        }
        #expect(code == expectedCode)

        // policy | PENALTY_GATHER, work source −1, 'SYST' from Android 11, the descriptor, the name.
        var prefix = Self.le(0x8000_0000, 0xFFFF_FFFF)
        if release != .android10 { prefix += [0x54, 0x53, 0x59, 0x53] }
        prefix += Self.string16(ServiceManagerService.descriptor) + Self.string16("foo")
        #expect(Array(bytes.prefix(prefix.count)) == prefix)

        // The local object: BINDER_TYPE_BINDER, flags 0x113 (ACCEPTS_FDS, nice 19) at every release.
        let object = Array(bytes[prefix.count..<(prefix.count + 8)])
        #expect(object == [0x85, 0x2A, 0x62, 0x73] + Self.le(0x113))
        let trailer: [UInt8]
        switch release {
        case .android10: trailer = []
        case .android12: trailer = Self.le(0x0C00_0001)
        default: trailer = Self.le(0x0C)
        }
        let rest = Array(bytes[(prefix.count + 24)...])
        #expect(rest == trailer + Self.le(1, 8))
    }

    /// Android 10's client lists by index until servicemanager refuses one
    /// (BpServiceManager::listServices at android-10.0.0_r1): int32 index, int32 priority.
    @Test func android10ListsByIndex() throws {
        final class Lister: IBinder, @unchecked Sendable {
            let names = ["b", "a"]
            func prepareTransaction() -> Parcel { Parcel(wireFormat: .android10) }
            func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel {
                var request = Parcel(copying: data)
                do {
                    try request.enforceInterface(ServiceManagerService.descriptor)
                    let index = Int(try request.readInt32())
                    #expect(try request.readInt32() == 15)
                    guard index < names.count else { throw BinderError.remoteStatus(Android10ServiceManager.refusal) }
                    var reply = Parcel(wireFormat: .android10)
                    reply.writeString16(names[index])
                    return reply
                } catch let error as BinderError {
                    throw error
                } catch {
                    throw .malformedParcel(.readOnly)
                }
            }
            var isAlive: Bool { true }
            func ping() throws(BinderError) {}
            func interfaceDescriptorOrNil() throws(BinderError) -> String? { nil }
        }
        let backend = AndroidRelease.android10.serviceManagerBackend(Lister())
        #expect(try backend.listServices(dumpPriority: 15) == ["b", "a"])
    }
}
