import Foundation
import RBACModel
import Testing

@Suite struct PlannerTests {
    let settings = Fixture.settings
    let now = Fixture.now

    func ref(_ kind: ObjectKind, _ namespace: String?, _ name: String) -> ObjectRef {
        ObjectRef(kind: kind, namespace: namespace, name: name)
    }

    @Test func personalNamespaceAndContents() throws {
        let alice = Fixture.person("alice")
        let directory = DirectorySnapshot(people: [alice], groups: [Fixture.group("jupyter", people: [alice])])
        let policy = Fixture.policy(grants: [Fixture.hubGrant("jupyter", tier: "small")])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.diagnostics.isEmpty)

        let namespace = try #require(state.objects[ref(.namespace, nil, "jhub-alice")])
        #expect(namespace.labels[ManagedKeys.managedBy] == "accesssync")
        #expect(namespace.labels[ManagedKeys.instance] == "test")
        #expect(namespace.labels[ManagedKeys.podSecurityEnforce] == "baseline")
        #expect(namespace.labels[ManagedKeys.podSecurityWarn] == "baseline")
        #expect(namespace.labels[ManagedKeys.podSecurityAudit] == "baseline")
        #expect(namespace.annotations[ManagedKeys.ownerID] == alice.id.rawValue)
        #expect(namespace.annotations[ManagedKeys.provenance] == "grant:jupyter/hub")
        #expect(namespace.annotations[ManagedKeys.argoSyncOptions] == nil)
        #expect(namespace.owner == alice.id)

        let role = try #require(state.objects[ref(.role, "jhub-alice", "accesssync-notebook-user")])
        #expect(role.spec == .role(rules: Fixture.notebookUser.rulesForTest))
        let binding = try #require(state.objects[ref(.roleBinding, "jhub-alice", ManagedNames.personalRoleBinding)])
        #expect(binding.spec == .roleBinding(
            roleRef: RoleRef(kind: .role, name: "accesssync-notebook-user"),
            subjects: [Subject(kind: .user, name: "oidc:alice")]))
        let hubBinding = try #require(state.objects[ref(.roleBinding, "jhub-alice", ManagedNames.hubRoleBinding)])
        #expect(hubBinding.spec == .roleBinding(
            roleRef: settings.hubServiceAccountRole,
            subjects: [Subject(kind: .serviceAccount, name: "hub", namespace: "jhub")]))
        #expect(state.objects[ref(.serviceAccount, "jhub-alice", "notebook")] != nil)
        let quota = try #require(state.objects[ref(.resourceQuota, "jhub-alice", ManagedNames.resourceQuota)])
        #expect(quota.spec == .resourceQuota(hard: Fixture.small.quota))
        #expect(state.objects[ref(.limitRange, "jhub-alice", ManagedNames.limitRange)]?.spec == .limitRange(limits: Fixture.small.limitRange))
        let policyObject = try #require(state.objects[ref(.networkPolicy, "jhub-alice", ManagedNames.networkPolicy)])
        guard case .networkPolicy(let spec) = policyObject.spec else { Issue.record("not a network policy"); return }
        #expect(spec.ingressFrom.contains(NetworkPolicyPeer(
            namespaceSelector: ["kubernetes.io/metadata.name": "jhub"], podSelector: settings.hubPodLabels)))
        #expect(spec.ingressFrom.contains(NetworkPolicyPeer(
            namespaceSelector: ["kubernetes.io/metadata.name": "jhub"], podSelector: settings.proxyPodLabels)))
        #expect(state.objects.count == 8)

        #expect(state.hub.users["alice"] == HubUserDesired(
            name: "alice", admin: false, person: alice.id, provenance: state.hub.users["alice"]!.provenance))
        let entitlement = try #require(state.entitlements[alice.id])
        #expect(entitlement.hubAccess && entitlement.namespace == "jhub-alice" && entitlement.tier == "small")
        #expect(entitlement.provenance["hub"] == [Provenance(person: alice.id, groupPath: ["jupyter"], rule: .grant("jupyter/hub"))])
        #expect(state.subjectOwners["oidc:alice"] == alice.id)
    }

    @Test func nestedGroupsGiveProvenancePaths() throws {
        let bob = Fixture.person("bob")
        let directory = DirectorySnapshot(
            people: [bob],
            groups: [
                Fixture.group("all", groups: ["science"]), Fixture.group("science", groups: ["ds"]),
                Fixture.group("ds", people: [bob]),
            ])
        let state = Planner.plan(
            directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("all")]), settings: settings, now: now)
        let provenance = try #require(state.entitlements[bob.id]?.provenance["hub"]?.first)
        #expect(provenance.groupPath == ["all", "science", "ds"])
        #expect(state.hub.users["bob"] != nil)
    }

    @Test func highestRankedTierWinsAndOverrideReplacesIt() throws {
        let carol = Fixture.person("carol")
        let dave = Fixture.person("dave")
        let directory = DirectorySnapshot(
            people: [carol, dave],
            groups: [Fixture.group("jupyter", people: [carol, dave]), Fixture.group("gpu", people: [carol, dave])])
        let policy = Fixture.policy(
            grants: [
                Fixture.hubGrant("jupyter", tier: "small"),
                Grant(id: "gpu/tier", group: "gpu", tier: "large", source: Fixture.source),
            ],
            overrides: [Override(id: "dave-small", person: .uid("DAVE"), tier: "small", source: Fixture.source)])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.entitlements[carol.id]?.tier == "large")
        #expect(state.objects[ref(.namespace, nil, "jhub-carol")]?.labels[ManagedKeys.podSecurityEnforce] == "restricted")
        #expect(state.objects[ref(.resourceQuota, "jhub-carol", ManagedNames.resourceQuota)]?.spec == .resourceQuota(hard: Fixture.large.quota))
        #expect(state.entitlements[dave.id]?.tier == "small")
        #expect(state.entitlements[dave.id]?.provenance["tier"] == [Provenance(person: dave.id, rule: .override("dave-small"))])
    }

    @Test func disabledPeopleGetNothing() throws {
        let eve = Fixture.person("eve", disabled: true)
        let directory = DirectorySnapshot(people: [eve], groups: [Fixture.group("jupyter", people: [eve])])
        let policy = Fixture.policy(grants: [
            Fixture.hubGrant("jupyter", admin: true, hubGroup: true),
            Fixture.projectGrant("jupyter", namespace: "proj", templates: ["editor"]),
        ])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.objects.values.allSatisfy { $0.owner == nil })
        #expect(state.hub.users.isEmpty)
        #expect(state.hub.groups["jupyter"]?.members == [])
        let entitlement = try #require(state.entitlements[eve.id])
        #expect(!entitlement.hasAnyAccess)
        #expect(entitlement.withheld.contains { $0.contains("disabled") })
        // The project namespace exists (its grant does) but binds nobody.
        #expect(state.objects[ref(.namespace, nil, "proj")] != nil)
        #expect(state.objects[ref(.roleBinding, "proj", "accesssync-editor")] == nil)
    }

    @Test func suspensionAndItsExpiry() throws {
        let frank = Fixture.person("frank")
        let directory = DirectorySnapshot(people: [frank], groups: [Fixture.group("jupyter", people: [frank])])
        let suspended = Override(id: "s1", person: .id(frank.id), suspended: true, reason: "security review", source: Fixture.source)
        var state = Planner.plan(
            directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter")], overrides: [suspended]),
            settings: settings, now: now)
        #expect(state.objects.isEmpty)
        #expect(state.entitlements[frank.id]?.withheld.contains { $0.contains("suspended by override s1: security review") } == true)

        var expired = suspended
        expired.expires = now.addingTimeInterval(-1)
        state = Planner.plan(
            directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter")], overrides: [expired]),
            settings: settings, now: now)
        #expect(state.entitlements[frank.id]?.hubAccess == true)
        #expect(state.hub.users["frank"] != nil)
    }

    @Test func expiredGrantsAreWithheld() throws {
        let gina = Fixture.person("gina")
        let directory = DirectorySnapshot(people: [gina], groups: [Fixture.group("jupyter", people: [gina])])
        let policy = Fixture.policy(grants: [Fixture.hubGrant("jupyter", expires: now)])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.hub.users.isEmpty)
        #expect(state.entitlements[gina.id]?.withheld.contains { $0.hasPrefix("grant jupyter/hub expired at") } == true)
        let later = Planner.plan(
            directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter", expires: now.addingTimeInterval(60))]),
            settings: settings, now: now)
        #expect(later.hub.users["gina"] != nil)
    }

    @Test func hubAdminFromGrantsAndOverrides() throws {
        let hal = Fixture.person("hal")
        let ida = Fixture.person("ida")
        let jon = Fixture.person("jon")
        let directory = DirectorySnapshot(
            people: [hal, ida, jon],
            groups: [Fixture.group("admins", people: [hal, ida]), Fixture.group("jupyter", people: [jon])])
        let policy = Fixture.policy(
            grants: [Fixture.hubGrant("admins", admin: true), Fixture.hubGrant("jupyter")],
            overrides: [
                Override(id: "no-admin-ida", person: .uid("ida"), hubAdmin: false, source: Fixture.source),
                Override(id: "admin-jon", person: .uid("jon"), hubAdmin: true, source: Fixture.source),
            ])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.hub.users["hal"]?.admin == true)
        #expect(state.hub.users["ida"]?.admin == false)
        #expect(state.hub.users["jon"]?.admin == true)
        #expect(state.entitlements[jon.id]?.provenance["hub-admin"] == [Provenance(person: jon.id, rule: .override("admin-jon"))])
    }

    @Test func hubAccessOverrides() throws {
        let kim = Fixture.person("kim")
        let lou = Fixture.person("lou")
        let directory = DirectorySnapshot(people: [kim, lou], groups: [Fixture.group("jupyter", people: [kim])])
        let policy = Fixture.policy(
            grants: [Fixture.hubGrant("jupyter")],
            overrides: [
                Override(id: "deny-kim", person: .uid("kim"), hubAccess: false, source: Fixture.source),
                Override(id: "allow-lou", person: .uid("lou"), hubAccess: true, source: Fixture.source),
            ])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.hub.users["kim"] == nil)
        #expect(state.objects[ref(.namespace, nil, "jhub-kim")] == nil)
        #expect(state.hub.users["lou"] != nil)
        #expect(state.objects[ref(.namespace, nil, "jhub-lou")]?.annotations[ManagedKeys.provenance] == "override:allow-lou")
        #expect(state.entitlements[lou.id]?.tier == "small")  // the default tier
    }

    @Test func projectGrantsBindMembersSorted() throws {
        let people = ["zed", "amy", "max"].map { Fixture.person($0) }
        let viewers = Fixture.person("vic")
        let directory = DirectorySnapshot(
            people: people + [viewers],
            groups: [Fixture.group("proj-dev", people: people), Fixture.group("proj-view", people: [viewers])])
        let policy = Fixture.policy(grants: [
            Fixture.projectGrant("proj-dev", namespace: "proj", templates: ["editor"], tier: "large"),
            Fixture.projectGrant("proj-view", namespace: "proj", templates: ["viewer"], tier: "small"),
        ])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.diagnostics.isEmpty)
        #expect(state.objects[ref(.namespace, nil, "proj")]?.labels[ManagedKeys.podSecurityEnforce] == "restricted")
        #expect(state.objects[ref(.resourceQuota, "proj", ManagedNames.resourceQuota)]?.spec == .resourceQuota(hard: Fixture.large.quota))
        #expect(state.objects[ref(.role, "proj", "accesssync-editor")] != nil)
        #expect(state.objects[ref(.role, "proj", "accesssync-viewer")] == nil)  // a ClusterRole reference
        #expect(state.objects[ref(.roleBinding, "proj", "accesssync-editor")]?.spec == .roleBinding(
            roleRef: RoleRef(kind: .role, name: "accesssync-editor"),
            subjects: ["amy", "max", "zed"].map { Subject(kind: .user, name: "oidc:\($0)") }))
        #expect(state.objects[ref(.roleBinding, "proj", "accesssync-viewer")]?.spec == .roleBinding(
            roleRef: RoleRef(kind: .clusterRole, name: "view"), subjects: [Subject(kind: .user, name: "oidc:vic")]))
        #expect(state.entitlements[people[0].id]?.projects == ["proj": ["editor"]])
        #expect(state.hub.users.isEmpty)  // project access alone gives no hub user
    }

    @Test func projectSubjectsAsGroup() throws {
        let amy = Fixture.person("amy")
        let directory = DirectorySnapshot(people: [amy], groups: [Fixture.group("proj-dev", people: [amy])])
        var settings = settings
        settings.projectSubjectsAsGroup = true
        settings.groupSubjectTemplate = "oidc:{group}"
        let policy = Fixture.policy(grants: [Fixture.projectGrant("proj-dev", namespace: "proj", templates: ["editor"])])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.objects[ref(.roleBinding, "proj", "accesssync-editor")]?.spec == .roleBinding(
            roleRef: RoleRef(kind: .role, name: "accesssync-editor"), subjects: [Subject(kind: .group, name: "oidc:proj-dev")]))
    }

    @Test func privilegedBindingsAreMarked() throws {
        let amy = Fixture.person("amy")
        let directory = DirectorySnapshot(people: [amy], groups: [Fixture.group("owners", people: [amy])])
        let policy = Fixture.policy(grants: [Fixture.projectGrant("owners", namespace: "proj", templates: ["project-admin"])])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        let binding = try #require(state.objects[ref(.roleBinding, "proj", "accesssync-project-admin")])
        #expect(binding.annotations[ManagedKeys.privileged] == "true")
        #expect(binding.annotations[ManagedKeys.roleTemplate] == "project-admin")
    }

    @Test func hubGroupsMirrorHubUsers() throws {
        let amy = Fixture.person("amy")
        let bo = Fixture.person("bo")
        let directory = DirectorySnapshot(
            people: [amy, bo],
            groups: [Fixture.group("jupyter", people: [amy]), Fixture.group("Data-Science", people: [amy, bo])])
        let policy = Fixture.policy(grants: [
            Fixture.hubGrant("jupyter"),
            Grant(id: "ds/group", group: "data-science", hubGroup: true, source: Fixture.source),
        ])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        // bo has no hub access, so is not a member; the group keeps the directory's spelling.
        #expect(state.hub.groups["Data-Science"]?.members == ["amy"])
        #expect(state.entitlements[amy.id]?.hubGroups == ["Data-Science"])
    }

    @Test func missingGroupsAndCyclesAndDuplicates() throws {
        let amy = Fixture.person("amy")
        let directory = DirectorySnapshot(
            people: [amy],
            groups: [
                Fixture.group("a", groups: ["b"]), Fixture.group("b", people: [amy], groups: ["c"]), Fixture.group("c", groups: ["a"]),
                Group(name: "dup", dn: Fixture.dn("cn=dup,ou=x,dc=example,dc=org")),
                Group(name: "dup", dn: Fixture.dn("cn=dup,ou=y,dc=example,dc=org")),
                Group(name: "twice", dn: Fixture.dn("cn=twice,ou=x,dc=example,dc=org")),
                Group(name: "twice", dn: Fixture.dn("cn=twice,ou=y,dc=example,dc=org")),
                Fixture.group("partial", unresolved: ["uid=ghost,ou=people,dc=example,dc=org"]),
            ])
        let policy = Fixture.policy(grants: [Fixture.hubGrant("a"), Fixture.hubGrant("nope"), Fixture.hubGrant("twice")])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        let codes = state.diagnostics.map(\.code)
        let cycle = try #require(state.diagnostics.first { $0.code == "group-cycle" })
        #expect(cycle.message.contains("a ⊃ b ⊃ c ⊃ a"))
        let missing = try #require(state.diagnostics.first { $0.code == "grant-missing-group" })
        #expect(missing.severity == .error && missing.subject == "grant nope/hub")
        #expect(codes.contains("ambiguous-group"))
        #expect(state.diagnostics.contains { $0.code == "duplicate-group-name" && $0.subject == "dup" })
        #expect(codes.contains("unresolved-member"))
        #expect(state.hasBlockingErrors)
        // Membership through the cycle still works.
        #expect(state.hub.users["amy"] != nil)
    }

    @Test func nameCollisionsWithholdEveryoneInvolved() throws {
        let upper = Fixture.person("Ann", id: "id-1")
        let lower = Fixture.person("ann", id: "id-2")
        let other = Fixture.person("bea")
        let directory = DirectorySnapshot(people: [upper, lower, other], groups: [Fixture.group("jupyter", people: [upper, lower, other])])
        var settings = settings
        settings.naming.subjectTemplate = "{uid}"
        let state = Planner.plan(
            directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter")]), settings: settings, now: now)
        let collision = try #require(state.diagnostics.first { $0.code == "name-collision" && $0.subject.contains("hub username") })
        #expect(collision.message.contains("Ann (id-1)") && collision.message.contains("ann (id-2)"))
        #expect(state.diagnostics.contains { $0.code == "name-collision" && $0.subject == "namespace \"jhub-ann\"" })
        #expect(state.hub.users["ann"] == nil)
        #expect(state.objects[ref(.namespace, nil, "jhub-ann")] == nil)
        #expect(state.entitlements[upper.id]?.withheld.contains { $0.hasPrefix("name collision") } == true)
        #expect(state.hub.users["bea"] != nil)
    }

    @Test func invalidNamesAreWithheld() throws {
        let slash = Fixture.person("a/b")
        let directory = DirectorySnapshot(people: [slash], groups: [Fixture.group("jupyter", people: [slash])])
        let state = Planner.plan(
            directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter")]), settings: settings, now: now)
        #expect(state.objects.isEmpty)
        #expect(state.entitlements[slash.id]?.withheld.contains { $0.hasPrefix("invalid name") } == true)
    }

    @Test func unknownReferencesAndForbiddenTemplates() throws {
        let amy = Fixture.person("amy")
        let directory = DirectorySnapshot(people: [amy], groups: [Fixture.group("g", people: [amy])])
        let escalate = RoleTemplate(
            name: "sneaky", body: .rules([PolicyRule(apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["create"])]),
            source: Fixture.source)
        let unflagged = RoleTemplate(name: "boss", body: .clusterRole("cluster-admin"), source: Fixture.source)
        let policy = Fixture.policy(
            grants: [
                Fixture.hubGrant("g", tier: "huge"),
                Fixture.projectGrant("g", namespace: "p1", templates: ["sneaky", "boss", "missing"]),
                Fixture.projectGrant("g", namespace: "kube-system", templates: ["editor"], id: "sys"),
                Fixture.projectGrant("g", namespace: "Bad_Name", templates: ["editor"], id: "bad"),
            ],
            templates: [Fixture.notebookUser, Fixture.editor, escalate, unflagged])
        let state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        let codes = Set(state.diagnostics.map(\.code))
        #expect(codes.isSuperset(of: ["unknown-tier", "unknown-role-template", "forbidden-role-template", "protected-namespace", "invalid-name"]))
        #expect(state.diagnostics.filter { $0.code == "forbidden-role-template" }.map(\.subject).sorted() == ["role template boss", "role template sneaky"])
        #expect(state.objects.keys.allSatisfy { $0.namespace != "kube-system" && $0.name != "kube-system" })
        #expect(state.objects[ref(.roleBinding, "p1", "accesssync-sneaky")] == nil)
        #expect(state.objects[ref(.roleBinding, "p1", "accesssync-boss")] == nil)
        #expect(state.objects[ref(.namespace, nil, "p1")] != nil)
    }

    @Test func planningIsDeterministic() {
        var generator = DirectoryGenerator(seed: 7, people: 300, groups: 40)
        let directory = generator.snapshot()
        let policy = DirectoryGenerator.policy(groups: 40)
        let first = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        let again = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(first == again)
        #expect(!first.objects.isEmpty)
    }
}

extension RoleTemplate {
    var rulesForTest: [PolicyRule] {
        if case .rules(let rules) = body { return rules }
        return []
    }
}
