import Foundation
import RBACModel

/// SplitMix64: a small, seeded, deterministic generator for property tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Small builders for test inputs.
enum Fixture {
    static let now = Date(timeIntervalSince1970: 1_750_000_000)
    static let source = PolicySource.file(path: "test.yaml", line: 1)

    static func dn(_ text: String) -> DistinguishedName { try! DistinguishedName(text) }

    static func person(_ uid: String, id: String? = nil, disabled: Bool = false) -> Person {
        Person(
            id: PersonID(id ?? "id-\(uid)"), uid: uid, dn: dn("uid=\(uid),ou=people,dc=example,dc=org"),
            disabled: disabled)
    }

    static func group(_ name: String, people: [Person] = [], groups: [String] = [], unresolved: [String] = []) -> Group {
        Group(
            name: name, dn: groupDN(name), memberPeople: Set(people.map(\.id)), memberGroups: Set(groups.map(groupDN)),
            unresolvedMembers: unresolved)
    }

    static func groupDN(_ name: String) -> DistinguishedName { dn("cn=\(name),ou=groups,dc=example,dc=org") }

    static func q(_ text: String) -> Quantity { try! Quantity(text) }

    static let small = Tier(
        name: "small", rank: 1, quota: ["requests.cpu": q("2"), "limits.cpu": q("4"), "requests.memory": q("8Gi")],
        limitRange: [LimitRangeItem(type: .container, max: ["cpu": q("4")], default: ["cpu": q("1")])],
        podSecurity: .baseline, source: source)
    static let large = Tier(
        name: "large", rank: 3, quota: ["requests.cpu": q("8"), "limits.cpu": q("16"), "requests.memory": q("32Gi")],
        podSecurity: .restricted, source: source)

    static let notebookUser = RoleTemplate(
        name: "notebook-user",
        body: .rules([
            PolicyRule(apiGroups: [""], resources: ["pods", "pods/log", "persistentvolumeclaims"], verbs: ["get", "list", "watch", "delete"])
        ]), source: source)
    static let viewer = RoleTemplate(name: "viewer", body: .clusterRole("view"), source: source)
    static let editor = RoleTemplate(
        name: "editor",
        body: .rules([PolicyRule(apiGroups: ["", "apps"], resources: ["pods", "deployments", "configmaps"], verbs: ["get", "list", "create", "update", "delete"])]),
        source: source)
    static let projectAdmin = RoleTemplate(name: "project-admin", body: .clusterRole("admin"), privileged: true, source: source)

    static func policy(
        grants: [Grant], overrides: [Override] = [], tiers: [Tier] = [small, large],
        templates: [RoleTemplate] = [notebookUser, viewer, editor, projectAdmin], defaultTier: String? = "small"
    ) -> Policy {
        Policy(
            tiers: tiers, roleTemplates: templates, grants: grants, overrides: overrides, defaultTier: defaultTier,
            personalRoleTemplate: "notebook-user")
    }

    static func hubGrant(_ group: String, id: String? = nil, tier: String? = nil, admin: Bool = false, hubGroup: Bool = false, expires: Date? = nil) -> Grant {
        Grant(id: id ?? "\(group)/hub", group: group, hubAccess: true, hubAdmin: admin, hubGroup: hubGroup, tier: tier, expires: expires, source: source)
    }

    static func projectGrant(_ group: String, namespace: String, templates: [String], tier: String? = nil, id: String? = nil) -> Grant {
        Grant(
            id: id ?? "\(group)/\(namespace)", group: group,
            project: ProjectGrant(namespace: namespace, roleTemplates: templates, tier: tier), source: source)
    }

    static let settings = PlanSettings(
        instance: "test", naming: NamingSettings(subjectTemplate: "oidc:{uid}", hubNamespace: "jhub"),
        notebookServiceAccount: "notebook")
}
