// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "SwiftBinder",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SwiftBinder", targets: ["SwiftBinder"]),
        .executable(name: "servicemanager", targets: ["servicemanager"]),
        .executable(name: "binder", targets: ["binder"]),
        .executable(name: "calculator", targets: ["calculator"]),
        .executable(name: "aidl-test-service", targets: ["aidl-test-service"]),
        .executable(name: "swift-aidl", targets: ["swift-aidl"]),
        .plugin(name: "SwiftAIDLPlugin", targets: ["SwiftAIDLPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The kernel UAPI and the ioctl request numbers Swift cannot import. Nothing else.
        .target(name: "CBinder"),
        .target(
            name: "SwiftBinder",
            dependencies: [
                "CBinder",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // android.os.IServiceManager and its types: ServiceManager/Generated, made from ServiceManager/aidl
            // by scripts/regenerate-aidl (committed, so the library builds without the plugin).
            exclude: ["ServiceManager/aidl"]
        ),
        .executableTarget(
            name: "servicemanager",
            dependencies: [
                "SwiftBinder",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "binder",
            dependencies: [
                "SwiftBinder",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The AIDL compiler: parser, checker and Swift generator, and its command-line driver.
        .target(name: "AIDLCompiler", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        .executableTarget(
            name: "swift-aidl",
            dependencies: ["AIDLCompiler", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Build-tool plugin: a target's .aidl files become Swift at build time.
        .plugin(name: "SwiftAIDLPlugin", capability: .buildTool(), dependencies: ["swift-aidl"]),
        // The demo's calculator service and client.
        .executableTarget(
            name: "calculator",
            dependencies: [
                "SwiftBinder",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            plugins: ["SwiftAIDLPlugin"]
        ),
        // AOSP's AIDL integration-test interfaces (system/tools/aidl/tests at android-14.0.0_r21),
        // and the service that implements them as AOSP's aidl_test_service does.
        .target(name: "AIDLTestInterfaces", dependencies: ["SwiftBinder"], plugins: ["SwiftAIDLPlugin"]),
        .executableTarget(
            name: "aidl-test-service",
            dependencies: [
                "SwiftBinder", "AIDLTestInterfaces",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // The benchmarks' SwiftBinder side (scripts/bench).
        .executableTarget(
            name: "swiftbinder-bench", dependencies: ["SwiftBinder"], path: "Benchmarks/swift",
            plugins: ["SwiftAIDLPlugin"]),
        // Fuzz targets: a corpus replayer here; a libFuzzer binary when built by scripts/fuzz.
        .executableTarget(
            name: "swiftbinder-fuzz",
            dependencies: [
                "SwiftBinder", "ScriptedBinderDriver", "AIDLCompiler", .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Fuzz", exclude: ["seeds"]),
        // A binder driver tests script, for the engine's host tests and its fuzz target.
        .systemLibrary(name: "CMallocInfo", path: "Tests/CMallocInfo"),
        .target(name: "ScriptedBinderDriver", dependencies: ["SwiftBinder", "CBinder"], path: "Tests/ScriptedBinderDriver"),
        // Shared by the tests and the test peer: sample parcelables and the every-type value.
        .target(
            name: "BinderTestSupport", dependencies: ["SwiftBinder", "CMallocInfo"], path: "Tests/BinderTestSupport",
            plugins: ["SwiftAIDLPlugin"]),
        // The valid AIDL corpus, compiled to Swift by the plugin.
        .target(
            name: "AIDLCorpus", dependencies: ["SwiftBinder"], path: "Tests/AIDLCorpus/valid",
            plugins: ["SwiftAIDLPlugin"]),
        // The second process of the in-VM tests.
        .executableTarget(
            name: "binder-test-peer",
            dependencies: ["SwiftBinder", "BinderTestSupport", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/BinderTestPeer"
        ),
        .testTarget(
            name: "SwiftBinderTests",
            dependencies: [
                "SwiftBinder",
                "BinderTestSupport",
                "ScriptedBinderDriver",
                "AIDLCompiler",
                "AIDLCorpus",
                "AIDLTestInterfaces",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            exclude: []
        ),
    ],
    swiftLanguageModes: [.v6]
)
