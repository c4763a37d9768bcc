import Foundation
public import RBACModel

/// A deterministic organisation at benchmark scale.
///
/// - `people` directory users, a fifth of them (at most `granted`) granted hub access through 20 hub
///   groups of equal size; 1 in 50 disabled.
/// - `groups` groups in all: the 20 hub groups, 200 project groups (each drawing 100 of the granted
///   people, one in four nested under a department group), and the rest department and team
///   groups of 25 members each over the whole directory, nested in chains of four.
/// - Grants: hub access on the hub groups (two tiers, one admin group, all mirrored as hub groups),
///   one project per project group with two role templates; a few dozen overrides.
public struct SyntheticOrganisation: Sendable {
    public let directory: DirectorySnapshot
    public let policy: Policy
    public let settings: PlanSettings
    public let now: Date

    public static let hubGroups = 20
    public static let projectGroups = 200

    public init(people: Int, groups: Int = 5_000, granted: Int = 20_000) {
        now = Date(timeIntervalSince1970: 1_750_000_000)
        settings = PlanSettings(
            instance: "bench", naming: NamingSettings(subjectTemplate: "oidc:{uid}", hubNamespace: "jhub"),
            notebookServiceAccount: "notebook")
        var rng = SplitMix(seed: 42)
        let source = PolicySource.file(path: "bench.yaml", line: nil)

        var persons: [Person] = []
        persons.reserveCapacity(people)
        for index in 0..<people {
            let uid = index % 97 == 0 ? "User.\(index)" : "user\(index)"
            persons.append(
                Person(
                    id: PersonID(String(format: "%08x-0000-4000-8000-%012x", index, index)), uid: uid,
                    dn: try! DistinguishedName("uid=\(uid),ou=people,dc=example,dc=org"), disabled: index % 50 == 7))
        }
        let grantedCount = min(granted, people / 5)
        func dn(_ name: String) -> DistinguishedName { try! DistinguishedName("cn=\(name),ou=groups,dc=example,dc=org") }

        var groupList: [Group] = []
        groupList.reserveCapacity(groups)
        // Hub groups: the granted people split into 20.
        for hub in 0..<Self.hubGroups {
            var members = Set<PersonID>()
            for index in stride(from: hub, to: grantedCount, by: Self.hubGroups) { members.insert(persons[index].id) }
            groupList.append(Group(name: "hub-\(hub)", dn: dn("hub-\(hub)"), memberPeople: members))
        }
        let departments = max(0, groups - Self.hubGroups - Self.projectGroups)
        // Project groups: 100 granted people each.
        for project in 0..<Self.projectGroups {
            var members = Set<PersonID>()
            for _ in 0..<min(100, grantedCount) { members.insert(persons[Int.random(in: 0..<grantedCount, using: &rng)].id) }
            var nested = Set<DistinguishedName>()
            if project % 4 == 0, departments > 0 { nested.insert(dn("dept-\(project % departments)")) }
            groupList.append(Group(name: "project-\(project)", dn: dn("project-\(project)"), memberPeople: members, memberGroups: nested))
        }
        // Department and team groups over everyone, nested in chains of four.
        for department in 0..<departments {
            var members = Set<PersonID>()
            for _ in 0..<25 { members.insert(persons[Int.random(in: 0..<people, using: &rng)].id) }
            var nested = Set<DistinguishedName>()
            if department % 4 != 3, department + 1 < departments { nested.insert(dn("dept-\(department + 1)")) }
            groupList.append(Group(name: "dept-\(department)", dn: dn("dept-\(department)"), memberPeople: members, memberGroups: nested))
        }
        directory = DirectorySnapshot(people: persons, groups: groupList)

        let q = { (text: String) in try! Quantity(text) }
        let standard = Tier(
            name: "standard", rank: 2,
            quota: ["requests.cpu": q("2"), "limits.cpu": q("4"), "requests.memory": q("8Gi"), "limits.memory": q("16Gi"),
                    "requests.storage": q("10Gi")],
            limitRange: [LimitRangeItem(type: .container, max: ["cpu": q("4"), "memory": q("16Gi")], default: ["cpu": q("1"), "memory": q("2Gi")])],
            podSecurity: .baseline, source: source)
        let large = Tier(
            name: "large", rank: 3,
            quota: ["requests.cpu": q("8"), "limits.cpu": q("16"), "requests.memory": q("32Gi"), "limits.memory": q("64Gi")],
            podSecurity: .restricted, source: source)
        let templates = [
            RoleTemplate(
                name: "notebook-user",
                body: .rules([PolicyRule(apiGroups: [""], resources: ["pods", "pods/log", "persistentvolumeclaims"], verbs: ["get", "list", "watch", "delete"])]),
                source: source),
            RoleTemplate(name: "project-viewer", body: .clusterRole("view"), source: source),
            RoleTemplate(
                name: "project-editor",
                body: .rules([PolicyRule(apiGroups: ["", "apps", "batch"], resources: ["pods", "deployments", "jobs", "configmaps"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"])]),
                source: source),
        ]
        var grants: [Grant] = []
        for hub in 0..<Self.hubGroups {
            grants.append(
                Grant(id: "hub-\(hub)", group: "hub-\(hub)", hubAccess: true, hubAdmin: hub == 0, hubGroup: true,
                      tier: hub % 5 == 0 ? "large" : "standard", source: source))
        }
        for project in 0..<Self.projectGroups {
            grants.append(
                Grant(id: "project-\(project)", group: "project-\(project)",
                      project: ProjectGrant(namespace: "project-\(project)", roleTemplates: ["project-viewer", "project-editor"], tier: "standard"),
                      source: source))
        }
        var overrides: [Override] = []
        for index in stride(from: 3, to: min(people, 5_000), by: 101) {
            overrides.append(
                Override(id: "o\(index)", person: .id(persons[index].id), tier: index % 2 == 0 ? "large" : nil,
                         suspended: index % 3 == 0, source: source))
        }
        policy = Policy(
            tiers: [standard, large], roleTemplates: templates, grants: grants, overrides: overrides, defaultTier: "standard",
            personalRoleTemplate: "notebook-user")
    }

    /// The desired state, planned.
    public func plan() -> DesiredState {
        Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
    }

    /// The observed state after applying `desired` to an empty cluster and hub.
    public func converged(_ desired: DesiredState) -> (ObservedCluster, HubObservedState) {
        let changes = Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        let (cluster, hub) = ChangeSimulator.apply(changes.changes, to: ObservedCluster(), hub: HubObservedState())
        return (cluster, hub!)
    }

    /// The same organisation after churn: `percent` of hub group members removed.
    public func withChurn(percent: Int) -> DirectorySnapshot {
        var changed = directory
        for hub in 0..<Self.hubGroups {
            let dn = try! DistinguishedName("cn=hub-\(hub),ou=groups,dc=example,dc=org")
            guard var group = changed.groups[dn] else { continue }
            let drop = group.memberPeople.sorted().prefix(group.memberPeople.count * percent / 100)
            group.memberPeople.subtract(drop)
            changed.groups[dn] = group
        }
        return changed
    }
}

/// SplitMix64, seeded.
public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
