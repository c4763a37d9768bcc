// Name, label and annotation rules with the API server's messages.
// Models k8s.io/apimachinery/pkg/util/validation/validation.go (IsDNS1123Label, IsDNS1123Subdomain,
// IsQualifiedName, IsValidLabelValue, IsConfigMapKey), .../util/validation/field/errors.go (error bodies),
// .../api/validation/path/name.go (IsValidPathSegmentName) and .../api/validation/objectmeta.go.

/// One validation failure, rendered like `field.Error` (`<field>: <ErrorBody>`).
struct FieldError: Sendable, Equatable {
    enum ErrorType: String, Sendable {
        case invalid = "FieldValueInvalid"
        case required = "FieldValueRequired"
        case notSupported = "FieldValueNotSupported"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
        case duplicate = "FieldValueDuplicate"

        var text: String {
            switch self {
            case .invalid: return "Invalid value"
            case .required: return "Required value"
            case .notSupported: return "Unsupported value"
            case .forbidden: return "Forbidden"
            case .tooLong: return "Too long"
            case .duplicate: return "Duplicate value"
            }
        }
    }

    var type: ErrorType
    var field: String
    /// The bad value already rendered as Go's `%#v` would (strings quoted); nil when the body omits it.
    var badValue: String?
    var detail: String

    static func invalid(_ field: String, _ value: String, _ detail: String) -> FieldError {
        FieldError(type: .invalid, field: field, badValue: goQuote(value), detail: detail)
    }

    static func invalidRaw(_ field: String, _ rendered: String, _ detail: String) -> FieldError {
        FieldError(type: .invalid, field: field, badValue: rendered, detail: detail)
    }

    static func required(_ field: String, _ detail: String = "") -> FieldError {
        FieldError(type: .required, field: field, badValue: nil, detail: detail)
    }

    static func notSupported(_ field: String, _ value: String, _ supported: [String]) -> FieldError {
        let detail = supported.isEmpty ? "" : "supported values: " + supported.map(goQuote).joined(separator: ", ")
        return FieldError(type: .notSupported, field: field, badValue: goQuote(value), detail: detail)
    }

    static func forbidden(_ field: String, _ detail: String) -> FieldError {
        FieldError(type: .forbidden, field: field, badValue: nil, detail: detail)
    }

    static func tooLong(_ field: String, _ max: Int) -> FieldError {
        FieldError(type: .tooLong, field: field, badValue: nil, detail: "must have at most \(max) bytes")
    }

    /// The message body without the field, e.g. `Invalid value: "x": must be ...`.
    var body: String {
        var s = type.text
        if let badValue, type != .required, type != .forbidden, type != .tooLong {
            s += ": " + badValue
        }
        if !detail.isEmpty { s += ": " + detail }
        return s
    }

    var message: String { "\(field): \(body)" }
}

/// Go's `%q` for the strings we produce (ASCII escapes only).
func goQuote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 {
                out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

enum Validation {
    static func maxLenError(_ n: Int) -> String { "must be no more than \(n) characters" }

    static func regexError(_ msg: String, _ fmt: String, _ examples: [String]) -> String {
        if examples.isEmpty { return msg + " (regex used for validation is '" + fmt + "')" }
        var m = msg + " (e.g. "
        for (i, e) in examples.enumerated() {
            if i > 0 { m += " or " }
            m += "'" + e + "', "
        }
        return m + "regex used for validation is '" + fmt + "')"
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }

    static func matchesDNS1123Label(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, let last = b.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        return b.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    static let dns1123LabelMessage = regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?", ["my-name", "123-abc"])

    static let dns1123SubdomainMessage = regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", ["example.com"])

    /// RFC 1123 label: namespaces.
    static func dns1123LabelErrors(_ s: String) -> [String] {
        var errs: [String] = []
        if s.utf8.count > 63 { errs.append(maxLenError(63)) }
        if !matchesDNS1123Label(s) { errs.append(dns1123LabelMessage) }
        return errs
    }

    /// RFC 1123 subdomain: ConfigMaps, ResourceQuotas, LimitRanges, Leases, NetworkPolicies, ServiceAccounts.
    static func dns1123SubdomainErrors(_ s: String) -> [String] {
        var errs: [String] = []
        if s.utf8.count > 253 { errs.append(maxLenError(253)) }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        if s.isEmpty || !parts.allSatisfy({ matchesDNS1123Label(String($0)) }) {
            errs.append(dns1123SubdomainMessage)
        }
        return errs
    }

    /// Path segment names: RBAC objects.
    static func pathSegmentErrors(_ s: String) -> [String] {
        var errs: [String] = []
        if s == "." || s == ".." { errs.append("may not be '\(s)'") }
        if s.contains("/") { errs.append("may not contain '/'") }
        if s.contains("%") { errs.append("may not contain '%'") }
        return errs
    }

    private static let qualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
    private static let qualifiedNameMsg =
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

    static func matchesQualifiedNamePart(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, let last = b.last, isAlnum(first), isAlnum(last) else { return false }
        return b.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Label keys and annotation keys.
    static func qualifiedNameErrors(_ value: String) -> [String] {
        var errs: [String] = []
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let name: String
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            let prefix = parts[0]
            name = parts[1]
            if prefix.isEmpty {
                errs.append("prefix part must be non-empty")
            } else {
                errs.append(contentsOf: dns1123SubdomainErrors(prefix).map { "prefix part " + $0 })
            }
        default:
            return [
                "a qualified name " + regexError(qualifiedNameMsg, qualifiedNameFmt, ["MyName", "my.name", "123-abc"])
                    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        }
        if name.isEmpty {
            errs.append("name part must be non-empty")
        } else if name.utf8.count > 63 {
            errs.append("name part " + maxLenError(63))
        }
        if !matchesQualifiedNamePart(name) {
            errs.append("name part " + regexError(qualifiedNameMsg, qualifiedNameFmt, ["MyName", "my.name", "123-abc"]))
        }
        return errs
    }

    static func labelValueErrors(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 63 { errs.append(maxLenError(63)) }
        if !value.isEmpty && !matchesQualifiedNamePart(value) {
            errs.append(
                regexError(
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    "(" + qualifiedNameFmt + ")?", ["MyValue", "my_value", "12345"]))
        }
        return errs
    }

    static func configMapKeyErrors(_ key: String) -> [String] {
        var errs: [String] = []
        if key.utf8.count > 253 { errs.append(maxLenError(253)) }
        let ok =
            !key.isEmpty
            && key.utf8.allSatisfy {
                isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
        if !ok {
            errs.append(
                regexError(
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+",
                    ["key.name", "KEY_NAME", "key-name"]))
        }
        if key == "." { errs.append("must not be '.'") }
        if key == ".." { errs.append("must not be '..'") }
        if key.hasPrefix("..") && key != ".." { errs.append("must not start with '..'") }
        return errs
    }

    static let totalAnnotationSizeLimit = 256 * 1024

    /// Labels and annotations of `metadata`.
    static func metadataErrors(_ metadata: JSONObject) -> [FieldError] {
        var errs: [FieldError] = []
        if let labels = metadata["labels"]?.objectValue {
            for (key, value) in labels {
                for m in qualifiedNameErrors(key) { errs.append(.invalid("metadata.labels", key, m)) }
                let v = value.stringValue ?? ""
                for m in labelValueErrors(v) { errs.append(.invalid("metadata.labels", v, m)) }
            }
        }
        if let annotations = metadata["annotations"]?.objectValue {
            var total = 0
            for (key, value) in annotations {
                for m in qualifiedNameErrors(key.lowercased()) { errs.append(.invalid("metadata.annotations", key, m)) }
                total += key.utf8.count + (value.stringValue?.utf8.count ?? 0)
            }
            if total > totalAnnotationSizeLimit {
                errs.append(.tooLong("metadata.annotations", totalAnnotationSizeLimit))
            }
        }
        return errs
    }
}
