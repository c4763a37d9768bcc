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
    /// Expands nested groups for every group. Cycles do not loop: each strongly connected set of
    /// groups is reported once as a closed path, and the members of every group on a cycle are the
    /// union over the cycle (which is what LDAP's in-chain matching rule returns).
    ///
    /// Cost is the sum of all groups' transitive sizes; planning uses `members(of:in:)` for the
    /// granted groups only.
    public static func expand(_ snapshot: DirectorySnapshot) -> ExpandedMembership {
        var people: [DistinguishedName: Set<PersonID>] = [:]
        var paths: [DistinguishedName: [PersonID: [DistinguishedName]]] = [:]
        for root in snapshot.groups.keys.sorted() {
            let found = members(of: root, in: snapshot)
            people[root] = Set(found.keys)
            paths[root] = found
        }
        return ExpandedMembership(
            people: people, paths: paths, cycles: cycles(in: snapshot),
            missingNestedGroups: missingNestedGroups(in: snapshot))
    }

    /// Nested group DNs that do not exist in the snapshot, sorted.
    public static func missingNestedGroups(in snapshot: DirectorySnapshot) -> [ExpandedMembership.MissingNestedGroup] {
        var missing: [ExpandedMembership.MissingNestedGroup] = []
        for dn in snapshot.groups.keys.sorted() {
            for member in snapshot.groups[dn]!.memberGroups.sorted() where snapshot.groups.index(forKey: member) == nil {
                missing.append(.init(parent: dn, member: member))
            }
        }
        return missing
    }

    /// Every person reachable from `root`, with the shortest chain of groups from `root` down to the
    /// group that lists the person directly (ties broken by DN order, so the result is deterministic).
    /// Path arrays are shared between people found through the same group.
    public static func members(
        of root: DistinguishedName, in snapshot: DirectorySnapshot
    ) -> [PersonID: [DistinguishedName]] {
        guard snapshot.groups.index(forKey: root) != nil else { return [:] }
        var found: [PersonID: [DistinguishedName]] = [:]
        var visited: Set<DistinguishedName> = [root]
        var queue: [[DistinguishedName]] = [[root]]
        var head = 0
        while head < queue.count {
            let path = queue[head]
            head += 1
            guard let group = snapshot.groups[path[path.count - 1]] else { continue }
            for person in group.memberPeople where found[person] == nil {
                found[person] = path
            }
            let children = group.memberGroups.count > 1 ? group.memberGroups.sorted() : Array(group.memberGroups)
            for child in children where snapshot.groups.index(forKey: child) != nil && visited.insert(child).inserted {
                queue.append(path + [child])
            }
        }
        return found
    }

    /// One closed path (first == last, starting at its smallest DN) for every strongly connected set
    /// of groups (Tarjan's algorithm, iterative), including a group that contains itself. Sorted.
    public static func cycles(in snapshot: DirectorySnapshot) -> [[DistinguishedName]] {
        let dns = snapshot.groups.keys.sorted()
        var indexOf: [DistinguishedName: Int] = [:]
        indexOf.reserveCapacity(dns.count)
        for (i, dn) in dns.enumerated() { indexOf[dn] = i }
        let edges: [[Int]] = dns.map { dn in
            snapshot.groups[dn]!.memberGroups.compactMap { indexOf[$0] }.sorted()
        }
        let n = dns.count
        var index = [Int](repeating: -1, count: n)
        var low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n)
        var stack: [Int] = []
        var counter = 0
        var components: [[Int]] = []
        for start in 0..<n where index[start] < 0 {
            var work: [(node: Int, edge: Int)] = [(start, 0)]
            index[start] = counter; low[start] = counter; counter += 1
            stack.append(start); onStack[start] = true
            while let (node, edge) = work.last {
                if edge < edges[node].count {
                    work[work.count - 1].edge += 1
                    let next = edges[node][edge]
                    if index[next] < 0 {
                        index[next] = counter; low[next] = counter; counter += 1
                        stack.append(next); onStack[next] = true
                        work.append((next, 0))
                    } else if onStack[next] {
                        low[node] = min(low[node], index[next])
                    }
                } else {
                    work.removeLast()
                    if let parent = work.last { low[parent.node] = min(low[parent.node], low[node]) }
                    if low[node] == index[node] {
                        var component: [Int] = []
                        while true {
                            let member = stack.removeLast()
                            onStack[member] = false
                            component.append(member)
                            if member == node { break }
                        }
                        if component.count > 1 || edges[node].contains(node) { components.append(component) }
                    }
                }
            }
        }
        var cycles: [[DistinguishedName]] = []
        for component in components {
            let members = Set(component)
            let start = component.min()!
            // Shortest path inside the component from start back to start (BFS with parents).
            var parent: [Int: Int] = [:]
            var queue = [start]
            var head = 0
            var closing: Int?
            search: while head < queue.count {
                let node = queue[head]
                head += 1
                for next in edges[node] where members.contains(next) {
                    if next == start { closing = node; break search }
                    if parent[next] == nil { parent[next] = node; queue.append(next) }
                }
            }
            guard var node = closing else { continue }
            var path = [start]
            while node != start {
                path.append(node)
                node = parent[node]!
            }
            path.append(start)
            // path is start ← ... reversed: start, last, ..., first, start; reverse the middle.
            let cycle = [start] + path.dropFirst().dropLast().reversed() + [start]
            cycles.append(cycle.map { dns[$0] })
        }
        cycles.sort { $0.map(\.normalized).joined(separator: "|") < $1.map(\.normalized).joined(separator: "|") }
        return cycles
    }
}
