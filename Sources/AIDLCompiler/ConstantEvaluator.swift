/// The value of a constant expression, with its AIDL type.
public enum ConstantValue: Sendable, Equatable {
    /// An integer of `bits` width (8 byte, 32 int, 64 long), stored sign-extended.
    case integer(Int64, bits: Int)
    case boolean(Bool)
    case floating(Double, isFloat: Bool)
    case string(String)
    case character(UInt16)
    case array([ConstantValue])

    var typeName: String {
        switch self {
        case .integer(_, let bits): return bits == 8 ? "byte" : bits == 32 ? "int" : "long"
        case .boolean: return "boolean"
        case .floating(_, let isFloat): return isFloat ? "float" : "double"
        case .string: return "String"
        case .character: return "char"
        case .array: return "array"
        }
    }
}

/// Evaluates constant expressions with AOSP's rules (system/tools/aidl, aidl_const_expressions.cpp):
/// - int literals are `int` when they fit 32 bits (hex literals by bit pattern) and `long`
///   otherwise or with an `L` suffix; `u8`, `u32` and `u64` give the bits of an unsigned value
///   to a byte, int or long; digits may be grouped with `_`;
/// - arithmetic promotes to at least int and to the wider operand, and overflowing the result
///   type is an error; comparisons and logical operators give booleans, which count as the
///   integers 0 and 1 in arithmetic and comparisons;
/// - a shift by a negative count shifts the other way; shifting a negative value, or shifting
///   bits out of a value, is an overflow;
/// - `+` concatenates strings.
struct ConstantEvaluator {
    /// Resolves a reference (`NAME`, `Type.NAME`) from where the expression is written.
    var resolve: ([String], SourceLocation) throws(AIDLError) -> ConstantValue

    func evaluate(_ expression: ConstantExpression) throws(AIDLError) -> ConstantValue {
        switch expression {
        case .integer(let text, let location): return try integerLiteral(text, location)
        case .floating(let text, let location):
            let isFloat = text.hasSuffix("f")
            guard let value = Double(isFloat ? String(text.dropLast()) : text) else {
                throw AIDLError(location, "invalid floating-point literal '\(text)'")
            }
            return .floating(value, isFloat: isFloat)
        case .string(let text, _): return .string(text)
        case .character(let text, let location):
            let units = Array(unescape(text).utf16)
            guard units.count == 1 else { throw AIDLError(location, "a char literal holds one character") }
            return .character(units[0])
        case .boolean(let value, _): return .boolean(value)
        case .reference(let path, let location): return try resolve(path, location)
        case .array(let elements, _): return .array(try elements.map { (element) throws(AIDLError) in try evaluate(element) })
        case .unary(let op, let operand, let location):
            return try unary(op, try evaluate(operand), location)
        case .binary(let op, let left, let right, let location):
            return try binary(op, try evaluate(left), try evaluate(right), location)
        }
    }

    private func integerLiteral(_ text: String, _ location: SourceLocation) throws(AIDLError) -> ConstantValue {
        var digits = text
        var forcedBits: Int?
        var unsigned = false
        for (suffix, bits, isUnsigned) in [("L", 64, false), ("u8", 8, true), ("u32", 32, true), ("u64", 64, true)]
        where digits.hasSuffix(suffix) {
            digits.removeLast(suffix.count)
            forcedBits = bits
            unsigned = isUnsigned
            break
        }
        let isHex = digits.hasPrefix("0x")
        if isHex { digits.removeFirst(2) }
        // `_` groups digits; an empty group (`1__0`, `_1`, `1_`) is not a number.
        let groups = digits.split(separator: "_", omittingEmptySubsequences: false)
        guard !groups.contains(where: \.isEmpty) else { throw AIDLError(location, "invalid number '\(text)'") }
        digits = groups.joined()
        if isHex {
            guard let value = UInt64(digits, radix: 16) else {
                throw AIDLError(location, "hex literal '\(text)' does not fit in 64 bits")
            }
            if forcedBits == 8 {
                guard value <= 0xFF else { throw AIDLError(location, "'\(text)' does not fit in a byte") }
                return .integer(Int64(Int8(truncatingIfNeeded: value)), bits: 8)
            }
            if (forcedBits == nil || forcedBits == 32), value <= 0xFFFF_FFFF {
                return .integer(Int64(Int32(truncatingIfNeeded: value)), bits: 32)
            }
            guard forcedBits != 32 else { throw AIDLError(location, "'\(text)' does not fit in 32 bits") }
            return .integer(Int64(bitPattern: value), bits: 64)
        }
        if unsigned {
            guard let value = UInt64(digits) else { throw AIDLError(location, "integer literal '\(text)' does not fit in 64 bits") }
            switch forcedBits {
            case 8:
                guard value <= 0xFF else { throw AIDLError(location, "'\(text)' does not fit in a byte") }
                return .integer(Int64(Int8(truncatingIfNeeded: value)), bits: 8)
            case 32:
                guard value <= 0xFFFF_FFFF else { throw AIDLError(location, "'\(text)' does not fit in 32 bits") }
                return .integer(Int64(Int32(truncatingIfNeeded: value)), bits: 32)
            default:
                return .integer(Int64(bitPattern: value), bits: 64)
            }
        }
        guard let value = Int64(digits) else { throw AIDLError(location, "integer literal '\(text)' does not fit in 64 bits") }
        if forcedBits == nil, let small = Int32(exactly: value) { return .integer(Int64(small), bits: 32) }
        return .integer(value, bits: 64)
    }

    private func unary(_ op: String, _ value: ConstantValue, _ location: SourceLocation) throws(AIDLError) -> ConstantValue {
        switch (op, value) {
        case ("!", .boolean(let b)): return .boolean(!b)
        case ("!", .integer(let v, _)): return .boolean(v == 0)
        case ("+", .integer), ("+", .floating): return value
        case ("-", .integer(let v, let bits)):
            let promoted = max(bits, 32)
            return try fit(v.multipliedReportingOverflow(by: -1), bits: promoted, op, location)
        case ("-", .floating(let v, let isFloat)): return .floating(-v, isFloat: isFloat)
        case ("~", .integer(let v, let bits)): return .integer(~v, bits: max(bits, 32))
        case ("~", .boolean):
            throw AIDLError(location, "bitwise negation of a boolean expression is always true")
        case ("+", .boolean(let b)), ("-", .boolean(let b)):
            return try unary(op, .integer(b ? 1 : 0, bits: 8), location)
        default: throw AIDLError(location, "'\(op)' cannot be applied to a \(value.typeName)")
        }
    }

    private func binary(_ op: String, _ left: ConstantValue, _ right: ConstantValue, _ location: SourceLocation)
        throws(AIDLError) -> ConstantValue
    {
        if op == "&&" || op == "||" {
            guard let l = truth(left), let r = truth(right) else {
                throw AIDLError(location, "'\(op)' needs boolean operands, not \(left.typeName) and \(right.typeName)")
            }
            return .boolean(op == "&&" ? l && r : l || r)
        }
        // Booleans take part in arithmetic and comparisons as the integers 0 and 1 (AOSP's
        // integral promotion makes them ints).
        if case .boolean(let b) = left, !isStringOrFloating(right) {
            return try binary(op, .integer(b ? 1 : 0, bits: 8), right, location)
        }
        if case .boolean(let b) = right, !isStringOrFloating(left) {
            return try binary(op, left, .integer(b ? 1 : 0, bits: 8), location)
        }
        // An integer meeting a floating-point value is promoted to it, as in C.
        switch (left, right) {
        case (.integer(let l, _), .floating(_, let isFloat)):
            return try binary(op, .floating(Double(l), isFloat: isFloat), right, location)
        case (.floating(_, let isFloat), .integer(let r, _)):
            return try binary(op, left, .floating(Double(r), isFloat: isFloat), location)
        default:
            break
        }
        switch (left, right) {
        case (.string(let l), .string(let r)):
            switch op {
            case "+": return .string(l + r)
            case "==": return .boolean(l == r)
            case "!=": return .boolean(l != r)
            default: throw AIDLError(location, "'\(op)' cannot be applied to strings")
            }
        case (.integer(let l, let lbits), .integer(let r, let rbits)):
            let bits = max(lbits, rbits, 32)
            switch op {
            case "+": return try fit(l.addingReportingOverflow(r), bits: bits, op, location)
            case "-": return try fit(l.subtractingReportingOverflow(r), bits: bits, op, location)
            case "*": return try fit(l.multipliedReportingOverflow(by: r), bits: bits, op, location)
            case "/", "%":
                guard r != 0 else { throw AIDLError(location, "division by zero") }
                return try fit(op == "/" ? l.dividedReportingOverflow(by: r) : l.remainderReportingOverflow(dividingBy: r), bits: bits, op, location)
            case "&": return .integer(l & r, bits: bits)
            case "|": return .integer(l | r, bits: bits)
            case "^": return .integer(l ^ r, bits: bits)
            case "<<", ">>":
                return try shift(op, l, r, bits: bits, location)
            case "==": return .boolean(l == r)
            case "!=": return .boolean(l != r)
            case "<": return .boolean(l < r)
            case ">": return .boolean(l > r)
            case "<=": return .boolean(l <= r)
            case ">=": return .boolean(l >= r)
            default: break
            }
        case (.floating(let l, let lf), .floating(let r, let rf)):
            let isFloat = lf && rf
            switch op {
            case "+": return .floating(l + r, isFloat: isFloat)
            case "-": return .floating(l - r, isFloat: isFloat)
            case "*": return .floating(l * r, isFloat: isFloat)
            case "/": return .floating(l / r, isFloat: isFloat)
            case "==": return .boolean(l == r)
            case "!=": return .boolean(l != r)
            case "<": return .boolean(l < r)
            case ">": return .boolean(l > r)
            case "<=": return .boolean(l <= r)
            case ">=": return .boolean(l >= r)
            default: break
            }
        case (.boolean(let l), .boolean(let r)):
            if op == "==" { return .boolean(l == r) }
            if op == "!=" { return .boolean(l != r) }
        default:
            break
        }
        throw AIDLError(location, "'\(op)' cannot be applied to \(left.typeName) and \(right.typeName)")
    }

    private func isStringOrFloating(_ value: ConstantValue) -> Bool {
        switch value {
        case .string, .floating: return true
        default: return false
        }
    }

    /// `l << r` or `l >> r` on `bits`-wide integers as AOSP computes them: a negative count
    /// shifts the other way; a negative value, a count of the width or more, or a left shift
    /// that moves set bits out of the value overflows.
    private func shift(_ op: String, _ l: Int64, _ r: Int64, bits: Int, _ location: SourceLocation) throws(AIDLError)
        -> ConstantValue
    {
        let left = r < 0 ? (op == "<<" ? ">>" : "<<") : op
        let count = r < 0 ? -r : r
        let overflow = AIDLError(location, "'\(op)' overflows \(bits == 64 ? "a long" : "an int") (\(l) \(op) \(r))")
        guard l >= 0, count < Int64(bits) else { throw overflow }
        if left == ">>" { return .integer(l >> count, bits: bits) }
        // Leading zeros of the value at its width: how far it can move left.
        let leadingZeros = Int64(bits == 64 ? l.leadingZeroBitCount : Int32(truncatingIfNeeded: l).leadingZeroBitCount)
        guard count <= leadingZeros else { throw overflow }
        let shifted = l << count
        return bits == 64 ? .integer(shifted, bits: 64) : .integer(Int64(Int32(truncatingIfNeeded: shifted)), bits: bits)
    }

    private func truth(_ value: ConstantValue) -> Bool? {
        switch value {
        case .boolean(let b): return b
        case .integer(let v, _): return v != 0
        default: return nil
        }
    }

    private func fit(_ result: (partialValue: Int64, overflow: Bool), bits: Int, _ op: String, _ location: SourceLocation)
        throws(AIDLError) -> ConstantValue
    {
        let inRange = bits == 64 ? !result.overflow : Int32(exactly: result.partialValue) != nil
        guard inRange else { throw AIDLError(location, "'\(op)' overflows \(bits == 64 ? "a long" : "an int")") }
        return .integer(result.partialValue, bits: bits)
    }
}

/// Replaces the escapes AIDL string literals allow with the characters they stand for.
func unescape(_ text: String) -> String {
    var result = ""
    var iterator = text.makeIterator()
    while let character = iterator.next() {
        guard character == "\\", let next = iterator.next() else {
            result.append(character)
            continue
        }
        switch next {
        case "n": result.append("\n")
        case "t": result.append("\t")
        case "r": result.append("\r")
        case "0": result.append("\0")
        default: result.append(next)
        }
    }
    return result
}
