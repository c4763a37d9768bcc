import AccessSyncCore
import Foundation
import HubTarget
import KubeTarget
import LDAPBridge
import PolicyStore
import RBACModel
import Testing

/// add-user, remove-user, grant, revoke and report unmanaged against real slapd, PostgreSQL,
/// JupyterHub and the test API server (each test in its own SyncWorld).
@Suite("operator commands end to end", .serialized)
struct OperatorCommandTests {
    @Test("add-user creates the entry, memberships and override, audited; the same again changes nothing; --sync gives access")
    func addUserThenNothingChanged() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let configuration = world.writerConfiguration
            let uid = world.uid("newbie")
            let expires = Date().addingTimeInterval(30 * 86_400)
            let request = OperatorCommands.AddUser(
                uid: uid, name: "New Bie", mail: "newbie@example.org", groups: ["jupyter-users", "data-science"],
                tier: "gpu", expires: expires)
            let first = try await OperatorCommands.addUser(
                request, configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(first.changes.count == 4, "\(first.changes)")
            #expect(first.changes.contains("added to group data-science"))
            #expect(first.changes.contains("created override add-user/\(uid)"))
            let id = try #require(first.personID)
            #expect(try await world.entryUUID(world.personDN("newbie")) == id.rawValue)

            let rows = try await world.operatorAuditRows()
            #expect(rows.map(\.action) == ["ldap.add-person", "ldap.add-member", "ldap.add-member", "policy.create"])
            #expect(rows.allSatisfy { $0.osUser == world.actor })
            let override = try await world.column(
                "SELECT source || ' ' || tier || ' ' || person_id FROM accesssync.overrides WHERE id = 'add-user/\(uid)'")
            #expect(override == ["cli:\(world.actor) gpu \(id.rawValue)"])

            // The same arguments again (with --sync): nothing changed in LDAP or the policy, and the sync gives access.
            let second = try await OperatorCommands.addUser(
                request, configuration: configuration, actor: world.actor, sync: true, logger: world.quietLogger)
            #expect(second.changes.isEmpty, "\(second.changes)")
            #expect(second.message == "\(uid) already exists with these groups and overrides; nothing changed")
            #expect(try await world.operatorAuditRows().count == rows.count)
            let sync = try #require(second.sync)
            #expect(sync.exitStatus == .ok, "\(sync.report.summary)")
            let entitlement = try #require(sync.report.desired.entitlements[id])
            #expect(entitlement.tier == "gpu")
            #expect(entitlement.provenance["tier"]?.contains { $0.rule == .override("add-user/\(uid)") } == true)
            let namespace = try #require(entitlement.namespace)
            #expect(world.cluster.object("namespaces", name: namespace) != nil)
            #expect(try await world.hubUser("newbie") != nil)
        }
    }

    @Test("add-user while a sync holds the writer lock exits lock-held and writes nothing")
    func addUserWhileLocked() async throws {
        try await withSyncWorld(people: ["alice"]) { world in
            let lock = try await RunLock.acquire(world.pgOptions)
            let request = OperatorCommands.AddUser(uid: world.uid("late"), name: "Late Comer", mail: "late@example.org")
            do {
                _ = try await OperatorCommands.addUser(
                    request, configuration: world.writerConfiguration, actor: world.actor, logger: world.quietLogger)
                Issue.record("add-user succeeded while the lock was held")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .lockHeld)
                #expect(error.message.contains("another sync is running"), "\(error.message)")
            }
            await lock.release()
            #expect(try await world.entryUUID(world.personDN("late")) == nil)
            // Released: it goes through.
            let outcome = try await OperatorCommands.addUser(
                request, configuration: world.writerConfiguration, actor: world.actor, logger: world.quietLogger)
            #expect(outcome.changed)
        }
    }

    @Test("invalid input: bad login name, unknown group, unknown tier exit 64 and write nothing; escaping keeps odd names literal")
    func invalidInput() async throws {
        try await withSyncWorld(people: ["alice"]) { world in
            let configuration = world.writerConfiguration
            func failure(_ request: OperatorCommands.AddUser) async -> CommandFailure? {
                do {
                    _ = try await OperatorCommands.addUser(
                        request, configuration: configuration, actor: world.actor, logger: world.quietLogger)
                    return nil
                } catch {
                    return error
                }
            }
            let badName = await failure(.init(uid: "bad\nname", name: "Bad", mail: "bad@example.org"))
            #expect(badName?.exitStatus == .usage)
            let spaces = await failure(.init(uid: " padded", name: "Pad", mail: "pad@example.org"))
            #expect(spaces?.exitStatus == .usage)
            let mail = await failure(.init(uid: world.uid("m"), name: "M", mail: "not-an-address"))
            #expect(mail?.exitStatus == .usage)
            let group = await failure(
                .init(uid: world.uid("g"), name: "G", mail: "g@example.org", groups: ["no-such-group"]))
            #expect(group?.exitStatus == .usage)
            #expect(group?.message.contains("unknown group 'no-such-group'") == true)
            let tier = await failure(.init(uid: world.uid("t"), name: "T", mail: "t@example.org", tier: "platinum"))
            #expect(tier?.exitStatus == .usage)
            #expect(tier?.message.contains("unknown tier 'platinum'") == true, "\(tier?.message ?? "")")
            for name in ["g", "t", "m"] { #expect(try await world.entryUUID(world.personDN(name)) == nil) }
            #expect(try await world.operatorAuditRows().isEmpty)

            // DN and filter metacharacters are data, not syntax (RFC 4514 / 4515).
            let odd = world.uid("o,b+c=(x)*")
            let created = try await OperatorCommands.addUser(
                .init(uid: odd, name: "Odd Name", mail: "odd@example.org", groups: ["jupyter-users"]),
                configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(created.changes.count == 2, "\(created.changes)")
            let again = try await OperatorCommands.addUser(
                .init(uid: odd, name: "Odd Name", mail: "odd@example.org", groups: ["jupyter-users"]),
                configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(!again.changed)
            // A prefix of the odd name is a different person: no wildcard matching.
            let prefix = try await OperatorCommands.addUser(
                .init(uid: world.uid("o"), name: "O", mail: "o@example.org"), configuration: configuration,
                actor: world.actor, logger: world.quietLogger)
            #expect(prefix.changed)
        }
    }

    @Test("remove-user removes memberships or disables, audited; again changes nothing")
    func removeUser() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            var configuration = world.writerConfiguration
            let bob = world.uid("bob")
            let removed = try await OperatorCommands.removeUser(
                uid: bob, mode: .removeMemberships, configuration: configuration, actor: world.actor,
                logger: world.quietLogger)
            #expect(removed.changes == ["removed from group jupyter-users"])
            let again = try await OperatorCommands.removeUser(
                uid: bob, mode: .removeMemberships, configuration: configuration, actor: world.actor,
                logger: world.quietLogger)
            #expect(!again.changed)
            #expect(again.message.contains("nothing changed"))

            // The configured default: disable, here through an attribute the test schema has.
            configuration.ldap.disabled.attributeEquals = ["employeeType": "disabled"]
            let carol = world.uid("carol")
            let disabled = try await OperatorCommands.removeUser(
                uid: carol, mode: nil, configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(disabled.changes.count == 1, "\(disabled.changes)")
            let twice = try await OperatorCommands.removeUser(
                uid: carol, mode: nil, configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(twice.message == "\(carol) is already disabled; nothing changed")
            let rows = try await world.operatorAuditRows()
            #expect(rows.map(\.action) == ["ldap.remove-member", "ldap.disable-person"])

            do {
                _ = try await OperatorCommands.removeUser(
                    uid: world.uid("nobody"), mode: .disable, configuration: configuration, actor: world.actor,
                    logger: world.quietLogger)
                Issue.record("removing a missing person succeeded")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .usage)
            }

            // The sync then revokes both (carol is disabled, bob in no group).
            world.configuration = configuration
            let sync = try await world.run(.sync, allowDeletes: 100)
            #expect(sync.exitStatus == .ok)
            #expect(try await world.hubUser("bob") == nil)
            #expect(try await world.hubUser("carol") == nil)
            #expect(try await world.hubUser("alice") != nil)
        }
    }

    @Test("grant and revoke edit cli policy rows, audited and checked against LDAP and the policy")
    func grantAndRevoke() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let configuration = world.writerConfiguration
            let request = OperatorCommands.GrantRequest(
                group: "data-science", hubAccess: true, tier: "gpu", projectNamespace: "proj-\(world.tag)",
                roleTemplates: ["project-viewer"])
            let created = try await OperatorCommands.grant(
                request, configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(created.changes == ["created grant cli/data-science"])
            let same = try await OperatorCommands.grant(
                request, configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(same.message == "grant cli/data-science already exists as given; nothing changed")
            let source = try await world.column("SELECT source FROM accesssync.grants WHERE id = 'cli/data-science'")
            #expect(source == ["cli:\(world.actor)"])

            let unknownGroup = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.grant(
                    .init(group: "ghosts", hubAccess: true), configuration: configuration, actor: world.actor,
                    logger: world.quietLogger)
            }
            #expect(unknownGroup?.exitStatus == .usage)
            let unknownTemplate = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.grant(
                    .init(group: "data-science", projectNamespace: "proj-x", roleTemplates: ["root"]),
                    configuration: configuration, actor: world.actor, logger: world.quietLogger)
            }
            #expect(unknownTemplate?.exitStatus == .usage)
            let fileGrant = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.revoke(
                    grantID: "jupyter-users/hub", configuration: configuration, actor: world.actor, logger: world.quietLogger)
            }
            #expect(fileGrant?.exitStatus == .dataError)

            let revoked = try await OperatorCommands.revoke(
                grantID: "cli/data-science", configuration: configuration, actor: world.actor, logger: world.quietLogger)
            #expect(revoked.changes == ["deleted grant cli/data-science"])
            let missing = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.revoke(
                    grantID: "cli/data-science", configuration: configuration, actor: world.actor, logger: world.quietLogger)
            }
            #expect(missing?.exitStatus == .usage)
            let actions = try await world.column(
                "SELECT action FROM accesssync.audit_log WHERE object_name = 'cli/data-science' ORDER BY id")
            #expect(actions == ["policy.create", "policy.delete"])

            // Under the lock held by someone else: lock-held.
            let lock = try await RunLock.acquire(world.pgOptions)
            let locked = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.grant(
                    request, configuration: configuration, actor: world.actor, logger: world.quietLogger)
            }
            await lock.release()
            #expect(locked?.exitStatus == .lockHeld)
        }
    }

    @Test("report unmanaged finds a hand-made RoleBinding naming a removed person, a disabled one, and an ungranted hub admin")
    func reportUnmanaged() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave"]) { world in
            world.configuration.ldap.disabled.attributeEquals = ["employeeType": "disabled"]
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)

            // Made by hand, as a cluster admin would: a namespace, a RoleBinding and a ClusterRoleBinding.
            let client = try world.kubeClient()
            let namespace = "handmade-\(world.tag)"
            func user(_ name: String) -> RBACModel.JSONValue {
                .object(["kind": .string("User"), "apiGroup": .string("rbac.authorization.k8s.io"), "name": .string(name)])
            }
            do {
                _ = try await client.sendJSON(
                    KubeRequest(
                        method: "POST", path: "/api/v1/namespaces",
                        body: .object(["apiVersion": .string("v1"), "kind": .string("Namespace"), "metadata": .object(["name": .string(namespace)])])))
                _ = try await client.sendJSON(
                    KubeRequest(
                        method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/\(namespace)/rolebindings",
                        body: .object([
                            "apiVersion": .string("rbac.authorization.k8s.io/v1"), "kind": .string("RoleBinding"),
                            "metadata": .object(["name": .string("analysts")]),
                            "roleRef": .object(["apiGroup": .string("rbac.authorization.k8s.io"), "kind": .string("ClusterRole"), "name": .string("edit")]),
                            "subjects": .array([user(world.uid("bob")), user(world.uid("alice")), user("system:admin")]),
                        ])))
                _ = try await client.sendJSON(
                    KubeRequest(
                        method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                        body: .object([
                            "apiVersion": .string("rbac.authorization.k8s.io/v1"), "kind": .string("ClusterRoleBinding"),
                            "metadata": .object(["name": .string("viewers-\(world.tag)")]),
                            "roleRef": .object(["apiGroup": .string("rbac.authorization.k8s.io"), "kind": .string("ClusterRole"), "name": .string("view")]),
                            "subjects": .array([user(world.uid("carol"))]),
                        ])))
            } catch {
                try? await client.shutdown()
                throw error
            }
            try? await client.shutdown()

            // bob leaves the directory; carol is disabled; a hub admin appears that no policy grants.
            try await world.changeMembership(group: "jupyter-users", remove: [world.personDN("bob")])
            try await world.deleteEntry(world.personDN("bob"))
            try await world.replaceAttribute(world.personDN("carol"), "employeeType", "disabled")
            let hub = try world.hubClient()
            let rogue = world.uid("rogue")
            _ = await hub.createUsers([rogue], admin: true)
            let report: UnmanagedReport
            do {
                report = try await ReportCommand.unmanaged(configuration: world.configuration, logger: world.quietLogger)
            } catch {
                try? await hub.deleteUser(rogue)
                try? await hub.shutdown()
                throw error
            }
            try? await hub.deleteUser(rogue)
            try? await hub.shutdown()

            let mine = report.bindings.filter { $0.subject.hasPrefix(world.tag) }
            #expect(
                mine.map { "\($0.binding) \($0.subject) \($0.status)" }.sorted() == [
                    "ClusterRoleBinding viewers-\(world.tag) \(world.uid("carol")) disabled in the directory",
                    "RoleBinding \(namespace)/analysts \(world.uid("bob")) not in the directory",
                ], "\(report.bindings)")
            #expect(!report.bindings.contains { $0.subject == "system:admin" })
            // AccessSync's own bindings (which the next sync revokes) are not reported.
            #expect(!report.bindings.contains { $0.binding.hasSuffix("/\(ManagedNames.personalRoleBinding)") && $0.subject.hasPrefix(world.tag) })
            let admins = report.hubAdmins.filter { $0.name.hasPrefix(world.tag) }
            #expect(admins.map(\.name) == [rogue], "\(report.hubAdmins)")
            #expect(UnmanagedReport.text(report).contains("RoleBinding \(namespace)/analysts → ClusterRole edit: User \(world.uid("bob")) — not in the directory"))
        }
    }

    @Test("add-user --sync syncs just that person: the other pending person is reported, untouched, and appears after a plain sync")
    func addUserSyncIsScopedToThePerson() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)
            let configuration = world.writerConfiguration
            // Two people pending: erin added without --sync, then dave with --sync.
            let erin = world.uid("erin")
            let dave = world.uid("dave")
            _ = try await OperatorCommands.addUser(
                .init(uid: erin, name: "Erin E", mail: "erin@example.org", groups: ["jupyter-users"]),
                configuration: configuration, actor: world.actor, logger: world.quietLogger)
            let writesBefore = world.clusterWrites
            let added = try await OperatorCommands.addUser(
                .init(uid: dave, name: "Dave D", mail: "dave@example.org", groups: ["jupyter-users"]),
                configuration: configuration, actor: world.actor, sync: true, logger: world.quietLogger)
            let sync = try #require(added.sync)
            #expect(sync.exitStatus == .ok, "\(sync.report.summary)")
            let daveID = try #require(added.personID)
            let erinID = try #require(try await world.entryUUID(world.personDN("erin")))
            let daveNamespace = try #require(sync.report.desired.entitlements[daveID]?.namespace)
            let erinNamespace = try #require(sync.report.desired.entitlements[PersonID(erinID)]?.namespace)

            // Only dave's objects and hub user exist.
            #expect(world.cluster.object("namespaces", name: daveNamespace) != nil)
            #expect(try await world.hubUser("dave") != nil)
            #expect(world.cluster.object("namespaces", name: erinNamespace) == nil)
            #expect(try await world.hubUser("erin") == nil)
            #expect(world.clusterWrites > writesBefore)
            // Every applied change is dave's; erin's are counted and named as left for the next full sync.
            let applied = sync.report.changes.changes
            #expect(!applied.isEmpty)
            #expect(!applied.contains { $0.id.contains(erin) }, "\(applied.map(\.id))")
            #expect(applied.allSatisfy { $0.id.contains(dave) || $0.person == daveID }, "\(applied.map(\.id))")
            let left = try #require(sync.report.summary.changesLeftForFullSync)
            #expect(left >= 2, "\(left)")
            #expect(PlanFormatting.peopleLeft(sync.report) == [erin])
            let text = PlanFormatting.text(sync.report, mode: .sync)
            #expect(text.contains("Only \(dave)'s changes: \(left) other change(s) left for the next full sync (pending for: \(erin))"), "\(text)")
            // The run is recorded as scoped to dave; its audit rows are dave's only.
            let runs = try await world.column("SELECT command || ' ' || status FROM accesssync.sync_runs ORDER BY id")
            #expect(runs == ["sync succeeded", "sync --only-user \(dave) succeeded"], "\(runs)")
            let auditedNames = try await world.column(
                "SELECT DISTINCT object_name FROM accesssync.audit_log WHERE run_id = (SELECT max(id) FROM accesssync.sync_runs)")
            #expect(!auditedNames.isEmpty)
            #expect(!auditedNames.contains { $0?.contains(erin) == true }, "\(auditedNames)")
            let intents = try await world.column(
                "SELECT count(*) FROM accesssync.audit_log WHERE outcome = 'intent' AND run_id = (SELECT max(id) FROM accesssync.sync_runs)")
            #expect(intents == [String(applied.count)])

            // `plan --only-user` of erin shows just erin's changes; a plain sync then creates erin.
            var logger = world.quietLogger
            logger.logLevel = .critical
            let scopedPlan = try await SyncCommand.run(
                SyncCommand.Options(configuration: world.configuration, mode: .plan, onlyUser: erin, actor: world.actor),
                logger: logger)
            #expect(scopedPlan.exitStatus == .changesPending)
            #expect(scopedPlan.report.changes.changes.allSatisfy { !$0.id.contains(dave) })
            let full = try await world.run(.sync)
            #expect(full.exitStatus == .ok, "\(full.report.summary)")
            #expect(world.cluster.object("namespaces", name: erinNamespace) != nil)
            #expect(try await world.hubUser("erin") != nil)
            let plan = try await world.run(.plan)
            #expect(plan.report.changes.changes.isEmpty, "\(plan.report.changes.changes.map(\.id))")

            // An unknown login name is a data error before any write.
            let failure = await syncFailure { () async throws(CommandFailure) in
                try await SyncCommand.run(
                    SyncCommand.Options(
                        configuration: world.configuration, mode: .sync, onlyUser: world.uid("nobody"), actor: world.actor),
                    logger: logger)
            }
            #expect(failure?.exitStatus == .dataError)
            #expect(failure?.message.contains("no person with that login name") == true, "\(failure?.message ?? "")")
        }
    }

    @Test("add-user / remove-user audit an intent before each LDAP write and its outcome after; a refused write leaves intent + failed")
    func operatorWritesAuditIntentAndOutcome() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            let newbie = world.uid("newbie")
            _ = try await OperatorCommands.addUser(
                .init(uid: newbie, name: "New Bie", mail: "newbie@example.org", groups: ["jupyter-users"]),
                configuration: world.writerConfiguration, actor: world.actor, logger: world.quietLogger)
            var trail = try await world.operatorAuditTrail()
            #expect(trail.map { "\($0.action) \($0.outcome)" } == [
                "ldap.add-person intent", "ldap.add-person succeeded", "ldap.add-member intent", "ldap.add-member succeeded",
            ])
            #expect(trail.map(\.linked) == [false, true, false, true])
            // The outcome carries the entry's identifier, known only after the write.
            let uuid = try #require(try await world.entryUUID(world.personDN("newbie")))
            let after = try await world.column(
                "SELECT after::text FROM accesssync.audit_log WHERE action = 'ldap.add-person' AND outcome = 'succeeded'")
            #expect(after.first??.contains(uuid) == true, "\(after)")

            // The reader's bind (cn=sync) may not write: the add is refused by slapd.
            let refused = world.uid("refused")
            let failure = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.addUser(
                    .init(uid: refused, name: "Re Fused", mail: "refused@example.org"), configuration: world.configuration,
                    actor: world.actor, logger: world.quietLogger)
            }
            #expect(failure?.exitStatus == .configuration, "\(failure?.message ?? "")")
            #expect(try await world.entryUUID(world.personDN("refused")) == nil)
            trail = try await world.operatorAuditTrail()
            let refusedRows = trail.filter { $0.name == refused }
            #expect(refusedRows.map { "\($0.action) \($0.outcome)" } == ["ldap.add-person intent", "ldap.add-person failed"])
            #expect(refusedRows.last?.linked == true)
            #expect(refusedRows.last?.message.lowercased().contains("insufficient") == true, "\(refusedRows)")

            // remove-user --remove-memberships: alice is the only member of the other groups (groupOfNames
            // cannot lose its last member): those writes fail, jupyter-users succeeds; each has intent + outcome.
            let alice = world.uid("alice")
            let removal = await commandFailure { () async throws(CommandFailure) in
                try await OperatorCommands.removeUser(
                    uid: alice, mode: .removeMemberships, configuration: world.writerConfiguration, actor: world.actor,
                    logger: world.quietLogger)
            }
            #expect(removal?.exitStatus == .dataError)
            let aliceRows = try await world.operatorAuditTrail().filter { $0.name.hasSuffix("/\(alice)") }
            let outcomes = Dictionary(
                aliceRows.filter { $0.outcome != "intent" }.map { ($0.name, $0.outcome) }, uniquingKeysWith: { first, _ in first })
            #expect(aliceRows.filter { $0.outcome == "intent" }.count == 5, "\(aliceRows)")
            #expect(outcomes["jupyter-users/\(alice)"] == "succeeded")
            #expect(outcomes["data-science/\(alice)"] == "failed")
            #expect(outcomes.values.filter { $0 == "failed" }.count == 4, "\(outcomes)")

            // remove-user --disable: intent then succeeded.
            var configuration = world.writerConfiguration
            configuration.ldap.disabled.attributeEquals = ["employeeType": "disabled"]
            _ = try await OperatorCommands.removeUser(
                uid: world.uid("carol"), mode: .disable, configuration: configuration, actor: world.actor,
                logger: world.quietLogger)
            let carolRows = try await world.operatorAuditTrail().filter { $0.name == world.uid("carol") }
            #expect(carolRows.map { "\($0.action) \($0.outcome)" } == ["ldap.disable-person intent", "ldap.disable-person succeeded"])
        }
    }
}

/// The failure of an operator command, or nil when it succeeded.
private func commandFailure(_ body: () async throws(CommandFailure) -> OperatorOutcome) async -> CommandFailure? {
    let result: Result<OperatorOutcome, CommandFailure>
    do {
        result = .success(try await body())
    } catch {
        result = .failure(error)
    }
    if case .failure(let error) = result { return error }
    return nil
}

/// The failure of a sync command, or nil when it succeeded.
private func syncFailure(_ body: () async throws(CommandFailure) -> SyncCommand.Result) async -> CommandFailure? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
