import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The device layer against the real driver: each test makes its own binderfs device.
@Suite(.requiresBinder) struct DeviceTests {
    @Test func opensChecksVersionAndMapsTheReceiveBuffer() throws {
        let device = try TestDevice("open")
        let binder = try BinderDevice(path: device.path)
        #expect(binder.mapping.count == 1024 * 1024 - 2 * Int(sysconf(CInt(_SC_PAGESIZE))))
        #expect(binder.mapping.baseAddress != nil)
        // The mapping is the kernel's: a range outside it is refused.
        let base = UInt64(UInt(bitPattern: binder.mapping.baseAddress))
        #expect(binder.mappedBytes(at: base, count: 16) != nil)
        #expect(binder.mappedBytes(at: base + UInt64(binder.mapping.count) - 8, count: 16) == nil)
        #expect(binder.mappedBytes(at: base &- 8, count: 8) == nil)
        try binder.setMaxThreads(4)
        try binder.close()
    }

    @Test func closingReleasesTheFileDescriptor() throws {
        let device = try TestDevice("close")
        let binder = try BinderDevice(path: device.path)
        let fd = binder.fileDescriptor.rawValue
        let identity = try #require(FileIdentity(fd))
        try binder.close()
        #expect(isClosed(fd, was: identity))
    }

    @Test func aSecondContextManagerIsRefusedWithEBUSY() throws {
        let device = try TestDevice("ctxmgr")
        let first = try BinderDevice(path: device.path)
        try first.becomeContextManager()
        let second = try BinderDevice(path: device.path)  // another binder_proc in the kernel
        let error = #expect(throws: BinderError.self) { try second.becomeContextManager() }
        #expect(error?.errno == .resourceBusy)
        #expect(error?.description.hasPrefix("ioctl(BINDER_SET_CONTEXT_MGR) \(device.path): ") == true)
    }

    @Test func transactingWithNoContextManagerIsADeadTarget() throws {
        let device = try TestDevice("nocm")
        let process = try BinderProcess(path: device.path)
        let error = #expect(throws: BinderError.self) {
            try process.transact(handle: 0, code: 1, data: Parcel())
        }
        #expect(error?.transactionFailure == .deadTarget)
    }

    @Test func transactingToAnUnknownHandleFails() throws {
        let device = try TestDevice("nohandle")
        let manager = try BinderDevice(path: device.path)
        try manager.becomeContextManager()
        let client = try BinderProcess(path: device.path)
        expectKernelUserError("got transaction to invalid handle, 12345")
        let error = #expect(throws: BinderError.self) {
            try client.transact(handle: 12345, code: 1, data: Parcel())
        }
        #expect(error?.transactionFailure == .failed)
    }

    @Test(.requiresDriverFeature(\.extendedError, "extended_error"))
    func extendedErrorExplainsAFailedTransaction() throws {
        let device = try TestDevice("exterr")
        let process = try BinderProcess(path: device.path)
        let error = #expect(throws: BinderError.self) { try process.transact(handle: 0, code: 1, data: Parcel()) }
        guard case .transactionFailed(.deadTarget, let extended?) = error else {
            Issue.record("no extended error in \(String(describing: error))")
            return
        }
        #expect(extended.command == .deadReply)
        #expect(extended.errno < 0)
        // The runtime took it: the thread's record is clear again.
        let binder = try BinderDevice(path: device.path)
        #expect(try binder.takeExtendedError().command == .ok)
    }
}
