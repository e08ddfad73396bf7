/// Parses AIDL source into a ``Document`` (syntax only; ``Checker`` does the rest).
public struct Parser {
    private var tokens: [Token]
    private var position = 0
    /// How deeply the constant expression being parsed nests (unary operators, parentheses,
    /// array literals): bounded, as parsing recurses and the input may come from anyone.
    private var expressionDepth = 0
    private var declarationDepth = 0
    static let maximumExpressionDepth = 200
    private let file: String

    public init(text: String, file: String) throws(AIDLError) {
        var lexer = Lexer(text: text, file: file)
        tokens = try lexer.tokenize()
        self.file = file
    }

    public mutating func parseDocument() throws(AIDLError) -> Document {
        var package: String?
        var imports: [(String, SourceLocation)] = []
        var declarations: [Declaration] = []
        if isKeyword("package") {
            advance()
            package = try qualifiedName()
            try expect(";")
        }
        while isKeyword("import") {
            let location = current.location
            advance()
            imports.append((try qualifiedName(), location))
            try expect(";")
        }
        while current.kind != .end {
            declarations.append(try declaration())
        }
        if declarations.isEmpty {
            throw AIDLError(current.location, "expected a declaration (interface, parcelable, enum or union)")
        }
        return Document(file: file, package: package, imports: imports, declarations: declarations)
    }

    // MARK: - Declarations

    private mutating func declaration() throws(AIDLError) -> Declaration {
        // Types nest in types: bounded too, as parsing (and everything after it) recurses.
        guard declarationDepth < Self.maximumExpressionDepth else {
            throw AIDLError(current.location, "declarations nested more than \(Self.maximumExpressionDepth) deep")
        }
        declarationDepth += 1
        defer { declarationDepth -= 1 }
        let annotations = try annotationList()
        var isOneway = false
        if isKeyword("oneway") {
            isOneway = true
            advance()
        }
        let location = current.location
        guard case .identifier(let keyword) = current.kind else {
            throw AIDLError(location, "expected interface, parcelable, enum or union, found \(describe(current))")
        }
        switch keyword {
        case "interface":
            advance()
            return try interfaceBody(annotations: annotations, isOneway: isOneway, location: location)
        case "parcelable", "enum", "union":
            if isOneway { throw AIDLError(location, "only interfaces can be oneway") }
            advance()
            if keyword == "parcelable" { return try parcelableBody(annotations: annotations, location: location) }
            if keyword == "enum" { return try enumBody(annotations: annotations, location: location) }
            return try unionBody(annotations: annotations, location: location)
        default:
            throw AIDLError(location, "expected interface, parcelable, enum or union, found '\(keyword)'")
        }
    }

    private mutating func interfaceBody(annotations: [Annotation], isOneway: Bool, location: SourceLocation)
        throws(AIDLError) -> Declaration
    {
        let name = try identifier("an interface name")
        try expect("{")
        var methods: [Method] = []
        var constants: [Constant] = []
        var nested: [Declaration] = []
        while !isSymbol("}") {
            if current.kind == .end { throw AIDLError(current.location, "expected '}' to close interface \(name)") }
            let memberAnnotations = try annotationList()
            if isKeyword("const") {
                constants.append(try constant(annotations: memberAnnotations))
            } else if isDeclarationStart {
                var declaration = try declaration()
                declaration.annotations = memberAnnotations + declaration.annotations
                nested.append(declaration)
            } else {
                methods.append(try method(annotations: memberAnnotations))
            }
        }
        advance()
        return Declaration(
            kind: .interface(isOneway: isOneway, methods: methods), annotations: annotations, name: name,
            typeParameters: [], constants: constants, nested: nested, location: location)
    }

    private var isDeclarationStart: Bool {
        if isKeyword("interface") || isKeyword("parcelable") || isKeyword("enum") || isKeyword("union") { return true }
        if isKeyword("oneway"), case .identifier("interface") = peek(1).kind { return true }
        return false
    }

    private mutating func method(annotations: [Annotation]) throws(AIDLError) -> Method {
        let location = current.location
        var isOneway = false
        if isKeyword("oneway") {
            isOneway = true
            advance()
        }
        var returnType = try type()
        // Annotations written before a method that describe a type belong to its return type.
        let typeAnnotations: Set<String> = ["nullable", "utf8InCpp"]
        returnType.annotations = annotations.filter { typeAnnotations.contains($0.name) } + returnType.annotations
        let methodAnnotations = annotations.filter { !typeAnnotations.contains($0.name) }
        let name = try identifier("a method name")
        try expect("(")
        var arguments: [Argument] = []
        if !isSymbol(")") {
            repeat {
                let argumentLocation = current.location
                let argumentAnnotations = try annotationList()
                var direction: Direction?
                if case .identifier(let word) = current.kind, let parsed = Direction(rawValue: word) {
                    direction = parsed
                    advance()
                }
                var argumentType = try type()
                argumentType.annotations = argumentAnnotations + argumentType.annotations
                let argumentName = try identifier("an argument name")
                arguments.append(Argument(direction: direction, type: argumentType, name: argumentName, location: argumentLocation))
            } while consume(",")
        }
        try expect(")")
        var id: ConstantExpression?
        if consume("=") { id = try expression() }
        try expect(";")
        return Method(
            annotations: methodAnnotations, isOneway: isOneway, returnType: returnType, name: name, arguments: arguments,
            id: id, location: location)
    }

    private mutating func constant(annotations: [Annotation]) throws(AIDLError) -> Constant {
        let location = current.location
        advance()  // const
        let constantType = try type()
        let name = try identifier("a constant name")
        try expect("=")
        let value = try expression()
        try expect(";")
        return Constant(annotations: annotations, type: constantType, name: name, value: value, location: location)
    }

    private mutating func typeParameterList() throws(AIDLError) -> [String] {
        guard consume("<") else { return [] }
        var names: [String] = []
        repeat { names.append(try identifier("a type parameter")) } while consume(",")
        try expect(">")
        return names
    }

    private mutating func parcelableBody(annotations: [Annotation], location: SourceLocation) throws(AIDLError) -> Declaration {
        let name = try qualifiedName()
        let typeParameters = try typeParameterList()
        if consume(";") {
            return Declaration(
                kind: .parcelable(fields: nil), annotations: annotations, name: name, typeParameters: typeParameters,
                constants: [], nested: [], location: location)
        }
        // Unstructured parcelables may name headers for other backends.
        if isKeyword("cpp_header") || isKeyword("ndk_header") || isKeyword("rust_type") {
            while isKeyword("cpp_header") || isKeyword("ndk_header") || isKeyword("rust_type") {
                advance()
                guard case .string = current.kind else { throw AIDLError(current.location, "expected a string") }
                advance()
            }
            try expect(";")
            return Declaration(
                kind: .parcelable(fields: nil), annotations: annotations, name: name, typeParameters: typeParameters,
                constants: [], nested: [], location: location)
        }
        let (fields, constants, nested) = try members(of: "parcelable \(name)")
        return Declaration(
            kind: .parcelable(fields: fields), annotations: annotations, name: name, typeParameters: typeParameters,
            constants: constants, nested: nested, location: location)
    }

    private mutating func unionBody(annotations: [Annotation], location: SourceLocation) throws(AIDLError) -> Declaration {
        let name = try identifier("a union name")
        let typeParameters = try typeParameterList()
        var (fields, constants, nested) = try members(of: "union \(name)")
        // Every union has an implicit enum `Tag` naming its fields, valued by position and
        // backed by int (AOSP's generators make it; AIDL refers to it as `Union.Tag`).
        if !nested.contains(where: { $0.name == "Tag" }) {
            let backing = Annotation(name: "Backing", parameters: ["type": .string("int", location)], location: location)
            nested.append(
                Declaration(
                    kind: .enumeration(enumerators: fields.map { Enumerator(name: $0.name, value: nil, location: $0.location) }),
                    annotations: [backing], name: "Tag", typeParameters: [], constants: [], nested: [], location: location))
        }
        return Declaration(
            kind: .union(fields: fields), annotations: annotations, name: name, typeParameters: typeParameters,
            constants: constants, nested: nested, location: location)
    }

    private mutating func members(of owner: String) throws(AIDLError) -> ([Field], [Constant], [Declaration]) {
        try expect("{")
        var fields: [Field] = []
        var constants: [Constant] = []
        var nested: [Declaration] = []
        while !isSymbol("}") {
            if current.kind == .end { throw AIDLError(current.location, "expected '}' to close \(owner)") }
            let memberAnnotations = try annotationList()
            if isKeyword("const") {
                constants.append(try constant(annotations: memberAnnotations))
            } else if isDeclarationStart {
                var declaration = try declaration()
                declaration.annotations = memberAnnotations + declaration.annotations
                nested.append(declaration)
            } else {
                let location = current.location
                var fieldType = try type()
                fieldType.annotations = memberAnnotations + fieldType.annotations
                let name = try identifier("a field name")
                var defaultValue: ConstantExpression?
                if consume("=") { defaultValue = try expression() }
                try expect(";")
                fields.append(
                    Field(annotations: memberAnnotations, type: fieldType, name: name, defaultValue: defaultValue, location: location))
            }
        }
        advance()
        return (fields, constants, nested)
    }

    private mutating func enumBody(annotations: [Annotation], location: SourceLocation) throws(AIDLError) -> Declaration {
        let name = try identifier("an enum name")
        try expect("{")
        var enumerators: [Enumerator] = []
        while !isSymbol("}") {
            let enumeratorLocation = current.location
            let enumeratorName = try identifier("an enumerator")
            var value: ConstantExpression?
            if consume("=") { value = try expression() }
            enumerators.append(Enumerator(name: enumeratorName, value: value, location: enumeratorLocation))
            if !consume(",") { break }
        }
        try expect("}")
        return Declaration(
            kind: .enumeration(enumerators: enumerators), annotations: annotations, name: name, typeParameters: [],
            constants: [], nested: [], location: location)
    }

    // MARK: - Types

    private mutating func type() throws(AIDLError) -> TypeReference {
        let location = current.location
        let annotations = try annotationList()
        let name = try qualifiedName()
        var genericArguments: [TypeReference] = []
        if consume("<") {
            repeat { genericArguments.append(try type()) } while consume(",")
            try expect(">")
        }
        var dimensions: [TypeReference.Dimension] = []
        while consume("[") {
            if consume("]") {
                dimensions.append(.dynamic)
            } else {
                dimensions.append(.fixed(try expression()))
                try expect("]")
            }
        }
        return TypeReference(
            name: name, genericArguments: genericArguments, dimensions: dimensions, annotations: annotations,
            location: location)
    }

    private mutating func annotationList() throws(AIDLError) -> [Annotation] {
        var annotations: [Annotation] = []
        while case .annotation(let name) = current.kind {
            let location = current.location
            advance()
            var parameters: [String: ConstantExpression] = [:]
            if consume("(") {
                if !isSymbol(")") {
                    // @Annotation(value) is shorthand for @Annotation(value=value)
                    if case .identifier(let key) = current.kind, case .symbol("=") = peek(1).kind {
                        repeat {
                            let parameterName = try identifier("a parameter name")
                            _ = key
                            try expect("=")
                            parameters[parameterName] = try expression()
                        } while consume(",")
                    } else {
                        parameters["value"] = try expression()
                    }
                }
                try expect(")")
            }
            annotations.append(Annotation(name: name, parameters: parameters, location: location))
        }
        return annotations
    }

    // MARK: - Constant expressions (C precedence)

    private static let binaryPrecedence: [[String]] = [
        ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="], ["<<", ">>"], ["+", "-"],
        ["*", "/", "%"],
    ]

    mutating func expression() throws(AIDLError) -> ConstantExpression {
        try binary(level: 0)
    }

    private mutating func binary(level: Int) throws(AIDLError) -> ConstantExpression {
        guard level < Self.binaryPrecedence.count else { return try unary() }
        var left = try binary(level: level + 1)
        while case .symbol(let symbol) = current.kind, Self.binaryPrecedence[level].contains(symbol) {
            let location = current.location
            advance()
            let right = try binary(level: level + 1)
            left = .binary(symbol, left, right, location)
        }
        return left
    }

    private mutating func unary() throws(AIDLError) -> ConstantExpression {
        guard expressionDepth < Self.maximumExpressionDepth else {
            throw AIDLError(current.location, "constant expression nested more than \(Self.maximumExpressionDepth) deep")
        }
        expressionDepth += 1
        defer { expressionDepth -= 1 }
        if case .symbol(let symbol) = current.kind, ["-", "+", "!", "~"].contains(symbol) {
            let location = current.location
            advance()
            return .unary(symbol, try unary(), location)
        }
        return try primary()
    }

    private mutating func primary() throws(AIDLError) -> ConstantExpression {
        let token = current
        switch token.kind {
        case .integer(let text):
            advance()
            return .integer(text, token.location)
        case .floating(let text):
            advance()
            return .floating(text, token.location)
        case .string(let text):
            advance()
            return .string(text, token.location)
        case .character(let text):
            advance()
            return .character(text, token.location)
        case .identifier("true"):
            advance()
            return .boolean(true, token.location)
        case .identifier("false"):
            advance()
            return .boolean(false, token.location)
        case .identifier:
            return .reference(try qualifiedName().split(separator: ".").map(String.init), token.location)
        case .symbol("("):
            advance()
            let inner = try expression()
            try expect(")")
            return inner
        case .symbol("{"):
            advance()
            var elements: [ConstantExpression] = []
            if !isSymbol("}") {
                repeat {
                    if isSymbol("}") { break }  // trailing comma
                    elements.append(try expression())
                } while consume(",")
            }
            try expect("}")
            return .array(elements, token.location)
        default:
            throw AIDLError(token.location, "expected a constant expression, found \(describe(token))")
        }
    }

    // MARK: - Tokens

    private var current: Token { tokens[position] }

    private func peek(_ offset: Int) -> Token { tokens[min(position + offset, tokens.count - 1)] }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    private func isKeyword(_ word: String) -> Bool {
        if case .identifier(word) = current.kind { return true }
        return false
    }

    private func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(symbol) = current.kind { return true }
        return false
    }

    private mutating func consume(_ symbol: String) -> Bool {
        guard isSymbol(symbol) else { return false }
        advance()
        return true
    }

    private mutating func expect(_ symbol: String) throws(AIDLError) {
        guard consume(symbol) else { throw AIDLError(current.location, "expected '\(symbol)', found \(describe(current))") }
    }

    private static let reserved: Set<String> = [
        "package", "import", "interface", "parcelable", "enum", "union", "oneway", "const", "in", "out", "inout",
    ]

    private mutating func identifier(_ what: String) throws(AIDLError) -> String {
        guard case .identifier(let name) = current.kind, !Self.reserved.contains(name) else {
            throw AIDLError(current.location, "expected \(what), found \(describe(current))")
        }
        advance()
        return name
    }

    private mutating func qualifiedName() throws(AIDLError) -> String {
        var parts = [try identifier("a name")]
        while isSymbol("."), case .identifier = peek(1).kind {
            advance()
            parts.append(try identifier("a name"))
        }
        return parts.joined(separator: ".")
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let name): return "'\(name)'"
        case .integer(let text), .floating(let text): return "'\(text)'"
        case .string(let text): return "\"\(text)\""
        case .character(let text): return "'\(text)'"
        case .annotation(let name): return "'@\(name)'"
        case .symbol(let symbol): return "'\(symbol)'"
        case .end: return "the end of the file"
        }
    }
}
