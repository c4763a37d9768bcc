import Foundation

/// A Kubernetes resource quantity (`resource.Quantity`): exact decimal value, canonical text.
///
/// TEMPORARY minimal implementation: the foundation work replaces the body with the full grammar,
/// exact decimal arithmetic and the API server's canonical serialisation. The public API
/// (`init(_:)`, `canonical`, value equality, `Comparable`) is the contract.
public struct Quantity: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let canonical: String

    public init(_ text: String) throws(QuantityError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw QuantityError(input: text, reason: "empty quantity") }
        canonical = trimmed
    }

    public var description: String { canonical }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.canonical < rhs.canonical }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(canonical)
    }
}

public struct QuantityError: Error, Hashable, Sendable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "invalid quantity \"\(input)\": \(reason)" }
}
