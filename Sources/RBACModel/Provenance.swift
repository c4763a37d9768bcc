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

        var orderKey: (Int, String) {
            switch self {
            case .grant(let id): (0, id)
            case .override(let id): (1, id)
            case .system(let name): (2, name)
            }
        }
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

    /// Orders by person, then rule (grants, overrides, system; by id), then group path. Compares
    /// stored strings only: sorting provenance is on the planner's hot path.
    public static func < (lhs: Provenance, rhs: Provenance) -> Bool {
        let lp = lhs.person?.rawValue ?? ""
        let rp = rhs.person?.rawValue ?? ""
        if lp != rp { return lp < rp }
        let (lr, li) = lhs.rule.orderKey
        let (rr, ri) = rhs.rule.orderKey
        if lr != rr { return lr < rr }
        if li != ri { return li < ri }
        return lhs.groupPath.lexicographicallyPrecedes(rhs.groupPath)
    }

    var sortKey: String { (person?.rawValue ?? "") + "\u{1}" + description }
}
