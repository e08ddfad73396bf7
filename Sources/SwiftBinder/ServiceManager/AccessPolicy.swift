import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Who may do what with servicemanager, decided on the caller's euid as the kernel stamped it.
///
/// The policy file is plain text, one rule per line, `#` starting a comment:
///
/// ```
/// add     NAME-PATTERN  UIDS    # may register names matching the pattern
/// find    NAME-PATTERN  UIDS    # may look them up and watch for them
/// replace NAME-PATTERN  UIDS    # only these may re-register a name another uid registered
/// list                  UIDS    # may list services and their debug info
/// declare NAME                  # a declared instance (isDeclared, getDeclaredInstances)
/// ```
///
/// Patterns are shell globs (`*`, `?`, `[...]`, as `fnmatch`); UIDS is `*` (everyone) or a
/// comma-separated list of numeric uids. For each action the first rule whose pattern matches
/// the name decides. When none matches, the defaults apply: root may add, whoever may add a name
/// may also replace another uid's registration of it (AOSP replaces and logs), everyone may find
/// and list.
///
/// These stand where AOSP's servicemanager asks SELinux, and a denial gets the answer AOSP gives
/// to an SELinux denial: a null binder for lookups, EX_SECURITY "SELinux denied." otherwise.
public struct AccessPolicy: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case add, find, replace, list
    }

    public enum Callers: Sendable, Equatable {
        case everyone
        case uids(Set<uid_t>)

        func contains(_ uid: uid_t) -> Bool {
            switch self {
            case .everyone: return true
            case .uids(let set): return set.contains(uid)
            }
        }
    }

    public struct Rule: Sendable, Equatable {
        public var action: Action
        public var pattern: String
        public var callers: Callers
    }

    public var rules: [Rule]
    /// Declared instance names, e.g. `android.hardware.foo.IFoo/default`.
    public var declared: [String]

    /// Root adds (and replaces); everyone finds and lists.
    public static let `default` = AccessPolicy(rules: [], declared: [])

    public init(rules: [Rule], declared: [String]) {
        self.rules = rules
        self.declared = declared
    }

    /// A policy file's syntax error, with its line.
    public struct SyntaxError: Error, CustomStringConvertible, Equatable {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses the policy file format described above.
    public init(parsing text: String) throws(SyntaxError) {
        var rules: [Rule] = []
        var declared: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = words.first else { continue }
            let number = index + 1
            switch keyword {
            case "declare":
                guard words.count == 2 else { throw SyntaxError(line: number, message: "expected: declare NAME") }
                declared.append(words[1])
            case "list":
                guard words.count == 2 else { throw SyntaxError(line: number, message: "expected: list UIDS") }
                rules.append(Rule(action: .list, pattern: "*", callers: try Self.parseCallers(words[1], line: number)))
            default:
                guard let action = Action(rawValue: keyword) else {
                    throw SyntaxError(line: number, message: "unknown rule '\(keyword)' (add, find, replace, list, declare)")
                }
                guard words.count == 3 else { throw SyntaxError(line: number, message: "expected: \(keyword) PATTERN UIDS") }
                rules.append(Rule(action: action, pattern: words[1], callers: try Self.parseCallers(words[2], line: number)))
            }
        }
        self.init(rules: rules, declared: declared)
    }

    private static func parseCallers(_ text: String, line: Int) throws(SyntaxError) -> Callers {
        if text == "*" { return .everyone }
        var uids = Set<uid_t>()
        for part in text.split(separator: ",") {
            guard let uid = uid_t(part) else {
                throw SyntaxError(line: line, message: "'\(part)' is not a uid (numbers, comma-separated, or *)")
            }
            uids.insert(uid)
        }
        return .uids(uids)
    }

    /// Whether `uid` may do `action` on `name` (nil for `list`).
    public func allows(_ action: Action, name: String?, uid: uid_t) -> Bool {
        for rule in rules where rule.action == action {
            if action == .list || fnmatch(rule.pattern, name ?? "", 0) == 0 {
                return rule.callers.contains(uid)
            }
        }
        switch action {
        case .add: return uid == 0
        case .replace: return true  // AOSP replaces (and logs); the caller passed `add` already
        case .find, .list: return true
        }
    }
}
