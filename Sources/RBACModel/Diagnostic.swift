/// A finding from planning: something wrong or noteworthy in the inputs, naming what is at fault.
public struct Diagnostic: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public enum Severity: String, Hashable, Comparable, Sendable, Codable {
        case info, warning, error

        private var rank: Int {
            switch self {
            case .info: 0
            case .warning: 1
            case .error: 2
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    public var severity: Severity
    /// Stable machine code, e.g. `group-cycle`, `grant-missing-group`, `name-collision`.
    public var code: String
    /// What is at fault: a group DN, a person (uid and id), a policy row id.
    public var subject: String
    public var message: String

    public init(severity: Severity, code: String, subject: String, message: String) {
        self.severity = severity
        self.code = code
        self.subject = subject
        self.message = message
    }

    public var description: String { "\(severity.rawValue): [\(code)] \(subject): \(message)" }

    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        (lhs.code, lhs.subject, lhs.message) < (rhs.code, rhs.subject, rhs.message)
    }
}
