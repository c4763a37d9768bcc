import AccessSyncCore
import Foundation
import RBACModel
import Testing

/// Issue 8 item 6 against slapd, PostgreSQL, JupyterHub and the test API server: people are keyed
/// by entryUUID, so a rename moves access and a reused uid never inherits a leaver's namespace.
@Suite("identity end to end", .serialized)
struct IdentityTests {
    static let people = ["alice", "bob", "carol", "dave", "erin", "frank"]

    @Test("a renamed person (same entryUUID, new uid) moves to the new names; the old namespace is retired, not given away")
    func rename() async throws {
        try await withSyncWorld(people: Self.people) { world in
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)
            let id = try #require(try await world.entryUUID(world.personDN("bob")))
            let oldNamespace = try #require(first.report.desired.entitlements[PersonID(id)]?.namespace)

            // modrdn keeps the entry (and its entryUUID); groupOfNames members are DNs, so the group follows.
            try world.renameEntry(world.personDN("bob"), newRDN: "uid=\(world.uid("robert"))")
            #expect(try await world.entryUUID(world.personDN("robert")) == id)
            try await world.changeMembership(
                group: "jupyter-users", add: [world.personDN("robert")], remove: [world.personDN("bob")])

            let second = try await world.run(.sync, allowDeletes: 10)
            #expect(second.exitStatus == .ok, "\(second.report.summary)")
            let entitlement = try #require(second.report.desired.entitlements[PersonID(id)])
            #expect(entitlement.uid == world.uid("robert"))
            let newNamespace = try #require(entitlement.namespace)
            #expect(newNamespace != oldNamespace)
            // The new namespace is the same person's: owner id unchanged, owner uid the new one.
            let created = try #require(world.cluster.object("namespaces", name: newNamespace))
            #expect(created["metadata"]?["annotations"]?[ManagedKeys.ownerID]?.stringValue == id)
            #expect(created["metadata"]?["annotations"]?[ManagedKeys.ownerUID]?.stringValue == world.uid("robert"))
            // The old one is retired (data kept), its person binding gone; the changes say whose it was.
            let old = try #require(world.cluster.object("namespaces", name: oldNamespace))
            #expect(old["metadata"]?["annotations"]?[ManagedKeys.retiredAt] != nil)
            #expect(world.cluster.object("rolebindings", namespace: oldNamespace, name: ManagedNames.personalRoleBinding) == nil)
            // The run reports the rename.
            let renames = PlanFormatting.renames(second.report)
            #expect(renames.count == 1 && renames[0].contains(world.uid("robert")) && renames[0].contains(oldNamespace), "\(renames)")
            #expect(PlanFormatting.text(second.report, mode: .sync).contains("Renamed people"))
            let retire = try #require(second.report.changes.changes.first { $0.id.hasPrefix("kube/retire/") })
            #expect(retire.peopleLosingAccess == [PersonID(id)])
            // Hub: the new username exists, the old one is gone (the hub knows people only by name).
            #expect(try await world.hubUser("robert") != nil)
            #expect(try await world.hubUser("bob") == nil)
            // (Hub groups are shared by every test world on the hub, so only Kubernetes conflicts count here.)
            let kubeConflicts = second.report.changes.conflicts.filter { $0.reason != .unmanagedHubGroup }
            #expect(kubeConflicts.isEmpty, "\(kubeConflicts)")

            // Explain tells where the access comes from under the new name.
            let explanation = try await ExplainCommand.run(
                world.uid("robert"), configuration: world.configuration, logger: world.quietLogger)
            #expect(explanation.person?.id == id)
            let third = try await world.run(.plan)
            #expect(third.report.changes.changes.isEmpty, "\(third.report.changes.changes.map(\.id))")
        }
    }

    @Test("a reused uid (new entryUUID) never receives the leaver's retired namespace: an owner-mismatch conflict")
    func reusedUID() async throws {
        // Twelve people, so that one leaver stays under the guard's 10% directory-shrink limit.
        try await withSyncWorld(people: Self.people + ["gina", "hank", "ivy", "jack", "kim", "liam"]) { world in
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)
            let leaver = try #require(try await world.entryUUID(world.personDN("bob")))
            let namespace = try #require(first.report.desired.entitlements[PersonID(leaver)]?.namespace)

            // bob leaves: removed from the group, entry deleted; the next sync retires the namespace.
            try await world.changeMembership(group: "jupyter-users", remove: [world.personDN("bob")])
            try await world.deleteEntry(world.personDN("bob"))
            let second = try await world.run(.sync, allowDeletes: 10)
            #expect(second.exitStatus == .ok)
            #expect(try await world.hubUser("bob") == nil)

            // A new person gets the same uid: a new entry, a new entryUUID.
            try await world.addPersonEntry("bob", uidNumber: 79_999)
            try await world.changeMembership(group: "jupyter-users", add: [world.personDN("bob")])
            let newcomer = try #require(try await world.entryUUID(world.personDN("bob")))
            #expect(newcomer != leaver)

            let third = try await world.run(.sync)
            #expect(third.exitStatus == .ok, "\(third.report.summary)")
            let conflict = try #require(
                third.report.changes.conflicts.first { $0.ref == "Namespace \(namespace)" }, "\(third.report.changes.conflicts)")
            #expect(conflict.reason == .ownerMismatch)
            #expect(conflict.detail.contains(leaver))
            // The namespace still belongs to the leaver, and nothing of the newcomer was created in it.
            let stored = try #require(world.cluster.object("namespaces", name: namespace))
            #expect(stored["metadata"]?["annotations"]?[ManagedKeys.ownerID]?.stringValue == leaver)
            #expect(stored["metadata"]?["annotations"]?[ManagedKeys.retiredAt] != nil)
            #expect(world.cluster.object("rolebindings", namespace: namespace, name: ManagedNames.personalRoleBinding) == nil)
            #expect(!third.report.changes.changes.contains { $0.id.hasPrefix("kube/create/") && $0.id.contains("/\(namespace)/") })
            // No hub user either until the namespace is theirs (a hub user without its namespace would spawn elsewhere).
            #expect(try await world.hubUser("bob") == nil)
            let text = PlanFormatting.text(third.report, mode: .sync)
            #expect(text.contains(namespace), "\(text)")
        }
    }

    @Test("safety.onRename: block — a rename blocks the run (exit 3, recorded blocked with the reason); an approval of that plan lets it through")
    func renameBlockedByConfiguration() async throws {
        try await withSyncWorld(people: Self.people) { world in
            world.configuration.safety.onRename = .block
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)
            let id = try #require(try await world.entryUUID(world.personDN("bob")))
            let oldNamespace = try #require(first.report.desired.entitlements[PersonID(id)]?.namespace)

            try world.renameEntry(world.personDN("bob"), newRDN: "uid=\(world.uid("robert"))")
            try await world.changeMembership(
                group: "jupyter-users", add: [world.personDN("robert")], remove: [world.personDN("bob")])

            let writesBefore = world.clusterWrites
            var blockedMessage = ""
            do {
                let result = try await world.run(.sync, allowDeletes: 10)
                Issue.record("the rename was not blocked: \(result.exitStatus) \(result.report.summary)")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .blockedByGuard)
                #expect(error.message.contains("[rename]"), "\(error.message)")
                #expect(error.message.contains(world.uid("robert")) && error.message.contains(oldNamespace), "\(error.message)")
                blockedMessage = error.message
            }
            // Nothing applied; the run is recorded as blocked with the reason.
            #expect(world.clusterWrites == writesBefore)
            #expect(try await world.hubUser("bob") != nil)
            #expect(try await world.hubUser("robert") == nil)
            let runs = try await world.column("SELECT status || ' ' || coalesce(error, '') FROM accesssync.sync_runs ORDER BY id")
            #expect(runs.count == 2)
            #expect(runs.last??.hasPrefix("blocked ") == true && runs.last??.contains("[rename]") == true, "\(runs)")
            let plan = try await world.run(.plan)
            #expect(plan.report.verdict?.blocked == true)
            #expect(plan.report.verdict?.findings.contains { $0.code == "rename" && $0.blocking } == true)
            let hash = try #require(plan.report.verdict?.planHash)
            #expect(blockedMessage.contains("plan \(hash)"), "\(blockedMessage)")

            // The default configuration would have let it through; with an approval of exactly this plan it goes.
            _ = try await ApproveCommand.run(planHash: hash, note: "bob is now robert", configuration: world.configuration, actor: world.actor)
            let approved = try await world.run(.sync, allowDeletes: 10)
            #expect(approved.exitStatus == .ok, "\(approved.report.summary)")
            #expect(try await world.hubUser("robert") != nil)
            #expect(try await world.hubUser("bob") == nil)
            let old = try #require(world.cluster.object("namespaces", name: oldNamespace))
            #expect(old["metadata"]?["annotations"]?[ManagedKeys.retiredAt] != nil)
            let used = try await world.column("SELECT (used_by_run IS NOT NULL)::text FROM accesssync.approvals")
            #expect(used == ["true"])
        }
    }
}
