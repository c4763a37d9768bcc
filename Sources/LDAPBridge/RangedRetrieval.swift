/// An attribute description with a range option, as Active Directory returns large multi-valued
/// attributes: `member;range=0-1499` (more to come) or `member;range=1500-*` (the last chunk).
///
/// Microsoft's "Searching Using Range Retrieval": when an attribute has more values than the
/// server's `MaxValRange`, the entry carries `attr;range=low-high` with values low…high; the client
/// asks for `attr;range=(high+1)-*` on the same entry until the returned range ends with `*`.
public struct RangedAttribute: Hashable, Sendable {
    /// The attribute type without options (`member`).
    public var attribute: String
    /// Other options in their original order (e.g. `binary`), without the range.
    public var otherOptions: [String]
    public var start: Int
    /// The last index returned, or `nil` for `*` (this chunk is the last).
    public var end: Int?

    public init(attribute: String, otherOptions: [String] = [], start: Int, end: Int?) {
        self.attribute = attribute
        self.otherOptions = otherOptions
        self.start = start
        self.end = end
    }

    /// Parses `name;range=low-high` / `name;range=low-*`. Returns nil when there is no range
    /// option; throws when a range option is malformed.
    public static func parse(_ description: String) throws(LDAPError) -> RangedAttribute? {
        let parts = description.split(separator: ";", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return nil }
        var range: (Int, Int?)?
        var others: [String] = []
        for option in parts.dropFirst() {
            guard option.lowercased().hasPrefix("range=") else {
                others.append(String(option))
                continue
            }
            guard range == nil else { throw malformed(description, "two range options") }
            let bounds = option.dropFirst("range=".count).split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, let low = Int(bounds[0]), low >= 0 else {
                throw malformed(description, "expected range=<low>-<high> or range=<low>-*")
            }
            if bounds[1] == "*" {
                range = (low, nil)
            } else if let high = Int(bounds[1]), high >= low {
                range = (low, high)
            } else {
                throw malformed(description, "the high bound is neither * nor a number ≥ \(low)")
            }
        }
        guard let range else { return nil }
        guard !parts[0].isEmpty else { throw malformed(description, "no attribute type") }
        return RangedAttribute(attribute: String(parts[0]), otherOptions: others, start: range.0, end: range.1)
    }

    /// The attribute description to request the chunk that starts at `start` (`member;range=1500-*`).
    public static func request(_ attribute: String, from start: Int) -> String {
        "\(attribute);range=\(start)-*"
    }

    private static func malformed(_ description: String, _ reason: String) -> LDAPError {
        LDAPError(.protocolError, "malformed ranged attribute \"\(description)\": \(reason)")
    }
}

/// The continuation state of one entry's ranged attribute: collects the chunks in order and
/// says which range to request next, or that the values are complete.
public struct RangedRetrieval: Sendable, Hashable {
    public let attribute: String
    public private(set) var values: [[UInt8]]
    /// The start index of the next chunk to request; nil once the last chunk (`-*`) arrived.
    public private(set) var nextStart: Int?

    /// Starts from the attributes of the first search result for an entry. When the attribute came
    /// back whole (no range option, `range=0-*`, or absent) the retrieval is already complete.
    public init(attribute: String, initial: [LDAPAttribute]) throws(LDAPError) {
        self.attribute = attribute
        self.values = []
        self.nextStart = 0
        try absorb(initial)
    }

    /// The attribute description to request next, or nil when complete.
    public var nextRequest: String? { nextStart.map { RangedAttribute.request(attribute, from: $0) } }

    public var isComplete: Bool { nextStart == nil }

    /// Takes the chunk from a follow-up result (the entry's attributes). An empty answer (no ranged
    /// attribute at all) ends the retrieval: the previous chunk ended exactly at the last value.
    public mutating func absorb(_ attributes: [LDAPAttribute]) throws(LDAPError) {
        guard let expected = nextStart else {
            throw LDAPError(.protocolError, "ranged retrieval of \(attribute): a chunk arrived after the last one")
        }
        var chunk: (RangedAttribute, [[UInt8]])?
        for item in attributes where item.baseName.asciiCaseInsensitiveEquals(attribute) {
            guard let range = try RangedAttribute.parse(item.name) else {
                // The whole attribute without a range: only acceptable as the very first answer.
                guard expected == 0 else {
                    throw LDAPError(
                        .protocolError, "ranged retrieval of \(attribute): got the attribute without a range at \(expected)")
                }
                values = item.values
                nextStart = nil
                return
            }
            guard chunk == nil else {
                throw LDAPError(.protocolError, "ranged retrieval of \(attribute): two ranged chunks in one answer")
            }
            chunk = (range, item.values)
        }
        guard let (range, chunkValues) = chunk else {
            nextStart = nil
            return
        }
        guard range.start == expected else {
            throw LDAPError(
                .protocolError,
                "ranged retrieval of \(attribute): asked for values from \(expected), got range \(range.start)-\(range.end.map(String.init) ?? "*")")
        }
        if let end = range.end {
            guard chunkValues.count == end - range.start + 1 else {
                throw LDAPError(
                    .protocolError,
                    "ranged retrieval of \(attribute): range \(range.start)-\(end) carried \(chunkValues.count) values")
            }
            values += chunkValues
            nextStart = end + 1
        } else {
            values += chunkValues
            nextStart = nil
        }
    }
}
