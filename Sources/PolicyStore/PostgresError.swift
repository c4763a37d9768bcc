public import Foundation

/// An error from PostgreSQL or libpq.
///
/// `message`, `detail` and `hint` are scrubbed of every secret the connection knows (the password
/// given in a file or inside the conninfo string) before the error is built, so `description` is safe
/// to log and to show.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    public enum Code: String, Sendable, Hashable {
        /// The connection could not be established.
        case connectionFailed
        /// The connection broke while a command was running or before it was sent.
        case connectionLost
        /// The server rejected a command (see `sqlState`).
        case server
        /// The connection was already closed by `close()`.
        case closed
        /// libpq or the wrapper failed in an unexpected way.
        case client
    }

    public var code: Code
    /// The five-character SQLSTATE (`23505`, `42501`...), when the server or libpq gave one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?

    public init(code: Code, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    /// Whether retrying the whole unit of work (on a new connection if `code` is a connection
    /// error) may succeed: connection failures, serialization failures, deadlocks, admin shutdown,
    /// too many connections.
    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .connectionLost: return true
        case .closed, .client: return false
        case .server: break
        }
        guard let state = sqlState else { return false }
        if state.hasPrefix("08") { return true }
        return ["40001", "40P01", "57P01", "57P02", "57P03", "53300", "55P03"].contains(state)
    }

    public var description: String {
        var text = "PostgreSQL"
        switch code {
        case .connectionFailed: text += " connection failed"
        case .connectionLost: text += " connection lost"
        case .closed: text += " connection closed"
        case .client: text += " client error"
        case .server: text += " error"
        }
        if let sqlState { text += " [\(sqlState)]" }
        text += ": " + message
        if let detail, !detail.isEmpty { text += " (detail: \(detail))" }
        if let hint, !hint.isEmpty { text += " (hint: \(hint))" }
        return text
    }

    public var errorDescription: String? { description }

    /// Replaces every occurrence of each secret (and any `password=...` / URI password) with `***`.
    static func scrub(_ text: String, secrets: [String]) -> String {
        var result = text
        for secret in secrets where !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return scrubPatterns(result)
    }

    /// Removes password-looking parts of conninfo strings and URIs that may be echoed in libpq messages.
    static func scrubPatterns(_ text: String) -> String {
        var result = text
        // keyword/value form: password=secret or password='se cret'
        if let regex = try? NSRegularExpression(pattern: #"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)"#) {
            let range = NSRange(result.startIndex..., in: result)
            result = regex.stringByReplacingMatches(in: result, range: range, withTemplate: "$1***")
        }
        // URI form: postgres://user:secret@host
        if let regex = try? NSRegularExpression(pattern: #"(?i)(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)"#) {
            let range = NSRange(result.startIndex..., in: result)
            result = regex.stringByReplacingMatches(in: result, range: range, withTemplate: "$1***$3")
        }
        return result
    }
}
