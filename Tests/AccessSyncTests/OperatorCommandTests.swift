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
