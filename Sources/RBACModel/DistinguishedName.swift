import Foundation

/// An LDAP distinguished name (RFC 4514) with a normalised form for comparison.
///
/// Directories return member DNs that differ from the target entry's DN in case, spacing and
/// escaping (`CN=Alice Smith,  OU=People` vs `cn=alice smith,ou=people`). Equality and hashing use
/// `normalized`: attribute types and values lowercased (the attributes used in naming — cn, uid,
/// ou, dc, o — all have case-insensitive matching rules), insignificant spaces around `,`, `+` and
/// `=` removed, escapes decoded and re-encoded canonically, and multi-valued RDNs sorted.
public struct DistinguishedName: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The DN as the directory returned it.
    public let original: String
    /// The canonical comparison form.
    public let normalized: String
    /// The RDNs from leaf to root, each a sorted list of (type, value) pairs, unescaped, lowercased.
    /// Parsed from `normalized` when asked for (rarely: DNs are mostly compared and hashed), which
    /// gives the same pairs as parsing `original`.
    public var rdns: [[AttributeValue]] { (try? DistinguishedName.parse(normalized)) ?? [] }

    public struct AttributeValue: Hashable, Sendable, Codable {
        public let type: String
        public let value: String
    }

    public init(_ text: String) throws(DistinguishedNameError) {
        original = text
        if let simple = Self.simpleNormalized(text) {
            normalized = simple
        } else {
            normalized = try Self.fullyNormalized(text)
        }
    }

    /// The normalised form through the full RFC 4514 parser (every DN the fast path declines).
    static func fullyNormalized(_ text: String) throws(DistinguishedNameError) -> String {
        let rdns = try DistinguishedName.parse(text)
        var normalized = ""
        normalized.reserveCapacity(text.utf8.count)
        for (rdnIndex, rdn) in rdns.enumerated() {
            if rdnIndex > 0 { normalized.append(",") }
            for (index, pair) in rdn.enumerated() {
                if index > 0 { normalized.append("+") }
                normalized.append(pair.type)
                normalized.append("=")
                normalized.append(DistinguishedName.escape(pair.value))
            }
        }
        return normalized
    }

    /// The normalised form of the common DN (`uid=Alice,ou=People,dc=example,dc=org`) in one pass
    /// over its bytes, or nil when the DN has anything the full parser must handle: non-ASCII,
    /// escapes, quotes, multi-valued RDNs, `#` values, characters `escape` would escape, empty
    /// types or values, or nothing at all. Same result as `fullyNormalized` (tested).
    static func simpleNormalized(_ text: String) -> String? {
        text.utf8.withContiguousStorageIfAvailable { bytes -> String? in
            let count = bytes.count
            var out = [UInt8]()
            out.reserveCapacity(count)
            var changed = false
            var index = 0
            while true {
                // Type: letters, digits, '-' and '.' (OIDs), spaces around it dropped.
                while index < count, bytes[index] == 0x20 { index += 1; changed = true }
                let typeStart = index
                while index < count {
                    let byte = bytes[index]
                    guard byte != 0x3D else { break }
                    switch byte {
                    case 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E: break
                    case 0x41...0x5A: changed = true
                    default: return nil
                    }
                    index += 1
                }
                guard index < count, index > typeStart else { return nil }
                for position in typeStart..<index {
                    let byte = bytes[position]
                    out.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
                }
                out.append(0x3D)
                index += 1  // '='
                while index < count, bytes[index] == 0x20 { index += 1; changed = true }
                // Value: printable ASCII (and tab) except what RFC 4514 escaping or the parser treats
                // specially; trailing spaces dropped.
                let valueStart = index
                var valueEnd = index
                while index < count, bytes[index] != 0x2C {
                    let byte = bytes[index]
                    switch byte {
                    case 0x5C, 0x22, 0x2B, 0x3C, 0x3E, 0x3B, 0x3D, 0x00, 0x80...0xFF: return nil
                    case 0x23 where index == valueStart: return nil
                    default: break
                    }
                    index += 1
                    if byte != 0x20 { valueEnd = index }
                }
                guard valueEnd > valueStart else { return nil }
                if valueEnd < index { changed = true }
                for position in valueStart..<valueEnd {
                    let byte = bytes[position]
                    if byte >= 0x41 && byte <= 0x5A {
                        out.append(byte + 0x20)
                        changed = true
                    } else {
                        out.append(byte)
                    }
                }
                guard index < count else { break }
                out.append(0x2C)  // ','
                index += 1
            }
            return changed ? String(decoding: out, as: UTF8.self) : text
        } ?? nil
    }

    public var description: String { original }

    public static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        lhs.normalized == rhs.normalized
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(normalized) }

    public static func < (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        lhs.normalized < rhs.normalized
    }

    /// The value of the leaf RDN's first attribute (e.g. the `cn` of a group).
    public var leafValue: String? { rdns.first?.first?.value }

    /// True when `self` is `base` or lies below it.
    public func isWithin(_ base: DistinguishedName) -> Bool {
        guard rdns.count >= base.rdns.count else { return false }
        return Array(rdns.suffix(base.rdns.count)) == base.rdns
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(original)
    }

    /// Escapes a value for use in an RDN (RFC 4514 §2.4).
    public static func escape(_ value: String) -> String {
        // Fast path: most values need no escaping at all.
        let utf8 = value.utf8
        if let first = utf8.first, let last = utf8.last, first != 0x23, first != 0x20, last != 0x20,
            !utf8.contains(where: { byte in
                switch byte {
                case 0x2C, 0x2B, 0x22, 0x5C, 0x3C, 0x3E, 0x3B, 0x3D, 0x00: true
                default: false
                }
            })
        {
            return value
        }
        var out = ""
        let scalars = Array(value.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            case ",", "+", "\"", "\\", "<", ">", ";", "=":
                out += "\\" + String(scalar)
            case "#" where index == 0:
                out += "\\#"
            case " " where index == 0 || index == scalars.count - 1:
                out += "\\ "
            case "\u{0}":
                out += "\\00"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func parse(_ text: String) throws(DistinguishedNameError) -> [[AttributeValue]] {
        let bytes = Array(text.utf8)
        if bytes.allSatisfy({ $0 == 0x20 }) { return [] }
        var rdns: [[AttributeValue]] = []
        var current: [AttributeValue] = []
        var index = 0

        func skipSpaces() { while index < bytes.count, bytes[index] == 0x20 { index += 1 } }

        while true {
            skipSpaces()
            // attribute type
            let typeStart = index
            while index < bytes.count, bytes[index] != 0x3D /* = */ {
                if bytes[index] == 0x2C || bytes[index] == 0x2B {
                    throw .init(dn: text, reason: "attribute type without '=' at offset \(typeStart)")
                }
                index += 1
            }
            guard index < bytes.count else {
                throw .init(dn: text, reason: "missing '=' after attribute type at offset \(typeStart)")
            }
            let rawType = lowercasedTrimmed(bytes[typeStart..<index])
            guard !rawType.isEmpty else { throw .init(dn: text, reason: "empty attribute type at offset \(typeStart)") }
            index += 1  // '='
            skipSpaces()
            var value: [UInt8] = []
            var trailingUnescapedSpaces = 0
            if index < bytes.count, bytes[index] == 0x23 /* # */ {
                // hex-encoded BER value: keep as-is (lowercased) for comparison
                let start = index
                while index < bytes.count, bytes[index] != 0x2C, bytes[index] != 0x2B { index += 1 }
                value = Array(bytes[start..<index])
                while value.last == 0x20 { value.removeLast() }
            } else {
                while index < bytes.count, bytes[index] != 0x2C, bytes[index] != 0x2B {
                    let byte = bytes[index]
                    if byte == 0x5C /* \ */ {
                        index += 1
                        guard index < bytes.count else { throw .init(dn: text, reason: "dangling escape at end") }
                        if let hi = hexValue(bytes[index]), index + 1 < bytes.count, let lo = hexValue(bytes[index + 1]) {
                            value.append(hi << 4 | lo)
                            index += 2
                        } else {
                            value.append(bytes[index])
                            index += 1
                        }
                        trailingUnescapedSpaces = 0
                        continue
                    }
                    if byte == 0x22 { throw .init(dn: text, reason: "unescaped '\"' at offset \(index)") }
                    value.append(byte)
                    trailingUnescapedSpaces = byte == 0x20 ? trailingUnescapedSpaces + 1 : 0
                    index += 1
                }
                value.removeLast(trailingUnescapedSpaces)
            }
            let lowered: String
            if value.allSatisfy({ $0 < 0x80 }) {
                // ASCII: lowercase the bytes (the same result as String.lowercased(), much cheaper).
                for position in value.indices where value[position] >= 0x41 && value[position] <= 0x5A {
                    value[position] += 0x20
                }
                lowered = String(decoding: value, as: UTF8.self)
            } else {
                guard let valueText = String(validating: value, as: UTF8.self) else {
                    throw .init(dn: text, reason: "value of '\(rawType)' is not valid UTF-8")
                }
                lowered = valueText.lowercased()
            }
            current.append(AttributeValue(type: rawType, value: lowered))
            if index >= bytes.count || bytes[index] == 0x2C {
                if current.count > 1 { current.sort { ($0.type, $0.value) < ($1.type, $1.value) } }
                rdns.append(current)
                if index >= bytes.count { break }
                current = []
            }
            index += 1
        }
        return rdns
    }

    /// An attribute type without surrounding whitespace, lowercased.
    private static func lowercasedTrimmed(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
        }
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice.removeFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice.removeLast() }
        return String(decoding: slice.lazy.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

public struct DistinguishedNameError: Error, Hashable, Sendable, CustomStringConvertible {
    public let dn: String
    public let reason: String
    public var description: String { "invalid DN \"\(dn)\": \(reason)" }
}
