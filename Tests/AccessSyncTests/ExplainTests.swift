import AccessSyncCore
import Foundation
import RBACModel
import Testing

/// `accesssync explain`: the pure explanation over a small organisation, and the command end to
/// end against slapd and PostgreSQL.
@Suite("explain")
struct ExplainTests {
    static let now = Date(timeIntervalSince1970: 1_750_000_000)
    static let source = PolicySource.file(path: "policies/grants.yaml", line: 1)

    static func dn(_ text: String) -> DistinguishedName { try! DistinguishedName(text) }

    /// ana and ben are users; ben is in data-science (nested in ml-platform); cleo is disabled;
    /// dana has an expired hub-admin override; admins has eve only.
    static func organisation() -> (DirectorySnapshot, Policy) {
        func person(_ uid: String, _ n: Int, disabled: Bool = false) -> Person {
            Person(
                id: PersonID("00000000-0000-0000-0000-00000000000\(n)"), uid: uid, dn: dn("uid=\(uid),ou=people,dc=x"),
                disabled: disabled)
        }
        let ana = person("ana", 1)
        let ben = person("ben", 2)
        let cleo = person("cleo", 3, disabled: true)
        let dana = person("dana", 4)
        let eve = person("eve", 5)
        let users = Group(
            name: "jupyter-users", dn: dn("cn=jupyter-users,ou=groups,dc=x"),
            memberPeople: [ana.id, ben.id, cleo.id, dana.id, eve.id])
        let science = Group(name: "data-science", dn: dn("cn=data-science,ou=groups,dc=x"), memberPeople: [ben.id])
        let platform = Group(
            name: "ml-platform", dn: dn("cn=ml-platform,ou=groups,dc=x"), memberGroups: [science.dn])
        let admins = Group(name: "jupyter-admins", dn: dn("cn=jupyter-admins,ou=groups,dc=x"), memberPeople: [eve.id])
        let directory = DirectorySnapshot(people: [ana, ben, cleo, dana, eve], groups: [users, science, platform, admins])
        let policy = Policy(
            tiers: [
                Tier(name: "standard", rank: 10, quota: ["cpu": try! Quantity("2")], source: source),
                Tier(name: "large", rank: 20, quota: ["cpu": try! Quantity("8")], source: source),
            ],
            roleTemplates: [
                RoleTemplate(name: "notebook-user", body: .rules([PolicyRule(apiGroups: [""], resources: ["pods"], verbs: ["get"])]), source: source),
                RoleTemplate(name: "project-editor", body: .rules([PolicyRule(apiGroups: [""], resources: ["pods"], verbs: ["create"])]), source: source),
            ],
            grants: [
                Grant(id: "jupyter-users/hub", group: "jupyter-users", hubAccess: true, tier: "standard", source: source),
                Grant(id: "jupyter-admins/hub-admin", group: "jupyter-admins", hubAccess: true, hubAdmin: true, source: source),
                Grant(id: "data-science/large", group: "data-science", tier: "large", source: source),
                Grant(
                    id: "ml-platform/project", group: "ml-platform",
                    project: ProjectGrant(namespace: "proj-ml", roleTemplates: ["project-editor"], tier: "standard"),
                    source: source),
            ],
            overrides: [
                Override(
                    id: "dana/admin-pilot", person: .uid("dana"), hubAdmin: true, expires: now.addingTimeInterval(-86_400),
                    source: .cli(actor: "ops"))
            ],
            defaultTier: "standard", personalRoleTemplate: "notebook-user")
        return (directory, policy)
    }

    static func explain(_ uid: String) -> Explanation {
        let (directory, policy) = organisation()
        var settings = PlanSettings(instance: "test")
        settings.naming = NamingSettings()
        let desired = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        return Explain.explain(uid, directory: directory, policy: policy, desired: desired, now: now)
    }

    @Test("every right of a nested-group member carries its chain group → grant → object")
    func chainsThroughNestedGroups() {
        let explanation = Self.explain("BEN")  // uids match case-insensitively, as in LDAP
        #expect(explanation.found)
        let text = Explain.text(explanation)
        #expect(
            text.contains("← group ml-platform ⊃ data-science → grant ml-platform/project → RoleBinding proj-ml/accesssync-project-editor"),
            "\(text)")
        #expect(text.contains("← group jupyter-users → grant jupyter-users/hub → RoleBinding jhub-ben/accesssync-owner"), "\(text)")
        #expect(text.contains("← group data-science → grant data-science/large → ResourceQuota jhub-ben/accesssync-quota"), "\(text)")
        #expect(text.contains("ResourceQuota jhub-ben/accesssync-quota (cpu=8)"))
        #expect(text.contains("← group jupyter-users → grant jupyter-users/hub → hub user ben"))
        #expect(explanation.memberships.contains { $0.group == "ml-platform" && $0.path == ["ml-platform", "data-science"] })
        // ben lacks hub admin (eve has it) because he is not in jupyter-admins.
        let admin = explanation.missing.first { $0.right == "hub admin" }
        #expect(admin != nil)
        #expect(admin?.peers == ["eve"])
        #expect(admin?.reasons.contains { $0.hasPrefix("not a member of group jupyter-admins") } == true, "\(admin?.reasons ?? [])")
    }

    @Test("a right a peer has is explained: nested group, expired override, disabled")
    func whyNot() throws {
        let ana = Self.explain("ana")
        let project = try #require(ana.missing.first { $0.right == "project proj-ml (project-editor)" })
        #expect(project.peers == ["ben"])
        #expect(
            project.reasons.contains {
                $0.contains("not a member of group ml-platform") && $0.contains("through ml-platform ⊃ data-science")
            }, "\(project.reasons)")
        let tier = try #require(ana.missing.first { $0.right == "tier large" })
        #expect(tier.reasons.contains { $0.contains("grant data-science/large") })

        let dana = Self.explain("dana")
        let admin = try #require(dana.missing.first { $0.right == "hub admin" })
        #expect(admin.reasons.contains { $0.hasPrefix("override dana/admin-pilot gave it but expired at") }, "\(admin.reasons)")
        #expect(dana.withheld.contains { $0.hasPrefix("override dana/admin-pilot expired at") })

        let cleo = Self.explain("cleo")
        #expect(cleo.rights.isEmpty)
        #expect(cleo.person?.disabled == true)
        #expect(cleo.withheld.contains("disabled in the directory"))
        let hub = try #require(cleo.missing.first { $0.right == "hub access" })
        #expect(hub.reasons.first == "cleo is disabled in the directory")
    }

    @Test("a person not in the directory is reported as such, with overrides waiting for them")
    func notInDirectory() {
        let explanation = Self.explain("zoe")
        #expect(!explanation.found)
        #expect(explanation.notes.first == "zoe is not in the directory: no person has this login name or identifier")
        #expect(Explain.text(explanation).contains("not in the directory"))
        let json = Explain.json(explanation)
        #expect(json.contains("\"found\" : false"))
    }

    @Test("explain end to end: chains from LDAP and the stored policy, JSON output")
    func endToEnd() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            let alice = try await ExplainCommand.run(world.uid("alice"), configuration: world.configuration, logger: world.quietLogger)
            let text = Explain.text(alice)
            let namespace = "jhub-\(world.uid("alice"))"
            #expect(text.contains("← group jupyter-users → grant jupyter-users/hub → RoleBinding \(namespace)/accesssync-owner"), "\(text)")
            #expect(text.contains("← group jupyter-admins → grant jupyter-admins/hub-admin → hub admin \(world.uid("alice"))"))
            #expect(text.contains("← group finance-analytics → grant finance-analytics/project → RoleBinding proj-finance-analytics/accesssync-project-admin"), "\(text)")

            let bob = try await ExplainCommand.run(world.uid("bob"), configuration: world.configuration, logger: world.quietLogger)
            let admin = try #require(bob.missing.first { $0.right == "hub admin" })
            #expect(admin.peers == [world.uid("alice")])
            #expect(admin.reasons.contains { $0.hasPrefix("not a member of group jupyter-admins") })
            let decoded = try JSONDecoder().decode(Explanation.self, from: Data(Explain.json(bob).utf8))
            #expect(decoded == bob)

            let nobody = try await ExplainCommand.run(world.uid("nobody"), configuration: world.configuration, logger: world.quietLogger)
            #expect(!nobody.found)
        }
    }
}
