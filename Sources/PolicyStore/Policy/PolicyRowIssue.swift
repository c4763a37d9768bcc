public import Foundation
import RBACModel

/// One inconsistent policy row, named by table, key and source.
public struct PolicyRowIssue: Sendable, Hashable, CustomStringConvertible {
    /// `tiers`, `role_templates`, `grants`, `overrides`, `policy_settings`.
    public var table: String
    /// The row's key (tier or template name, grant or override id, setting name).
    public var key: String
    /// `file:policies/grants.yaml:12` or `cli:alice`, when known.
    public var source: String?
    public var problem: String

    public init(table: String, key: String, source: String?, problem: String) {
        self.table = table
        self.key = key
        self.source = source
        self.problem = problem
    }

    public var description: String {
        "\(table) \"\(key)\"" + (source.map { " (\($0))" } ?? "") + ": " + problem
    }
}

/// The policy in PostgreSQL (or a policy about to be stored) is inconsistent: the run stops.
public struct PolicyInconsistentError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    public var issues: [PolicyRowIssue]

    public init(issues: [PolicyRowIssue]) {
        self.issues = issues
    }

    public var description: String {
        let count = issues.count
        return "the policy has \(count) inconsistent row\(count == 1 ? "" : "s"); nothing was applied:\n"
            + issues.map { "  - \($0)" }.joined(separator: "\n")
    }

    public var errorDescription: String? { description }
}

/// Refusals of CLI policy edits.
public enum PolicyEditError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// The row comes from a policy file: edit the file and run `policy apply`.
    case fileSourced(table: String, key: String, source: String)
    case notFound(table: String, key: String)
    /// A CLI edit must carry a `.cli` source.
    case notCLISource(table: String, key: String)

    public var description: String {
        switch self {
        case .fileSourced(let table, let key, let source):
            return "\(table) \"\(key)\" comes from \(source): change the policy file and run `accesssync policy apply`"
        case .notFound(let table, let key):
            return "\(table) \"\(key)\" does not exist"
        case .notCLISource(let table, let key):
            return "\(table) \"\(key)\": a command-line edit must have a cli source"
        }
    }

    public var errorDescription: String? { description }
}

/// Text form of a row source: `file:<path>:<line>`, `file:<path>`, `cli:<actor>`.
enum SourceText {
    static func format(_ source: PolicySource) -> String {
        switch source {
        case .file(let path, let line): line.map { "file:\(path):\($0)" } ?? "file:\(path)"
        case .cli(let actor): "cli:\(actor)"
        }
    }

    static func parse(_ text: String) -> PolicySource? {
        if text.hasPrefix("cli:") { return .cli(actor: String(text.dropFirst(4))) }
        guard text.hasPrefix("file:") else { return nil }
        let rest = text.dropFirst(5)
        if let colon = rest.lastIndex(of: ":"), let line = Int(rest[rest.index(after: colon)...]) {
            return .file(path: String(rest[..<colon]), line: line)
        }
        return .file(path: String(rest), line: nil)
    }
}
