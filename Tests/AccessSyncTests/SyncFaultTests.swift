import AccessSyncCore
import Foundation
import KubeTestServer
import PolicyStore
import RBACModel
import Testing

/// Issue 8 item 7, the remaining bullets at sync level: PostgreSQL down, a 429 storm with a
/// committed-then-dropped write in the same run, and an expired grant.
@Suite("sync under database and API faults", .serialized)
struct SyncFaultTests {
    @Test("PostgreSQL unreachable: the run stops before anything is written (no lock, no audit, no writes)")
    func postgresDownWritesNothing() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            try await LDAPFaultSyncTests.worldWithPendingRevocation(world)
            let writesBefore = world.clusterWrites
            var broken = world.configuration
            broken.postgres.port = 1  // nothing listens there
            broken.postgres.connectTimeoutSeconds = 2
            let good = world.configuration
            world.configuration = broken
            do {
                let result = try await world.run(.sync, allowDeletes: 100)
                Issue.record("sync succeeded without PostgreSQL: \(result.report.summary)")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .postgresUnavailable, "\(error)")
            }
            world.configuration = good
            #expect(world.clusterWrites == writesBefore, "the API server saw writes")
            #expect(try await world.hubUser("bob") != nil, "bob's hub user was deleted without an audit trail")
            let runs = try await world.column("SELECT status FROM accesssync.sync_runs ORDER BY id")
            #expect(runs == ["succeeded"], "\(runs)")
            // With the database back, the pending revocation goes through.
            #expect(try await world.run(.sync, allowDeletes: 100).exitStatus == .ok)
            #expect(try await world.hubUser("bob") == nil)
        }
    }

    @Test("429s and a write committed then dropped: retried in the same run, nothing applied or audited twice")
    func tooManyRequestsAndCommitThenDropConverge() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            _ = world.cluster.injectFault(
                FaultRule(method: "POST", path: "/api/v1/namespaces", action: .tooManyRequests(retryAfterSeconds: 1), count: 3))
            _ = world.cluster.injectFault(
                FaultRule(method: "POST", path: "*/resourcequotas", action: .commitThenDrop, count: 1))
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok, "\(first.report.outcomes.filter { $0.status != .succeeded })")
            let log = world.cluster.requestLog
            #expect(log.filter { $0.status == 429 }.count == 3)
            #expect(log.contains { $0.status == 0 && $0.path.hasSuffix("/resourcequotas") }, "no dropped write")
            // Every change audited exactly once: one intent and one outcome each.
            let changes = first.report.changes.changes.count
            let intents = try await world.column("SELECT count(*) FROM accesssync.audit_log WHERE outcome = 'intent'")
            let outcomes = try await world.column(
                "SELECT count(*) FROM accesssync.audit_log WHERE outcome <> 'intent' AND intent_id IS NOT NULL")
            #expect(intents == ["\(changes)"] && outcomes == ["\(changes)"], "\(intents) \(outcomes) for \(changes)")
            let doubled = try await world.column(
                "SELECT count(*) FROM (SELECT intent_id FROM accesssync.audit_log WHERE intent_id IS NOT NULL "
                    + "GROUP BY intent_id HAVING count(*) > 1) d")
            #expect(doubled == ["0"])
            #expect(try await world.run(.plan).report.changes.changes.isEmpty)
        }
    }

    @Test("an expired grant: its rights go on the first run after expiry")
    func expiredGrantIsRevoked() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let policies = world.workDirectory.appendingPathComponent("policies")
            try FileManager.default.copyItem(at: root.appendingPathComponent("policies"), to: policies)
            let expires = Date(timeIntervalSince1970: 1_900_000_000)
            let grants = policies.appendingPathComponent("grants.yaml")
            let extra = """

                  - id: jupyter-users/temporary-admin
                    description: Everyone is a hub admin during the migration week.
                    group: jupyter-users
                    hubAccess: true
                    hubAdmin: true
                    expires: \(ManifestDecoding.formatTimestamp(expires))
                """
            try (try String(contentsOf: grants, encoding: .utf8) + extra).write(to: grants, atomically: true, encoding: .utf8)
            world.configuration.sync.policySource = .files
            world.configuration.sync.policyDirectory = policies.path

            #expect(try await world.run(.sync, now: expires - 3600).exitStatus == .ok)
            #expect(try await world.hubUser("bob")?.admin == true)
            let after = try await world.run(.sync, now: expires + 60)
            #expect(after.exitStatus == .ok)
            #expect(after.report.changes.changes.map(\.id).contains("hub/revoke-admin/user/\(world.uid("bob"))"))
            #expect(try await world.hubUser("bob")?.admin == false)
            #expect(try await world.hubUser("alice")?.admin == true)  // still granted by jupyter-admins
        }
    }
}
