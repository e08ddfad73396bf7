/// Semantic checks with AOSP's rules, reporting every error found in the checked files.
extension Compilation {
    static let knownAnnotations: Set<String> = [
        "nullable", "utf8InCpp", "VintfStability", "Backing", "SensitiveData", "Descriptor", "FixedSize",
        "UnsupportedAppUsage", "JavaOnlyStableParcelable", "NdkOnlyStableParcelable", "RustOnlyStableParcelable",
        "JavaPassthrough", "JavaDerive", "JavaOnlyImmutable", "RustDerive", "SuppressWarnings", "JavaDefault",
        "JavaDelegator", "JavaSuppressLint", "EnforcePermission", "PermissionManuallyEnforced",
        "RequiresNoPermission", "PropagateAllowBlocking", "Hide", "SystemApi", "Deprecated",
    ]

    /// Checks every declaration of `document`; returns the errors (also kept in ``errors``).
    @discardableResult
    public func check(_ document: Document) -> [AIDLError] {
        let before = errors.count
        if let package = document.package {
            // The file must sit at package/Name.aidl under its root, as AOSP requires for imports.
            _ = package
        }
        for imported in document.imports where symbol(named: imported.name) == nil {
            errors.append(AIDLError(imported.location, "couldn't find import for class \(imported.name)"))
        }
        for symbol in symbols(in: document) { check(symbol) }
        return Array(errors[before...])
    }

    private func check(_ symbol: Symbol) {
        let declaration = symbol.declaration
        checkAnnotations(declaration.annotations, allowed: nil)
        for constant in declaration.constants { check(constant, in: symbol) }
        checkUnique(declaration.constants.map { ($0.name, $0.location) }, what: "constant")
        checkUnique(declaration.nested.map { ($0.name, $0.location) }, what: "nested type")
        switch declaration.kind {
        case .interface(let isOneway, let methods):
            checkInterface(symbol, isOneway: isOneway, methods: methods)
        case .parcelable(let fields):
            guard let fields else { return }
            checkFields(fields, in: symbol, isUnion: false)
            if declaration.hasAnnotation("FixedSize") { checkFixedSize(fields, in: symbol) }
        case .union(let fields):
            if fields.isEmpty { errors.append(AIDLError(declaration.location, "union \(declaration.name) has no fields")) }
            checkFields(fields, in: symbol, isUnion: true)
            if declaration.hasAnnotation("FixedSize") { checkFixedSize(fields, in: symbol) }
        case .enumeration(let enumerators):
            _ = enumValues(symbol)
            if enumerators.isEmpty { errors.append(AIDLError(declaration.location, "enum \(declaration.name) has no enumerators")) }
            checkUnique(enumerators.map { ($0.name, $0.location) }, what: "enumerator")
        }
    }

    private func checkAnnotations(_ annotations: [Annotation], allowed: Set<String>?) {
        for annotation in annotations {
            if !Self.knownAnnotations.contains(annotation.name) {
                errors.append(AIDLError(annotation.location, "'@\(annotation.name)' is not a supported annotation"))
            } else if let allowed, !allowed.contains(annotation.name) {
                errors.append(AIDLError(annotation.location, "'@\(annotation.name)' is not supported here"))
            }
        }
    }

    private func checkUnique(_ names: [(String, SourceLocation)], what: String) {
        var seen = Set<String>()
        for (name, location) in names where !seen.insert(name).inserted {
            errors.append(AIDLError(location, "redefinition of \(what) '\(name)'"))
        }
    }

    // MARK: - Interfaces

    private func checkInterface(_ symbol: Symbol, isOneway: Bool, methods: [Method]) {
        checkUnique(methods.map { ($0.name, $0.location) }, what: "method")
        let withIDs = methods.filter { $0.id != nil }
        if !withIDs.isEmpty && withIDs.count != methods.count {
            errors.append(
                AIDLError(
                    (methods.first { $0.id == nil } ?? methods[0]).location,
                    "either all methods must have explicitly assigned transaction IDs or none of them should"))
        }
        var usedIDs: [Int64: String] = [:]
        for method in methods {
            checkAnnotations(method.annotations, allowed: nil)
            let oneway = isOneway || method.isOneway
            if let id = method.id, let value = evaluateInteger(id, in: symbol) {
                if value < 0 || value > 16_777_213 {
                    errors.append(AIDLError(id.location, "transaction ID \(value) of \(method.name) is out of range (0 to 16777213)"))
                } else if let other = usedIDs[value] {
                    errors.append(AIDLError(id.location, "found duplicate method ID (\(value)) for \(method.name) and \(other)"))
                } else {
                    usedIDs[value] = method.name
                }
            }
            let returnType = resolve(method.returnType, in: symbol, allowVoid: true)
            if oneway, let returnType {
                if case .void = returnType {} else {
                    errors.append(AIDLError(method.location, "oneway method '\(method.name)' cannot return a value"))
                }
            }
            checkUnique(method.arguments.map { ($0.name, $0.location) }, what: "argument")
            for argument in method.arguments {
                guard let type = resolve(argument.type, in: symbol, allowVoid: false) else { continue }
                let canBeOut = Self.canBeOutParameter(type)
                let isOut = argument.direction == .out || argument.direction == .inout
                if argument.direction == nil && canBeOut {
                    errors.append(AIDLError(argument.location, "The direction of '\(argument.name)' is not specified. \(describe(type)) can be an out type, so you should declare it as in, out, or inout."))
                } else if isOut && !canBeOut {
                    errors.append(AIDLError(argument.location, "'\(argument.name)' can't be an \(argument.direction!.rawValue) parameter because \(describe(type)) can only be an in parameter."))
                } else if isOut && oneway {
                    errors.append(AIDLError(argument.location, "oneway method '\(method.name)' cannot have out parameters"))
                }
            }
        }
    }

    static func canBeOutParameter(_ type: ResolvedType) -> Bool {
        switch type {
        case .array, .list, .parcelFileDescriptor, .parcelableHolder: return true
        case .declared(let symbol, _):
            switch symbol.declaration.kind {
            case .parcelable, .union: return true
            default: return false
            }
        default: return false
        }
    }

    // MARK: - Parcelables and unions

    private func checkFields(_ fields: [Field], in symbol: Symbol, isUnion: Bool) {
        checkUnique(fields.map { ($0.name, $0.location) }, what: "field")
        for (index, field) in fields.enumerated() {
            guard let type = resolve(field.type, in: symbol, allowVoid: false) else { continue }
            if let value = field.defaultValue {
                if isUnion && index > 0 {
                    errors.append(AIDLError(value.location, "only the first field of a union may have a default value"))
                }
                _ = constant(value, as: type, in: symbol)
            }
        }
    }

    private func checkFixedSize(_ fields: [Field], in symbol: Symbol) {
        for field in fields {
            guard let type = resolve(field.type, in: symbol, allowVoid: false), !isFixedSize(type) else { continue }
            errors.append(AIDLError(field.location, "the @FixedSize type \(symbol.declaration.name) has a field '\(field.name)' that is not fixed size"))
        }
    }

    private func isFixedSize(_ type: ResolvedType) -> Bool {
        switch type {
        case .primitive: return true
        case .array(let element, let fixed): return fixed != nil && isFixedSize(element)
        case .declared(let symbol, _):
            if case .enumeration = symbol.declaration.kind { return true }
            return symbol.declaration.hasAnnotation("FixedSize")
        default: return false
        }
    }

    // MARK: - Constants

    private func check(_ constant: Constant, in symbol: Symbol) {
        checkAnnotations(constant.annotations, allowed: nil)
        guard let type = resolve(constant.type, in: symbol, allowVoid: false) else { return }
        switch type {
        case .primitive, .string: _ = self.constant(constant.value, as: type, in: symbol)
        default: errors.append(AIDLError(constant.location, "constant '\(constant.name)' must be a primitive or String"))
        }
    }

    /// Evaluates `expression` as a value of `type`, reporting a mismatch.
    func constant(_ expression: ConstantExpression, as type: ResolvedType, in scope: Symbol) -> ConstantValue? {
        let evaluator = ConstantEvaluator { (path, location) throws(AIDLError) in
            try self.resolveConstant(path, at: location, in: scope)
        }
        let value: ConstantValue
        do {
            value = try evaluator.evaluate(expression)
        } catch {
            errors.append(error)
            return nil
        }
        guard let converted = convert(value, to: type) else {
            errors.append(AIDLError(expression.location, "a value of type \(value.typeName) cannot initialize '\(describe(type))'"))
            return nil
        }
        return converted
    }

    /// Converts a value to the type it initializes, as AOSP's `ValueString` does
    /// (aidl_const_expressions.cpp): a boolean or integer of any width initializes a byte, int
    /// or long when its value is in that type's range (so `int x = -2147483648` and
    /// `int x = 6 < 10` are fine), and a boolean from any integer (non-zero is true); any
    /// integer initializes float/double.
    func convert(_ value: ConstantValue, to type: ResolvedType) -> ConstantValue? {
        var value = value
        if case .boolean(let b) = value, case .primitive(let name) = type, ["byte", "int", "long"].contains(name) {
            value = .integer(b ? 1 : 0, bits: 8)
        }
        switch (type, value) {
        case (.primitive("boolean"), .boolean): return value
        case (.primitive("boolean"), .integer(let v, _)): return .boolean(v != 0)
        case (.primitive("byte"), .integer(let v, _)):
            guard let small = Int8(exactly: v) else { return nil }
            return .integer(Int64(small), bits: 8)
        case (.primitive("int"), .integer(let v, _)):
            guard let small = Int32(exactly: v) else { return nil }
            return .integer(Int64(small), bits: 32)
        case (.primitive("long"), .integer(let v, _)): return .integer(v, bits: 64)
        case (.primitive("char"), .character): return value
        case (.primitive("float"), .floating(let v, _)): return .floating(v, isFloat: true)
        case (.primitive("float"), .integer(let v, _)): return .floating(Double(v), isFloat: true)
        case (.primitive("double"), .floating(let v, _)): return .floating(v, isFloat: false)
        case (.primitive("double"), .integer(let v, _)): return .floating(Double(v), isFloat: false)
        case (.string, .string): return value
        case (.array(let element, let fixed), .array(let elements)):
            if let fixed, fixed != elements.count { return nil }
            var converted: [ConstantValue] = []
            for element_ in elements {
                guard let c = convert(element_, to: element) else { return nil }
                converted.append(c)
            }
            return .array(converted)
        case (.list(let element), .array(let elements)):
            return convert(.array(elements), to: .array(element, fixed: nil))
        case (.declared(let symbol, _), .integer):
            // An enum field initialized with one of its enumerators (resolved to its value).
            guard case .enumeration = symbol.declaration.kind, let backing = enumBacking(symbol) else { return nil }
            return convert(value, to: .primitive(backing))
        default:
            return nil
        }
    }

    func evaluateInteger(_ expression: ConstantExpression, in scope: Symbol) -> Int64? {
        guard let value = constant(expression, as: .primitive("long"), in: scope), case .integer(let v, _) = value else {
            return nil
        }
        return v
    }

    /// A reference in a constant expression: a constant or enumerator of an enclosing type, or
    /// `Type.NAME`.
    private func resolveConstant(_ path: [String], at location: SourceLocation, in scope: Symbol) throws(AIDLError)
        -> ConstantValue
    {
        let name = path.last!
        var owner: Symbol?
        if path.count == 1 {
            var current: Symbol? = scope
            while let candidate = current {
                if candidate.declaration.constants.contains(where: { $0.name == name }) || enumeratorIndex(candidate, name) != nil {
                    owner = candidate
                    break
                }
                current = candidate.parent
            }
        } else {
            owner = resolveName(path.dropLast().joined(separator: "."), in: scope.document, scope: scope)
        }
        guard let owner else { throw AIDLError(location, "unknown constant '\(path.joined(separator: "."))'") }
        if let constant = owner.declaration.constants.first(where: { $0.name == name }) {
            guard resolving.insert(owner.qualifiedName + "." + name).inserted else {
                throw AIDLError(location, "constant '\(name)' is defined in terms of itself")
            }
            defer { resolving.remove(owner.qualifiedName + "." + name) }
            guard let type = resolve(constant.type, in: owner, allowVoid: false),
                let value = self.constant(constant.value, as: type, in: owner)
            else { throw AIDLError(location, "constant '\(name)' has no valid value") }
            return value
        }
        if enumeratorIndex(owner, name) != nil {
            // An enumerator defined in terms of an earlier one of the same enum.
            if let value = partialEnumValues[owner.qualifiedName]?[name] { return value }
            if let values = enumValues(owner), let value = values[name] { return value }
        }
        throw AIDLError(location, "unknown constant '\(path.joined(separator: "."))'")
    }

    private func enumeratorIndex(_ symbol: Symbol, _ name: String) -> Int? {
        guard case .enumeration(let enumerators) = symbol.declaration.kind else { return nil }
        return enumerators.firstIndex { $0.name == name }
    }

    /// The backing type of an enum: `@Backing(type="…")`, byte by default.
    func enumBacking(_ symbol: Symbol) -> String? {
        guard let annotation = symbol.declaration.annotation("Backing") else { return "byte" }
        guard case .string(let type, let location)? = annotation.parameters["type"] else {
            errors.append(AIDLError(annotation.location, "@Backing needs type=\"byte\", \"int\" or \"long\""))
            return nil
        }
        guard ["byte", "int", "long"].contains(type) else {
            errors.append(AIDLError(location, "invalid @Backing type '\(type)': byte, int or long"))
            return nil
        }
        return type
    }

    /// The enumerators' values: explicit, or the previous one plus one (from 0).
    func enumValues(_ symbol: Symbol) -> [String: ConstantValue]? {
        if let cached = enumValueCache[symbol.qualifiedName] { return cached }
        guard case .enumeration(let enumerators) = symbol.declaration.kind, let backing = enumBacking(symbol) else {
            return nil
        }
        guard resolving.insert(symbol.qualifiedName).inserted else { return nil }
        defer { resolving.remove(symbol.qualifiedName) }
        var values: [String: ConstantValue] = [:]
        var next: Int64 = 0
        for enumerator in enumerators {
            if let expression = enumerator.value {
                // Evaluated as a long, then checked against the backing type below.
                guard let value = constant(expression, as: .primitive("long"), in: symbol), case .integer(let v, _) = value
                else { continue }
                next = v
            }
            let bits = backing == "byte" ? 8 : backing == "int" ? 32 : 64
            let fits = bits == 64 || (bits == 32 ? Int32(exactly: next) != nil : Int8(exactly: next) != nil)
            if !fits {
                errors.append(AIDLError(enumerator.location, "enumerator \(enumerator.name) = \(next) does not fit the \(backing) backing type"))
            }
            values[enumerator.name] = .integer(next, bits: bits)
            partialEnumValues[symbol.qualifiedName] = values
            next &+= 1
        }
        partialEnumValues[symbol.qualifiedName] = nil
        enumValueCache[symbol.qualifiedName] = values
        return values
    }

    // MARK: - Types

    /// Resolves a type written in `scope`, reporting unknown names and misuse.
    func resolve(_ reference: TypeReference, in scope: Symbol, allowVoid: Bool) -> ResolvedType? {
        checkAnnotations(reference.annotations, allowed: nil)
        guard var type = resolveBase(reference, in: scope, allowVoid: allowVoid) else { return nil }
        if reference.hasAnnotation("nullable"), type.isPrimitive, !reference.isArray {
            errors.append(AIDLError(reference.location, "primitive type \(reference.name) cannot be @nullable"))
        }
        if reference.hasAnnotation("utf8InCpp") {
            var base = type
            if case .array(let element, _) = type { base = element }
            if case .list(let element) = type { base = element }
            if case .string = base {} else {
                errors.append(AIDLError(reference.location, "@utf8InCpp can only be used on String types"))
            }
        }
        for dimension in reference.dimensions.reversed() {
            if case .void = type {
                errors.append(AIDLError(reference.location, "void cannot be an array"))
                return nil
            }
            switch dimension {
            case .dynamic:
                type = .array(type, fixed: nil)
            case .fixed(let expression):
                guard let size = evaluateInteger(expression, in: scope) else { return nil }
                guard size > 0 else {
                    errors.append(AIDLError(expression.location, "the size of a fixed-size array must be positive, not \(size)"))
                    return nil
                }
                type = .array(type, fixed: Int(size))
            }
        }
        return type
    }

    private func resolveBase(_ reference: TypeReference, in scope: Symbol, allowVoid: Bool) -> ResolvedType? {
        let name = reference.name
        let arguments = reference.genericArguments
        func noArguments() -> Bool {
            if arguments.isEmpty { return true }
            errors.append(AIDLError(reference.location, "\(name) does not take type arguments"))
            return false
        }
        switch name {
        case "boolean", "byte", "char", "int", "long", "float", "double":
            return noArguments() ? .primitive(name) : nil
        case "void":
            guard allowVoid else {
                errors.append(AIDLError(reference.location, "void is only valid as a return type"))
                return nil
            }
            return noArguments() ? .void : nil
        case "String", "CharSequence": return noArguments() ? .string : nil
        case "IBinder": return noArguments() ? .binder : nil
        case "FileDescriptor": return noArguments() ? .fileDescriptor : nil
        case "ParcelFileDescriptor": return noArguments() ? .parcelFileDescriptor : nil
        case "ParcelableHolder":
            guard case .parcelable = scope.declaration.kind else {
                errors.append(AIDLError(reference.location, "ParcelableHolder can only be a field of a parcelable"))
                return nil
            }
            return noArguments() ? .parcelableHolder : nil
        case "List":
            guard arguments.count == 1 else {
                errors.append(AIDLError(reference.location, "List needs exactly one type argument, e.g. List<String>"))
                return nil
            }
            guard let element = resolve(arguments[0], in: scope, allowVoid: false) else { return nil }
            if element.isPrimitive {
                errors.append(AIDLError(reference.location, "List<\(arguments[0].name)> is not supported: use \(arguments[0].name)[]"))
                return nil
            }
            return .list(element)
        case "Map":
            errors.append(AIDLError(reference.location, "Map is only supported by the Java backend"))
            return nil
        default:
            break
        }
        var enclosing: Symbol? = scope
        while let current = enclosing {
            if current.declaration.typeParameters.contains(name) { return .typeParameter(name) }
            enclosing = current.parent
        }
        guard let symbol = resolveName(name, in: scope.document, scope: scope) else {
            errors.append(AIDLError(reference.location, "unknown type '\(name)'"))
            return nil
        }
        let expected = symbol.declaration.typeParameters.count
        guard arguments.count == expected else {
            errors.append(AIDLError(reference.location, "\(symbol.declaration.name) takes \(expected) type arguments, not \(arguments.count)"))
            return nil
        }
        var resolvedArguments: [ResolvedType] = []
        for argument in arguments {
            guard let resolved = resolve(argument, in: scope, allowVoid: false) else { return nil }
            resolvedArguments.append(resolved)
        }
        return .declared(symbol, resolvedArguments)
    }

    func describe(_ type: ResolvedType) -> String {
        switch type {
        case .primitive(let name): return name
        case .void: return "void"
        case .string: return "String"
        case .binder: return "IBinder"
        case .fileDescriptor: return "FileDescriptor"
        case .parcelFileDescriptor: return "ParcelFileDescriptor"
        case .parcelableHolder: return "ParcelableHolder"
        case .list(let element): return "List<\(describe(element))>"
        case .array(let element, let fixed): return describe(element) + (fixed.map { "[\($0)]" } ?? "[]")
        case .declared(let symbol, _): return symbol.declaration.name
        case .typeParameter(let name): return name
        }
    }
}
