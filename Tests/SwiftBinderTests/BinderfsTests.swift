import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.requiresBinder) struct BinderfsTests {
    @Test func createsListsAndRemovesDevices() throws {
        let binderfs = try #require(BinderTestEnvironment.binderfs)
        let first = BinderTestEnvironment.uniqueDeviceName("a")
        let second = BinderTestEnvironment.uniqueDeviceName("b")
        let created = try binderfs.addDevice(named: first)
        try binderfs.addDevice(named: second)
        defer { try? binderfs.removeDevice(named: second) }

        #expect(created.path == binderfs.mountPoint.appending(first))
        #expect(created.major > 0)
        var names = try binderfs.deviceNames()
        #expect(names.contains(first) && names.contains(second))
        #expect(!names.contains("binder-control"))

        // A new node is a 0600 character device.
        var info = stat()
        #expect(stat(created.path.string, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFCHR)
        #expect(info.st_mode & 0o777 == 0o600)

        try binderfs.removeDevice(named: first)
        names = try binderfs.deviceNames()
        #expect(!names.contains(first) && names.contains(second))
        #expect(throws: BinderError.self) { _ = try BinderDevice(path: created.path) }
    }

    @Test func aTakenNameIsEEXIST() throws {
        let device = try TestDevice("dup")
        let error = #expect(throws: BinderError.self) { try device.binderfs.addDevice(named: device.name) }
        #expect(error?.errno == .fileExists)
    }

    @Test func removingAMissingDeviceIsENOENT() throws {
        let binderfs = try #require(BinderTestEnvironment.binderfs)
        let error = #expect(throws: BinderError.self) { try binderfs.removeDevice(named: "never-created") }
        #expect(error?.errno == .noSuchFileOrDirectory)
    }

    @Test func accessCanBeOpenedToOthers() throws {
        let device = try TestDevice("mode")
        try device.binderfs.setAccess(ofDevice: device.name, mode: [.ownerReadWrite, .groupReadWrite], group: 1234)
        var info = stat()
        #expect(stat(device.path.string, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_gid == 1234)
    }

    @Test(.enabled(if: BinderTestEnvironment.binderRequired, "checks the VM's 6.12 kernel; a binderfs host may be older"))
    func featuresOfThe612Kernel() throws {
        let binderfs = try #require(BinderTestEnvironment.binderfs)
        let features = binderfs.features()
        // The VM runs 6.12, which has all three; a binderfs host may be older.
        #expect(features.onewaySpamDetection)
        #expect(features.extendedError)
        #expect(features.freezeNotification)
        #expect(binderfs.feature("no_such_feature") == false)
    }

    @Test func theMountIsFoundInProcMounts() throws {
        let binderfs = try #require(BinderTestEnvironment.binderfs)
        #expect(try Binderfs.mountPoints().contains(binderfs.mountPoint))
    }
}
