/// Why something is desired: the chain from a directory group (or a person) through a policy row
/// to an object or right. Every desired object, hub right and change carries at least one.
public struct Provenance: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public enum Rule: Hashable, Sendable, Codable {
        /// A group grant, by grant id.
        case grant(String)
        /// A per-person override, by override id.
        case override(String)
        /// A built-in consequence of the policy (e.g. the hub ServiceAccount's binding in a
        /// personal namespace), with a short name.
        case system(String)
    }

    /// The person the right is for, when it is personal.
    public var person: PersonID?
    /// Group names from the granted group down to the group that lists the person directly
    /// (one element for direct membership; empty for overrides and system rules).
    public var groupPath: [String]
    public var rule: Rule

    public init(person: PersonID? = nil, groupPath: [String] = [], rule: Rule) {
        self.person = person
        self.groupPath = groupPath
        self.rule = rule
    }

    public var description: String {
        let rulePart: String
        switch rule {
        case .grant(let id): rulePart = "grant \(id)"
        case .override(let id): rulePart = "override \(id)"
        case .system(let name): rulePart = "system \(name)"
        }
        if groupPath.isEmpty { return rulePart }
        return "group " + groupPath.joined(separator: " ⊃ ") + " → " + rulePart
    }

    public static func < (lhs: Provenance, rhs: Provenance) -> Bool { lhs.sortKey < rhs.sortKey }

    var sortKey: String { (person?.rawValue ?? "") + "\u{1}" + description }
}
