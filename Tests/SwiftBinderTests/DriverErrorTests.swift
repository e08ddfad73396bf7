import SwiftBinder
import SystemPackage
import Testing

/// Errors a user meets before binder is even involved: they must name the path and the errno.
@Suite struct DriverErrorTests {
    @Test func openingAMissingDeviceNamesPathAndErrno() {
        let error = #expect(throws: BinderError.self) {
            _ = try BinderDevice(path: "/dev/binderfs/no-such-device-here")
        }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description == "open /dev/binderfs/no-such-device-here: No such file or directory (ENOENT)")
    }

    /// A failed transaction says what happened in words, and the kernel's reason by its errno's
    /// name (it said "errno 22").
    @Test func aFailedTransactionSaysWhyInWords() {
        let dead = BinderError.transactionFailed(.deadTarget, ExtendedError(id: 7, command: .deadReply, errno: -22))
        #expect(dead.description
            == "transaction failed: the object's process has died, or there is no context manager (BR_DEAD_REPLY); "
            + "the driver's reason: Invalid argument (EINVAL)")
        #expect(BinderError.transactionFailed(.frozenTarget).description
            == "transaction failed: the object's process is frozen (BR_FROZEN_REPLY)")
    }

    @Test func openingADirectoryFails() {
        let error = #expect(throws: BinderError.self) { _ = try BinderDevice(path: "/") }
        #expect(error?.errno == .isDirectory)
        #expect(error?.description.hasPrefix("open /: ") == true)
    }

    @Test func openingANonBinderDeviceFailsOnTheVersionIoctl() {
        let error = #expect(throws: BinderError.self) { _ = try BinderDevice(path: "/dev/null") }
        #expect(error?.errno == .inappropriateIOCTLForDevice)
        #expect(error?.description.hasPrefix("ioctl(BINDER_VERSION) /dev/null: ") == true)
    }

    @Test func aDirectoryThatIsNotBinderfsIsRefused() {
        let error = #expect(throws: BinderError.self) { _ = try Binderfs(mountPoint: "/proc") }
        guard case .notBinderfs(let path, _) = error else {
            Issue.record("expected notBinderfs, got \(String(describing: error))")
            return
        }
        #expect(path == "/proc")
        #expect(error?.description.contains("/proc: not a binderfs mount") == true)
    }

    @Test func aMissingMountPointNamesStatfs() {
        let error = #expect(throws: BinderError.self) { _ = try Binderfs(mountPoint: "/no/such/mount") }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description.hasPrefix("statfs /no/such/mount: ") == true)
    }

    @Test(arguments: ["", "a/b", "..", "binder-control", String(repeating: "x", count: 256)])
    func invalidDeviceNamesAreRefusedBeforeTheKernel(_ name: String) {
        #expect(throws: BinderError.self) { try Binderfs.validateDeviceName(name) }
    }

    @Test func validDeviceNamesPass() throws {
        try Binderfs.validateDeviceName("binder")
        try Binderfs.validateDeviceName(String(repeating: "x", count: 255))
    }
}
