/// A place in an `.aidl` file.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// An error a user can act on: `file.aidl:line:col: message`.
public struct AIDLError: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// Several errors found in one run (the checker reports all it finds, not just the first).
public struct AIDLErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [AIDLError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
