/// Active Directory's `objectGUID`: 16 bytes in the Windows GUID layout.
public enum ObjectGUID {
    /// The canonical lowercase UUID text of a binary objectGUID.
    ///
    /// Windows stores a GUID as a little-endian `Data1` (4 bytes), `Data2` (2), `Data3` (2)
    /// followed by `Data4` (8 bytes in order), so the first three groups are byte-swapped relative
    /// to the text form: bytes `33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff` are
    /// `00112233-4455-6677-8899-aabbccddeeff`.
    public static func string(fromBytes bytes: [UInt8]) throws(LDAPError) -> String {
        guard bytes.count == 16 else {
            throw LDAPError(.invalidEntry, "objectGUID has \(bytes.count) bytes, expected 16")
        }
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (position, index) in order.enumerated() {
            if position == 4 || position == 6 || position == 8 || position == 10 { out.append(0x2D) }
            out.append(digits[Int(bytes[index] >> 4)])
            out.append(digits[Int(bytes[index] & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The binary objectGUID for a UUID text (inverse of `string(fromBytes:)`), e.g. to search
    /// by GUID with an escaped filter value.
    public static func bytes(fromString text: String) throws(LDAPError) -> [UInt8] {
        let hex = Array(text.utf8.filter { $0 != 0x2D })
        guard hex.count == 32 else { throw LDAPError(.invalidInput, "\"\(text)\" is not a UUID") }
        var canonical: [UInt8] = []
        var index = 0
        while index < 32 {
            guard let high = hexValue(hex[index]), let low = hexValue(hex[index + 1]) else {
                throw LDAPError(.invalidInput, "\"\(text)\" is not a UUID")
            }
            canonical.append(high << 4 | low)
            index += 2
        }
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        return order.map { canonical[$0] }
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
