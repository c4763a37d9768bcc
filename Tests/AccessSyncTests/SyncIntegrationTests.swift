import AccessSyncCore
import Foundation
import HubTarget
import KubeTarget
import KubeTestServer
import Logging
import PolicyStore
import RBACModel
import TestSupport
import Testing

/// `sync` and `plan` end to end against real slapd, PostgreSQL and JupyterHub and the test API
/// server. Each test has its own LDAP subtree, database, API server and hub user names.
@Suite("sync end to end", .serialized)
struct SyncIntegrationTests {
    @Test("first sync creates everything, audits it, and a second sync and plan change nothing")
    func firstSyncThenNoOp() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok, "\(first.report.outcomes.filter { $0.status != .succeeded })")
            #expect(first.report.status == .succeeded)
            let changes = first.report.changes.changes
            #expect(changes.count > 10)
            #expect(first.report.outcomes.allSatisfy { $0.status == .succeeded })

            // The objects exist on the API server, with our labels.
            let namespace = try #require(first.report.desired.entitlements.values.first { $0.uid == world.uid("bob") }?.namespace)
            let stored = world.cluster.object("namespaces", name: namespace)
            #expect(stored != nil, "namespace \(namespace) was not created")
            // Hub users exist; alice is an admin.
            let alice = try #require(try await world.hubUser("alice"))
            #expect(alice.admin)
            let bob = try #require(try await world.hubUser("bob"))
            #expect(!bob.admin)
            // The registry knows them.
            let registered = try await world.column("SELECT name FROM accesssync.hub_users ORDER BY name")
            #expect(registered.compactMap { $0 } == ["alice", "bob", "carol"].map(world.uid))
            // Every change has an intent and an outcome row, and the run is recorded with the head hash.
            let intents = try await world.column("SELECT count(*) FROM accesssync.audit_log WHERE outcome = 'intent'")
            #expect(intents.first == String(changes.count))
            let outcomes = try await world.column(
                "SELECT count(*) FROM accesssync.audit_log WHERE outcome = 'succeeded' AND run_id IS NOT NULL")
            #expect(outcomes.first == String(changes.count))
            let runs = try await world.column("SELECT status FROM accesssync.sync_runs ORDER BY id")
            #expect(runs == ["succeeded"])
            let head = try await world.column("SELECT head_hash FROM accesssync.sync_runs")
            #expect(head.first??.count == 64)
            #expect(first.report.summary.headHash == head.first ?? nil)

            // Second run: nothing to do, nothing written.
            let writesBefore = world.clusterWrites
            let plan = try await world.run(.plan)
            #expect(plan.exitStatus == .ok)
            #expect(plan.report.changes.changes.isEmpty, "\(plan.report.changes.changes.map(\.id))")
            let second = try await world.run(.sync)
            #expect(second.exitStatus == .ok)
            #expect(second.report.changes.changes.isEmpty)
            #expect(world.clusterWrites == writesBefore)
        }
    }

    @Test("a person removed from the group loses bindings and hub user in the same run; namespace retired")
    func leaverIsRevokedInOneRun() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave", "erin", "frank"]) { world in
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)
            let bobNamespace = try #require(
                first.report.desired.entitlements.values.first { $0.uid == world.uid("bob") }?.namespace)
            #expect(try await world.hubUser("bob") != nil)

            try await world.removeFromUsers(["bob"])
            let plan = try await world.run(.plan)
            #expect(plan.exitStatus == .changesPending)
            let text = PlanFormatting.text(plan.report, mode: .plan)
            #expect(text.contains("hub: stop server and delete user \(world.uid("bob"))"), "\(text)")

            let second = try await world.run(.sync)
            #expect(second.exitStatus == .ok, "\(second.report.outcomes.filter { $0.status != .succeeded })")
            #expect(try await world.hubUser("bob") == nil)
            #expect(try await world.hubUser("carol") != nil)
            // The namespace is retired, not deleted: our annotation with the time; bindings gone.
            let namespace = try #require(
                world.cluster.object("namespaces", name: bobNamespace))
            let annotations = namespace["metadata"]?["annotations"]
            #expect(annotations?[ManagedKeys.retiredAt] != nil, "\(String(describing: annotations))")
            let bindings = world.cluster.objects("rolebindings", namespace: bobNamespace)
            #expect(
                bindings.allSatisfy {
                    ($0["subjects"]?.arrayValue ?? []).allSatisfy { $0["name"]?.stringValue != world.uid("bob") }
                })
            // The hub registry forgot bob; the audit has his revocation.
            let registered = try await world.column("SELECT name FROM accesssync.hub_users ORDER BY name")
            #expect(!registered.contains(world.uid("bob")))
            let revocations = try await world.column(
                "SELECT count(*) FROM accesssync.audit_log WHERE action = 'delete-user' AND object_name = '\(world.uid("bob"))' AND outcome = 'succeeded'")
            #expect(revocations.first == "1")
        }
    }

    @Test("losses beyond the threshold block the run; an approval passes exactly that plan once")
    func guardBlocksAndApprovalPasses() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave"]) { world in
            world.configuration.safety.thresholds = GuardThresholds(
                maxPeopleLosingAccess: 1, maxPeopleLosingAccessPercent: 100, maxDeletionsPerKind: 100,
                maxDeletionsPercent: 100, maxDirectoryShrinkPercent: 100)
            #expect(try await world.run(.sync).exitStatus == .ok)
            try await world.removeFromUsers(["bob", "carol"])
            let writesBefore = world.clusterWrites

            await #expect(throws: CommandFailure.self) { try await world.run(.sync) }
            do {
                _ = try await world.run(.sync)
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .blockedByGuard)
                #expect(error.message.contains("accesssync approve"))
            }
            #expect(world.clusterWrites == writesBefore)
            #expect(try await world.hubUser("bob") != nil)
            let statuses = try await world.column("SELECT status FROM accesssync.sync_runs ORDER BY id")
            #expect(statuses == ["succeeded", "blocked", "blocked"])

            let plan = try await world.run(.plan)
            let hash = try #require(plan.report.verdict?.planHash)
            #expect(plan.report.verdict?.blocked == true)
            _ = try await ApproveCommand.run(planHash: hash, note: "leavers confirmed", configuration: world.configuration)
            let approved = try await world.run(.sync)
            #expect(approved.exitStatus == .ok)
            #expect(try await world.hubUser("bob") == nil)
            let used = try await world.column("SELECT used_by_run FROM accesssync.approvals")
            #expect(used.count == 1 && used[0] != nil)
            let approvalAudit = try await world.column("SELECT count(*) FROM accesssync.audit_log WHERE action = 'approve'")
            #expect(approvalAudit.first == "1")
        }
    }

    @Test("LDAP unreachable: nothing written, the run is recorded as failed, exit ldap-unavailable")
    func ldapDownWritesNothing() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            world.configuration.ldap.uri = "ldap://127.0.0.1:9"
            world.configuration.ldap.networkTimeoutSeconds = 2
            do {
                _ = try await world.run(.sync)
                Issue.record("sync succeeded without a directory")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .ldapUnavailable, "\(error)")
            }
            #expect(world.clusterWrites == 0)
            let statuses = try await world.column("SELECT status FROM accesssync.sync_runs")
            #expect(statuses == ["failed"])
            let rows = try await world.column("SELECT count(*) FROM accesssync.audit_log WHERE run_id IS NOT NULL")
            #expect(rows.first == "0")
        }
    }

    @Test("a second writer gets lock-held naming the running run")
    func secondWriterIsRefused() async throws {
        try await withSyncWorld(people: ["alice"]) { world in
            let lock = try await RunLock.acquire(world.pgOptions)
            do {
                _ = try await world.run(.sync)
                Issue.record("sync ran while another writer held the lock")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .lockHeld, "\(error)")
                #expect(error.message.contains("another"), "\(error.message)")
            }
            await lock.release()
            #expect(world.clusterWrites == 0)
            #expect(try await world.run(.sync).exitStatus == .ok)
        }
    }

    @Test("API server 503 for some writes: the rest applied, failures audited, dependants skipped, the next run converges")
    func partialFailureConverges() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            _ = world.cluster.injectFault(
                FaultRule(
                    method: "POST", path: "*/namespaces/proj-ml-platform/resourcequotas",
                    action: .serviceUnavailable(retryAfterSeconds: nil)))
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .partialFailure)
            let failed = first.report.outcomes.filter { $0.status == .failed }
            let skipped = first.report.outcomes.filter { $0.status == .skipped }
            #expect(failed.map(\.changeID) == ["kube/create/ResourceQuota/proj-ml-platform/accesssync-quota"])
            #expect(skipped.allSatisfy { $0.message?.contains("accesssync-quota") == true }, "\(skipped)")
            // Unrelated changes went through: personal namespaces and hub users exist.
            #expect(try await world.hubUser("bob") != nil)
            let failedRows = try await world.column("SELECT count(*) FROM accesssync.audit_log WHERE outcome = 'failed'")
            #expect(failedRows.first == "1")
            let statuses = try await world.column("SELECT status FROM accesssync.sync_runs")
            #expect(statuses == ["failed"])

            world.cluster.clearFaults()
            let second = try await world.run(.sync)
            #expect(second.exitStatus == .ok)
            #expect(Set(second.report.changes.changes.map(\.id)) == Set((failed + skipped).map(\.changeID)))
            #expect(try await world.run(.plan).report.changes.changes.isEmpty)
        }
    }

    @Test("the process killed mid-apply: the run shows as interrupted, the chain verifies, the next run converges")
    func killedMidApplyConverges() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave"], configure: { $0.latency = .milliseconds(150) }) {
            world in
            let config = try world.writeConfigurationFile()
            let process = Process()
            process.executableURL = try accesssyncBinary()
            process.arguments = ["sync", "--config", config, "-q"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait until it is applying, then kill it without warning.
            let deadline = ContinuousClock.now + .seconds(60)
            while world.clusterWrites < 6, ContinuousClock.now < deadline, process.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(world.clusterWrites >= 6, "the child never started applying")
            kill(process.processIdentifier, SIGKILL)
            let status = reapChild(process)
            // 128 + signal when reaped here; the bare signal number when Foundation reaped it first.
            #expect(status == 128 + SIGKILL || status == SIGKILL, "exit status \(status)")
            let running = try await world.column("SELECT status FROM accesssync.sync_runs")
            #expect(running == ["running"])

            let next = try await world.run(.sync)
            #expect(next.exitStatus == .ok, "\(next.report.outcomes.filter { $0.status != .succeeded })")
            let statuses = try await world.column("SELECT status FROM accesssync.sync_runs ORDER BY id")
            #expect(statuses == ["interrupted", "succeeded"])
            #expect(try await world.run(.plan).report.changes.changes.isEmpty)
            let connection = try await PGConnection.connect(world.pgOptions)
            let verification = try await AuditLog(connection: connection).verify()
            await connection.close()
            #expect(verification.isIntact, "\(verification.problems)")
        }
    }

    @Test("plan --server-dry-run sends dryRun=All writes only and reports each change's verdict")
    func serverDryRunWritesNothing() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let namespacesBefore = world.cluster.objects("namespaces").count
            var logger = Logger(label: "it")
            logger.logLevel = .warning
            let result = try await SyncCommand.run(
                SyncCommand.Options(configuration: world.configuration, mode: .plan, serverDryRun: true), logger: logger)
            #expect(result.exitStatus == .changesPending)
            let kubeChanges = result.report.changes.changes.filter { $0.id.hasPrefix("kube/") }
            #expect(result.report.outcomes.count == kubeChanges.count)
            #expect(result.report.outcomes.contains { $0.status == .succeeded })
            let writes = world.cluster.requestLog.filter { ["POST", "PUT", "PATCH", "DELETE"].contains($0.method) }
            #expect(!writes.isEmpty && writes.allSatisfy(\.dryRun))
            #expect(world.cluster.objects("namespaces").count == namespacesBefore)
            #expect(PlanFormatting.text(result.report, mode: .plan).contains("Server dry run:"))
            let runs = try await world.column("SELECT count(*) FROM accesssync.sync_runs")
            #expect(runs.first == "0")
        }
    }

    @Test("a hand-made namespace at a desired name: reported, untouched, dependants skipped; --adopt Namespace takes it over")
    func unownedNamespaceIsAConflictUntilAdopted() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let plan = try await world.run(.plan)
            let namespace = try #require(plan.report.desired.entitlements.values.first { $0.uid == world.uid("bob") }?.namespace)
            // Someone created bob's namespace by hand (brownfield).
            let kubeconfig = try Kubeconfig.load(paths: [world.kubeconfigPath])
            let client = try KubeClient(configuration: try KubeClientConfiguration.fromKubeconfig(kubeconfig))
            let created = try await client.send(
                KubeRequest(
                    method: "POST", path: "/api/v1/namespaces",
                    body: .object([
                        "apiVersion": .string("v1"), "kind": .string("Namespace"),
                        "metadata": .object(["name": .string(namespace), "labels": .object(["team": .string("hand-made")])]),
                    ])))
            try await client.shutdown()
            #expect(created.status == 201)

            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok)
            let conflict = try #require(first.report.changes.conflicts.first { $0.ref.contains(namespace) })
            #expect(!conflict.skippedChanges.isEmpty)
            let stored = try #require(world.cluster.object("namespaces", name: namespace))
            #expect(stored["metadata"]?["labels"]?[ManagedKeys.managedBy] == nil)
            #expect(world.cluster.objects("rolebindings", namespace: namespace).isEmpty)
            #expect(try await world.hubUser("alice") != nil)

            let adopted = try await world.run(.sync, adopt: ["Namespace"])
            #expect(adopted.exitStatus == .ok, "\(adopted.report.outcomes.filter { $0.status != .succeeded })")
            let taken = try #require(world.cluster.object("namespaces", name: namespace))
            #expect(taken["metadata"]?["labels"]?[ManagedKeys.managedBy]?.stringValue == ManagedKeys.managedByValue)
            #expect(taken["metadata"]?["annotations"]?[ManagedKeys.adopted] != nil)
            #expect(!world.cluster.objects("rolebindings", namespace: namespace).isEmpty)
            let audit = try await world.column(
                "SELECT count(*) FROM accesssync.audit_log WHERE action = 'adopt' AND object_name = '\(namespace)' AND outcome = 'succeeded'")
            #expect(audit.first == "1")
            #expect(try await world.run(.plan, adopt: ["Namespace"]).report.changes.changes.isEmpty)
        }
    }

    @Test("an expired override: the right is removed on the first run after expiry")
    func expiredOverrideIsRevoked() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            // The policy from files: the repository's defaults plus a temporary hub-admin override for bob.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let policies = world.workDirectory.appendingPathComponent("policies")
            try FileManager.default.copyItem(at: root.appendingPathComponent("policies"), to: policies)
            let expires = Date(timeIntervalSince1970: 1_900_000_000)
            try """
                apiVersion: accesssync.io/v1
                overrides:
                  - id: bob/temporary-admin
                    uid: \(world.uid("bob"))
                    hubAdmin: true
                    expires: \(ManifestDecoding.formatTimestamp(expires))
                    reason: covering for alice
                """.write(to: policies.appendingPathComponent("overrides.yaml"), atomically: true, encoding: .utf8)
            world.configuration.sync.policySource = .files
            world.configuration.sync.policyDirectory = policies.path

            #expect(try await world.run(.sync, now: expires - 3600).exitStatus == .ok)
            #expect(try await world.hubUser("bob")?.admin == true)
            let after = try await world.run(.sync, now: expires + 60)
            #expect(after.exitStatus == .ok)
            #expect(after.report.changes.changes.map(\.id).contains("hub/revoke-admin/user/\(world.uid("bob"))"))
            #expect(try await world.hubUser("bob")?.admin == false)
        }
    }

    @Test("the database connections killed mid-apply: applying stops, nothing is written afterwards, the next run converges")
    func databaseLossStopsApplying() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave", "erin"], configure: { $0.latency = .milliseconds(100) }) {
            world in
            let sync = Task { () -> CommandFailure? in
                do {
                    _ = try await world.run(.sync)
                    return nil
                } catch let error as CommandFailure {
                    return error
                } catch {
                    return CommandFailure(.failure, "\(error)")
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while world.clusterWrites < 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let admin = try await PGConnection.connect(world.environment.pgServerOptions)
            try await admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                [world.database])
            await admin.close()
            let failure = await sync.value
            let stopped = try #require(failure, "the run finished although its lock and audit connections were gone")
            #expect([.partialFailure, .postgresUnavailable].contains(stopped.exitStatus), "\(stopped)")
            let writesAtStop = world.clusterWrites
            try await Task.sleep(for: .seconds(1))
            #expect(world.clusterWrites == writesAtStop)

            let next = try await world.run(.sync)
            #expect(next.exitStatus == .ok, "\(next.report.outcomes.filter { $0.status != .succeeded })")
            #expect(try await world.run(.plan).report.changes.changes.isEmpty)
        }
    }

    @Test("render mode: sync writes the manifests, the second run changes nothing, a leaver's files go")
    func renderModeSync() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let directory = world.workDirectory.appendingPathComponent("render").path
            world.configuration.kubernetes.mode = .render
            world.configuration.kubernetes.renderDirectory = directory
            world.configuration.hub.url = nil
            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok, "\(first.report.outcomes.filter { $0.status != .succeeded })")
            let bob = try #require(first.report.desired.entitlements.values.first { $0.uid == world.uid("bob") }?.namespace)
            let bobFile = directory + "/namespaces/\(bob).yaml"
            let text = try String(contentsOfFile: bobFile, encoding: .utf8)
            #expect(text.contains("Prune=false"))
            #expect(FileManager.default.fileExists(atPath: directory + "/hub.json"))
            #expect(world.clusterWrites == 0, "render mode never talks to a cluster")

            let second = try await world.run(.sync)
            #expect(second.report.changes.changes.isEmpty, "\(second.report.changes.changes.map(\.id))")

            try await world.removeFromUsers(["bob"])
            let third = try await world.run(.sync)
            #expect(third.exitStatus == .ok)
            #expect(!FileManager.default.fileExists(atPath: bobFile))
            let bindings = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/namespaces/\(bob)")) ?? []
            #expect(!bindings.contains { $0.hasPrefix("rolebinding-") }, "\(bindings)")
            let after = try await world.run(.plan).report.changes.changes.map(\.id)
            #expect(after.isEmpty, "\(after) \(third.report.changes.changes.map(\.id))")
        }
    }

    @Test("a retired namespace is deleted only after the grace period")
    func retiredNamespaceDeletedAfterGracePeriod() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave", "erin", "frank"]) { world in
            let start = Date()
            let first = try await world.run(.sync, now: start)
            let namespace = try #require(first.report.desired.entitlements.values.first { $0.uid == world.uid("bob") }?.namespace)
            try await world.removeFromUsers(["bob"])
            #expect(try await world.run(.sync, now: start + 60).exitStatus == .ok)
            #expect(world.cluster.object("namespaces", name: namespace) != nil)
            // Within the grace period: still there, nothing to do.
            let grace = world.configuration.safety.retirementGracePeriod
            let early = try await world.run(.sync, now: start + grace - 3600)
            #expect(!early.report.changes.changes.contains { $0.id == "kube/delete/Namespace/\(namespace)" })
            #expect(world.cluster.object("namespaces", name: namespace) != nil)
            // After it: deleted, and audited.
            let late = try await world.run(.sync, now: start + grace + 3600)
            #expect(late.exitStatus == .ok, "\(late.report.outcomes.filter { $0.status != .succeeded })")
            #expect(late.report.changes.changes.contains { $0.id == "kube/delete/Namespace/\(namespace)" }, "\(late.report.changes.changes.map(\.id)) \(late.report.verdict?.findings ?? [])")
            let stored = world.cluster.object("namespaces", name: namespace)
            #expect(stored == nil || stored?["metadata"]?["deletionTimestamp"] != nil)
        }
    }

    @Test("an unreadable secret file is a configuration error (78) before any connection")
    func unreadableSecretIsAConfigurationError() async throws {
        try await withSyncWorld(people: ["alice"]) { world in
            world.configuration.postgres.password = .file("/nonexistent/accesssync-test-password")
            do {
                _ = try await world.run(.sync)
                Issue.record("sync ran with an unreadable password file")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .configuration, "\(error)")
                #expect(error.message.contains("postgres.password"))
            }
            #expect(world.clusterWrites == 0)
        }
    }

    @Test("the binary: sync, a no-op plan (exit 0), and `run --rounds 2` (the long-running mode)")
    func binarySyncPlanAndRun() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let config = try world.writeConfigurationFile()
            let pending = try accesssync(["plan", "--config", config, "-q"])
            #expect(pending.status == 2, "\(pending.stderr)")
            #expect(pending.stdout.contains("Plan hash:"))
            let sync = try accesssync(["sync", "--config", config, "-q", "--output", "json"])
            #expect(sync.status == 0, "\(sync.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(sync.stdout.utf8)) as? [String: Any]
            #expect((json?["changes"] as? [Any])?.isEmpty == false)
            #expect((json?["auditHead"] as? String)?.count == 64)
            let clean = try accesssync(["plan", "--config", config, "-q"])
            #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
            #expect(clean.stdout.hasPrefix("No changes."))
            let rounds = try accesssync(["run", "--config", config, "-q", "--rounds", "2", "--interval", "1s"])
            #expect(rounds.status == 0, "\(rounds.stderr)")
            let runs = try await world.column("SELECT status FROM accesssync.sync_runs ORDER BY id")
            #expect(runs == ["succeeded", "succeeded", "succeeded"])
            let badInterval = try accesssync(["run", "--config", config, "--interval", "soon"])
            #expect(badInterval.status == 64)
            let noNow = try accesssync(["sync", "--config", config, "--now", "2030-01-01T00:00:00Z"])
            #expect(noNow.status == 64, "sync must not accept --now")
        }
    }
}
