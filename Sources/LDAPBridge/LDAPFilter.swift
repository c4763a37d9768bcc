/// RFC 4515 filter construction. Every value that comes from input goes through `escape`.
public enum LDAPFilter {
    /// Escapes an assertion value (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
    /// `\29`, `\5c`, `\00`. Other bytes, including UTF-8, are left as they are.
    public static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "*": out += "\\2a"
            case "(": out += "\\28"
            case ")": out += "\\29"
            case "\\": out += "\\5c"
            case "\u{0}": out += "\\00"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `(attribute=value)` with the value escaped.
    public static func equals(_ attribute: String, _ value: String) -> String {
        "(\(attribute)=\(escape(value)))"
    }

    /// `(&f1f2…)`; empty parts are dropped, and a single part is returned as is.
    public static func and(_ parts: [String?]) -> String {
        let kept = parts.compactMap { $0 }.filter { !$0.isEmpty }.map(parenthesized)
        if kept.count == 1 { return kept[0] }
        return "(&" + kept.joined() + ")"
    }

    /// Wraps a configured filter written without outer parentheses (`objectClass=person`).
    static func parenthesized(_ filter: String) -> String {
        let trimmed = filter.trimmingWhitespace()
        return trimmed.hasPrefix("(") ? trimmed : "(\(trimmed))"
    }
}
