import SystemPackage

/// A declared type, wherever it was declared.
public final class Symbol: @unchecked Sendable {
    /// `package.Outer.Inner`
    public let qualifiedName: String
    /// The path of type names inside the package: `["Outer", "Inner"]`.
    public let path: [String]
    public let declaration: Declaration
    public let document: Document
    public let parent: Symbol?

    init(declaration: Declaration, document: Document, parent: Symbol?) {
        self.declaration = declaration
        self.document = document
        self.parent = parent
        self.path = (parent?.path ?? []) + [declaration.name]
        self.qualifiedName = ((document.package.map { [$0] } ?? []) + path).joined(separator: ".")
    }

    /// The Swift name of the type: nested as in AIDL, without the package.
    public var swiftName: String { path.joined(separator: ".") }

    /// The interface descriptor: `@Descriptor(value=…)` or the qualified name.
    var descriptor: String {
        if case .string(let value, _)? = declaration.annotation("Descriptor")?.parameters["value"] { return value }
        return qualifiedName
    }
}

/// A type with its references resolved.
public indirect enum ResolvedType: Sendable {
    case primitive(String)
    case void
    case string
    case binder
    case fileDescriptor
    case parcelFileDescriptor
    case parcelableHolder
    case list(ResolvedType)
    case array(ResolvedType, fixed: Int?)
    case declared(Symbol, [ResolvedType])
    case typeParameter(String)

    var isPrimitive: Bool {
        if case .primitive = self { return true }
        return false
    }
}

/// Everything the compiler knows: the parsed files (inputs and what they import), their
/// declarations by qualified name, and the errors found.
public final class Compilation {
    public private(set) var includeRoots: [String]
    private(set) var documents: [String: Document] = [:]
    private(set) var symbols: [String: Symbol] = [:]
    private var symbolsByDocument: [String: [Symbol]] = [:]
    var errors: [AIDLError] = []
    private var failedLookups: Set<String> = []
    /// Constants and enums being evaluated (to catch definitions in terms of themselves).
    var resolving: Set<String> = []
    var enumValueCache: [String: [String: ConstantValue]] = [:]
    var partialEnumValues: [String: [String: ConstantValue]] = [:]

    public init(includeRoots: [String]) {
        self.includeRoots = includeRoots
    }

    // MARK: - Loading

    /// Parses `path` (and registers its declarations) unless it was already loaded.
    @discardableResult
    public func load(path: String) throws(AIDLErrors) -> Document {
        if let document = documents[path] { return document }
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw AIDLErrors(errors: [AIDLError(SourceLocation(file: path, line: 0, column: 0), "cannot read: \(error)")])
        }
        let document: Document
        do {
            var parser = try Parser(text: text, file: path)
            document = try parser.parseDocument()
        } catch {
            throw AIDLErrors(errors: [error])
        }
        documents[path] = document
        // The root this file's package implies (root/a/b/Name.aidl for package a.b) is searched
        // too, so types of the same package are found next to it, as AOSP does.
        if let package = document.package {
            var directory = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            directory.removeLast()
            let packagePath = package.split(separator: ".").map(String.init)
            if directory.count >= packagePath.count, Array(directory.suffix(packagePath.count)) == packagePath {
                let root = directory.dropLast(packagePath.count).joined(separator: "/")
                let normalized = root.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : root
                if !includeRoots.contains(normalized) { includeRoots.append(normalized) }
            }
        }
        var registered: [Symbol] = []
        func register(_ declaration: Declaration, parent: Symbol?) {
            let symbol = Symbol(declaration: declaration, document: document, parent: parent)
            if let existing = symbols[symbol.qualifiedName], existing.document.file != path || existing !== symbol {
                if existing.document.file == path {
                    errors.append(AIDLError(declaration.location, "'\(symbol.qualifiedName)' is declared twice"))
                }
            }
            symbols[symbol.qualifiedName] = symbol
            registered.append(symbol)
            for nested in declaration.nested { register(nested, parent: symbol) }
        }
        for declaration in document.declarations { register(declaration, parent: nil) }
        symbolsByDocument[path] = registered
        return document
    }

    /// The symbols declared in a loaded file, outermost first.
    func symbols(in document: Document) -> [Symbol] { symbolsByDocument[document.file] ?? [] }

    /// Finds `qualifiedName` among loaded symbols or in the include roots (`a/b/C.aidl` for
    /// `a.b.C`, or `a/b/Outer.aidl` for the nested `a.b.Outer.Inner`).
    func symbol(named qualifiedName: String) -> Symbol? {
        if let symbol = symbols[qualifiedName] { return symbol }
        guard !failedLookups.contains(qualifiedName) else { return nil }
        let parts = qualifiedName.split(separator: ".").map(String.init)
        for end in stride(from: parts.count, through: 1, by: -1) {
            let relative = parts[..<end].joined(separator: "/") + ".aidl"
            for root in includeRoots {
                let candidate = root.hasSuffix("/") ? root + relative : root + "/" + relative
                guard fileExists(candidate) else { continue }
                do {
                    try load(path: candidate)
                } catch {
                    errors.append(contentsOf: error.errors)
                    continue
                }
                if let symbol = symbols[qualifiedName] { return symbol }
            }
        }
        failedLookups.insert(qualifiedName)
        return nil
    }

    // MARK: - Resolving names

    static let builtins: Set<String> = [
        "boolean", "byte", "char", "int", "long", "float", "double", "void", "String", "CharSequence", "IBinder",
        "FileDescriptor", "ParcelFileDescriptor", "ParcelableHolder", "List", "Map",
    ]

    /// Resolves a type name written inside `scope` (nil: at the top of `document`).
    func resolveName(_ name: String, in document: Document, scope: Symbol?) -> Symbol? {
        let parts = name.split(separator: ".").map(String.init)
        guard let first = parts.first else { return nil }
        var base: Symbol?
        // Nested declarations of the enclosing types, innermost first.
        var enclosing = scope
        while let current = enclosing, base == nil {
            if current.declaration.name == first && parts.count > 1 { base = current }
            base = base ?? symbols[current.qualifiedName + "." + first]
            enclosing = current.parent
        }
        // Declarations of this file, imports, this package.
        let package = document.package.map { $0 + "." } ?? ""
        if base == nil { base = symbols[package + first].flatMap { $0.document.file == document.file ? $0 : nil } }
        if base == nil, let imported = document.imports.first(where: { $0.name.split(separator: ".").last.map(String.init) == first }) {
            base = symbol(named: imported.name)
        }
        if base == nil { base = symbol(named: package + first) }
        if let base {
            return parts.count == 1 ? base : symbol(named: base.qualifiedName + "." + parts.dropFirst().joined(separator: "."))
        }
        // A fully qualified name.
        return parts.count > 1 ? symbol(named: name) : nil
    }

    func readFile(_ path: String) throws -> String {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func fileExists(_ path: String) -> Bool {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]) else { return false }
        try? fd.close()
        return true
    }
}
