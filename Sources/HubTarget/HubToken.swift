import Foundation

/// A JupyterHub API token. Its description is redacted so it cannot leak into logs or errors.
public struct HubToken: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String

    /// Wraps a token taken from an environment variable or a secret store.
    public init(_ value: String) {
        self.value = value.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Reads the token from a file (surrounding whitespace and the trailing newline are dropped).
    ///
    /// - Throws: `HubError.configuration` naming the file (never its content) when it cannot be
    ///   read or is empty.
    public init(contentsOfFile path: String) throws(HubError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .configuration("cannot read the hub token file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .configuration("the hub token file \(path) is not UTF-8 text")
        }
        self.init(text)
        if value.isEmpty { throw .configuration("the hub token file \(path) is empty") }
        if value.contains(where: { $0.isNewline || $0 == " " }) {
            throw .configuration("the hub token file \(path) holds more than one token")
        }
    }

    public var description: String { "<redacted hub token>" }
    public var debugDescription: String { description }
}
