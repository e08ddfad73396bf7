/// A token of the AIDL language.
struct Token: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case identifier(String)
        case integer(String)  // digits as written (with any `_` groups), with any L / u8 / u32 / u64 suffix
        case floating(String)  // as written, with any f suffix
        case string(String)  // contents, escapes kept as written
        case character(String)
        case annotation(String)  // @Name
        case symbol(String)  // punctuation and operators
        case end
    }

    var kind: Kind
    var location: SourceLocation
}

/// Splits an `.aidl` file into tokens; comments and whitespace are dropped.
struct Lexer {
    private let bytes: [UInt8]
    private let file: String
    private var index = 0
    private var line = 1
    private var column = 1

    init(text: String, file: String) {
        bytes = Array(text.utf8)
        self.file = file
    }

    private static let symbols: [String] = [
        "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
        "{", "}", "(", ")", "[", "]", "<", ">", ";", ",", "=", ".", "+", "-", "*", "/", "%", "&", "|", "^",
        "~", "!", "?", ":",
    ]

    mutating func tokenize() throws(AIDLError) -> [Token] {
        var tokens: [Token] = []
        while true {
            try skipTrivia()
            let location = here
            guard index < bytes.count else {
                tokens.append(Token(kind: .end, location: location))
                return tokens
            }
            let byte = bytes[index]
            if isIdentifierStart(byte) {
                tokens.append(Token(kind: .identifier(take(while: isIdentifierPart)), location: location))
            } else if byte == UInt8(ascii: "@") {
                advance()
                guard index < bytes.count, isIdentifierStart(bytes[index]) else {
                    throw AIDLError(location, "expected an annotation name after '@'")
                }
                tokens.append(Token(kind: .annotation(take(while: isIdentifierPart)), location: location))
            } else if isDigit(byte) || (byte == UInt8(ascii: ".") && index + 1 < bytes.count && isDigit(bytes[index + 1])) {
                tokens.append(try number(at: location))
            } else if byte == UInt8(ascii: "\"") {
                tokens.append(Token(kind: .string(try quoted(UInt8(ascii: "\""), at: location)), location: location))
            } else if byte == UInt8(ascii: "'") {
                tokens.append(Token(kind: .character(try quoted(UInt8(ascii: "'"), at: location)), location: location))
            } else if let symbol = Self.symbols.first(where: { matches($0) }) {
                for _ in symbol.utf8 { advance() }
                tokens.append(Token(kind: .symbol(symbol), location: location))
            } else {
                throw AIDLError(location, "unexpected character '\(String(decoding: [byte], as: UTF8.self))'")
            }
        }
    }

    private var here: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    private mutating func advance() {
        if bytes[index] == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private func matches(_ symbol: String) -> Bool {
        let utf8 = Array(symbol.utf8)
        guard index + utf8.count <= bytes.count else { return false }
        return Array(bytes[index..<(index + utf8.count)]) == utf8
    }

    private mutating func take(while predicate: (UInt8) -> Bool) -> String {
        let start = index
        while index < bytes.count, predicate(bytes[index]) { advance() }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func skipTrivia() throws(AIDLError) {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r")
            {
                advance()
            } else if matches("//") {
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { advance() }
            } else if matches("/*") {
                let start = here
                advance()
                advance()
                while index < bytes.count, !matches("*/") { advance() }
                guard index < bytes.count else { throw AIDLError(start, "unterminated comment") }
                advance()
                advance()
            } else {
                return
            }
        }
    }

    private mutating func number(at location: SourceLocation) throws(AIDLError) -> Token {
        var text = ""
        if matches("0x") || matches("0X") {
            advance()
            advance()
            // Digits may be grouped with `_` (0x8000_0000), as AOSP's aidl accepts; the
            // evaluator checks the groups.
            text = "0x" + take(while: { isHexDigit($0) || $0 == UInt8(ascii: "_") })
            guard text.count > 2 else { throw AIDLError(location, "expected hex digits after 0x") }
        } else {
            text = take(while: { isDigit($0) || $0 == UInt8(ascii: "_") })
            var isFloat = false
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isFloat = true
                advance()
                text += "." + take(while: isDigit)
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isFloat = true
                advance()
                text += "e"
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    text += String(decoding: [bytes[index]], as: UTF8.self)
                    advance()
                }
                text += take(while: isDigit)
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "f") || bytes[index] == UInt8(ascii: "F") {
                advance()
                return Token(kind: .floating(text + "f"), location: location)
            }
            if isFloat { return Token(kind: .floating(text), location: location) }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "l") || bytes[index] == UInt8(ascii: "L") {
            advance()
            text += "L"
        } else if matches("u8") {
            advance()
            advance()
            text += "u8"
        } else if matches("u32") || matches("u64") {
            let suffix = matches("u32") ? "u32" : "u64"
            advance()
            advance()
            advance()
            text += suffix
        }
        if index < bytes.count, isIdentifierPart(bytes[index]) {
            throw AIDLError(location, "invalid number '\(text)\(String(decoding: [bytes[index]], as: UTF8.self))'")
        }
        return Token(kind: .integer(text), location: location)
    }

    private mutating func quoted(_ quote: UInt8, at location: SourceLocation) throws(AIDLError) -> String {
        advance()
        var content: [UInt8] = []
        while index < bytes.count, bytes[index] != quote {
            if bytes[index] == UInt8(ascii: "\n") { break }
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                content.append(bytes[index])
                advance()
            }
            content.append(bytes[index])
            advance()
        }
        guard index < bytes.count, bytes[index] == quote else {
            throw AIDLError(location, quote == UInt8(ascii: "\"") ? "unterminated string" : "unterminated character")
        }
        advance()
        return String(decoding: content, as: UTF8.self)
    }
}

private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
private func isHexDigit(_ byte: UInt8) -> Bool {
    isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
}
private func isIdentifierStart(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        || byte == UInt8(ascii: "_")
}
private func isIdentifierPart(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }
