import Foundation
import RBACModel
import Testing

@Suite struct DifferTests {
    let settings = Fixture.settings
    let now = Fixture.now

    func ref(_ kind: ObjectKind, _ namespace: String?, _ name: String) -> ObjectRef {
        ObjectRef(kind: kind, namespace: namespace, name: name)
    }

    /// alice and bob with hub access; bob and carol in a project.
    func world(hubMembers: [String] = ["alice", "bob"], projectMembers: [String] = ["bob", "carol"]) -> (DirectorySnapshot, Policy) {
        let everyone = ["alice", "bob", "carol", "dan"].map { Fixture.person($0) }
        let byUID = Dictionary(uniqueKeysWithValues: everyone.map { ($0.uid, $0) })
        let directory = DirectorySnapshot(
            people: everyone,
            groups: [
                Fixture.group("jupyter", people: hubMembers.map { byUID[$0]! }),
                Fixture.group("proj", people: projectMembers.map { byUID[$0]! }),
            ])
        let policy = Fixture.policy(grants: [
            Fixture.hubGrant("jupyter", tier: "small", hubGroup: true),
            Fixture.projectGrant("proj", namespace: "proj", templates: ["editor"]),
        ])
        return (directory, policy)
    }

    func plan(_ world: (DirectorySnapshot, Policy), settings: PlanSettings? = nil) -> DesiredState {
        Planner.plan(directory: world.0, policy: world.1, settings: settings ?? self.settings, now: now)
    }

    /// Applies a full plan to an empty cluster and hub.
    func converged(_ desired: DesiredState, settings: PlanSettings? = nil) -> (ObservedCluster, HubObservedState) {
        let changes = Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: settings ?? self.settings, now: now)
        let result = ChangeSimulator.apply(changes.changes, to: ObservedCluster(), hub: HubObservedState())
        return (result.cluster, result.hub!)
    }

    func ids(_ set: ChangeSet) -> [String] { set.changes.map(\.id) }

    @Test func createsEverythingInDependencyOrder() throws {
        let desired = plan(world())
        let set = Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        #expect(set.conflicts.isEmpty)
        let position = Dictionary(uniqueKeysWithValues: set.changes.enumerated().map { ($1.id, $0) })
        for change in set.changes {
            for dependency in change.dependsOn {
                let before = try #require(position[dependency], "\(change.id) depends on missing \(dependency)")
                #expect(before < position[change.id]!)
            }
        }
        let namespace = "kube/create/Namespace/jhub-alice"
        let role = "kube/create/Role/jhub-alice/accesssync-notebook-user"
        let binding = "kube/create/RoleBinding/jhub-alice/accesssync-owner"
        let user = "hub/create-user/user/alice"
        #expect(set.changes.first { $0.id == binding }?.dependsOn.sorted() == [namespace, role].sorted())
        let userChange = try #require(set.changes.first { $0.id == user })
        #expect(userChange.dependsOn.contains(namespace))
        #expect(userChange.dependsOn.contains("kube/create/ResourceQuota/jhub-alice/accesssync-quota"))
        #expect(userChange.person == Fixture.person("alice").id)
        #expect(set.changes.first { $0.id == "hub/add-group-members/group/jupyter" }?.dependsOn.contains(user) == true)
        #expect(Set(ids(set)).count == set.changes.count)
    }

    @Test func convergedStateHasNoChanges() {
        let desired = plan(world())
        let (cluster, hub) = converged(desired)
        let again = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(again.changes.isEmpty, "\(ids(again))")
    }

    @Test func serverAddedFieldsAndEquivalentQuantitiesCauseNoUpdate() throws {
        let desired = plan(world())
        var (cluster, hub) = converged(desired)
        // The server adds labels and annotations we do not manage, re-emits quantities canonically and
        // fills LimitRange defaults; subjects may come back in another order.
        let nsRef = ref(.namespace, nil, "jhub-alice")
        cluster.owned[nsRef]!.labels["kubernetes.io/metadata.name"] = "jhub-alice"
        cluster.owned[nsRef]!.annotations["argocd.argoproj.io/sync-options"] = "Prune=false"
        let quotaRef = ref(.resourceQuota, "jhub-alice", ManagedNames.resourceQuota)
        cluster.owned[quotaRef]!.spec = .resourceQuota(hard: [
            "requests.cpu": Fixture.q("2000m"), "limits.cpu": Fixture.q("4"), "requests.memory": Fixture.q("8192Mi"),
        ])
        let limitsRef = ref(.limitRange, "jhub-alice", ManagedNames.limitRange)
        cluster.owned[limitsRef]!.spec = .limitRange(limits: [
            LimitRangeItem(type: .container, max: ["cpu": Fixture.q("4")], default: ["cpu": Fixture.q("1")], defaultRequest: ["cpu": Fixture.q("1")])
        ])
        let bindingRef = ref(.roleBinding, "proj", "accesssync-editor")
        if case .roleBinding(let roleRef, let subjects) = cluster.owned[bindingRef]!.spec {
            cluster.owned[bindingRef]!.spec = .roleBinding(roleRef: roleRef, subjects: subjects.reversed())
        }
        hub.users["alice"]!.serverActive = true
        let again = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(again.changes.isEmpty, "\(ids(again))")
    }

    @Test func managedContentDifferencesUpdate() throws {
        let desired = plan(world())
        var (cluster, hub) = converged(desired)
        let quotaRef = ref(.resourceQuota, "jhub-alice", ManagedNames.resourceQuota)
        cluster.owned[quotaRef]!.spec = .resourceQuota(hard: ["requests.cpu": Fixture.q("1")])
        cluster.owned[ref(.namespace, nil, "jhub-bob")]!.labels[ManagedKeys.podSecurityEnforce] = "privileged"
        cluster.owned[ref(.namespace, nil, "jhub-bob")]!.annotations["accesssync.io/stray"] = "x"
        let set = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(ids(set).sorted() == [
            "kube/update/Namespace/jhub-bob", "kube/update/ResourceQuota/jhub-alice/accesssync-quota",
        ])
        #expect(set.changes.allSatisfy { !$0.removesAccess })
    }

    @Test func shrinkingSubjectsIsARevocationFirst() throws {
        let before = plan(world())
        let (cluster, hub) = converged(before)
        // carol leaves the project group, dan joins it.
        let after = plan(world(projectMembers: ["bob", "dan"]))
        let set = Differ.diff(desired: after, observed: cluster, hub: hub, settings: settings, now: now)
        let update = try #require(set.changes.first { $0.id == "kube/update/RoleBinding/proj/accesssync-editor" })
        #expect(update.removesAccess)
        #expect(update.peopleLosingAccess == [Fixture.person("carol").id])
        #expect(set.changes.first?.id == update.id)
    }

    @Test func leaverIsRevokedAndNamespaceRetiredThenDeletedAfterGrace() throws {
        let before = plan(world())
        let (cluster, hub) = converged(before)
        let after = plan(world(hubMembers: ["alice"]))
        let set = Differ.diff(desired: after, observed: cluster, hub: hub, settings: settings, now: now)
        let bob = Fixture.person("bob").id
        let revocations = set.changes.prefix { $0.removesAccess }.map(\.id)
        #expect(Set(revocations) == [
            "hub/delete-user/user/bob", "kube/delete/RoleBinding/jhub-bob/accesssync-owner", "kube/retire/Namespace/jhub-bob",
        ])
        #expect(set.changes.allSatisfy { $0.removesAccess })
        #expect(set.changes.first { $0.id == "hub/delete-user/user/bob" }?.peopleLosingAccess == [bob])
        // The hub SA binding, quota and the namespace itself stay (data is kept).
        #expect(!ids(set).contains("kube/delete/Namespace/jhub-bob"))
        #expect(!ids(set).contains { $0.hasPrefix("kube/delete/ResourceQuota") })

        var (retired, retiredHub) = ChangeSimulator.apply(set.changes, to: cluster, hub: hub)
        #expect(retired.owned[ref(.namespace, nil, "jhub-bob")]?.annotations[ManagedKeys.retiredAt] == Timestamp.format(now))
        if case .resourceQuota(let hard) = retired.owned[ref(.resourceQuota, "jhub-bob", ManagedNames.resourceQuota)]?.spec {
            #expect(hard["pods"] == Fixture.q("0"))
        } else {
            Issue.record("no quota")
        }
        // Within the grace period: nothing to do.
        let within = Differ.diff(desired: after, observed: retired, hub: retiredHub, settings: settings, now: now.addingTimeInterval(86_400))
        #expect(within.changes.isEmpty, "\(ids(within))")
        // After the grace period: the namespace is deleted.
        let later = now.addingTimeInterval(settings.retirementGracePeriod + 1)
        let after30 = Differ.diff(desired: after, observed: retired, hub: retiredHub, settings: settings, now: later)
        #expect(ids(after30) == ["kube/delete/Namespace/jhub-bob"])
        #expect(after30.changes[0].removesAccess == false)
        (retired, retiredHub) = ChangeSimulator.apply(after30.changes, to: retired, hub: retiredHub)
        #expect(Differ.diff(desired: after, observed: retired, hub: retiredHub, settings: settings, now: later).changes.isEmpty)
    }

    @Test func namespaceDeletionsAreLimitedPerRunOldestFirst() {
        var cluster = ObservedCluster()
        for index in 0..<8 {
            let namespace = ObservedObject(
                ref: ref(.namespace, nil, "old-\(index)"), uid: "u\(index)", resourceVersion: "1",
                labels: [ManagedKeys.managedBy: "accesssync", ManagedKeys.instance: "test"],
                annotations: [ManagedKeys.retiredAt: Timestamp.format(now.addingTimeInterval(-Double(100 - index) * 86_400))],
                spec: .namespace)
            cluster.owned[namespace.ref] = namespace
            cluster.allNamespaces[namespace.ref.name] = namespace
        }
        cluster.owned[ref(.namespace, nil, "old-0")]!.annotations[ManagedKeys.adopted] = "true"
        let set = Differ.diff(desired: DesiredState(), observed: cluster, hub: nil, settings: settings, now: now)
        #expect(ids(set) == (1...5).map { "kube/delete/Namespace/old-\($0)" })
    }

    @Test func returningPersonUnretiresTheirNamespace() throws {
        let full = plan(world())
        let (cluster, hub) = converged(full)
        let left = plan(world(hubMembers: ["alice"]))
        let retire = Differ.diff(desired: left, observed: cluster, hub: hub, settings: settings, now: now)
        let (retired, retiredHub) = ChangeSimulator.apply(retire.changes, to: cluster, hub: hub)
        let back = Differ.diff(desired: full, observed: retired, hub: retiredHub, settings: settings, now: now.addingTimeInterval(3600))
        let unretire = try #require(back.changes.first { $0.id == "kube/update/Namespace/jhub-bob" })
        guard case .kube(.update(_, let to)) = unretire.target else { Issue.record("not an update"); return }
        #expect(to.annotations[ManagedKeys.retiredAt] == nil)
        #expect(ids(back).contains("kube/update/ResourceQuota/jhub-bob/accesssync-quota"))
        let binding = try #require(back.changes.first { $0.id == "kube/create/RoleBinding/jhub-bob/accesssync-owner" })
        #expect(binding.dependsOn.contains(unretire.id))
        #expect(back.changes.first { $0.id == "hub/create-user/user/bob" }?.dependsOn.contains(unretire.id) == true)
        let (restored, restoredHub) = ChangeSimulator.apply(back.changes, to: retired, hub: retiredHub)
        #expect(Differ.diff(desired: full, observed: restored, hub: restoredHub, settings: settings, now: now).changes.isEmpty)
    }

    @Test func terminatingNamespaceIsAConflictAndItsChildrenAreSkipped() throws {
        let desired = plan(world(hubMembers: ["alice"]))
        var cluster = ObservedCluster()
        let terminating = ObservedObject(
            ref: ref(.namespace, nil, "jhub-alice"), uid: "u1", resourceVersion: "9",
            labels: [ManagedKeys.managedBy: "accesssync", ManagedKeys.instance: "test"],
            annotations: [ManagedKeys.ownerID: Fixture.person("alice").id.rawValue], spec: .namespace,
            deletionTimestamp: now, phase: "Terminating")
        cluster.owned[terminating.ref] = terminating
        cluster.allNamespaces["jhub-alice"] = terminating
        let set = Differ.diff(desired: desired, observed: cluster, hub: HubObservedState(), settings: settings, now: now)
        let conflict = try #require(set.conflicts.first { $0.reason == .namespaceTerminating })
        #expect(conflict.skippedChanges.contains("kube/create/RoleBinding/jhub-alice/accesssync-owner"))
        #expect(!ids(set).contains { $0.contains("jhub-alice") })
        #expect(!ids(set).contains("hub/create-user/user/alice"))
        #expect(ids(set).contains("kube/create/Namespace/proj"))
    }

    @Test func unownedNamespaceIsAConflictUnlessAdopted() throws {
        let desired = plan(world(hubMembers: ["alice"]))
        var cluster = ObservedCluster()
        let foreign = ObservedObject(ref: ref(.namespace, nil, "jhub-alice"), uid: "x", resourceVersion: "1", labels: ["team": "a"], spec: .namespace)
        cluster.allNamespaces["jhub-alice"] = foreign
        let set = Differ.diff(desired: desired, observed: cluster, hub: HubObservedState(), settings: settings, now: now)
        let conflict = try #require(set.conflicts.first { $0.reason == .unownedObject })
        #expect(conflict.ref == "Namespace jhub-alice")
        #expect(conflict.skippedChanges.contains("hub/create-user/user/alice"))
        #expect(!ids(set).contains { $0.contains("jhub-alice") })

        let adopted = Differ.diff(
            desired: desired, observed: cluster, hub: HubObservedState(), settings: settings,
            options: DiffOptions(adoptKinds: [.namespace]), now: now)
        let adopt = try #require(adopted.changes.first { $0.id == "kube/adopt/Namespace/jhub-alice" })
        guard case .kube(.adopt(_, let to)) = adopt.target else { Issue.record("not an adoption"); return }
        #expect(to.annotations[ManagedKeys.adopted] != nil)
        #expect(adopted.changes.first { $0.id == "kube/create/RoleBinding/jhub-alice/accesssync-owner" }?.dependsOn.contains(adopt.id) == true)
        // An adopted namespace keeps its annotation through later updates and is never deleted.
        let (cluster2, hub2) = ChangeSimulator.apply(adopted.changes, to: cluster, hub: HubObservedState())
        #expect(cluster2.owned[foreign.ref]?.labels["team"] == "a")
        #expect(Differ.diff(desired: desired, observed: cluster2, hub: hub2, settings: settings, now: now).changes.isEmpty)
        let gone = plan(world(hubMembers: []))
        let retire = Differ.diff(desired: gone, observed: cluster2, hub: hub2, settings: settings, now: now)
        let (cluster3, hub3) = ChangeSimulator.apply(retire.changes, to: cluster2, hub: hub2)
        let muchLater = now.addingTimeInterval(settings.retirementGracePeriod * 10)
        #expect(!ids(Differ.diff(desired: gone, observed: cluster3, hub: hub3, settings: settings, now: muchLater)).contains("kube/delete/Namespace/jhub-alice"))
    }

    @Test func otherInstancesAreNeverAdopted() throws {
        let desired = plan(world(hubMembers: ["alice"]))
        var cluster = ObservedCluster()
        cluster.allNamespaces["jhub-alice"] = ObservedObject(
            ref: ref(.namespace, nil, "jhub-alice"), uid: "x", resourceVersion: "1",
            labels: [ManagedKeys.managedBy: "accesssync", ManagedKeys.instance: "other"], spec: .namespace)
        let set = Differ.diff(
            desired: desired, observed: cluster, hub: nil, settings: settings, options: DiffOptions(adoptKinds: [.namespace]), now: now)
        #expect(set.conflicts.contains { $0.reason == .unownedObject && $0.detail.contains("instance \"other\"") })
        #expect(!ids(set).contains { $0.contains("jhub-alice") })
    }

    @Test func unownedChildIsAConflictAndItsBindingIsSkipped() throws {
        let desired = plan(world(hubMembers: ["alice"]))
        var cluster = ObservedCluster()
        let role = ObservedObject(
            ref: ref(.role, "jhub-alice", "accesssync-notebook-user"), uid: "r", resourceVersion: "1", spec: .role(rules: []))
        cluster.unownedAtDesiredNames[role.ref] = role
        let set = Differ.diff(desired: desired, observed: cluster, hub: HubObservedState(), settings: settings, now: now)
        let conflict = try #require(set.conflicts.first { $0.ref == role.ref.description })
        #expect(conflict.skippedChanges.contains("kube/create/RoleBinding/jhub-alice/accesssync-owner"))
        #expect(!ids(set).contains("kube/create/RoleBinding/jhub-alice/accesssync-owner"))
        #expect(ids(set).contains("kube/create/Namespace/jhub-alice"))
        #expect(!ids(set).contains("hub/create-user/user/alice"))
    }

    @Test func reusedUIDMeetsOwnerMismatch() throws {
        let desired = plan(world(hubMembers: ["alice"]))
        var (cluster, hub) = converged(desired)
        // A new person now has uid "alice" (a different directory identifier).
        let newcomer = Person(id: PersonID("id-new-alice"), uid: "alice", dn: Fixture.dn("uid=alice,ou=people,dc=example,dc=org"))
        let directory = DirectorySnapshot(people: [newcomer], groups: [Fixture.group("jupyter", people: [newcomer])])
        let replanned = Planner.plan(directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter")]), settings: settings, now: now)
        let set = Differ.diff(desired: replanned, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(set.conflicts.contains { $0.reason == .ownerMismatch && $0.ref == "Namespace jhub-alice" })
        #expect(set.conflicts.contains { $0.reason == .ownerMismatch && $0.ref == "user/alice" })
        #expect(ids(set).contains("kube/retire/Namespace/jhub-alice"))
        #expect(ids(set).contains("kube/delete/RoleBinding/jhub-alice/accesssync-owner"))
        #expect(ids(set).contains("hub/delete-user/user/alice"))
        #expect(!ids(set).contains("hub/create-user/user/alice"))
        #expect(!ids(set).contains { $0.hasPrefix("kube/create/") && $0.contains("jhub-alice") })
        hub.users["alice"]!.admin = false
    }

    @Test func roleRefChangeIsDeleteThenCreate() throws {
        let desired = plan(world(hubMembers: ["alice"]))
        var (cluster, hub) = converged(desired)
        let bindingRef = ref(.roleBinding, "proj", "accesssync-editor")
        cluster.owned[bindingRef]!.spec = .roleBinding(
            roleRef: RoleRef(kind: .clusterRole, name: "edit"),
            subjects: [Subject(kind: .user, name: "oidc:bob"), Subject(kind: .user, name: "oidc:zoe")])
        let set = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        let delete = try #require(set.changes.first { $0.id == "kube/delete/RoleBinding/proj/accesssync-editor" })
        let create = try #require(set.changes.first { $0.id == "kube/create/RoleBinding/proj/accesssync-editor" })
        #expect(create.dependsOn.contains(delete.id))
        #expect(delete.removesAccess)
        #expect(delete.peopleLosingAccess == [PersonID("subject:oidc:zoe")])
    }

    @Test func protectedNamespacesAreNeverTouched() {
        var cluster = ObservedCluster()
        let owned = ObservedObject(
            ref: ref(.roleBinding, "kube-system", "accesssync-x"), uid: "1", resourceVersion: "1",
            labels: [ManagedKeys.managedBy: "accesssync", ManagedKeys.instance: "test"], spec: nil)
        cluster.owned[owned.ref] = owned
        let set = Differ.diff(desired: DesiredState(), observed: cluster, hub: nil, settings: settings, now: now)
        #expect(set.changes.isEmpty)
    }

    @Test func hubUsersAdminsAndGroups() throws {
        let desired = plan(world())
        var hub = HubObservedState(
            users: [
                HubObservedUser(name: "alice", admin: true), HubObservedUser(name: "bob", admin: false),
                HubObservedUser(name: "gone", admin: false), HubObservedUser(name: "manual", admin: true),
            ],
            groups: ["jupyter": ["alice", "gone", "manual"], "other": ["manual"]],
            managedUsers: ["alice": Fixture.person("alice").id, "gone": PersonID("id-gone")],
            managedGroups: ["jupyter", "stale"])
        hub.groups["stale"] = ["alice"]
        let (cluster, _) = converged(desired)
        let set = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        let byID = Dictionary(uniqueKeysWithValues: set.changes.map { ($0.id, $0) })
        #expect(byID["hub/delete-user/user/gone"]?.removesAccess == true)
        #expect(byID["hub/delete-user/user/manual"] == nil)  // never created by us
        #expect(byID["hub/revoke-admin/user/alice"]?.peopleLosingAccess == [Fixture.person("alice").id])
        #expect(set.conflicts.contains { $0.reason == .unmanagedHubUser && $0.ref == "user/bob" })
        #expect(byID["hub/delete-group/group/stale"]?.removesAccess == true)
        // "gone" is deleted (the hub drops its memberships); "manual" is removed.
        guard case .hub(.removeGroupMembers(_, let removed)) = byID["hub/remove-group-members/group/jupyter"]?.target else {
            Issue.record("no member removal"); return
        }
        #expect(removed == ["manual"])
        guard case .hub(.addGroupMembers(_, let added)) = byID["hub/add-group-members/group/jupyter"]?.target else {
            Issue.record("no member addition"); return
        }
        #expect(added == ["bob"])
        #expect(set.changes.prefix { $0.removesAccess }.count == set.changes.filter(\.removesAccess).count)

        let adopting = Differ.diff(
            desired: desired, observed: cluster, hub: hub, settings: settings, options: DiffOptions(adoptHubUsers: true), now: now)
        #expect(adopting.changes.contains { $0.id == "hub/adopt-user/user/bob" && $0.person == Fixture.person("bob").id })
    }

    @Test func unmanagedHubGroupIsAConflictUnlessAdopted() {
        let desired = plan(world())
        let (cluster, hub0) = converged(desired)
        var hub = hub0
        hub.managedGroups.remove("jupyter")
        let set = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(set.conflicts.contains { $0.reason == .unmanagedHubGroup })
        let adopted = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, options: DiffOptions(adoptHubGroups: true), now: now)
        #expect(ids(adopted) == ["hub/adopt-group/group/jupyter"])
    }
}
