import Foundation

/// A person as the directory describes them.
public struct Person: Hashable, Sendable, Codable {
    /// Immutable identifier (entryUUID / objectGUID).
    public var id: PersonID
    /// Login name (uid / sAMAccountName) exactly as stored; names are derived from it by templates.
    public var uid: String
    public var dn: DistinguishedName
    public var displayName: String?
    public var mail: String?
    public var uidNumber: Int?
    public var gidNumber: Int?
    /// True when the directory's configured "disabled" test matched (or AD account expired).
    public var disabled: Bool

    public init(
        id: PersonID, uid: String, dn: DistinguishedName, displayName: String? = nil, mail: String? = nil,
        uidNumber: Int? = nil, gidNumber: Int? = nil, disabled: Bool = false
    ) {
        self.id = id
        self.uid = uid
        self.dn = dn
        self.displayName = displayName
        self.mail = mail
        self.uidNumber = uidNumber
        self.gidNumber = gidNumber
        self.disabled = disabled
    }
}

/// A directory group with its direct members, already resolved by the reader.
///
/// Member DNs (or RFC 2307 `memberUid` values) are resolved by the LDAP bridge into people and
/// groups; members it could not resolve are kept in `unresolvedMembers` so that planning can
/// report them (or a reader configured to be strict fails instead).
public struct Group: Hashable, Sendable, Codable {
    /// The group's name as policy refers to it (cn / sAMAccountName).
    public var name: String
    public var dn: DistinguishedName
    public var memberPeople: Set<PersonID>
    public var memberGroups: Set<DistinguishedName>
    public var unresolvedMembers: [String]

    public init(
        name: String, dn: DistinguishedName, memberPeople: Set<PersonID> = [],
        memberGroups: Set<DistinguishedName> = [], unresolvedMembers: [String] = []
    ) {
        self.name = name
        self.dn = dn
        self.memberPeople = memberPeople
        self.memberGroups = memberGroups
        self.unresolvedMembers = unresolvedMembers
    }
}

/// A complete, consistent read of the directory. Partial reads never become a snapshot.
public struct DirectorySnapshot: Hashable, Sendable, Codable {
    public var people: [PersonID: Person]
    public var groups: [DistinguishedName: Group]

    public init(people: [Person] = [], groups: [Group] = []) {
        var peopleByID: [PersonID: Person] = [:]
        for person in people { peopleByID[person.id] = person }
        var groupsByDN: [DistinguishedName: Group] = [:]
        for group in groups { groupsByDN[group.dn] = group }
        self.people = peopleByID
        self.groups = groupsByDN
    }

    /// Groups by the name policy uses. Several groups sharing one name is reported by the planner.
    public func groups(named name: String) -> [Group] {
        groups.values.filter { $0.name.lowercased() == name.lowercased() }.sorted { $0.dn < $1.dn }
    }
}

/// The transitive membership of every group, computed by `MembershipExpansion.expand`.
public struct ExpandedMembership: Hashable, Sendable {
    /// All people who are members of the group directly or through nested groups.
    public var people: [DistinguishedName: Set<PersonID>]
    /// For each (group, person): the shortest chain of groups from the group down to the group that
    /// lists the person directly — provenance for `explain`.
    public var paths: [DistinguishedName: [PersonID: [DistinguishedName]]]
    /// Every membership cycle, each as the path of group DNs that closes on itself (first == last).
    public var cycles: [[DistinguishedName]]
    /// Nested group DNs that do not exist in the snapshot: (parent group, missing member).
    public var missingNestedGroups: [MissingNestedGroup]

    public struct MissingNestedGroup: Hashable, Sendable {
        public var parent: DistinguishedName
        public var member: DistinguishedName
    }
}

public enum MembershipExpansion {
    /// Expands nested groups. Cycles do not loop: each cycle is reported once with its path, and the
    /// members of every group on the cycle are the union over the cycle (which is what LDAP's
    /// in-chain matching rule returns).
    public static func expand(_ snapshot: DirectorySnapshot) -> ExpandedMembership {
        var people: [DistinguishedName: Set<PersonID>] = [:]
        var paths: [DistinguishedName: [PersonID: [DistinguishedName]]] = [:]
        var cycles: [[DistinguishedName]] = []
        var cycleKeys: Set<[DistinguishedName]> = []
        var missing: [ExpandedMembership.MissingNestedGroup] = []

        let groupDNs = snapshot.groups.keys.sorted()
        for dn in groupDNs {
            let group = snapshot.groups[dn]!
            for member in group.memberGroups.sorted() where snapshot.groups[member] == nil {
                missing.append(.init(parent: dn, member: member))
            }
        }

        // Breadth-first from each group gives shortest provenance paths and finds cycles.
        for root in groupDNs {
            var found: [PersonID: [DistinguishedName]] = [:]
            var visited: Set<DistinguishedName> = [root]
            var queue: [[DistinguishedName]] = [[root]]
            var head = 0
            while head < queue.count {
                let path = queue[head]
                head += 1
                let current = path.last!
                guard let group = snapshot.groups[current] else { continue }
                for person in group.memberPeople where found[person] == nil {
                    found[person] = path
                }
                for child in group.memberGroups.sorted() {
                    if child == root {
                        let cycle = path + [root]
                        let key = canonicalCycle(cycle)
                        if cycleKeys.insert(key).inserted { cycles.append(key) }
                        continue
                    }
                    if visited.insert(child).inserted, snapshot.groups[child] != nil {
                        queue.append(path + [child])
                    }
                }
            }
            people[root] = Set(found.keys)
            paths[root] = found
        }
        cycles.sort { $0.map(\.normalized).joined(separator: "|") < $1.map(\.normalized).joined(separator: "|") }
        return ExpandedMembership(people: people, paths: paths, cycles: cycles, missingNestedGroups: missing)
    }

    /// Rotates a closed cycle so it starts at its smallest DN, so each cycle is reported once.
    static func canonicalCycle(_ cycle: [DistinguishedName]) -> [DistinguishedName] {
        let open = Array(cycle.dropLast())
        guard let minIndex = open.indices.min(by: { open[$0] < open[$1] }) else { return cycle }
        let rotated = Array(open[minIndex...] + open[..<minIndex])
        return rotated + [rotated[0]]
    }
}
