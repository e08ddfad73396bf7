import Synchronization
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where the integration tests find binder, and whether they must.
enum BinderTestEnvironment {
    /// The binderfs mount the tests create their devices in, if there is one.
    static let binderfs: Binderfs? = try? Binderfs.find()

    /// Set inside the test VM: a missing binderfs is then a failure, not a reason to skip.
    static let binderRequired = getenv("SWIFTBINDER_REQUIRE_BINDER").map { String(cString: $0) } == "1"

    /// Whether the integration tests run: binderfs is here, or its absence must fail them.
    static let runsIntegrationTests = binderfs != nil || binderRequired

    static let skipReason: Comment =
        "no binderfs mounted (the host kernel has no binder driver); scripts/test runs these tests in the binderfs VM"

    private static let counter = Mutex(0)

    /// A device name no other test of this run uses.
    static func uniqueDeviceName(_ label: String) -> String {
        let serial = counter.withLock { value in
            value += 1
            return value
        }
        return "test-\(getpid())-\(serial)-\(label)"
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only where binder is available (or required).
    static var requiresBinder: Self {
        .enabled(if: BinderTestEnvironment.runsIntegrationTests, BinderTestEnvironment.skipReason)
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only where the binderfs mount reports `feature` (its `features/` files):
    /// on an older kernel it is reported as skipped, never as passed.
    static func requiresDriverFeature(_ feature: KeyPath<Binderfs.Features, Bool>, _ name: String) -> Self {
        let present = BinderTestEnvironment.binderfs.map { $0.features()[keyPath: feature] }
        return .enabled(
            if: present ?? BinderTestEnvironment.binderRequired, "the kernel's binderfs lacks features/\(name)")
    }
}

/// A binderfs device made for one test and removed when the test is done with it.
final class TestDevice {
    let binderfs: Binderfs
    let name: String
    let path: FilePath

    init(_ label: String = "dev") throws {
        guard let binderfs = BinderTestEnvironment.binderfs else {
            throw BinderError.systemCall("statfs", path: Binderfs.defaultMountPoint, errno: .noSuchFileOrDirectory)
        }
        self.binderfs = binderfs
        self.name = BinderTestEnvironment.uniqueDeviceName(label)
        self.path = try binderfs.addDevice(named: name).path
    }

    deinit {
        try? binderfs.removeDevice(named: name)
    }
}

/// Tells scripts/vm/check-kernel-log that the next binder user error containing `message` is
/// provoked on purpose by this test (written to the kernel log, when this process may).
func expectKernelUserError(_ message: String) {
    let fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let line = "swiftbinder-test: expect binder user error: \(message)\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
}
