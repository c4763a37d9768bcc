import Foundation

/// A JSON value with a canonical text form, used for JSONB columns and audit hashing.
///
/// Canonical text: object keys sorted by their UTF-8 bytes, no insignificant whitespace, strings
/// with only `"`, `\` and control characters escaped, numbers as the shortest exact decimal
/// (`1.50` → `1.5`, `1e2` → `100`). PostgreSQL's `jsonb` reorders keys and reformats numbers;
/// canonicalising both what is written and what is read back makes the audit hash stable.
public enum JSONValue: Hashable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// A number in canonical decimal text.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    public var description: String { canonicalText }

    public subscript(_ key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .null }

    // MARK: Canonical text

    public var canonicalText: String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the canonical text to a string.
    func write(to out: inout String) {
        out += canonicalText
    }

    /// Appends the canonical text as UTF-8 bytes.
    func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let text): JSONValue.writeString(text, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            var first = true
            for value in values {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            var first = true
            for key in keys {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            let hex = hexDigits
            for byte in bytes {
                switch byte {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
                case 0..<0x20:
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Canonical form of a JSON number's text (exact decimal, no exponent, no trailing zeros).
    static func canonicalNumber(_ text: String) -> String? {
        var digits: [UInt8] = []
        var negative = false
        var pointPosition: Int? = nil
        var exponent = 0
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        var sawDigit = false
        while let byte = bytes.first {
            if byte >= 48, byte <= 57 {
                digits.append(byte)
                sawDigit = true
            } else if byte == UInt8(ascii: "."), pointPosition == nil {
                pointPosition = digits.count
            } else {
                break
            }
            bytes = bytes.dropFirst()
        }
        guard sawDigit else { return nil }
        if let byte = bytes.first, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var expNegative = false
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                expNegative = sign == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            var value = 0
            var sawExp = false
            while let byte = bytes.first, byte >= 48, byte <= 57 {
                value = value * 10 + Int(byte - 48)
                guard value < 100_000 else { return nil }
                sawExp = true
                bytes = bytes.dropFirst()
            }
            guard sawExp else { return nil }
            exponent = expNegative ? -value : value
        }
        guard bytes.isEmpty else { return nil }
        // value = digits × 10^(exponent - fractionDigits)
        var scale = exponent - (digits.count - (pointPosition ?? digits.count))
        while let first = digits.first, first == 48, digits.count > 1 { digits.removeFirst() }
        while digits.count > 1, digits.last == 48 {
            digits.removeLast()
            scale += 1
        }
        if digits == [48] { return "0" }
        var result = negative ? "-" : ""
        if scale >= 0 {
            result += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: scale)
        } else {
            let fraction = -scale
            if digits.count > fraction {
                result += String(decoding: digits[..<(digits.count - fraction)], as: UTF8.self) + "."
                    + String(decoding: digits[(digits.count - fraction)...], as: UTF8.self)
            } else {
                result += "0." + String(repeating: "0", count: fraction - digits.count)
                    + String(decoding: digits, as: UTF8.self)
            }
        }
        return result
    }

    // MARK: Parsing

    public struct ParseError: Error, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses JSON text (RFC 8259), canonicalising numbers.
    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            var parser = Parser(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw ParseError(offset: parser.index, reason: "trailing data") }
            return value
        }
    }

    /// Converts an `Encodable` value through `JSONEncoder`.
    public static func encoding(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(PGTimestamp.format(date))
        }
        let data = try encoder.encode(value)
        return try parse(String(decoding: data, as: UTF8.self))
    }

    /// Decodes into a `Decodable` type through `JSONDecoder`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = PGTimestamp.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad date \(text)"))
            }
            return date
        }
        return try decoder.decode(type, from: Data(canonicalText.utf8))
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        func fail(_ reason: String) -> ParseError { ParseError(offset: index, reason: reason) }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func parseValue(depth: Int) throws -> JSONValue {
            guard depth < 512 else { throw fail("nesting too deep") }
            guard let byte = peek() else { throw fail("unexpected end") }
            switch byte {
            case UInt8(ascii: "{"):
                index += 1
                var members: [String: JSONValue] = [:]
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipWhitespace()
                    guard peek() == UInt8(ascii: "\"") else { throw fail("expected key") }
                    let key = try parseString()
                    skipWhitespace()
                    guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    index += 1
                    skipWhitespace()
                    members[key] = try parseValue(depth: depth + 1)
                    skipWhitespace()
                    switch peek() {
                    case UInt8(ascii: ","): index += 1
                    case UInt8(ascii: "}"):
                        index += 1
                        return .object(members)
                    default: throw fail("expected ',' or '}'")
                    }
                }
            case UInt8(ascii: "["):
                index += 1
                var values: [JSONValue] = []
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    index += 1
                    return .array(values)
                }
                while true {
                    skipWhitespace()
                    values.append(try parseValue(depth: depth + 1))
                    skipWhitespace()
                    switch peek() {
                    case UInt8(ascii: ","): index += 1
                    case UInt8(ascii: "]"):
                        index += 1
                        return .array(values)
                    default: throw fail("expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                return .null
            default:
                let start = index
                scan: while index < bytes.count {
                    switch bytes[index] {
                    case 0x30...0x39, 0x2D, 0x2B, 0x2E, 0x65, 0x45: index += 1
                    default: break scan
                    }
                }
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                let text = String(decoding: slice, as: UTF8.self)
                if Self.isCanonicalInteger(slice) { return .number(text) }
                guard !text.isEmpty, let canonical = JSONValue.canonicalNumber(text) else {
                    index = start
                    throw fail("unexpected character")
                }
                return .number(canonical)
            }
        }

        /// `-?(0|[1-9][0-9]*)` except `-0`: already canonical, no conversion needed.
        static func isCanonicalInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            var offset = 0
            if bytes.first == 0x2D { offset = 1 }
            let digits = bytes.count - offset
            guard digits >= 1 else { return false }
            if bytes[offset] == 0x30 { return digits == 1 && offset == 0 }
            for position in offset..<bytes.count where bytes[position] < 0x30 || bytes[position] > 0x39 { return false }
            return true
        }

        mutating func expectLiteral(_ literal: StaticString) throws {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("expected \(literal)") }
            let start = literal.utf8Start
            for offset in 0..<count where bytes[index + offset] != start[offset] {
                throw fail("expected \(literal)")
            }
            index += count
        }

        mutating func parseHex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 48...57: digit = UInt32(byte - 48)
                case 65...70: digit = UInt32(byte - 55)
                case 97...102: digit = UInt32(byte - 87)
                default: throw fail("bad hex digit")
                }
                value = value * 16 + digit
                index += 1
            }
            return value
        }

        mutating func parseString() throws -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes.
            while index < bytes.count, bytes[index] != 0x22, bytes[index] != 0x5C { index += 1 }
            guard index < bytes.count else { throw fail("unterminated string") }
            if bytes[index] == 0x22 {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            var out: [UInt8] = Array(bytes[start..<index])
            func appendScalar(_ scalar: Unicode.Scalar) {
                out.append(contentsOf: String(Character(scalar)).utf8)
            }
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x22 {
                    index += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if byte == 0x5C {
                    index += 1
                    guard index < bytes.count else { throw fail("unterminated escape") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try parseHex4()
                        if code >= 0xD800, code < 0xDC00, index + 6 <= bytes.count, bytes[index] == 0x5C,
                            bytes[index + 1] == UInt8(ascii: "u")
                        {
                            index += 2
                            let low = try parseHex4()
                            guard low >= 0xDC00, low < 0xE000 else { throw fail("bad surrogate pair") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw fail("bad \\u escape") }
                        appendScalar(scalar)
                    default: throw fail("bad escape")
                    }
                    continue
                }
                out.append(byte)
                index += 1
            }
            throw fail("unterminated string")
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var members: [String: JSONValue] = [:]
        for (key, value) in elements { members[key] = value }
        self = .object(members)
    }
    public init(nilLiteral: ()) { self = .null }
}
