/// An annotation: `@nullable`, `@Backing(type="int")`, `@Descriptor(value="a.b.IFoo")`…
public struct Annotation: Sendable {
    public var name: String
    public var parameters: [String: ConstantExpression]
    public var location: SourceLocation
}

/// A constant expression as written (evaluated by ``ConstantEvaluator``).
public indirect enum ConstantExpression: Sendable {
    case integer(String, SourceLocation)
    case floating(String, SourceLocation)
    case string(String, SourceLocation)
    case character(String, SourceLocation)
    case boolean(Bool, SourceLocation)
    /// A constant or enumerator, possibly qualified: `MAX`, `IFoo.MAX`, `Color.RED`.
    case reference([String], SourceLocation)
    case unary(String, ConstantExpression, SourceLocation)
    case binary(String, ConstantExpression, ConstantExpression, SourceLocation)
    case array([ConstantExpression], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .integer(_, let l), .floating(_, let l), .string(_, let l), .character(_, let l), .boolean(_, let l),
            .reference(_, let l), .unary(_, _, let l), .binary(_, _, _, let l), .array(_, let l):
            return l
        }
    }
}

/// A type as written: `int`, `String`, `List<Foo>`, `byte[]`, `int[2][3]`, `a.b.Foo`.
public struct TypeReference: Sendable {
    public enum Dimension: Sendable {
        case dynamic
        case fixed(ConstantExpression)
    }

    public var name: String
    public var genericArguments: [TypeReference]
    public var dimensions: [Dimension]
    public var annotations: [Annotation]
    public var location: SourceLocation

    public var isArray: Bool { !dimensions.isEmpty }

    public func hasAnnotation(_ name: String) -> Bool { annotations.contains { $0.name == name } }
}

public enum Direction: String, Sendable {
    case `in`, out, `inout`
}

public struct Argument: Sendable {
    public var direction: Direction?
    public var type: TypeReference
    public var name: String
    public var location: SourceLocation
}

public struct Method: Sendable {
    public var annotations: [Annotation]
    public var isOneway: Bool
    public var returnType: TypeReference
    public var name: String
    public var arguments: [Argument]
    public var id: ConstantExpression?
    public var location: SourceLocation
}

public struct Constant: Sendable {
    public var annotations: [Annotation]
    public var type: TypeReference
    public var name: String
    public var value: ConstantExpression
    public var location: SourceLocation
}

public struct Field: Sendable {
    public var annotations: [Annotation]
    public var type: TypeReference
    public var name: String
    public var defaultValue: ConstantExpression?
    public var location: SourceLocation
}

public struct Enumerator: Sendable {
    public var name: String
    public var value: ConstantExpression?
    public var location: SourceLocation
}

/// A type declaration: interface, parcelable, enum or union, with its nested declarations.
public struct Declaration: Sendable {
    public enum Kind: Sendable {
        case interface(isOneway: Bool, methods: [Method])
        /// `fields` is nil for an unstructured parcelable (`parcelable Foo;`).
        case parcelable(fields: [Field]?)
        case enumeration(enumerators: [Enumerator])
        case union(fields: [Field])
    }

    public var kind: Kind
    public var annotations: [Annotation]
    public var name: String
    public var typeParameters: [String]
    public var constants: [Constant]
    public var nested: [Declaration]
    public var location: SourceLocation

    public func hasAnnotation(_ name: String) -> Bool { annotations.contains { $0.name == name } }
    public func annotation(_ name: String) -> Annotation? { annotations.first { $0.name == name } }

    var keyword: String {
        switch kind {
        case .interface: return "interface"
        case .parcelable: return "parcelable"
        case .enumeration: return "enum"
        case .union: return "union"
        }
    }
}

/// One parsed `.aidl` file.
public struct Document: Sendable {
    public var file: String
    public var package: String?
    public var imports: [(name: String, location: SourceLocation)]
    public var declarations: [Declaration]
}
