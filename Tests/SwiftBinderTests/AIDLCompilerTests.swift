import AIDLCompiler
import AIDLCorpus
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The AIDL compiler on the corpus in Tests/AIDLCorpus: every feature accepted, every error
/// reported as file:line:col, and the same accept/reject decisions as AOSP's Android 10 aidl.
@Suite struct AIDLCompilerTests {
    static let corpus: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)
        return parts.joined(separator: "/") + "/AIDLCorpus"
    }()

    /// The .aidl files under `directory`, sorted.
    static func files(in directory: String) -> [String] {
        var found: [String] = []
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = directory + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) {
                found += files(in: path)
            } else if name.hasSuffix(".aidl") {
                found.append(path)
            }
        }
        return found.sorted()
    }

    static func expectedError(of file: String) -> String {
        let fd = try! FileDescriptor.open(FilePath(file), .readOnly)
        defer { try? fd.close() }
        var bytes = [UInt8](repeating: 0, count: 512)
        let count = (try? bytes.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
        let firstLine = String(decoding: bytes[..<count], as: UTF8.self).split(separator: "\n").first ?? ""
        return firstLine.hasPrefix("// error: ") ? String(firstLine.dropFirst("// error: ".count)) : ""
    }

    @Test func theValidCorpusCompiles() throws {
        let root = Self.corpus + "/valid"
        let inputs = Self.files(in: root)
        #expect(inputs.count >= 10)
        let outputs = try AIDLCompilerDriver.compile(inputs: inputs, includeRoots: [root])
        // One file per input, and the namespaces of their packages.
        #expect(outputs.count == inputs.count + 1)
        let namespaces = try #require(outputs.first { $0.fileName == AIDLCompilerDriver.namespacesFileName })
        #expect(namespaces.swift.contains("public enum com {}"))
        #expect(namespaces.swift.contains("extension com.example { public enum corpus {} }"))
        let everything = try #require(outputs.first { $0.fileName == "com.example.corpus.IEverything.swift" })
        // In its package's namespace, and named by it wherever generated code refers to it.
        #expect(everything.swift.contains("extension com.example.corpus {\n    /// `interface com.example.corpus.IEverything`\n    public enum IEverything {"))
        #expect(everything.swift.contains("extension com.example.corpus.IEverything.Service {"))
        #expect(everything.swift.contains("public static let descriptor = \"com.example.corpus.IEverythingRenamed\""))
        #expect(everything.swift.contains("flags: [.clearBuffer]"))  // @SensitiveData
        #expect(everything.swift.contains("public static let answer: Int32 = 42"))
        #expect(everything.swift.contains("public static let shifted: Int32 = "))
        let versioned = try #require(outputs.first { $0.fileName == "com.example.corpus.IVersioned.swift" })
        #expect(versioned.swift.contains("public static let second: UInt32 = 6"))  // id 5 → code 6
        #expect(versioned.swift.contains("public override var stability: StabilityLevel? { .vintf }"))
        // And the plugin compiled the same files into the AIDLCorpus module.
        #expect(CorpusTypes.descriptors == [
            "com.example.corpus.IEverythingRenamed", "com.example.corpus.ICallback", "com.example.corpus.IVersioned",
        ])
    }

    @Test(arguments: AIDLCompilerTests.files(in: AIDLCompilerTests.corpus + "/invalid"))
    func everyErrorIsReportedWithItsPlace(_ file: String) throws {
        let expected = Self.expectedError(of: file)
        #expect(!expected.isEmpty, "\(file) has no '// error:' line")
        let error = #expect(throws: AIDLErrors.self) { try AIDLCompilerDriver.check(inputs: [file], includeRoots: []) }
        let messages = error?.errors.map(\.description) ?? []
        #expect(messages.contains { $0.contains(expected) }, "expected '\(expected)', got \(messages)")
        for message in messages {
            #expect(message.hasPrefix(file + ":"))
            let place = message.dropFirst(file.count + 1).split(separator: ":", maxSplits: 2)
            #expect(place.count == 3 && Int(place[0]) != nil && Int(place[1]) != nil, "not file:line:col: \(message)")
        }
    }

    @Test func constantExpressionsFollowAOSPRules() throws {
        let source = """
            interface IConstants {
                const int PRECEDENCE = 1 + 2 * 3 - 4 / 2;
                const int SHIFTS = 1 << 4 >> 2;
                const int BITS = 0xF0 | 0x0F & 0x3C ^ 0x01;
                const int HEX_IS_INT = 0xFFFFFFFF;
                const long PROMOTED = 0x100000000;
                const long LONG_MATH = 1L << 62;
                const boolean LOGIC = 1 < 2 && 3 >= 3 || false;
                const String CONCAT = "a" + "b" + "c";
                const byte BYTE = -128;
                const int UNARY = -~5;
                const double MIXED = 1 / 2.0;
            }
            """
        let file = try temporaryFile("IConstants.aidl", source)
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []).first).swift
        for expected in [
            "precedence: Int32 = 5", "shifts: Int32 = 4", "bits: Int32 = 253", "hexIsInt: Int32 = -1",
            "promoted: Int64 = 4294967296", "longMath: Int64 = 4611686018427387904", "logic: Bool = true",
            "concat: String = \"abc\"", "byte: Int8 = -128", "unary: Int32 = 6", "mixed: Double = 0.5",
        ] {
            #expect(swift.contains("public static let " + expected), "missing \(expected)")
        }
    }

    /// What AOSP's constant expressions allow beyond C's (aidl_const_expressions.cpp at
    /// system/tools/aidl main, exercised by its tests/android/aidl/tests/ITestService.aidl and
    /// StructuredParcelable.aidl): u32/u64 suffixes, `_` digit groups, booleans as the integers
    /// 0 and 1, a value of any integer type initializing a narrower one when it fits, and a
    /// negative shift count shifting the other way.
    @Test func constantExpressionsAsAOSPExtendsThem() throws {
        let source = """
            parcelable Extended {
                const int SUFFIX_U32 = 0xFFFFFFFFu32;
                const long SUFFIX_U64 = 18446744073709551615u64;
                const int GROUPED = 2_147_483_647;
                const int GROUPED_HEX = 0x8000_0000;
                const int INT_MIN = -2147483648;
                const int COMPARED = 6 < 10;
                const int BOOL_MATH = (10 < 10) == 0;
                const int CHAINED = 2 < 3 <= 3;
                const int NEGATIVE_SHIFT = 8 << -1;
                const boolean FROM_INT = 5;
                int[] elements = {1, 2 == 2};
            }
            """
        let file = try temporaryFile("Extended.aidl", source)
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []).first).swift
        for expected in [
            "suffixU32: Int32 = -1", "suffixU64: Int64 = -1", "grouped: Int32 = 2147483647", "groupedHex: Int32 = -2147483648",
            "intMin: Int32 = -2147483648", "compared: Int32 = 1", "boolMath: Int32 = 1", "chained: Int32 = 1",
            "negativeShift: Int32 = 4", "fromInt: Bool = true", "elements: [Int32] = [1, 1]",
        ] {
            #expect(swift.contains(expected), "missing \(expected)")
        }
    }

    /// Every union has an implicit `Tag` enum (its fields by position, backed by int) that AIDL
    /// can name, as AOSP's ITestService.aidl does (`Union.Tag[] GetUnionTags(in Union[] input)`);
    /// a union holding itself by value gets an indirect case.
    @Test func unionsHaveATagEnumAndMayHoldThemselves() throws {
        let source = """
            union Shape { int circle; String square; @nullable Shape nested; }
            interface IShapes { Shape.Tag[] tags(in Shape[] shapes); }
            """
        let file = try temporaryFile("Shapes.aidl", source)
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []).first).swift
        for expected in [
            "public struct Tag: RawRepresentable", "public var rawValue: Int32", "public static let circle = Tag(rawValue: 0)",
            "public static let nested = Tag(rawValue: 2)", "public var tag: Tag {", "case .square: return .square",
            "indirect case nested(Shape?)", "func tags(shapes: [Shape]) throws -> [Shape.Tag]",
        ] {
            #expect(swift.contains(expected), "missing \(expected)")
        }
    }

    /// What compiling AOSP's own test interfaces (android-14.0.0_r21) found, pinned to AOSP's
    /// generated C++ (tests/golden_output) and aidl_to_cpp.cpp at that tag.
    @Test func outArraysAndNullableElementsAreEncodedAsAOSPs() throws {
        let source = """
            parcelable Item {}
            interface IArrays {
                void fixed(in int[3] input, out int[3] repeated);
                void sized(in int[] input, out int[] repeated);
                void binders(in IBinder[] input, out IBinder[] repeated);
                @nullable String[] names(in @nullable String[] names, in @nullable List<Item> items);
                @nullable int[] numbers(in @nullable int[] numbers);
                const int decInt32_1 = 1;
            }
            """
        let file = try temporaryFile("IArrays.aidl", source)
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []).first { $0.fileName == "IArrays.swift" }).swift
        func body(of method: String) -> Substring {
            guard let start = swift.firstRange(of: "public func \(method)(") else { return "" }
            return swift[start.lowerBound...].prefix(900)
        }
        // An out fixed-size array sends no length (BpRepeatFixedSizeArray::RepeatBytes writes only
        // the input); an out array does (writeVectorSize).
        #expect(!body(of: "fixed").contains("_request.writeInt32(Int32(repeated.count))"))
        #expect(body(of: "sized").contains("_request.writeInt32(Int32(repeated.count))"))
        // An out array of binders starts empty in the stub (no zero value), its length still checked.
        #expect(swift.contains("var _repeated: [any IBinder] = []"))
        // @nullable applies to the elements too, except primitives (optional<vector<optional<T>>>).
        #expect(swift.contains("func names(names: [String?]?, items: [Item?]?) throws -> [String?]?"))
        #expect(swift.contains("func numbers(numbers: [Int32]?) throws -> [Int32]?"))
        // Digits after digits keep their underscore.
        #expect(swift.contains("public static let decInt32_1: Int32 = 1"))
    }

    /// A file of a frozen version (AOSP's aidl_api/NAME/N/, with its .hash) gets that version and
    /// the hash's last line: the stub answers getInterfaceVersion and getInterfaceHash with them.
    @Test func frozenVersionsAnswerTheirVersionAndHash() throws {
        let base = try temporaryDirectory()
        let root = base + "/aidl_api/versioned-interface/3"
        for directory in ["/aidl_api", "/aidl_api/versioned-interface", "/aidl_api/versioned-interface/3", "/aidl_api/versioned-interface/3/com", "/aidl_api/versioned-interface/3/com/example"] {
            _ = mkdir(base + directory, 0o755)
        }
        for (name, text) in [(".hash", "aaaa\nbbbb\n"), ("com/example/IFrozen.aidl", "package com.example; interface IFrozen { void f(); }")] {
            let fd = try FileDescriptor.open(FilePath(root + "/" + name), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
            _ = try fd.writeAll(text.utf8)
            try fd.close()
        }
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [root + "/com/example/IFrozen.aidl"], includeRoots: [root]).first).swift
        #expect(swift.contains("public static let version: Int32 = 3"))
        #expect(swift.contains("public static let hash = \"bbbb\""))
    }

    /// Nesting deep enough to exhaust the stack (found by the aidl fuzzer: `{{{{…` in a
    /// constant) is refused with a located error, not a crash.
    @Test(arguments: [
        "parcelable Deep { int[] a = " + String(repeating: "{", count: 5000) + "}; }",
        "parcelable Deep { const int A = " + String(repeating: "-", count: 100_000) + "1; }",
        "parcelable Deep { const int A = " + String(repeating: "(", count: 5000) + "1; }",
        String(repeating: "parcelable P { ", count: 5000),
    ])
    func deepNestingIsAnErrorNotACrash(_ source: String) throws {
        let file = try temporaryFile("Deep.aidl", source)
        #expect(throws: AIDLErrors.self) { try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []) }
    }

    /// Shifts AOSP refuses as overflows, and malformed digit groups.
    @Test(arguments: ["-1 << 1", "1 << 32", "3 << 31", "-8 >> 1", "1__0", "10_", "0x_1"])
    func constantExpressionsAOSPRefuses(_ expression: String) throws {
        let file = try temporaryFile("Refused.aidl", "parcelable Refused { const int VALUE = \(expression); }")
        #expect(throws: AIDLErrors.self) { try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []) }
    }

    /// Enumerators and constants follow the Swift API Design Guidelines (lower camel case), with
    /// the AIDL name in their doc comment; a name that would clash keeps its AIDL spelling.
    @Test func enumeratorsAndConstantsGetSwiftNames() throws {
        let source = """
            @Backing(type="int") enum Mode { FAST_START, SLOW, kLegacy, DESCRIPTION, RAW_VALUE }
            interface IModes {
                const int MAX_COUNT = 3;
                const int MAXCOUNT = 4;
                const String DESCRIPTOR = "clash";
                Mode get();
            }
            """
        let file = try temporaryFile("Modes.aidl", source)
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []).first).swift
        for expected in [
            "/// `FAST_START`\n    public static let fastStart = Mode(rawValue: 0)", "public static let slow = Mode(rawValue: 1)",
            "public static let kLegacy = Mode(rawValue: 2)", "public static let DESCRIPTION = Mode(rawValue: 3)",
            "public static let RAW_VALUE = Mode(rawValue: 4)", "allCases: [Mode] = [.fastStart, .slow, .kLegacy, .DESCRIPTION, .RAW_VALUE]",
            "case 0: return \"FAST_START\"", "public static let maxCount: Int32 = 3", "public static let maxcount: Int32 = 4",
            "public static let DESCRIPTOR: String = \"clash\"",
        ] {
            #expect(swift.contains(expected), "missing \(expected)")
        }
    }

    /// A `byte` is an `Int8` and a `byte[]` a `[UInt8]`, as in AOSP's C++ (`int8_t`,
    /// `std::vector<uint8_t>`) and Rust (`i8`, `Vec<u8>`) backends; a default of -1 in a byte
    /// array is 255.
    @Test func byteArraysAreUnsigned() throws {
        let source = """
            parcelable Bytes {
                byte one = -1;
                byte[] many = {1, -2};
                @nullable byte[] maybe;
                byte[][] nested;
            }
            """
        let file = try temporaryFile("Bytes.aidl", source)
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: []).first).swift
        for expected in ["var one: Int8", "one: Int8 = -1", "many: [UInt8] = [1, 254]", "var maybe: [UInt8]?", "var nested: [[UInt8]]"] {
            #expect(swift.contains(expected), "missing \(expected)")
        }
    }

    @Test func versionedInterfacesAnswerTheMetaMethods() throws {
        let file = try temporaryFile("IVersionedApi.aidl", "interface IVersionedApi { void call(); }")
        let swift = try #require(try AIDLCompilerDriver.compile(inputs: [file], includeRoots: [], version: 3, hash: "abc123").first).swift
        #expect(swift.contains("public static let getInterfaceVersion: UInt32 = 16777215"))
        #expect(swift.contains("public static let getInterfaceHash: UInt32 = 16777214"))
        #expect(swift.contains("public static let version: Int32 = 3"))
        #expect(swift.contains("public static let hash = \"abc123\""))
        #expect(swift.contains("public func getInterfaceVersion() throws(RemoteError) -> Int32"))
    }

    @Test func theCommandLineExitsNonZeroWithTheErrors() throws {
        let file = Self.corpus + "/invalid/IUnknownType.aidl"
        let tool = try ChildProcess(ChildProcess.builtProduct("swift-aidl"), ["--check", file], mergeStandardError: true)
        let output = try tool.readAll()
        #expect(try tool.waitForExit() == 1)
        #expect(output.hasPrefix(file + ":2:"))
        #expect(output.contains("unknown type 'Missing'"))
    }

    @Test(.enabled(if: access("/usr/bin/aidl", X_OK) == 0, "Debian's aidl package (AOSP's Android 10 compiler) is not installed"))
    func acceptsAndRejectsWhatAndroid10Does() throws {
        let validRoot = Self.corpus + "/android10/valid"
        let cases = Self.files(in: validRoot).map { ($0, true, validRoot) }
            + Self.files(in: Self.corpus + "/android10/invalid").map { ($0, false, Self.corpus + "/android10/invalid") }
        #expect(cases.count >= 10)
        let output = try temporaryDirectory()
        for (file, shouldAccept, root) in cases {
            let aosp = try ChildProcess(
                "/usr/bin/aidl", ["--lang=cpp", "-I", root, "-o", output, "-h", output, file], mergeStandardError: true)
            _ = try aosp.readAll()
            let aospAccepts = try aosp.waitForExit() == 0
            let oursAccepts = (try? AIDLCompilerDriver.check(inputs: [file], includeRoots: [root])) != nil
            #expect(aospAccepts == shouldAccept, "Android 10's aidl on \(file)")
            #expect(oursAccepts == aospAccepts, "swift-aidl and Android 10's aidl disagree on \(file)")
        }
    }

    private func temporaryDirectory() throws -> String {
        var template = Array("/tmp/swift-aidl-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw Errno(rawValue: errno) }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let path = try temporaryDirectory() + "/" + name
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        _ = try fd.writeAll(contents.utf8)
        return path
    }
}

/// SwiftBinder compiles servicemanager's interface from committed Swift; it must be what
/// swift-aidl makes of the committed .aidl files today (scripts/regenerate-aidl updates it).
@Suite struct GeneratedServiceManagerTests {
    @Test func theCommittedSwiftIsUpToDate() throws {
        let sources = String(AIDLCompilerTests.corpus.dropLast("/Tests/AIDLCorpus".count)) + "/Sources/SwiftBinder/ServiceManager"
        let inputs = AIDLCompilerTests.files(in: sources + "/aidl")
        #expect(inputs.count == 12)
        for output in try AIDLCompilerDriver.compile(inputs: inputs, includeRoots: [], moduleName: "SwiftBinder") {
            let committed = readText(FilePath(sources + "/Generated/" + output.fileName))
            #expect(committed == output.swift, "\(output.fileName) is stale: run scripts/regenerate-aidl")
        }
    }
}
