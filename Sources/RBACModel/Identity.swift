/// The immutable directory identifier of a person (OpenLDAP `entryUUID`, AD `objectGUID`).
///
/// People are keyed by this value, never by uid: a rename keeps the identifier, and a reused uid
/// brings a new identifier, so it never inherits a leaver's namespace or data. The raw value is the
/// canonical lowercase UUID text (`objectGUID` bytes are converted by the LDAP bridge using AD's
/// mixed-endian GUID layout).
public struct PersonID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue.lowercased()
    }

    public var description: String { rawValue }

    public static func < (lhs: PersonID, rhs: PersonID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
