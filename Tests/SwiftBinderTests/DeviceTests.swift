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
        var before = stat()
        #expect(fstat(fd, &before) == 0)
        try binder.close()
        // Tests run in parallel, so another test may already have been given the same
        // number: the descriptor is released if it no longer names this device's inode.
        var after = stat()
        if fstat(fd, &after) == 0 {
            #expect(after.st_dev != before.st_dev || after.st_ino != before.st_ino)
        }
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
        let binder = try BinderDevice(path: device.path)
        let error = #expect(throws: BinderError.self) {
            try binder.transactRaw(handle: 0, code: 1, data: [1, 2, 3])
        }
        #expect(error == .transactionFailed(.deadTarget))
    }

    @Test func transactingToAnUnknownHandleFails() throws {
        let device = try TestDevice("nohandle")
        let manager = try BinderDevice(path: device.path)
        try manager.becomeContextManager()
        let client = try BinderDevice(path: device.path)
        expectKernelUserError("got transaction to invalid handle, 12345")
        let error = #expect(throws: BinderError.self) {
            try client.transactRaw(handle: 12345, code: 1, data: [])
        }
        #expect(error == .transactionFailed(.failed))
    }

    @Test func extendedErrorExplainsAFailedTransaction() throws {
        let device = try TestDevice("exterr")
        guard device.binderfs.features().extendedError else { return }
        let binder = try BinderDevice(path: device.path)
        #expect(throws: BinderError.self) { try binder.transactRaw(handle: 0, code: 1, data: []) }
        let error = try binder.takeExtendedError()
        #expect(error.command == .deadReply)
        #expect(error.errno < 0)
        // Taking it clears it.
        #expect(try binder.takeExtendedError().command == .ok)
    }
}
