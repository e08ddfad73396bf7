import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Which release a device speaks, from libgbinder's configuration (mer-hybris/libgbinder
/// src/gbinder_config.c: the key file format, /etc/gbinder.d overriding /etc/gbinder.conf, the
/// ApiLevel presets), the environment and explicit choices.
@Suite struct BinderConfigurationTests {
    let device: FilePath = "/dev/binderfs/anbox-binder"

    @Test func apiLevelsMapToReleases() {
        let expected: [Int: AndroidRelease] = [
            29: .android10, 30: .android11, 31: .android12, 32: .android12, 33: .android13, 34: .android14,
            35: .android15, 36: .android16,
        ]
        for (level, release) in expected { #expect(AndroidRelease(apiLevel: level) == release) }
        #expect(AndroidRelease(apiLevel: 28) == nil)
        #expect(AndroidRelease(parsing: "33") == .android13)
        #expect(AndroidRelease(parsing: "android15r1") == .android15r1)
        #expect(AndroidRelease(parsing: "android9") == nil)
    }

    @Test func nothingConfiguredIsTheDefault() throws {
        let choice = try BinderConfiguration().release(for: device)
        #expect(choice == BinderConfiguration.Choice(release: .android16, source: "the default"))
    }

    /// Waydroid writes `[General] ApiLevel` and per-device keys; ApiLevel applies to every device.
    @Test func apiLevelAppliesToEveryDevice() throws {
        let configuration = BinderConfiguration(
            parsing: """
                # Waydroid
                [General]
                ApiLevel = 30
                """, file: "/etc/gbinder.conf")
        let choice = try configuration.release(for: device)
        #expect(choice.release == .android11)
        #expect(choice.source == "/etc/gbinder.conf: [General] ApiLevel=30")
    }

    /// libgbinder's variant names (gbinder_servicemanager_aidl*.c, gbinder_rpc_protocol.c) pick
    /// the release; ApiLevel chooses among the releases a name fits, else the oldest is taken.
    @Test(arguments: [
        ("aidl2", nil, nil, AndroidRelease.android10),
        ("aidl3", nil, nil, .android11),
        ("aidl3", "aidl4", nil, .android12),
        ("aidl4", nil, nil, .android12),
        ("aidl3", "aidl3", 33, .android13),
        ("aidl3", nil, 34, .android14),
        ("aidl5", "aidl3", 35, .android15),
        ("aidl6", nil, nil, .android16),
        ("aidl3", nil, 36, .android11),  // ApiLevel 36 speaks aidl6: the device's own key wins
    ] as [(String, String?, Int?, AndroidRelease)])
    func variantNamesPickTheRelease(_ serviceManager: String, _ protocolName: String?, _ apiLevel: Int?, _ release: AndroidRelease) throws {
        var text = "[ServiceManager]\n\(device) = \(serviceManager)\n"
        if let protocolName { text += "[Protocol]\n\(device) = \(protocolName)\n" }
        if let apiLevel { text += "[General]\nApiLevel = \(apiLevel)\n" }
        #expect(try BinderConfiguration(parsing: text).release(for: device).release == release)
    }

    @Test func theDefaultKeyServesDevicesWithoutTheirOwn() throws {
        let configuration = BinderConfiguration(
            parsing: """
                [ServiceManager]
                Default = aidl2
                /dev/binderfs/other = aidl6
                """)
        #expect(try configuration.release(for: device).release == .android10)
        #expect(try configuration.release(for: "/dev/binderfs/other").release == .android16)
    }

    @Test func whatSwiftBinderCannotSpeakIsAnError() {
        #expect(throws: ConfigurationError.self) {
            try BinderConfiguration(parsing: "[ServiceManager]\nDefault = aidl\n").release(for: device)
        }
        #expect(throws: ConfigurationError.self) {
            try BinderConfiguration(parsing: "[Protocol]\nDefault = hidl\n").release(for: device)
        }
        #expect(throws: ConfigurationError.self) {
            try BinderConfiguration(parsing: "[General]\nApiLevel = 28\n").release(for: device)
        }
        let contradiction = #expect(throws: ConfigurationError.self) {
            try BinderConfiguration(parsing: "[ServiceManager]\nDefault = aidl5\n[Protocol]\nDefault = aidl2\n")
                .release(for: device)
        }
        #expect(contradiction.map { "\($0)" }?.contains("no Android release has both") == true)
    }

    /// libgbinder applies its highest preset at or below ApiLevel, and its presets write keys for
    /// /dev/binder and /dev/vndbinder, which then win over `Default`; other devices use `Default`.
    @Test func apiLevelPresetsAsLibgbinderAppliesThem() throws {
        let configuration = BinderConfiguration(
            parsing: """
                [General]
                ApiLevel = 37
                [ServiceManager]
                Default = aidl3
                """)
        #expect(try configuration.release(for: "/dev/binder").release == .android16)
        #expect(try configuration.release(for: "/dev/vndbinder").release == .android16)
        #expect(try configuration.release(for: device).release == .android11)
    }

    @Test func anExplicitReleaseWins() throws {
        let configuration = BinderConfiguration(parsing: "[General]\nApiLevel = 30\n")
        #expect(try configuration.release(for: device, explicit: .android13).release == .android13)
    }

    /// Files in /etc/gbinder.d override /etc/gbinder.conf key by key, in name order; a key that
    /// names a symbolic link matches the device it resolves to (Waydroid's /dev/anbox-binder);
    /// the environment overrides both.
    @Test func filesMergeLinksResolveAndTheEnvironmentWins() throws {
        let root = "/tmp/swiftbinder-config-\(getpid())"
        let directory = root + "/gbinder.d"
        mkdir(root, 0o755)
        mkdir(directory, 0o755)
        defer {
            for file in ["gbinder.conf", "gbinder.d/10-a.conf", "gbinder.d/20-b.conf", "binder", "link", "other.conf"] {
                unlink(root + "/" + file)
            }
            rmdir(directory)
            rmdir(root)
        }
        try write(root + "/gbinder.conf", "[General]\nApiLevel = 30\n[ServiceManager]\n\(root)/link = aidl2\n")
        try write(directory + "/20-b.conf", "[General]\nApiLevel = 34\n")
        try write(directory + "/10-a.conf", "[General]\nApiLevel = 33\n")
        try write(root + "/binder", "")
        symlink(root + "/binder", root + "/link")

        let configuration = BinderConfiguration.load(
            file: FilePath(root + "/gbinder.conf"), directory: FilePath(directory), environment: [:])
        #expect(configuration.files == [root + "/gbinder.conf", directory + "/10-a.conf", directory + "/20-b.conf"])
        #expect(try configuration.release(for: "/dev/binderfs/other").release == .android14)
        let linked = try configuration.release(for: FilePath(root + "/binder"))
        #expect(linked.release == .android10)
        #expect(linked.source.contains("[ServiceManager] \(root)/link=aidl2"))

        let environment = BinderConfiguration.load(
            file: FilePath(root + "/gbinder.conf"), directory: FilePath(directory),
            environment: [BinderConfiguration.releaseVariable: "android12"])
        #expect(try environment.release(for: FilePath(root + "/binder")).release == .android12)

        try write(root + "/other.conf", "[General]\nApiLevel = 29\n")
        let redirected = BinderConfiguration.load(
            file: FilePath(root + "/gbinder.conf"), directory: FilePath(directory),
            environment: [BinderConfiguration.fileVariable: root + "/other.conf"])
        #expect(redirected.files == [root + "/other.conf"])
        #expect(try redirected.release(for: device).release == .android10)
    }

    private func write(_ path: String, _ text: String) throws {
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        _ = try fd.writeAll(text.utf8)
    }
}
