public import Foundation

/// Computes desired state from the directory and the policy. Pure: no I/O, no clock.
///
/// Rules (DESIGN "Desired state"):
/// - A person is considered when some grant's group contains them (directly or nested) or an
///   override names them. Disabled people, people under an active suspension, and people whose
///   names cannot be computed or collide with someone else's get nothing; the reason is recorded
///   in their entitlement's `withheld`.
/// - Hub access comes from grants with `hubAccess` or `hubAdmin` (an admin must be able to log in)
///   and from overrides with `hubAccess: true`; an override with `hubAccess: false` removes it.
///   Hub admin comes from `hubAdmin` grants and `hubAdmin: true` overrides; `hubAdmin: false` wins.
/// - Tier: an active override's tier replaces the grants' tiers; otherwise the highest-ranked tier
///   of all active grants reaching the person; otherwise the policy's default tier.
/// - Per person with hub access: namespace (PSA labels from the tier, `baseline` without one),
///   a RoleBinding for the person to the personal role template, a RoleBinding for the hub's
///   ServiceAccount, the notebook ServiceAccount, ResourceQuota and LimitRange from the tier, and a
///   NetworkPolicy admitting the hub and proxy pods (and the namespace's own pods).
/// - Per project namespace (from grants and overrides): the namespace, one Role per rules
///   template, one RoleBinding per template (User subjects sorted, or a Group subject per granting
///   group with `projectSubjectsAsGroup`), quota and limits from the highest-ranked project tier.
/// - Hub: users = everyone with hub access; groups from grants with `hubGroup`.
/// - `argocd.argoproj.io/sync-options` is not part of the desired objects: only `render` adds it,
///   so the cluster's objects never carry an annotation a sync would have to maintain.
public enum Planner {
    /// - Parameters:
    ///   - directory: a complete directory snapshot.
    ///   - policy: the validated policy.
    ///   - settings: naming templates, instance and object options.
    ///   - now: the instant used for expiry of grants and overrides (expired when `expires <= now`).
    /// - Returns: desired objects and hub state with provenance, and diagnostics naming what is at fault.
    public static func plan(directory: DirectorySnapshot, policy: Policy, settings: PlanSettings, now: Date) -> DesiredState {
        var builder = PlanBuilder(directory: directory, policy: policy, settings: settings, now: now)
        return builder.build()
    }

    /// The canonical summary of provenance written to the `accesssync.io/provenance` annotation:
    /// the distinct policy rules, sorted (`grant:<id>`, `override:<id>`, `system:<name>`).
    public static func provenanceSummary(_ provenance: [Provenance]) -> String {
        if provenance.isEmpty { return "" }
        if provenance.count == 1 || provenance.allSatisfy({ $0.rule == provenance[0].rule }) {
            switch provenance[0].rule {
            case .grant(let id): return "grant:" + id
            case .override(let id): return "override:" + id
            case .system(let name): return "system:" + name
            }
        }
        // The distinct rules (usually two or three: found by scanning, a set only for many), in
        // the order of their text: "grant:" < "override:" < "system:", then by id — `orderKey`.
        var rules: [Provenance.Rule] = []
        var seen = Set<Provenance.Rule>()
        var many = false
        for item in provenance {
            if many {
                if seen.insert(item.rule).inserted { rules.append(item.rule) }
            } else if !rules.contains(item.rule) {
                rules.append(item.rule)
                if rules.count > 16 {
                    seen = Set(rules)
                    many = true
                }
            }
        }
        rules.sort { $0.orderKey < $1.orderKey }
        var text = ""
        for rule in rules {
            if !text.isEmpty { text += "," }
            switch rule {
            case .grant(let id):
                text += "grant:"
                text += id
            case .override(let id):
                text += "override:"
                text += id
            case .system(let name):
                text += "system:"
                text += name
            }
        }
        return text
    }
}

/// Formats and parses the instants AccessSync writes into annotations (`2025-01-02T03:04:05Z`).
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

private struct PersonAccumulator {
    var hub: [Provenance] = []
    var admin: [Provenance] = []
    /// (tier, provenance) from active grants.
    var tiers: [(Tier, Provenance)] = []
    /// Project namespace → template → provenance.
    var projects: [String: [String: [Provenance]]] = [:]
    /// Hub group name → provenance.
    var hubGroups: [String: [Provenance]] = [:]
    var withheld: [String] = []
    var activeOverrides: [Override] = []
}

private struct ProjectAccumulator {
    var provenance: [Provenance] = []
    var tiers: [(Tier, Provenance)] = []
    /// Template → group subject names (projectSubjectsAsGroup), with provenance.
    var groupSubjects: [String: [String: [Provenance]]] = [:]
    var templates: Set<String> = []
}

/// A directory person reached through a grant's group: the group names from the granted group down
/// to the one listing the person, and the identifier's hash (which picks the person's shard).
private struct GrantMember {
    let id: PersonID
    let groupPath: [String]
    let hash: UInt
}

/// The planner's intermediate state, handed to `Parallel.release` in one piece.
private struct Intermediates: Sendable {
    let people: [PersonID: PersonAccumulator]
    let projects: [String: ProjectAccumulator]
    let expansionCache: [DistinguishedName: [GrantMember]]
    let perPerson: [(names: PersonNames?, entitlement: PersonEntitlement)]
}

private struct PlanBuilder {
    let directory: DirectorySnapshot
    let policy: Policy
    let settings: PlanSettings
    let now: Date

    var diagnostics: [Diagnostic] = []
    var people: [PersonID: PersonAccumulator] = [:]
    var projects: [String: ProjectAccumulator] = [:]
    /// Templates that may be used (exist, valid).
    var usableTemplates: Set<String> = []
    /// Grant group → the directory people it reaches (see `collectGrants`).
    var expansionCache: [DistinguishedName: [GrantMember]] = [:]
    var protected: Set<String> = []

    /// Shared by every object (one dictionary storage, not one per object).
    let baseLabels: [String: String]
    /// Namespace labels per Pod Security level (they depend on nothing else).
    let namespaceLabelsByLevel: [PodSecurityLevel: [String: String]]
    let networkPolicySpec: NetworkPolicySpec

    init(directory: DirectorySnapshot, policy: Policy, settings: PlanSettings, now: Date) {
        self.directory = directory
        self.policy = policy
        self.settings = settings
        self.now = now
        let base = [ManagedKeys.managedBy: ManagedKeys.managedByValue, ManagedKeys.instance: settings.instance]
        baseLabels = base
        var byLevel: [PodSecurityLevel: [String: String]] = [:]
        for level in PodSecurityLevel.allCases {
            var labels = base
            labels[ManagedKeys.podSecurityEnforce] = level.rawValue
            labels[ManagedKeys.podSecurityWarn] = level.rawValue
            labels[ManagedKeys.podSecurityAudit] = level.rawValue
            byLevel[level] = labels
        }
        namespaceLabelsByLevel = byLevel
        let hubNamespace = ["kubernetes.io/metadata.name": settings.naming.hubNamespace]
        networkPolicySpec = NetworkPolicySpec(
            podSelector: [:],
            ingressFrom: [
                NetworkPolicyPeer(namespaceSelector: hubNamespace, podSelector: settings.hubPodLabels),
                NetworkPolicyPeer(namespaceSelector: hubNamespace, podSelector: settings.proxyPodLabels),
                // The namespace's own pods (e.g. a Dask scheduler and its workers).
                NetworkPolicyPeer(namespaceSelector: nil, podSelector: [:]),
            ])
    }

    mutating func diagnose(_ severity: Diagnostic.Severity, _ code: String, _ subject: String, _ message: String) {
        diagnostics.append(Diagnostic(severity: severity, code: code, subject: subject, message: message))
    }

    // MARK: - Build

    mutating func build() -> DesiredState {
        protected = settings.protectedNamespaces.union([settings.naming.hubNamespace])
        let templateDiagnostics = Names.validateTemplates(
            settings.naming, groupSubjectTemplate: settings.projectSubjectsAsGroup ? settings.groupSubjectTemplate : nil)
        diagnostics += templateDiagnostics
        let computer: NameComputer
        do {
            computer = try NameComputer(settings.naming)
        } catch {
            return DesiredState(diagnostics: diagnostics.sorted())
        }
        if !templateDiagnostics.isEmpty { return DesiredState(diagnostics: diagnostics.sorted()) }

        checkPolicy()
        checkDirectory()
        let groupIndex = buildGroupIndex()
        collectGrants(groupIndex: groupIndex)
        collectOverrides()

        // Everyone considered, in identifier order (sorted once); entitlements in that order. Names
        // and entitlements of one person depend on nobody else's: computed in parallel.
        let consideredIDs = people.keys.sorted().filter { directory.people.index(forKey: $0) != nil }
        var perPerson: [(names: PersonNames?, entitlement: PersonEntitlement)] = Parallel.map(consideredIDs.count) {
            let person = directory.people[consideredIDs[$0]]!
            do throws(NameError) {
                let personNames = try computer.names(for: person)
                return (personNames, evaluate(person: person, names: personNames, nameError: nil))
            } catch {
                return (nil, evaluate(person: person, names: nil, nameError: error.description))
            }
        }
        var evaluated = perPerson.map(\.entitlement)
        resolveCollisions(&evaluated)

        // People with hub access: their namespaces' objects (in parallel) and hub users.
        let withHub = evaluated.filter {
            $0.hubAccess && $0.namespace != nil && !$0.withheld.contains(where: { $0.hasPrefix("!") })
        }
        let personal = Parallel.map(withHub.count) { personalObjects(withHub[$0], namespace: withHub[$0].namespace!) }
        // Project objects and the object index (here); the hub state, the subject owners of the
        // whole directory and the personal namespaces' layout (on another thread).
        let snapshot = directory
        let personalGroups = personal
        let (hubGroupGrants, syncHubGroups) = (self.hubGroupGrants, settings.syncHubGroups)
        let ((indexedObjects, projectGroups), (hub, subjectOwners, personalLayout)) = Parallel.both(
            { () -> ([ObjectRef: DesiredObject], NamespaceLayout.SortedGroups?) in
                let projectGroups = addProjectObjects(evaluated)
                // Personal objects first: of duplicate refs, the first wins.
                let index = DesiredState.index(lists: personalGroups, projectGroups)
                return (index, NamespaceLayout.SortedGroups(projectGroups))
            },
            {
                let hub = Self.hubState(withHub, groupGrants: syncHubGroups ? hubGroupGrants : [:])
                var names: [PersonID: PersonNames] = [:]
                names.reserveCapacity(perPerson.count)
                for (personNames, entitlement) in perPerson {
                    if let personNames { names[entitlement.person] = personNames }
                }
                return (hub, Self.subjectOwners(directory: snapshot, names: names, computer: computer),
                        NamespaceLayout.SortedGroups(personalGroups))
            })
        let layout = NamespaceLayout.combining([personalLayout, projectGroups], indexedCount: indexedObjects.count)
        // Strip the internal "!" marker from withheld reasons.
        for index in evaluated.indices where evaluated[index].withheld.contains(where: { $0.hasPrefix("!") }) {
            evaluated[index].withheld = evaluated[index].withheld.map { $0.hasPrefix("!") ? String($0.dropFirst()) : $0 }
        }
        let entitlements = evaluated

        // The intermediate state is large (a dictionary per person) and no longer needed: it is
        // freed on another thread instead of on the way out of the planner.
        // The closure must hold the only references, or the last one dropped here frees it all.
        let garbage = Intermediates(
            people: people, projects: projects, expansionCache: expansionCache, perPerson: perPerson)
        people = [:]
        projects = [:]
        expansionCache = [:]
        perPerson = []
        Parallel.release(consume garbage)
        return DesiredState(
            indexedObjects: indexedObjects, layout: layout, hub: hub,
            entitlements: entitlements,
            diagnostics: diagnostics.sorted(), subjectOwners: subjectOwners)
    }

    /// The hub's users (people with hub access, in the order given) and the mirrored groups with
    /// their members.
    static func hubState(_ withHub: [PersonEntitlement], groupGrants: [String: [Provenance]]) -> HubDesiredState {
        var users: [HubUserDesired] = []
        users.reserveCapacity(withHub.count)
        var groupMembers: [String: Set<String>] = [:]
        for entitlement in withHub {
            var provenance = entitlement.provenance["hub"] ?? []
            provenance += entitlement.provenance["hub-admin"] ?? []
            users.append(
                HubUserDesired(
                    name: entitlement.hubUsername, admin: entitlement.hubAdmin, person: entitlement.person,
                    provenance: provenance))
            for group in entitlement.hubGroups { groupMembers[group, default: []].insert(entitlement.hubUsername) }
        }
        let groups = groupGrants.sorted(by: { $0.key < $1.key }).map { name, provenance in
            HubGroupDesired(name: name, members: groupMembers[name] ?? [], provenance: provenance)
        }
        return HubDesiredState(users: users, groups: groups)
    }

    /// Subject → person for the whole directory (who loses access when a subject leaves a binding);
    /// when several people have one subject, the smallest identifier owns it.
    /// - Parameter names: the names already computed (for the people considered).
    static func subjectOwners(
        directory: DirectorySnapshot, names: [PersonID: PersonNames], computer: NameComputer
    ) -> [String: PersonID] {
        var subjectOwners: [String: PersonID] = [:]
        subjectOwners.reserveCapacity(directory.people.count)
        let subjectUsesHubUsername = computer.subjectUsesHubUsername
        for (id, person) in directory.people {
            let subject: String
            if let known = names[id] {
                subject = known.subject
            } else {
                let hub = subjectUsesHubUsername ? (try? computer.hubUsername(for: person)) ?? "" : ""
                guard let computed = try? computer.subject(for: person, hubUsername: hub) else { continue }
                subject = computed
            }
            if let owner = subjectOwners[subject], owner < id { continue }
            subjectOwners[subject] = id
        }
        return subjectOwners
    }

    // MARK: - Policy and directory checks

    mutating func checkPolicy() {
        let templateDiagnostics = RoleTemplateValidation.diagnostics(for: policy)
        diagnostics += templateDiagnostics
        let bad = Set(templateDiagnostics.map(\.subject))
        for name in policy.roleTemplates.keys where !bad.contains("role template \(name)") {
            usableTemplates.insert(name)
        }
        func checkTier(_ tier: String?, _ subject: String, _ source: PolicySource) {
            if let tier, policy.tiers[tier] == nil {
                diagnose(.error, "unknown-tier", subject, "names tier \"\(tier)\", which the policy does not define (\(source))")
            }
        }
        func checkTemplate(_ template: String, _ subject: String, _ source: PolicySource) {
            if policy.roleTemplates[template] == nil {
                diagnose(
                    .error, "unknown-role-template", subject,
                    "names role template \"\(template)\", which the policy does not define (\(source))")
            }
        }
        func checkProject(_ project: ProjectGrant, _ subject: String, _ source: PolicySource) {
            checkTier(project.tier, subject, source)
            for template in project.roleTemplates { checkTemplate(template, subject, source) }
            if !Names.isValidNamespaceName(project.namespace) {
                diagnose(
                    .error, "invalid-name", subject,
                    "project namespace \"\(project.namespace)\" is not a valid namespace name (RFC 1123 label) (\(source))")
            } else if protected.contains(project.namespace) {
                diagnose(
                    .error, "protected-namespace", subject,
                    "project namespace \"\(project.namespace)\" is protected and is never managed (\(source))")
            }
        }
        var grantIDs = Set<String>()
        for grant in policy.grants {
            let subject = "grant \(grant.id)"
            if !grantIDs.insert(grant.id).inserted {
                diagnose(.error, "duplicate-grant-id", subject, "grant id is used more than once (\(grant.source))")
            }
            checkTier(grant.tier, subject, grant.source)
            if let project = grant.project { checkProject(project, subject, grant.source) }
        }
        var overrideIDs = Set<String>()
        for override in policy.overrides {
            let subject = "override \(override.id)"
            if !overrideIDs.insert(override.id).inserted {
                diagnose(.error, "duplicate-override-id", subject, "override id is used more than once (\(override.source))")
            }
            checkTier(override.tier, subject, override.source)
            if let project = override.project { checkProject(project, subject, override.source) }
        }
        if let tier = policy.defaultTier, policy.tiers[tier] == nil {
            diagnose(.error, "unknown-tier", "policy default tier", "names tier \"\(tier)\", which the policy does not define")
        }
        if let template = policy.personalRoleTemplate, policy.roleTemplates[template] == nil {
            diagnose(
                .error, "unknown-role-template", "policy personal role template",
                "names role template \"\(template)\", which the policy does not define")
        }
        if settings.hubServiceAccountRole.kind == .role, policy.roleTemplates[settings.hubServiceAccountRole.name] == nil {
            diagnose(
                .error, "unknown-role-template", "settings hub service account role",
                "names role template \"\(settings.hubServiceAccountRole.name)\", which the policy does not define")
        }
    }

    mutating func checkDirectory() {
        for cycle in MembershipExpansion.cycles(in: directory) {
            let names = cycle.map { directory.groups[$0]?.name ?? $0.original }
            diagnose(
                .warning, "group-cycle", cycle[0].original,
                "nested groups form a cycle: \(names.joined(separator: " ⊃ ")) (members are the union over the cycle)")
        }
        for missing in MembershipExpansion.missingNestedGroups(in: directory) {
            diagnose(
                .warning, "unresolved-member", missing.parent.original,
                "nested group \(missing.member.original) is not in the directory")
        }
        for dn in directory.groups.keys.sorted() {
            let group = directory.groups[dn]!
            if !group.unresolvedMembers.isEmpty {
                let sample = group.unresolvedMembers.sorted().prefix(5).joined(separator: "; ")
                diagnose(
                    .warning, "unresolved-member", dn.original,
                    "\(group.unresolvedMembers.count) member(s) could not be resolved: \(sample)")
            }
        }
    }

    mutating func buildGroupIndex() -> [String: [DistinguishedName]] {
        var index: [String: [DistinguishedName]] = [:]
        for (dn, group) in directory.groups { index[PythonString.lower(group.name), default: []].append(dn) }
        var referenced = Set<String>()
        for grant in policy.grants { referenced.insert(PythonString.lower(grant.group)) }
        for key in index.compactMap({ $0.value.count > 1 ? $0.key : nil }).sorted() {
            index[key]!.sort()
            if !referenced.contains(key) {
                diagnose(
                    .warning, "duplicate-group-name", key,
                    "several groups share this name: \(index[key]!.map(\.original).joined(separator: "; "))")
            }
        }
        return index
    }

    // MARK: - Grants and overrides

    var hubGroupGrants: [String: [Provenance]] = [:]

    func isExpired(_ expires: Date?) -> Bool { expires.map { $0 <= now } ?? false }

    /// A grant whose group resolved to exactly one directory group.
    private struct ResolvedGrant {
        let grant: Grant
        let group: Group
        let groupDN: DistinguishedName
        let expired: Bool
        let tier: Tier?
        let project: ProjectGrant?
    }

    mutating func collectGrants(groupIndex: [String: [DistinguishedName]]) {
        // Each grant's group resolved and checked, in grant id order (diagnostics, project and hub
        // group grants).
        var resolved: [ResolvedGrant] = []
        for grant in policy.grants.sorted(by: { $0.id < $1.id }) {
            let subject = "grant \(grant.id)"
            let candidates = groupIndex[PythonString.lower(grant.group)] ?? []
            if candidates.isEmpty {
                diagnose(
                    .error, "grant-missing-group", subject,
                    "names LDAP group \"\(grant.group)\", which is not in the directory (\(grant.source))")
                continue
            }
            if candidates.count > 1 {
                diagnose(
                    .error, "ambiguous-group", subject,
                    "LDAP group name \"\(grant.group)\" matches several groups: "
                        + candidates.map(\.original).joined(separator: "; ") + " (\(grant.source))")
                continue
            }
            let groupDN = candidates[0]
            let group = directory.groups[groupDN]!
            let expired = isExpired(grant.expires)
            let project = grant.project.flatMap { validProject($0) }
            if !expired, grant.hubGroup { hubGroupGrants[group.name, default: []].append(Provenance(groupPath: [group.name], rule: .grant(grant.id))) }
            if !expired, let project {
                addProjectGrant(project, provenance: Provenance(groupPath: [group.name], rule: .grant(grant.id)), group: group.name)
            }
            resolved.append(
                ResolvedGrant(
                    grant: grant, group: group, groupDN: groupDN, expired: expired,
                    tier: grant.tier.flatMap { policy.tiers[$0] }, project: project))
        }
        // Each distinct group expanded once (in parallel).
        var unexpanded: [DistinguishedName] = []
        var seen = Set<DistinguishedName>()
        for grant in resolved where expansionCache[grant.groupDN] == nil && seen.insert(grant.groupDN).inserted {
            unexpanded.append(grant.groupDN)
        }
        let snapshot = directory
        let expansions = Parallel.map(unexpanded.count, minimumChunk: 1) { index -> [GrantMember] in
            var pathNames: [[DistinguishedName]: [String]] = [:]
            var members: [GrantMember] = []
            for (id, path) in MembershipExpansion.members(of: unexpanded[index], in: snapshot)
            where snapshot.people.index(forKey: id) != nil {
                let groupPath: [String]
                if let cached = pathNames[path] {
                    groupPath = cached
                } else {
                    groupPath = path.map { snapshot.groups[$0]?.name ?? $0.original }
                    pathNames[path] = groupPath
                }
                members.append(GrantMember(id: id, groupPath: groupPath, hash: UInt(bitPattern: id.hashValue)))
            }
            return members
        }
        for (dn, found) in zip(unexpanded, expansions) { expansionCache[dn] = found }

        // Every member's accumulator receives the grants in grant id order. People are split into
        // shards by identifier, each filled on its own thread: a person's accumulator is the same
        // whichever shard holds it.
        let memberships = resolved.reduce(0) { $0 + (expansionCache[$1.groupDN]?.count ?? 0) }
        let shards = memberships >= 2 * Parallel.minimumChunk ? Parallel.threads : 1
        let cache = expansionCache
        let filled = Parallel.map(shards, minimumChunk: 1) { shard -> [PersonID: PersonAccumulator] in
            // Sized for every membership of the shard (no growth on the way).
            var people = [PersonID: PersonAccumulator](minimumCapacity: memberships / shards + 16)
            for resolvedGrant in resolved {
                let grant = resolvedGrant.grant
                let group = resolvedGrant.group
                let tier = resolvedGrant.tier
                let project = resolvedGrant.project
                for member in cache[resolvedGrant.groupDN]! {
                    if shards > 1, Int(member.hash % UInt(shards)) != shard { continue }
                    let personID = member.id
                    if resolvedGrant.expired {
                        people[personID, default: PersonAccumulator()].withheld.append(
                            "grant \(grant.id) expired at \(Timestamp.format(grant.expires!))")
                        continue
                    }
                    let provenance = Provenance(person: personID, groupPath: member.groupPath, rule: .grant(grant.id))
                    // In place (the accumulator's arrays are not copied out of the dictionary and back).
                    func accumulate(_ accumulator: inout PersonAccumulator) {
                        if grant.hubAccess || grant.hubAdmin { accumulator.hub.append(provenance) }
                        if grant.hubAdmin { accumulator.admin.append(provenance) }
                        if let tier { accumulator.tiers.append((tier, provenance)) }
                        if let project {
                            for template in project.roleTemplates {
                                accumulator.projects[project.namespace, default: [:]][template, default: []].append(provenance)
                            }
                        }
                        if grant.hubGroup { accumulator.hubGroups[group.name, default: []].append(provenance) }
                    }
                    accumulate(&people[personID, default: PersonAccumulator()])
                }
            }
            return people
        }
        precondition(people.isEmpty, "grants are collected before anything else fills the accumulators")
        people = filled[0]
        if filled.count > 1 {
            people.reserveCapacity(filled.reduce(0) { $0 + $1.count })
            for shard in filled.dropFirst() { people.merge(shard, uniquingKeysWith: { first, _ in first }) }
        }
    }

    /// The project with only usable templates, or nil when its namespace cannot be managed.
    func validProject(_ project: ProjectGrant) -> ProjectGrant? {
        guard Names.isValidNamespaceName(project.namespace), !protected.contains(project.namespace) else { return nil }
        var copy = project
        copy.roleTemplates = project.roleTemplates.filter { usableTemplates.contains($0) }
        if let tier = project.tier, policy.tiers[tier] == nil { copy.tier = nil }
        return copy
    }

    mutating func addProjectGrant(_ project: ProjectGrant, provenance: Provenance, group: String?) {
        var accumulator = projects[project.namespace] ?? ProjectAccumulator()
        accumulator.provenance.append(provenance)
        if let tierName = project.tier, let tier = policy.tiers[tierName] { accumulator.tiers.append((tier, provenance)) }
        for template in project.roleTemplates {
            accumulator.templates.insert(template)
            if settings.projectSubjectsAsGroup, let group,
                let subject = try? Names.groupSubject(group: group, template: settings.groupSubjectTemplate)
            {
                accumulator.groupSubjects[template, default: [:]][subject, default: []].append(provenance)
            }
        }
        projects[project.namespace] = accumulator
    }

    mutating func collectOverrides() {
        var byUID: [String: [PersonID]] = [:]
        if policy.overrides.contains(where: { if case .uid = $0.person { true } else { false } }) {
            for (id, person) in directory.people { byUID[PythonString.lower(person.uid), default: []].append(id) }
        }
        for override in policy.overrides.sorted(by: { $0.id < $1.id }) {
            let subject = "override \(override.id)"
            let target: PersonID
            switch override.person {
            case .id(let id):
                guard directory.people[id] != nil else {
                    diagnose(.warning, "override-unknown-person", subject, "\(override.person) is not in the directory (\(override.source))")
                    continue
                }
                target = id
            case .uid(let uid):
                let matches = (byUID[PythonString.lower(uid)] ?? []).sorted()
                guard matches.count == 1 else {
                    diagnose(
                        .warning, "override-unknown-person", subject,
                        matches.isEmpty
                            ? "\(override.person) is not in the directory (\(override.source))"
                            : "\(override.person) matches several people: \(matches.map(\.rawValue).joined(separator: ", ")) (\(override.source))")
                    continue
                }
                target = matches[0]
            }
            var accumulator = people[target] ?? PersonAccumulator()
            if isExpired(override.expires) {
                accumulator.withheld.append("override \(override.id) expired at \(Timestamp.format(override.expires!))")
            } else {
                accumulator.activeOverrides.append(override)
                if let project = override.project.flatMap({ validProject($0) }) {
                    let provenance = Provenance(person: target, rule: .override(override.id))
                    addProjectGrant(project, provenance: Provenance(rule: .override(override.id)), group: nil)
                    for template in project.roleTemplates {
                        accumulator.projects[project.namespace, default: [:]][template, default: []].append(provenance)
                    }
                }
            }
            people[target] = accumulator
        }
    }

    // MARK: - Per person

    /// Withheld reasons prefixed with "!" mean "gets nothing"; others are informative.
    func evaluate(person: Person, names: PersonNames?, nameError: String?) -> PersonEntitlement {
        let accumulator = people[person.id]!
        var entitlement = PersonEntitlement(
            person: person.id, uid: person.uid, hubUsername: names?.hubUsername ?? "", subject: names?.subject ?? "")
        entitlement.withheld = accumulator.withheld
        if person.disabled {
            entitlement.withheld.append("!disabled in the directory")
            return entitlement
        }
        if let suspension = accumulator.activeOverrides.first(where: \.suspended) {
            entitlement.withheld.append(
                "!suspended by override \(suspension.id)" + (suspension.reason.map { ": \($0)" } ?? ""))
            return entitlement
        }
        guard let names else {
            entitlement.withheld.append("!invalid name: \(nameError ?? "unknown")")
            return entitlement
        }

        var hub = accumulator.hub
        var admin = accumulator.admin
        var hubAccess = !hub.isEmpty
        var hubAdmin = !admin.isEmpty
        var tierChoice: (Tier, Provenance)? = accumulator.tiers.max { lhs, rhs in
            (lhs.0.rank, rhs.0.name) < (rhs.0.rank, lhs.0.name)
        }
        var tierProvenance: [Provenance] = tierChoice.map { choice in
            accumulator.tiers.filter { $0.0.name == choice.0.name }.map(\.1)
        } ?? []
        for override in accumulator.activeOverrides {
            let provenance = Provenance(person: person.id, rule: .override(override.id))
            if override.hubAccess == true {
                hubAccess = true
                hub.append(provenance)
            }
            if override.hubAdmin == true {
                hubAdmin = true
                admin.append(provenance)
                hubAccess = true
                hub.append(provenance)
            }
            if let tierName = override.tier, let tier = policy.tiers[tierName] {
                tierChoice = (tier, provenance)
                tierProvenance = [provenance]
            }
        }
        // Denials win over grants.
        if accumulator.activeOverrides.contains(where: { $0.hubAccess == false }) {
            hubAccess = false
            if !hub.isEmpty { entitlement.withheld.append("hub access removed by override") }
        }
        if accumulator.activeOverrides.contains(where: { $0.hubAdmin == false }) || !hubAccess { hubAdmin = false }
        if !hubAccess { hub = []; admin = [] }
        if !hubAdmin { admin = [] }
        if hubAccess, tierChoice == nil, let name = policy.defaultTier, let tier = policy.tiers[name] {
            tierChoice = (tier, Provenance(person: person.id, rule: .system("default-tier")))
            tierProvenance = [tierChoice!.1]
        }

        entitlement.hubAccess = hubAccess
        entitlement.hubAdmin = hubAdmin
        if hubAccess {
            entitlement.namespace = names.namespace
            entitlement.provenance["hub"] = hub.sorted()
            if hubAdmin { entitlement.provenance["hub-admin"] = admin.sorted() }
            if let tierChoice {
                entitlement.tier = tierChoice.0.name
                entitlement.provenance["tier"] = tierProvenance.sorted()
            }
            for (group, provenance) in accumulator.hubGroups {
                entitlement.hubGroups.insert(group)
                entitlement.provenance["hub-group:\(group)"] = provenance.sorted()
            }
        }
        for (namespace, templates) in accumulator.projects {
            for (template, provenance) in templates {
                entitlement.projects[namespace, default: []].insert(template)
                entitlement.provenance["project:\(namespace):\(template)"] = provenance.sorted()
            }
        }
        return entitlement
    }

    /// Two people with the same hub username, subject or namespace (or a personal namespace equal to
    /// a project namespace) both get nothing: names are never changed to resolve a collision.
    /// - Parameter evaluated: entitlements in identifier order.
    mutating func resolveCollisions(_ evaluated: inout [PersonEntitlement]) {
        func isWithheld(_ entitlement: PersonEntitlement) -> Bool { entitlement.withheld.contains { $0.hasPrefix("!") } }
        /// Name → the first index with it; names met more than once → all their indices, in order.
        struct Claims {
            var first: [String: Int]
            var repeated: [String: [Int]] = [:]
            init(capacity: Int) { first = Dictionary(minimumCapacity: capacity) }
            mutating func claim(_ name: String, _ index: Int) {
                // One hash when the name is new (the common case).
                guard let earlier = first.updateValue(index, forKey: name) else { return }
                first[name] = earlier
                repeated[name, default: [earlier]].append(index)
            }
        }
        var byHubUsername = Claims(capacity: evaluated.count)
        var byNamespace = Claims(capacity: evaluated.count)
        var bySubject = Claims(capacity: evaluated.count)
        for index in evaluated.indices {
            let entitlement = evaluated[index]
            guard entitlement.hasAnyAccess, !isWithheld(entitlement) else { continue }
            if entitlement.hubAccess {
                byHubUsername.claim(entitlement.hubUsername, index)
                if let namespace = entitlement.namespace { byNamespace.claim(namespace, index) }
            }
            bySubject.claim(entitlement.subject, index)
        }
        // Only the colliding names are formatted and sorted (for a stable diagnostic order).
        var collisions: [(key: String, indices: [Int])] = []
        for (name, indices) in byHubUsername.repeated { collisions.append(("hub username \"\(name)\"", indices)) }
        for (name, indices) in byNamespace.repeated { collisions.append(("namespace \"\(name)\"", indices)) }
        for (name, indices) in bySubject.repeated { collisions.append(("subject \"\(name)\"", indices)) }
        collisions.sort { $0.key < $1.key }
        for (key, indices) in collisions {
            let who = indices.map { "\(evaluated[$0].uid) (\(evaluated[$0].person.rawValue))" }.joined(separator: ", ")
            diagnose(.warning, "name-collision", key, "computed for several people, who all get nothing: \(who)")
            for index in indices { evaluated[index].withheld.append("!name collision: \(key) is also computed for someone else") }
        }
        for index in evaluated.indices {
            guard let namespace = evaluated[index].namespace, projects[namespace] != nil, !isWithheld(evaluated[index])
            else { continue }
            diagnose(
                .warning, "name-collision", "namespace \"\(namespace)\"",
                "is both the personal namespace of \(evaluated[index].uid) (\(evaluated[index].person.rawValue)) and a "
                    + "project namespace; the person gets nothing")
            evaluated[index].withheld.append("!name collision: personal namespace \(namespace) is a project namespace")
        }
        // Withheld people keep no rights in the entitlement.
        for index in evaluated.indices where isWithheld(evaluated[index]) {
            evaluated[index].hubAccess = false
            evaluated[index].hubAdmin = false
            evaluated[index].namespace = nil
            evaluated[index].tier = nil
            evaluated[index].projects = [:]
            evaluated[index].hubGroups = []
            evaluated[index].provenance = [:]
        }
    }

    // MARK: - Objects

    func namespaceLabels(_ tier: Tier?) -> [String: String] {
        namespaceLabelsByLevel[tier?.podSecurity ?? .baseline]!
    }

    /// Role (when the template has rules) and roleRef for a template in a namespace.
    func roleFor(template name: String, namespace: String) -> (role: ObjectSpec?, ref: RoleRef)? {
        guard usableTemplates.contains(name), let template = policy.roleTemplates[name] else { return nil }
        switch template.body {
        case .rules(let rules):
            return (.role(rules: rules), RoleRef(kind: .role, name: ManagedNames.role(template: name)))
        case .clusterRole(let clusterRole):
            return (nil, RoleRef(kind: .clusterRole, name: clusterRole))
        }
    }

    func bindingAnnotations(template: String?, owner: PersonID?, provenance: [Provenance]) -> [String: String] {
        bindingAnnotations(template: template, owner: owner, summary: Planner.provenanceSummary(provenance))
    }

    /// - Parameter summary: `Planner.provenanceSummary` of the binding's provenance.
    func bindingAnnotations(template: String?, owner: PersonID?, summary: String) -> [String: String] {
        var annotations: [String: String] = [ManagedKeys.provenance: summary]
        if let owner { annotations[ManagedKeys.ownerID] = owner.rawValue }
        if let template {
            annotations[ManagedKeys.roleTemplate] = template
            if let body = policy.roleTemplates[template], RoleTemplateValidation.isPrivileged(body) {
                annotations[ManagedKeys.privileged] = "true"
            }
        }
        return annotations
    }

    /// The objects of a personal namespace (the namespace first).
    func personalObjects(_ entitlement: PersonEntitlement, namespace: String) -> [DesiredObject] {
        var objects: [DesiredObject] = []
        objects.reserveCapacity(8)
        let id = entitlement.person
        let tier = entitlement.tier.flatMap { policy.tiers[$0] }
        let provenance = entitlement.provenance["hub"] ?? []
        let ownerAnnotations = [ManagedKeys.ownerID: id.rawValue]
        let summary = Planner.provenanceSummary(provenance)
        var emitted = Set<String>()
        func add(_ kind: ObjectKind, _ name: String, _ spec: ObjectSpec, labels: [String: String]? = nil,
                 annotations: [String: String]? = nil, provenance extra: [Provenance] = []) {
            objects.append(
                DesiredObject(
                    ref: ObjectRef(kind: kind, namespace: kind == .namespace ? nil : namespace, name: name),
                    labels: labels ?? baseLabels, annotations: annotations ?? ownerAnnotations, spec: spec, owner: id,
                    provenance: extra.isEmpty ? provenance : provenance + extra))
        }
        add(
            .namespace, namespace, .namespace, labels: namespaceLabels(tier),
            annotations: [
                ManagedKeys.ownerID: id.rawValue, ManagedKeys.ownerUID: entitlement.uid,
                ManagedKeys.provenance: summary,
            ])
        if let templateName = policy.personalRoleTemplate, let (role, ref) = roleFor(template: templateName, namespace: namespace) {
            if let role {
                add(.role, ref.name, role)
                emitted.insert(ref.name)
            }
            add(
                .roleBinding, ManagedNames.personalRoleBinding,
                .roleBinding(roleRef: ref, subjects: [Subject(kind: .user, name: entitlement.subject)]),
                annotations: bindingAnnotations(template: templateName, owner: id, summary: summary))
        }
        let hubSubject = Subject(
            kind: .serviceAccount, name: settings.hubServiceAccount, namespace: settings.naming.hubNamespace)
        let hubProvenance = [Provenance(person: id, rule: .system("hub-service-account"))]
        var hubRef: RoleRef?
        var hubTemplate: String?
        if settings.hubServiceAccountRole.kind == .clusterRole {
            hubRef = settings.hubServiceAccountRole
        } else if let (role, ref) = roleFor(template: settings.hubServiceAccountRole.name, namespace: namespace) {
            hubTemplate = settings.hubServiceAccountRole.name
            if let role, !emitted.contains(ref.name) { add(.role, ref.name, role) }
            hubRef = ref
        }
        if let hubRef {
            add(
                .roleBinding, ManagedNames.hubRoleBinding, .roleBinding(roleRef: hubRef, subjects: [hubSubject]),
                annotations: bindingAnnotations(template: hubTemplate, owner: id, provenance: provenance + hubProvenance),
                provenance: hubProvenance)
        }
        if let serviceAccount = settings.notebookServiceAccount {
            add(.serviceAccount, serviceAccount, .serviceAccount, provenance: [Provenance(person: id, rule: .system("notebook-service-account"))])
        }
        if let tier {
            let tierProvenance = entitlement.provenance["tier"] ?? []
            if !tier.quota.isEmpty {
                add(.resourceQuota, ManagedNames.resourceQuota, .resourceQuota(hard: tier.quota), provenance: tierProvenance)
            }
            if !tier.limitRange.isEmpty {
                add(.limitRange, ManagedNames.limitRange, .limitRange(limits: tier.limitRange), provenance: tierProvenance)
            }
        }
        if settings.networkPolicy {
            add(
                .networkPolicy, ManagedNames.networkPolicy, .networkPolicy(networkPolicySpec),
                provenance: [Provenance(person: id, rule: .system("network-policy"))])
        }
        return objects
    }

    /// - Parameter evaluated: entitlements in identifier order.
    /// The project namespaces' objects by namespace (each list starts with the Namespace object).
    mutating func addProjectObjects(_ evaluated: [PersonEntitlement]) -> [[DesiredObject]] {
        // Members per (namespace, template), from the evaluated entitlements (so withheld people are out).
        var members: [String: [String: [(Subject, [Provenance])]]] = [:]
        for entitlement in evaluated {
            for (namespace, templates) in entitlement.projects {
                for template in templates {
                    let provenance = entitlement.provenance["project:\(namespace):\(template)"] ?? []
                    // With group subjects, people reached through a group grant are covered by the Group.
                    if settings.projectSubjectsAsGroup, provenance.allSatisfy({ !$0.groupPath.isEmpty }) { continue }
                    let personal = settings.projectSubjectsAsGroup ? provenance.filter { $0.groupPath.isEmpty } : provenance
                    members[namespace, default: [:]][template, default: []].append(
                        (Subject(kind: .user, name: entitlement.subject), personal))
                }
            }
        }
        var groups: [[DesiredObject]] = []
        for namespace in projects.keys.sorted() {
            let project = projects[namespace]!
            let tierChoice = project.tiers.max { ($0.0.rank, $1.0.name) < ($1.0.rank, $0.0.name) }
            let tier = tierChoice?.0
            let nsProvenance = project.provenance.sorted()
            var group: [DesiredObject] = []
            defer { groups.append(group) }
            group.append(
                DesiredObject(
                    ref: ObjectRef(kind: .namespace, namespace: nil, name: namespace), labels: namespaceLabels(tier),
                    annotations: [ManagedKeys.provenance: Planner.provenanceSummary(nsProvenance)], spec: .namespace,
                    provenance: nsProvenance))
            func add(_ kind: ObjectKind, _ name: String, _ spec: ObjectSpec, annotations: [String: String] = [:],
                     provenance: [Provenance]) {
                group.append(
                    DesiredObject(
                        ref: ObjectRef(kind: kind, namespace: namespace, name: name), labels: baseLabels,
                        annotations: annotations, spec: spec, provenance: provenance))
            }
            if let tier {
                let tierProvenance = project.tiers.filter { $0.0.name == tier.name }.map(\.1).sorted()
                if !tier.quota.isEmpty {
                    add(.resourceQuota, ManagedNames.resourceQuota, .resourceQuota(hard: tier.quota), provenance: tierProvenance)
                }
                if !tier.limitRange.isEmpty {
                    add(.limitRange, ManagedNames.limitRange, .limitRange(limits: tier.limitRange), provenance: tierProvenance)
                }
            }
            for template in project.templates.sorted() {
                guard let (role, ref) = roleFor(template: template, namespace: namespace) else { continue }
                var subjects: [Subject] = []
                var provenance: [Provenance] = []
                for (subject, subjectProvenance) in members[namespace]?[template] ?? [] {
                    subjects.append(subject)
                    provenance += subjectProvenance
                }
                for (groupName, groupProvenance) in (project.groupSubjects[template] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    subjects.append(Subject(kind: .group, name: groupName))
                    provenance += groupProvenance
                }
                guard !subjects.isEmpty else { continue }
                subjects.sort()
                provenance.sort()
                if let role {
                    add(.role, ref.name, role, provenance: project.provenance.sorted())
                }
                add(
                    .roleBinding, ManagedNames.projectRoleBinding(template: template),
                    .roleBinding(roleRef: ref, subjects: subjects),
                    annotations: bindingAnnotations(template: template, owner: nil, provenance: provenance),
                    provenance: provenance)
            }
        }
        return groups
    }
}
