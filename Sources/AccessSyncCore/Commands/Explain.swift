public import Foundation
public import RBACModel

/// What `accesssync explain USER` says about one person: every right they have or would get after
/// the next sync, each with its chain (LDAP group path → grant or override → object), and for the
/// rights a peer in one of their groups has but they lack, why not. Built from values only (the
/// directory snapshot, the policy and the planner's desired state): no I/O here.
public struct Explanation: Hashable, Sendable, Codable {
    public struct PersonInfo: Hashable, Sendable, Codable {
        public var id: String
        public var uid: String
        public var dn: String
        public var displayName: String?
        public var mail: String?
        public var disabled: Bool
        public var hubUsername: String?
        public var subject: String?
    }

    /// A group the person is in, with the path from it down to the group that lists them.
    public struct Membership: Hashable, Sendable, Codable {
        public var group: String
        /// `[group]` for direct membership; `[group, nested, ...]` otherwise.
        public var path: [String]
    }

    /// One right (an object, a hub right or a tier) with every chain that gives it.
    public struct Right: Hashable, Sendable, Codable {
        /// `namespace`, `binding`, `quota`, `limit-range`, `network-policy`, `service-account`, `role`,
        /// `hub-user`, `hub-admin`, `hub-group`, `tier`.
        public var kind: String
        /// What it is, e.g. `RoleBinding jupyter-alice/accesssync-owner → Role accesssync-notebook-user`.
        public var what: String
        /// `LDAP group path → grant/override id → object`, one per reason.
        public var chains: [String]
    }

    /// A right some peer has and this person lacks.
    public struct Missing: Hashable, Sendable, Codable {
        /// The right, e.g. `hub admin`, `project proj-ml-platform (project-editor)`, `tier large`.
        public var right: String
        /// Up to three peers who have it (uids).
        public var peers: [String]
        /// Why this person does not.
        public var reasons: [String]
    }

    /// The uid asked about.
    public var query: String
    public var found: Bool
    public var person: PersonInfo?
    public var memberships: [Membership]
    public var rights: [Right]
    /// Why the person gets nothing or less (disabled, suspended, expired grants and overrides, ...).
    public var withheld: [String]
    public var missing: [Missing]
    public var notes: [String]
}

public enum Explain {
    /// Explains one person (matched by uid, case-insensitively as LDAP matches; or by identifier).
    /// - Parameters:
    ///   - desired: `Planner.plan(directory:policy:settings:now:)` of the same inputs.
    ///   - now: the instant expiries are judged at (the same as the plan's).
    public static func explain(
        _ query: String, directory: DirectorySnapshot, policy: Policy, desired: DesiredState, now: Date
    ) -> Explanation {
        var explanation = Explanation(
            query: query, found: false, person: nil, memberships: [], rights: [], withheld: [], missing: [], notes: [])
        let key = PythonString.lower(query)
        let matches = directory.people.values.filter {
            PythonString.lower($0.uid) == key || $0.id.rawValue == key
        }.sorted { $0.id < $1.id }
        guard let person = matches.first else {
            explanation.notes.append("\(query) is not in the directory: no person has this login name or identifier")
            for override in policy.overrides.sorted(by: { $0.id < $1.id }) {
                if case .uid(let uid) = override.person, PythonString.lower(uid) == key {
                    explanation.notes.append(
                        "override \(override.id) names uid \(uid); it applies once a person with this login name exists")
                }
            }
            if let owner = desired.subjectOwners[query] {
                explanation.notes.append("the RBAC subject \(query) belongs to \(owner.rawValue)")
            }
            return explanation
        }
        if matches.count > 1 {
            explanation.notes.append(
                "\(matches.count) people have this login name: \(matches.map { "\($0.dn.original) (\($0.id.rawValue))" }.joined(separator: "; ")); "
                    + "explaining the first")
        }
        explanation.found = true
        let entitlement = desired.entitlements[person.id]
        explanation.person = Explanation.PersonInfo(
            id: person.id.rawValue, uid: person.uid, dn: person.dn.original, displayName: person.displayName,
            mail: person.mail, disabled: person.disabled,
            hubUsername: entitlement.flatMap { $0.hubUsername.isEmpty ? nil : $0.hubUsername },
            subject: entitlement.flatMap { $0.subject.isEmpty ? nil : $0.subject })
        let groupPaths = memberships(of: person.id, in: directory)
        explanation.memberships = groupPaths.keys.sorted().map { Explanation.Membership(group: $0, path: groupPaths[$0]!) }
        explanation.rights = rights(of: person, entitlement: entitlement, desired: desired, policy: policy)
        explanation.withheld = entitlement?.withheld ?? []
        if person.disabled, !explanation.withheld.contains(where: { $0.contains("disabled") }) {
            explanation.withheld.append("disabled in the directory")
        }
        if entitlement == nil {
            explanation.notes.append("no grant reaches \(person.uid) and no override names them: they get nothing")
        }
        explanation.missing = missing(
            person: person, entitlement: entitlement, groupPaths: groupPaths, directory: directory, policy: policy,
            desired: desired, now: now)
        return explanation
    }

    // MARK: Memberships

    /// Every group containing the person (directly or through nested groups) → the shortest path
    /// from that group down to the group listing the person directly. Keys are group names.
    static func memberships(of id: PersonID, in directory: DirectorySnapshot) -> [String: [String]] {
        var parents: [DistinguishedName: [DistinguishedName]] = [:]
        for (dn, group) in directory.groups {
            for child in group.memberGroups { parents[child, default: []].append(dn) }
        }
        var paths: [DistinguishedName: [DistinguishedName]] = [:]
        var queue: [DistinguishedName] = directory.groups.filter { $0.value.memberPeople.contains(id) }.map(\.key).sorted()
        for dn in queue { paths[dn] = [dn] }
        var index = 0
        while index < queue.count {
            let current = queue[index]
            index += 1
            for parent in (parents[current] ?? []).sorted() where paths[parent] == nil {
                paths[parent] = [parent] + paths[current]!
                queue.append(parent)
            }
        }
        var result: [String: [String]] = [:]
        for (dn, path) in paths {
            let name = directory.groups[dn]?.name ?? dn.original
            let names = path.map { directory.groups[$0]?.name ?? $0.original }
            if let existing = result[name], existing.count <= names.count { continue }
            result[name] = names
        }
        return result
    }

    // MARK: Rights

    static func chain(_ provenance: Provenance, to target: String) -> String {
        "\(provenance.description) → \(target)"
    }

    static func describe(_ object: DesiredObject) -> (kind: String, what: String) {
        let ref = object.ref
        switch object.spec {
        case .namespace: return ("namespace", "\(ref)")
        case .serviceAccount: return ("service-account", "\(ref)")
        case .role: return ("role", "\(ref)")
        case .roleBinding(let roleRef, let subjects):
            let who = subjects.map { "\($0.kind.rawValue) \($0.namespace.map { "\($0)/" } ?? "")\($0.name)" }
            return ("binding", "\(ref) → \(roleRef.kind.rawValue) \(roleRef.name) for \(who.joined(separator: ", "))")
        case .resourceQuota(let hard):
            return ("quota", "\(ref) (\(hard.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))")
        case .limitRange: return ("limit-range", "\(ref)")
        case .networkPolicy: return ("network-policy", "\(ref) (admits the hub and proxy)")
        }
    }

    static func rights(
        of person: Person, entitlement: PersonEntitlement?, desired: DesiredState, policy: Policy
    ) -> [Explanation.Right] {
        guard let entitlement else { return [] }
        var rights: [Explanation.Right] = []
        func chains(_ provenance: [Provenance], _ target: String) -> [String] {
            provenance.filter { $0.person == nil || $0.person == person.id }.sorted().map { chain($0, to: target) }
        }
        // Hub rights.
        if entitlement.hubAccess {
            let target = "hub user \(entitlement.hubUsername)"
            rights.append(.init(kind: "hub-user", what: target, chains: chains(entitlement.provenance["hub"] ?? [], target)))
        }
        if entitlement.hubAdmin {
            let target = "hub admin \(entitlement.hubUsername)"
            rights.append(.init(kind: "hub-admin", what: target, chains: chains(entitlement.provenance["hub-admin"] ?? [], target)))
        }
        for group in entitlement.hubGroups.sorted() {
            let target = "hub group \(group)"
            rights.append(.init(kind: "hub-group", what: target, chains: chains(entitlement.provenance["hub-group:\(group)"] ?? [], target)))
        }
        if let tier = entitlement.tier {
            let quota = policy.tiers[tier].map { tier in
                tier.quota.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            } ?? ""
            let target = "tier \(tier)" + (quota.isEmpty ? "" : " (\(quota))")
            rights.append(.init(kind: "tier", what: target, chains: chains(entitlement.provenance["tier"] ?? [], target)))
        }
        // Objects of the personal namespace.
        for object in desired.objects.values.filter({ $0.owner == person.id }).sorted(by: { $0.ref < $1.ref }) {
            let (kind, what) = describe(object)
            rights.append(.init(kind: kind, what: what, chains: chains(object.provenance, "\(object.ref)")))
        }
        // Project namespaces: the person's binding with their chain, and the namespace's own objects.
        for namespace in entitlement.projects.keys.sorted() {
            let templates = entitlement.projects[namespace]!.sorted()
            var projectProvenance: [Provenance] = []
            for template in templates {
                let provenance = entitlement.provenance["project:\(namespace):\(template)"] ?? []
                projectProvenance += provenance
                let ref = ObjectRef(
                    kind: .roleBinding, namespace: namespace, name: ManagedNames.projectRoleBinding(template: template))
                let what = desired.objects[ref].map { describe($0).what } ?? "\(ref) (role template \(template))"
                rights.append(.init(kind: "binding", what: what, chains: chains(provenance, "\(ref)")))
            }
            for object in desired.objects.values.filter({ $0.ref.namespace == namespace || ($0.ref.kind == .namespace && $0.ref.name == namespace) })
                .sorted(by: { $0.ref < $1.ref })
            where object.ref.kind != .roleBinding {
                let (kind, what) = describe(object)
                rights.append(.init(kind: kind, what: what, chains: chains(projectProvenance, "\(object.ref)")))
            }
        }
        return rights
    }

    // MARK: Missing rights

    /// Right keys of an entitlement: `hub`, `hub-admin`, `hub-group:<g>`, `project:<ns>:<template>`.
    static func rightKeys(_ entitlement: PersonEntitlement) -> Set<String> {
        var keys = Set<String>()
        if entitlement.hubAccess { keys.insert("hub") }
        if entitlement.hubAdmin { keys.insert("hub-admin") }
        for group in entitlement.hubGroups { keys.insert("hub-group:\(group)") }
        for (namespace, templates) in entitlement.projects {
            for template in templates { keys.insert("project:\(namespace):\(template)") }
        }
        return keys
    }

    static func label(_ key: String) -> String {
        if key == "hub" { return "hub access" }
        if key == "hub-admin" { return "hub admin" }
        if key.hasPrefix("hub-group:") { return "hub group \(key.dropFirst("hub-group:".count))" }
        if key.hasPrefix("tier:") { return "tier \(key.dropFirst("tier:".count))" }
        if key.hasPrefix("project:") {
            let parts = key.split(separator: ":", maxSplits: 2)
            if parts.count == 3 { return "project \(parts[1]) (\(parts[2]))" }
        }
        return key
    }

    static func missing(
        person: Person, entitlement: PersonEntitlement?, groupPaths: [String: [String]], directory: DirectorySnapshot,
        policy: Policy, desired: DesiredState, now: Date
    ) -> [Explanation.Missing] {
        let own = entitlement.map(rightKeys) ?? []
        let ownTierRank = entitlement?.tier.flatMap { policy.tiers[$0]?.rank }
        let myGroups = Set(groupPaths.keys.map(PythonString.lower))
        // Peers: everyone in one of the person's groups (expanded).
        var peers = Set<PersonID>()
        for (dn, group) in directory.groups where myGroups.contains(PythonString.lower(group.name)) {
            peers.formUnion(MembershipExpansion.members(of: dn, in: directory).keys)
        }
        peers.remove(person.id)
        // Missing key → (peers having it, provenance from the first peers).
        var found: [String: (peers: [String], provenance: [Provenance])] = [:]
        for peer in peers.sorted() {
            guard let theirs = desired.entitlements[peer] else { continue }
            var keys = rightKeys(theirs).subtracting(own)
            if let tier = theirs.tier, let rank = policy.tiers[tier]?.rank, rank > (ownTierRank ?? Int.min) {
                keys.insert("tier:\(tier)")
            }
            for key in keys {
                var entry = found[key] ?? ([], [])
                if entry.peers.count < 3 {
                    entry.peers.append(theirs.uid)
                    let provenanceKey = key.hasPrefix("tier:") ? "tier" : key
                    entry.provenance += theirs.provenance[provenanceKey] ?? []
                }
                found[key] = entry
            }
        }
        let blocking = (entitlement?.withheld ?? []).filter {
            $0.hasPrefix("disabled") || $0.hasPrefix("suspended") || $0.hasPrefix("name collision")
                || $0.hasPrefix("invalid name")
        }
        let myOverrides = policy.overrides.filter { override in
            switch override.person {
            case .id(let id): id == person.id
            case .uid(let uid): PythonString.lower(uid) == PythonString.lower(person.uid)
            }
        }.sorted { $0.id < $1.id }

        var result: [Explanation.Missing] = []
        for key in found.keys.sorted() {
            let (havers, provenance) = found[key]!
            var reasons: [String] = []
            if person.disabled { reasons.append("\(person.uid) is disabled in the directory") }
            reasons += blocking.filter { !$0.hasPrefix("disabled") }
            // Overrides of this person that deny the right, or would give it but expired.
            for override in myOverrides {
                let active = override.expires.map { $0 > now } ?? true
                if active {
                    if key == "hub", override.hubAccess == false { reasons.append("override \(override.id) removes hub access") }
                    if key == "hub-admin", override.hubAdmin == false { reasons.append("override \(override.id) prevents hub admin") }
                    if key.hasPrefix("tier:"), let tier = override.tier {
                        reasons.append("override \(override.id) sets the tier to \(tier)")
                    }
                } else if let expires = override.expires, gives(override, key) {
                    reasons.append("override \(override.id) gave it but expired at \(Timestamp.format(expires))")
                }
            }
            // Each way the peers got it that does not reach this person.
            var seen = Set<String>()
            for item in provenance.sorted() {
                var reason: String?
                switch item.rule {
                case .grant(let id):
                    guard let grant = policy.grants.first(where: { $0.id == id }) else { continue }
                    if !myGroups.contains(PythonString.lower(grant.group)) {
                        let via = item.groupPath.count > 1 ? " (a peer is in it through \(item.groupPath.joined(separator: " ⊃ ")))" : ""
                        reason = "not a member of group \(grant.group) or of any group nested in it, which grant \(id) needs\(via)"
                    } else if let expires = grant.expires, expires <= now {
                        reason = "grant \(id) expired at \(Timestamp.format(expires))"
                    }
                case .override(let id):
                    reason = "the peers have it from override \(id), which names only them"
                case .system(let name):
                    reason = "the peers have it from \(name)"
                }
                if let reason, seen.insert(reason).inserted { reasons.append(reason) }
            }
            // Grants of the right that reach this person but are expired.
            for grant in policy.grants.sorted(by: { $0.id < $1.id })
            where myGroups.contains(PythonString.lower(grant.group)) && grant.expires.map({ $0 <= now }) == true
                && gives(grant, key, policy: policy)
            {
                let reason = "grant \(grant.id) expired at \(Timestamp.format(grant.expires!))"
                if seen.insert(reason).inserted { reasons.append(reason) }
            }
            if key.hasPrefix("tier:"), let own = entitlement?.tier, !reasons.contains(where: { $0.contains("tier") }) {
                reasons.append("\(person.uid) has tier \(own); tiers rank, and the highest tier reaching a person wins")
            }
            if reasons.isEmpty { reasons.append("no grant or override giving it reaches \(person.uid)") }
            result.append(Explanation.Missing(right: label(key), peers: havers.sorted(), reasons: reasons))
        }
        return result
    }

    static func gives(_ override: Override, _ key: String) -> Bool {
        if key == "hub" { return override.hubAccess == true || override.hubAdmin == true }
        if key == "hub-admin" { return override.hubAdmin == true }
        if key.hasPrefix("tier:") { return override.tier.map { "tier:\($0)" == key } ?? false }
        if key.hasPrefix("project:"), let project = override.project {
            return project.roleTemplates.contains { "project:\(project.namespace):\($0)" == key }
        }
        return false
    }

    static func gives(_ grant: Grant, _ key: String, policy: Policy) -> Bool {
        if key == "hub" { return grant.hubAccess || grant.hubAdmin }
        if key == "hub-admin" { return grant.hubAdmin }
        if key.hasPrefix("hub-group:") { return grant.hubGroup && key == "hub-group:\(grant.group)" }
        if key.hasPrefix("tier:") { return grant.tier.map { "tier:\($0)" == key } ?? false }
        if key.hasPrefix("project:"), let project = grant.project {
            return project.roleTemplates.contains { "project:\(project.namespace):\($0)" == key }
        }
        return false
    }

    // MARK: Output

    public static func text(_ explanation: Explanation) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        guard let person = explanation.person else {
            for note in explanation.notes { line(note) }
            return out
        }
        line("\(person.uid) (\(person.id))\(person.disabled ? " — DISABLED" : "")")
        line("  dn: \(person.dn)")
        if let name = person.displayName { line("  name: \(name)") }
        if let mail = person.mail { line("  mail: \(mail)") }
        if let hub = person.hubUsername { line("  hub username: \(hub)") }
        if let subject = person.subject { line("  RBAC subject: \(subject)") }
        for note in explanation.notes { line("  note: \(note)") }
        line()
        line("groups:")
        if explanation.memberships.isEmpty { line("  (none)") }
        for membership in explanation.memberships {
            line("  \(membership.group)" + (membership.path.count > 1 ? "  (through \(membership.path.joined(separator: " ⊃ ")))" : ""))
        }
        line()
        line("has or gets on the next sync:")
        if explanation.rights.isEmpty { line("  nothing") }
        for right in explanation.rights {
            line("  \(right.what)")
            for chain in right.chains { line("      ← \(chain)") }
        }
        if !explanation.withheld.isEmpty {
            line()
            line("withheld:")
            for reason in explanation.withheld { line("  \(reason)") }
        }
        if !explanation.missing.isEmpty {
            line()
            line("rights a peer in their groups has, and why \(person.uid) does not:")
            for missing in explanation.missing {
                line("  \(missing.right) (e.g. \(missing.peers.joined(separator: ", ")))")
                for reason in missing.reasons { line("      because \(reason)") }
            }
        }
        return out
    }

    public static func json(_ explanation: Explanation) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(explanation)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
