public import Foundation

/// A problem in an LDIF file, naming the line.
public struct LDIFError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file as the caller named it.
    public var file: String
    /// 1-based physical line where the problem starts (nil for file-level problems).
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// One attribute value: raw bytes (a `::` base64 value may be binary, e.g. AD `objectGUID`).
public struct LDIFValue: Hashable, Sendable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { bytes = Array(text.utf8) }

    /// The value as UTF-8 text, or nil when it is not valid UTF-8.
    public var string: String? {
        var iterator = bytes.makeIterator()
        var text = ""
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): text.unicodeScalars.append(scalar)
            case .emptyInput: return text
            case .error: return nil
            }
        }
    }
}

/// An attribute with all its values, in file order.
public struct LDIFAttribute: Hashable, Sendable {
    /// The attribute description as written (type plus options, e.g. `cn;lang-de`).
    public var name: String
    public var values: [LDIFValue]
}

/// One content record (an entry).
public struct LDIFRecord: Hashable, Sendable {
    /// The entry's DN as text.
    public var dn: String
    /// The line of the record's `dn:` line.
    public var line: Int
    /// Attributes in order of first appearance; repeated lines of one attribute are merged.
    public var attributes: [LDIFAttribute]

    public init(dn: String, line: Int, attributes: [LDIFAttribute]) {
        self.dn = dn
        self.line = line
        self.attributes = attributes
    }

    /// Values of an attribute description, matched case-insensitively and exactly (`cn` does not
    /// return `cn;lang-de` values).
    public func values(_ name: String) -> [LDIFValue] {
        let wanted = name.lowercased()
        return attributes.filter { $0.name.lowercased() == wanted }.flatMap(\.values)
    }

    /// Values as UTF-8 strings (invalid UTF-8 values are skipped).
    public func strings(_ name: String) -> [String] {
        values(name).compactMap(\.string)
    }

    /// The first value as a string.
    public func string(_ name: String) -> String? {
        strings(name).first
    }

    /// Whether the entry has the object class (case-insensitive).
    public func hasObjectClass(_ objectClass: String) -> Bool {
        let wanted = objectClass.lowercased()
        return strings("objectClass").contains { $0.lowercased() == wanted }
    }
}

/// Reads LDIF content records as `ldapsearch -LLL` and `slapcat` print them (RFC 2849).
///
/// Supported: an optional `version: 1` line; `#` comments (folded comment lines too); lines folded
/// with a single leading space; `::` base64 values and `dn::` base64 DNs; multi-valued attributes
/// (repeated lines, adjacent or not); records separated by one or more blank lines; CRLF or LF
/// line ends; and the trailer `ldapsearch` prints without `-LLL` (`search: N` / `result: 0
/// Success`) — a non-zero result such as `4 Size limit exceeded` is an error, because a partial
/// read must never become a directory snapshot.
///
/// Rejected with a message naming the line: `:<` URL values (the file would depend on other
/// files), change records (`changetype:`), `control:` lines, a `version` other than 1, malformed
/// attribute lines, bad base64, DNs that are not UTF-8, and continuation lines with nothing to continue.
public enum LDIFReader {
    /// Parses LDIF text.
    /// - Parameters:
    ///   - data: the file's bytes (UTF-8).
    ///   - file: the name used in errors.
    /// - Throws: `LDIFError` naming the line.
    public static func parse(_ data: Data, file: String) throws(LDIFError) -> [LDIFRecord] {
        try Parser(bytes: Array(data), file: file).run()
    }

    /// Parses LDIF text given as a string.
    public static func parse(_ text: String, file: String) throws(LDIFError) -> [LDIFRecord] {
        try Parser(bytes: Array(text.utf8), file: file).run()
    }

    /// Reads and parses a file.
    /// - Throws: `LDIFError` when the file is missing or unreadable, or names the bad line.
    public static func read(path: String) throws(LDIFError) -> [LDIFRecord] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LDIFError(file: path, line: nil, message: "LDIF file does not exist")
        }
        guard !isDirectory.boolValue else {
            throw LDIFError(file: path, line: nil, message: "is a directory, expected an LDIF file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LDIFError(file: path, line: nil, message: "cannot read the LDIF file: \(error.localizedDescription)")
        }
        return try parse(data, file: path)
    }

    /// A logical (unfolded) line and where it started.
    struct LogicalLine {
        var bytes: [UInt8]
        var line: Int
    }

    struct Parser {
        let bytes: [UInt8]
        let file: String

        func fail(_ line: Int?, _ message: String) -> LDIFError {
            LDIFError(file: file, line: line, message: message)
        }

        func run() throws(LDIFError) -> [LDIFRecord] {
            // Split into physical lines, unfold, group into blocks separated by blank lines.
            var blocks: [[LogicalLine]] = []
            var current: [LogicalLine] = []
            var inComment = false
            var lineNumber = 0
            var start = 0
            var index = 0
            var physical: [([UInt8], Int)] = []
            while index <= bytes.count {
                if index == bytes.count || bytes[index] == 0x0A {
                    lineNumber += 1
                    var end = index
                    if end > start, bytes[end - 1] == 0x0D { end -= 1 }
                    if !(index == bytes.count && start == index) {
                        physical.append((Array(bytes[start..<end]), lineNumber))
                    }
                    start = index + 1
                }
                index += 1
            }
            for (content, number) in physical {
                if content.isEmpty {
                    if !current.isEmpty { blocks.append(current) }
                    current = []
                    inComment = false
                    continue
                }
                if content[0] == 0x20 {  // continuation
                    if inComment { continue }
                    guard !current.isEmpty else {
                        throw fail(number, "continuation line (starting with a space) without a line to continue")
                    }
                    current[current.count - 1].bytes += content.dropFirst()
                    continue
                }
                if content[0] == UInt8(ascii: "#") {
                    inComment = true
                    continue
                }
                inComment = false
                current.append(LogicalLine(bytes: content, line: number))
            }
            if !current.isEmpty { blocks.append(current) }

            var records: [LDIFRecord] = []
            for (blockIndex, block) in blocks.enumerated() {
                var lines = block[...]
                if blockIndex == 0, let first = lines.first, hasPrefix(first.bytes, "version:") {
                    let (_, value) = try attribute(first)
                    guard value.string?.trimmingCharacters(in: .whitespaces) == "1" else {
                        throw fail(first.line, "unsupported LDIF version '\(value.string ?? "?")'; expected 1")
                    }
                    lines = lines.dropFirst()
                    if lines.isEmpty { continue }
                }
                guard let first = lines.first else { continue }
                if hasPrefix(first.bytes, "search:") {
                    try checkTrailer(lines)
                    continue
                }
                guard hasPrefix(first.bytes, "dn:") else {
                    throw fail(first.line, "expected a 'dn:' line to start the record, found '\(preview(first.bytes))'")
                }
                let (_, dnValue) = try attribute(first)
                guard let dn = dnValue.string else { throw fail(first.line, "the DN is not valid UTF-8") }
                var attributes: [LDIFAttribute] = []
                var positions: [String: Int] = [:]
                for line in lines.dropFirst() {
                    let (name, value) = try attribute(line)
                    let key = name.lowercased()
                    if key == "changetype" {
                        throw fail(line.line, "change records (changetype:) are not supported; expected entries as ldapsearch or slapcat print them")
                    }
                    if key == "control" {
                        throw fail(line.line, "'control:' lines belong to change records and are not supported")
                    }
                    if key == "dn" {
                        throw fail(line.line, "a second 'dn:' line in one record; separate records with a blank line")
                    }
                    if let position = positions[key] {
                        attributes[position].values.append(value)
                    } else {
                        positions[key] = attributes.count
                        attributes.append(LDIFAttribute(name: name, values: [value]))
                    }
                }
                records.append(LDIFRecord(dn: dn, line: first.line, attributes: attributes))
            }
            return records
        }

        /// `ldapsearch` without `-LLL` ends with `search: N` and `result: CODE TEXT`.
        func checkTrailer(_ lines: ArraySlice<LogicalLine>) throws(LDIFError) {
            for line in lines {
                let (name, value) = try attribute(line)
                guard name.lowercased() == "result" else { continue }
                let text = value.string?.trimmingCharacters(in: .whitespaces) ?? ""
                let code = text.split(separator: " ").first.flatMap { Int($0) }
                guard code == 0 else {
                    throw fail(line.line, "the search that produced this LDIF did not complete (result: \(text)); a partial directory cannot be used")
                }
            }
        }

        /// Splits `name: value`, `name:: base64` and rejects `name:< url`.
        func attribute(_ line: LogicalLine) throws(LDIFError) -> (String, LDIFValue) {
            let content = line.bytes
            guard let colon = content.firstIndex(of: UInt8(ascii: ":")) else {
                throw fail(line.line, "expected 'attribute: value', found '\(preview(content))'")
            }
            let nameBytes = content[..<colon]
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(isDescriptionByte), isAlphanumeric(nameBytes.first!) else {
                throw fail(line.line, "invalid attribute description '\(preview(Array(nameBytes)))'")
            }
            var index = colon + 1
            enum Kind { case plain, base64, url }
            var kind = Kind.plain
            if index < content.count, content[index] == UInt8(ascii: ":") {
                kind = .base64
                index += 1
            } else if index < content.count, content[index] == UInt8(ascii: "<") {
                kind = .url
                index += 1
            }
            while index < content.count, content[index] == 0x20 { index += 1 }
            let rest = Array(content[index...])
            switch kind {
            case .plain:
                guard String(validating: rest, as: UTF8.self) != nil else {
                    throw fail(line.line, "value of '\(name)' is not valid UTF-8 (use '\(name)::' with base64)")
                }
                return (name, LDIFValue(bytes: rest))
            case .base64:
                guard let decoded = Data(base64Encoded: Data(rest)) else {
                    throw fail(line.line, "invalid base64 value for '\(name)'")
                }
                return (name, LDIFValue(bytes: Array(decoded)))
            case .url:
                throw fail(line.line, "URL values ('\(name):<') are not supported: inline the value or base64-encode it with '\(name)::'")
            }
        }

        func hasPrefix(_ content: [UInt8], _ prefix: String) -> Bool {
            let prefixBytes = Array(prefix.utf8)
            guard content.count >= prefixBytes.count else { return false }
            func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
            return zip(content, prefixBytes).allSatisfy { lower($0) == lower($1) }
        }

        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
        }

        func isDescriptionByte(_ byte: UInt8) -> Bool {
            isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ";") || byte == UInt8(ascii: ".")
        }

        func preview(_ content: [UInt8]) -> String {
            let text = String(decoding: content.prefix(40), as: UTF8.self)
            return content.count > 40 ? text + "…" : text
        }
    }
}
