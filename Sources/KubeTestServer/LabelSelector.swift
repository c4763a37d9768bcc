// Label selector strings (`app=x,tier in (a,b),!legacy`) as parsed by
// k8s.io/apimachinery/pkg/labels/selector.go, and the simple field selectors of `fieldSelector`.

/// A parsed label selector: a conjunction of requirements.
public struct LabelSelector: Sendable, Hashable {
    public enum Operator: String, Sendable, Hashable {
        case equals = "="
        case doubleEquals = "=="
        case notEquals = "!="
        case `in` = "in"
        case notIn = "notin"
        case exists = "exists"
        case doesNotExist = "!"
    }

    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var op: Operator
        public var values: [String]

        func matches(_ labels: [String: String]) -> Bool {
            switch op {
            case .equals, .doubleEquals, .in:
                guard let v = labels[key] else { return false }
                return values.contains(v)
            case .notEquals, .notIn:
                guard let v = labels[key] else { return true }
                return !values.contains(v)
            case .exists: return labels[key] != nil
            case .doesNotExist: return labels[key] == nil
            }
        }
    }

    public var requirements: [Requirement]

    /// The selector that matches everything.
    public static let everything = LabelSelector(requirements: [])

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// Parses the `labelSelector` query syntax.
    ///
    /// - Throws: `SelectorError` with a message like the server's ("unable to parse requirement: ...").
    public init(parsing text: String) throws(SelectorError) {
        var lexer = SelectorLexer(Array(text.unicodeScalars))
        var requirements: [Requirement] = []
        if lexer.peek() == .end {
            self.requirements = []
            return
        }
        while true {
            requirements.append(try lexer.parseRequirement())
            switch lexer.next() {
            case .end:
                self.requirements = requirements
                return
            case .comma:
                continue
            case let token:
                throw SelectorError(message: "found '\(token.text)', expected: ',' or 'end of string'")
            }
        }
    }

    init(requirements: [Requirement]) { self.requirements = requirements }
}

/// A selector that could not be parsed.
public struct SelectorError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

private enum SelectorToken: Equatable {
    case identifier(String)
    case comma, openParen, closeParen, bang, equals, doubleEquals, notEquals, inKeyword, notInKeyword, end

    var text: String {
        switch self {
        case .identifier(let s): return s
        case .comma: return ","
        case .openParen: return "("
        case .closeParen: return ")"
        case .bang: return "!"
        case .equals: return "="
        case .doubleEquals: return "=="
        case .notEquals: return "!="
        case .inKeyword: return "in"
        case .notInKeyword: return "notin"
        case .end: return ""
        }
    }
}

private struct SelectorLexer {
    let scalars: [Unicode.Scalar]
    var position = 0
    var peeked: SelectorToken?

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func peek() -> SelectorToken {
        if let peeked { return peeked }
        let t = lex()
        peeked = t
        return t
    }

    mutating func next() -> SelectorToken {
        if let p = peeked {
            peeked = nil
            return p
        }
        return lex()
    }

    private static func isIdentifierScalar(_ s: Unicode.Scalar) -> Bool {
        !(s == " " || s == "\t" || s == "\n" || s == "," || s == "(" || s == ")" || s == "!" || s == "=")
    }

    private mutating func lex() -> SelectorToken {
        while position < scalars.count, scalars[position] == " " || scalars[position] == "\t" { position += 1 }
        guard position < scalars.count else { return .end }
        let s = scalars[position]
        switch s {
        case ",":
            position += 1
            return .comma
        case "(":
            position += 1
            return .openParen
        case ")":
            position += 1
            return .closeParen
        case "!":
            position += 1
            if position < scalars.count, scalars[position] == "=" {
                position += 1
                return .notEquals
            }
            return .bang
        case "=":
            position += 1
            if position < scalars.count, scalars[position] == "=" {
                position += 1
                return .doubleEquals
            }
            return .equals
        default:
            var text = ""
            while position < scalars.count, Self.isIdentifierScalar(scalars[position]) {
                text.unicodeScalars.append(scalars[position])
                position += 1
            }
            if text == "in" { return .inKeyword }
            if text == "notin" { return .notInKeyword }
            return .identifier(text)
        }
    }

    mutating func parseRequirement() throws(SelectorError) -> LabelSelector.Requirement {
        var negated = false
        if peek() == .bang {
            _ = next()
            negated = true
        }
        guard case .identifier(let key) = next() else {
            throw SelectorError(message: "unable to parse requirement: found '\(peeked?.text ?? "")', expected: identifier")
        }
        if let problem = Validation.qualifiedNameErrors(key).first {
            throw SelectorError(message: "unable to parse requirement: key: Invalid value: \"\(key)\": \(problem)")
        }
        if negated {
            return .init(key: key, op: .doesNotExist, values: [])
        }
        let opToken = peek()
        switch opToken {
        case .end, .comma:
            return .init(key: key, op: .exists, values: [])
        case .equals, .doubleEquals, .notEquals:
            _ = next()
            let op: LabelSelector.Operator =
                opToken == .equals ? .equals : (opToken == .doubleEquals ? .doubleEquals : .notEquals)
            var value = ""
            if case .identifier(let v) = peek() {
                _ = next()
                value = v
            } else if peek() == .inKeyword || peek() == .notInKeyword {
                value = next().text
            }
            try Self.validateValue(value)
            return .init(key: key, op: op, values: [value])
        case .inKeyword, .notInKeyword:
            _ = next()
            guard next() == .openParen else {
                throw SelectorError(message: "unable to parse requirement: found '', expected: '('")
            }
            var values: [String] = []
            var expectValue = true
            loop: while true {
                let t = next()
                switch t {
                case .identifier(let v):
                    guard expectValue else {
                        throw SelectorError(message: "unable to parse requirement: found '\(v)', expected: ',' or ')'")
                    }
                    try Self.validateValue(v)
                    values.append(v)
                    expectValue = false
                case .comma:
                    if expectValue { values.append("") }
                    expectValue = true
                case .closeParen:
                    if expectValue && !values.isEmpty { values.append("") }
                    break loop
                default:
                    throw SelectorError(message: "unable to parse requirement: found '\(t.text)', expected: ',' or ')'")
                }
            }
            if values.isEmpty {
                throw SelectorError(
                    message: "unable to parse requirement: values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
                )
            }
            return .init(key: key, op: opToken == .inKeyword ? .in : .notIn, values: values)
        default:
            throw SelectorError(
                message: "unable to parse requirement: found '\(opToken.text)', expected: in, notin, =, ==, !=, gt, lt"
            )
        }
    }

    static func validateValue(_ value: String) throws(SelectorError) {
        if let problem = Validation.labelValueErrors(value).first {
            throw SelectorError(message: "unable to parse requirement: values[0]: Invalid value: \"\(value)\": \(problem)")
        }
    }
}

/// A `fieldSelector` restricted to the fields every kind supports: `metadata.name` and `metadata.namespace`.
struct FieldSelector: Sendable {
    struct Term: Sendable {
        var field: String
        var value: String
        var negated: Bool
    }

    var terms: [Term]

    init(parsing text: String) throws(SelectorError) {
        terms = []
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            let p = String(part)
            let field: Substring
            let value: Substring
            let negated: Bool
            if let r = p.range(of: "!=") {
                field = p[..<r.lowerBound]
                value = p[r.upperBound...]
                negated = true
            } else if let r = p.range(of: "==") {
                field = p[..<r.lowerBound]
                value = p[r.upperBound...]
                negated = false
            } else if let r = p.range(of: "=") {
                field = p[..<r.lowerBound]
                value = p[r.upperBound...]
                negated = false
            } else {
                throw SelectorError(message: "invalid selector: '\(text)'; can't understand '\(p)'")
            }
            let f = field.trimmingSpaces
            guard f == "metadata.name" || f == "metadata.namespace" else {
                throw SelectorError(message: "field label not supported: \(f)")
            }
            terms.append(Term(field: f, value: value.trimmingSpaces, negated: negated))
        }
    }

    func matches(name: String, namespace: String) -> Bool {
        terms.allSatisfy { t in
            let actual = t.field == "metadata.name" ? name : namespace
            return (actual == t.value) != t.negated
        }
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
