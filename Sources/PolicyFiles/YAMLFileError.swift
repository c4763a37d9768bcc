/// A problem in a YAML file: where it is (file, line, column), which field, and what is wrong.
///
/// The description reads `FILE:LINE:COLUMN: FIELD: MESSAGE`, the form editors and CI logs link to.
public struct YAMLFileError: Error, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The file as the caller named it (e.g. `policies/tiers.yaml`).
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column, when known.
    public var column: Int?
    /// Key path of the field at fault, e.g. `tiers[1].quota[requests.cpu]`; empty for the document.
    public var field: String
    public var message: String

    public init(file: String, line: Int?, column: Int? = nil, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = file
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        text += ": "
        if !field.isEmpty { text += field + ": " }
        return text + message
    }

    public static func < (lhs: YAMLFileError, rhs: YAMLFileError) -> Bool {
        (lhs.file, lhs.line ?? 0, lhs.column ?? 0, lhs.field, lhs.message)
            < (rhs.file, rhs.line ?? 0, rhs.column ?? 0, rhs.field, rhs.message)
    }
}

/// All problems found while loading one or more YAML files, sorted by file and line.
public struct YAMLFileErrors: Error, Hashable, Sendable, CustomStringConvertible {
    public var errors: [YAMLFileError]

    public init(_ errors: [YAMLFileError]) {
        self.errors = errors.sorted()
    }

    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
