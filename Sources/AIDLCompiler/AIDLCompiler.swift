import SystemPackage

/// The compiler's entry point: parse and check input files (resolving imports through the
/// include roots, as AOSP's aidl does) and generate Swift for each.
public enum AIDLCompilerDriver {
    public struct Output: Sendable {
        /// The input file.
        public var input: String
        /// Where the Swift goes: the input's package and name with `.swift` (`android.os.IServiceManager.swift`).
        public var fileName: String
        public var swift: String
    }

    /// Checks `inputs` and returns the Swift for each, or every error found.
    public static func compile(
        inputs: [String], includeRoots: [String], version: Int32? = nil, hash: String? = nil, moduleName: String? = nil
    ) throws(AIDLErrors) -> [Output] {
        let compilation = Compilation(includeRoots: includeRoots)
        var documents: [Document] = []
        var errors: [AIDLError] = []
        for input in inputs {
            do {
                documents.append(try compilation.load(path: input))
            } catch {
                errors += error.errors
            }
        }
        for document in documents {
            errors += compilation.check(document)
            errors += checkLocation(document)
        }
        errors += compilation.errors.filter { error in !errors.contains(error) }
        guard errors.isEmpty else { throw AIDLErrors(errors: dedupe(errors)) }
        var generator = SwiftGenerator(compilation: compilation)
        generator.interfaceVersion = version
        generator.interfaceHash = hash
        generator.moduleName = moduleName
        var files: [Output] = []
        for document in documents {
            let base = document.file.split(separator: "/").last.map(String.init) ?? document.file
            let name = base.hasSuffix(".aidl") ? String(base.dropLast(5)) : base
            var documentGenerator = generator
            if version == nil, hash == nil, let frozen = frozenVersion(of: document.file, compilation) {
                documentGenerator.interfaceVersion = frozen.version
                documentGenerator.interfaceHash = frozen.hash
            }
            // Named by package too: two packages may each have a Union.aidl.
            let fileName = (document.package.map { $0 + "." } ?? "") + name + ".swift"
            files.append(Output(input: document.file, fileName: fileName, swift: documentGenerator.generate(document)))
        }
        let packages = Set(documents.compactMap(\.package))
        return files + [Output(input: "", fileName: namespacesFileName, swift: generator.namespaces(of: packages))]
    }

    /// The extra output declaring the namespaces of the inputs' packages, once per module (see
    /// ``SwiftGenerator/namespaces(of:)``).
    public static let namespacesFileName = "AIDLPackages.swift"

    /// The version and hash of a file in a frozen version of a versioned interface, laid out as
    /// AOSP's `aidl_api/NAME/N/` (`N` the version, its `.hash` file's last line the hash, as
    /// aidl_interface takes it): a service built from it answers getInterfaceVersion and
    /// getInterfaceHash as that version's C++ service does.
    static func frozenVersion(of file: String, _ compilation: Compilation) -> (version: Int32, hash: String)? {
        var components = file.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        while let last = components.last {
            if let version = Int32(last), components.dropLast().dropLast().last == "aidl_api",
                let text = try? compilation.readFile((components + [".hash"]).joined(separator: "/")),
                let hash = text.split(whereSeparator: \.isNewline).last.map(String.init), !hash.isEmpty
            {
                return (version, hash)
            }
            components.removeLast()
        }
        return nil
    }

    /// Checks inputs without generating anything.
    public static func check(inputs: [String], includeRoots: [String]) throws(AIDLErrors) {
        _ = try compile(inputs: inputs, includeRoots: includeRoots)
    }

    /// A file declaring one top-level type must be named after it (AOSP: "Filename does not
    /// match the declared type").
    private static func checkLocation(_ document: Document) -> [AIDLError] {
        guard document.declarations.count == 1, let declaration = document.declarations.first else { return [] }
        let base = document.file.split(separator: "/").last.map(String.init) ?? document.file
        let expected = declaration.name.split(separator: ".").last.map(String.init) ?? declaration.name
        guard base == expected + ".aidl" else {
            return [AIDLError(declaration.location, "file name \(base) does not match the declared type \(expected)")]
        }
        return []
    }

    private static func dedupe(_ errors: [AIDLError]) -> [AIDLError] {
        var seen = Set<AIDLError>()
        return errors.filter { seen.insert($0).inserted }
    }
}
