import Foundation
internal import Yams

/// Strict reading of one YAML file: typed accessors that record an error (with line, column and key
/// path) instead of guessing, and reject unknown keys.
///
/// Readers collect every problem in a file rather than stopping at the first; callers check
/// `errors` at the end. Not thread-safe: use one reader per file on one task.
public final class YAMLReader {
    /// The file name used in errors.
    public let file: String
    public private(set) var errors: [YAMLFileError] = []

    public init(file: String) {
        self.file = file
    }

    /// Parses every document of `text`. An empty document yields a null value. A syntax error is
    /// recorded and ends the parse.
    public func documents(_ text: String) -> [YAMLValue] {
        do {
            var result: [YAMLValue] = []
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                result.append(YAMLValue(node: node, path: "", reader: self))
            }
            if let error = sequence.error { record(error) }
            return result
        } catch {
            record(error)
            return []
        }
    }

    /// Records a problem at a value.
    public func report(_ message: String, at value: YAMLValue) {
        append(YAMLFileError(file: file, line: value.line, column: value.column, field: value.path, message: message))
    }

    func append(_ error: YAMLFileError) {
        errors.append(error)
    }

    /// Records a problem with a file-level location.
    public func report(_ message: String, line: Int? = nil, field: String = "") {
        errors.append(YAMLFileError(file: file, line: line, field: field, message: message))
    }

    private func record(_ error: any Error) {
        guard let yamlError = error as? YamlError else {
            report("cannot parse YAML: \(error)")
            return
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let contextText = context.map { " (\($0.text))" } ?? ""
            errors.append(
                YAMLFileError(
                    file: file, line: mark.line, column: mark.column, field: "",
                    message: "invalid YAML: \(problem)\(contextText)"
                )
            )
        case .duplicatedKeysInMapping(let duplicates, let context):
            errors.append(
                YAMLFileError(
                    file: file, line: context.mark.line, column: context.mark.column, field: "",
                    message: "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in a mapping"
                )
            )
        case .reader(let problem, _, _, _):
            report("cannot read YAML: \(problem)")
        default:
            report("invalid YAML: \(yamlError)")
        }
    }
}

/// One node of a YAML document with its location and key path.
public struct YAMLValue {
    let node: Node
    /// Key path from the document root, e.g. `grants[2].project.namespace`.
    public let path: String
    let reader: YAMLReader

    init(node: Node, path: String, reader: YAMLReader) {
        self.node = node
        self.path = path
        self.reader = reader
    }

    public var line: Int? { (node.mark ?? keyMark)?.line }
    public var column: Int? { (node.mark ?? keyMark)?.column }

    /// True for an explicit or implicit null (`~`, `null`, nothing).
    public var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && node.tag.rawValue == Tag.Name.null.rawValue
    }

    /// Records a problem at this value.
    public func report(_ message: String) {
        reader.report(message, at: self)
    }

    private var kindName: String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar: isNull ? "null" : "\"\(node.scalar?.string ?? "")\""
        }
    }

    // MARK: Scalars

    /// A string scalar (plain or quoted). Null, mappings and lists are errors.
    public func string() -> String? {
        guard case .scalar(let scalar) = node, !isNull else {
            report("expected a string, found \(kindName)")
            return nil
        }
        return scalar.string
    }

    /// A non-empty string.
    public func nonEmptyString() -> String? {
        guard let text = string() else { return nil }
        guard !text.isEmpty else {
            report("must not be empty")
            return nil
        }
        return text
    }

    /// `true` or `false` (plain). YAML 1.1 spellings such as `yes`/`on` are rejected as ambiguous.
    public func bool() -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            switch scalar.string {
            case "true": return true
            case "false": return false
            default: break
            }
        }
        report("expected true or false, found \(kindName)")
        return nil
    }

    /// A decimal integer (plain).
    public func int() -> Int? {
        if case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) {
            return value
        }
        report("expected an integer, found \(kindName)")
        return nil
    }

    /// A decimal number (plain), e.g. a percentage.
    public func double() -> Double? {
        if case .scalar(let scalar) = node, scalar.style == .plain, let value = Double(scalar.string),
            value.isFinite
        {
            return value
        }
        report("expected a number, found \(kindName)")
        return nil
    }

    /// The scalar's text whatever its YAML type (`2`, `"2"`, `500m`); nil (and an error) for
    /// null, mappings and lists. For values such as quantities that YAML may read as numbers.
    public func scalarText() -> String? {
        guard case .scalar(let scalar) = node, !isNull else {
            report("expected a scalar value, found \(kindName)")
            return nil
        }
        return scalar.string
    }

    // MARK: Collections

    /// A list; each element's path is `path[index]`.
    public func list() -> [YAMLValue]? {
        guard case .sequence(let sequence) = node else {
            report("expected a list, found \(kindName)")
            return nil
        }
        return sequence.enumerated().map { index, element in
            YAMLValue(node: element, path: "\(path)[\(index)]", reader: reader)
        }
    }

    /// A list of strings.
    public func stringList(allowEmpty: Bool = true) -> [String]? {
        guard let elements = list() else { return nil }
        if !allowEmpty, elements.isEmpty {
            report("must not be empty")
            return nil
        }
        var result: [String] = []
        var failed = false
        for element in elements {
            if let text = element.string() { result.append(text) } else { failed = true }
        }
        return failed ? nil : result
    }

    /// A mapping with a fixed set of keys; unknown keys and non-string keys are errors.
    /// - Parameter nullMeansAbsent: treat `key: null` (or `key:`) as if the key were not there
    ///   (configuration files: "unset, use the default").
    public func mapping(allowedKeys: [String], nullMeansAbsent: Bool = false) -> YAMLMapping? {
        guard let entries = entries() else { return nil }
        let allowed = Set(allowedKeys)
        var kept: [(key: String, value: YAMLValue)] = []
        for entry in entries {
            if allowed.contains(entry.key) {
                if nullMeansAbsent, entry.value.isNull { continue }
                kept.append(entry)
            } else {
                let suggestion = Self.closest(entry.key, in: allowedKeys).map { " (did you mean '\($0)'?)" } ?? ""
                entry.value.reportKey(
                    "unknown key '\(entry.key)'\(suggestion); allowed keys: \(allowedKeys.sorted().joined(separator: ", "))"
                )
            }
        }
        return YAMLMapping(value: self, entries: kept)
    }

    /// A mapping with arbitrary string keys, in file order (e.g. quota resources).
    public func entries() -> [(key: String, value: YAMLValue)]? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping, found \(kindName)")
            return nil
        }
        var result: [(key: String, value: YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                YAMLValue(node: keyNode, path: path, reader: reader).report("mapping keys must be strings")
                continue
            }
            let key = keyScalar.string
            let childPath: String
            if key.contains(where: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                childPath = "\(path)[\(key)]"
            } else {
                childPath = path.isEmpty ? key : "\(path).\(key)"
            }
            // Errors about the entry point at its key's line when the value has no line of its own.
            let valueForErrors = YAMLValue(node: valueNode, path: childPath, reader: reader, keyMark: keyNode.mark)
            result.append((key, valueForErrors))
        }
        return result
    }

    // Values whose own mark is missing fall back to the key's mark.
    private var keyMark: Mark?

    init(node: Node, path: String, reader: YAMLReader, keyMark: Mark?) {
        self.init(node: node, path: path, reader: reader)
        self.keyMark = keyMark
    }

    /// Reports at the key (for unknown keys) rather than the value.
    func reportKey(_ message: String) {
        let mark = keyMark ?? node.mark
        reader.append(YAMLFileError(file: reader.file, line: mark?.line, column: mark?.column, field: path, message: message))
    }

    static func closest(_ key: String, in candidates: [String]) -> String? {
        let lowered = key.lowercased()
        if let match = candidates.first(where: { $0.lowercased() == lowered }) { return match }
        let scored = candidates.map { ($0, editDistance(lowered, $0.lowercased())) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A mapping whose keys were checked against an allowed set.
public struct YAMLMapping {
    /// The mapping itself (for errors about the whole mapping).
    public let value: YAMLValue
    let entries: [(key: String, value: YAMLValue)]

    public subscript(key: String) -> YAMLValue? {
        entries.first { $0.key == key }?.value
    }

    /// The value for `key`, or nil after recording "missing required key".
    public func required(_ key: String) -> YAMLValue? {
        guard let found = self[key] else {
            value.report("missing required key '\(key)'")
            return nil
        }
        return found
    }

    /// Keys present, in file order.
    public var keys: [String] { entries.map(\.key) }

    /// Exactly one of `keys` must be present; returns it.
    public func exactlyOne(of keys: [String]) -> String? {
        let present = keys.filter { self[$0] != nil }
        guard present.count == 1 else {
            let list = keys.map { "'\($0)'" }.joined(separator: " or ")
            value.report(present.isEmpty ? "needs one of \(list)" : "set only one of \(list), not both")
            return nil
        }
        return present[0]
    }
}
