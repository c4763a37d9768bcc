import Foundation
import RBACModel
import Testing

@testable import PolicyStore

func entry(_ index: Int, run: Int64? = nil, message: String? = nil) -> AuditEntry {
    AuditEntry(
        runID: run, action: index % 3 == 0 ? "delete" : "create", objectKind: index % 2 == 0 ? "RoleBinding" : "Namespace",
        objectNamespace: "user-\(index % 7)", objectName: "object-\(index)", before: index % 3 == 0 ? ["n": .int(index)] : nil,
        after: index % 3 == 0 ? nil : ["n": .int(index), "labels": ["app": "x"]], provenance: ["rule": .string("grant g\(index % 5)")],
        outcome: .succeeded, message: message)
}

@Suite("audit log")
struct AuditLogTests {
    @Test func appRoleCannotUpdateDeleteOrTruncate() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let app = try await database.appConnection()
            defer { Task { await app.close() } }
            let log = AuditLog(connection: app, osUser: "svc")
            try await log.append((0..<3).map { entry($0) })
            for statement in [
                "UPDATE accesssync.audit_log SET message = 'x'", "DELETE FROM accesssync.audit_log",
                "TRUNCATE accesssync.audit_log", "UPDATE accesssync.audit_archives SET row_count = 0",
            ] {
                do {
                    try await app.query(statement)
                    Issue.record("\(statement) succeeded for the application role")
                } catch let error as PostgresError {
                    #expect(error.sqlState == "42501", "\(statement): \(error)")
                }
            }
            // The application role owns nothing.
            let owned = try await app.query(
                "SELECT count(*) AS n FROM pg_class WHERE relowner = 'accesssync_app'::regrole")
            #expect(try owned.first?.int("n") == 0)
            #expect(try await log.verify().isIntact)
        }
    }

    @Test func triggerRefusesChangesEvenWhenPrivilegesAreGrantedByMistake() async throws {
        try await withTestDatabase { database in
            let owner = try await database.migrated()
            defer { Task { await owner.close() } }
            let role = "accesssync_t_" + UUID().uuidString.prefix(8).lowercased()
            // A separate role (so that grants do not leak to the shared accesssync_app role).
            try await owner.query("CREATE ROLE \(role) NOLOGIN IN ROLE accesssync_app")
            try await owner.query("GRANT UPDATE, DELETE, TRUNCATE ON accesssync.audit_log TO \(role)")
            try await AuditLog(connection: owner, osUser: "o").append([entry(1), entry(2)])
            let mistaken = try await database.connect()
            try await mistaken.query("SET ROLE \(role)")
            for statement in [
                "UPDATE accesssync.audit_log SET message = 'x'", "DELETE FROM accesssync.audit_log",
                "TRUNCATE accesssync.audit_log",
            ] {
                do {
                    try await mistaken.query(statement)
                    Issue.record("\(statement) succeeded despite the trigger")
                } catch let error as PostgresError {
                    #expect(error.sqlState == "42501")
                    #expect(error.message.contains("append-only"))
                }
            }
            // A row naming another database role than the writer is refused too.
            do {
                try await mistaken.query(
                    """
                    INSERT INTO accesssync.audit_log (at, db_role, os_user, action, object_kind, object_name, outcome,
                        prev_hash, hash) VALUES (now(), 'postgres', 'x', 'a', 'k', 'n', 'succeeded', repeat('1', 64), repeat('2', 64))
                    """)
                Issue.record("an audit row with a forged db_role was accepted")
            } catch let error as PostgresError {
                #expect(error.sqlState == "23514")
            }
            await mistaken.close()
            try await owner.query("DROP OWNED BY \(role)")
            try await owner.query("DROP ROLE \(role)")
        }
    }

    @Test func verifyNamesAlteredAndRemovedRows() async throws {
        try await withTestDatabase { database in
            let owner = try await database.migrated()
            defer { Task { await owner.close() } }
            let log = AuditLog(connection: owner, osUser: "o")
            let rows = try await log.append((0..<20).map { entry($0) })
            #expect(try await log.verify().isIntact)

            // The owner (who may) alters a row's payload: verify names that row.
            try await owner.query(
                "UPDATE accesssync.audit_log SET after = $1::jsonb WHERE id = $2",
                [["n": 999] as PolicyStore.JSONValue, rows[5].id])
            let altered = try await log.verify()
            #expect(altered.firstProblem?.kind == .altered)
            #expect(altered.firstProblem?.rowID == rows[5].id)
            #expect(altered.problems.count == 1)

            // Restore it, then remove a row from the middle.
            try await owner.query(
                "UPDATE accesssync.audit_log SET after = $1::jsonb WHERE id = $2", [rows[5].after, rows[5].id])
            #expect(try await log.verify().isIntact)
            try await owner.query("DELETE FROM accesssync.audit_log WHERE id = $1", [rows[11].id])
            let removed = try await log.verify()
            #expect(removed.firstProblem?.kind == .removed)
            #expect(removed.firstProblem?.rowID == rows[12].id)
            #expect(removed.firstProblem?.message.contains("after row \(rows[10].id)") == true)
        }
    }

    @Test func verifyFindsATruncatedTail() async throws {
        try await withTestDatabase { database in
            let owner = try await database.migrated()
            defer { Task { await owner.close() } }
            let log = AuditLog(connection: owner, osUser: "o")
            let rows = try await log.append((0..<10).map { entry($0) })
            let published = rows.last!.hash

            // Tail removed, audit_head left alone: the head table gives it away.
            try await owner.query("DELETE FROM accesssync.audit_log WHERE id > $1", [rows[6].id])
            let first = try await log.verify()
            #expect(first.firstProblem?.kind == .truncated)

            // A careful attacker also rewinds audit_head: only the published head reveals it.
            try await owner.query("UPDATE accesssync.audit_head SET last_id = $1, last_hash = $2", [rows[6].id, rows[6].hash])
            #expect(try await log.verify().isIntact)
            let withHead = try await log.verify(publishedHead: published)
            #expect(withHead.firstProblem?.kind == .truncated)
            #expect(withHead.firstProblem?.message.contains("published head") == true)
            // A published head that is still in the log (rows appended since) is fine.
            #expect(try await log.verify(publishedHead: rows[3].hash).isIntact)

            // A finished run's recorded head counts as published too.
            let runs = SyncRunStore(connection: owner)
            let run = try await runs.start(lock: nil)
            try await runs.finish(run.id, status: .succeeded, headHash: published)
            #expect(try await log.verify().firstProblem?.kind == .truncated)
        }
    }

    @Test func chainVerifierTellsForksFromRemovals() throws {
        func record(_ id: Int64, prev: String) -> AuditRecord {
            var record = AuditRecord(
                id: id, runID: nil, atText: "2024-01-01T00:00:00.000000Z", dbRole: "r", osUser: "u", action: "a",
                objectKind: "k", objectNamespace: nil, objectName: "n\(id)", before: nil, after: nil, provenance: nil,
                outcome: .succeeded, intentID: nil, message: nil, prevHash: prev, hash: "")
            record.hash = record.computedHash
            return record
        }
        let one = record(1, prev: AuditRecord.genesisHash)
        let two = record(2, prev: one.hash)
        let fork = record(3, prev: one.hash)
        var verifier = ChainVerifier(anchor: AuditRecord.genesisHash)
        for item in [one, two, fork] { verifier.check(item) }
        #expect(verifier.problems.map(\.kind) == [.forked])
        #expect(verifier.problems.first?.rowID == 3)
        #expect(verifier.problems.first?.message.contains("follows row 1, which row 2 already follows") == true)

        var second = ChainVerifier(anchor: AuditRecord.genesisHash)
        for item in [one, record(5, prev: String(repeating: "a", count: 64))] { second.check(item) }
        #expect(second.problems.map(\.kind) == [.removed])
    }

    @Test func concurrentWritersNeverForkTheChain() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let writers = 4
            let appendsPerWriter = 25
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        let connection = try await database.appConnection()
                        let log = AuditLog(connection: connection, osUser: "writer\(writer)")
                        let repository = PolicyRepository(connection: connection, osUser: "writer\(writer)")
                        for index in 0..<appendsPerWriter {
                            if index % 5 == 0 {
                                // A concurrent `grant` (policy row + its audit row in one transaction).
                                try await repository.upsertGrant(
                                    Grant(id: "cli/w\(writer)-\(index)", group: "g\(writer)", hubAccess: true,
                                          source: .cli(actor: "writer\(writer)")))
                            } else {
                                try await log.append((0...(index % 3)).map { entry($0 + index * 10) })
                            }
                        }
                        await connection.close()
                    }
                }
                try await group.waitForAll()
            }
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            let verification = try await AuditLog(connection: connection).verify()
            #expect(verification.isIntact, "\(verification.problems)")
            let grants = writers * (appendsPerWriter / 5)
            let plain = writers * (0..<appendsPerWriter).filter { $0 % 5 != 0 }.map { $0 % 3 + 1 }.reduce(0, +)
            #expect(verification.rowsChecked == grants + plain)
            let distinct = try await connection.query(
                "SELECT count(DISTINCT prev_hash) AS d, count(*) AS n FROM accesssync.audit_log")
            #expect(try distinct.first?.int("d") == distinct.first?.int("n"))
            #expect(verification.headHash == (try await AuditLog(connection: connection).head().hash))
        }
    }

    /// Rows are sent with COPY's text format: every character that format treats specially must come
    /// back exactly as written, and the stored rows must hash to what the writer computed.
    @Test func awkwardValuesSurviveTheCopyExactly() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let app = try await database.appConnection()
            defer { Task { await app.close() } }
            let log = AuditLog(connection: app, osUser: "svc\tuser")
            let awkward = [
                "tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "\\.", "\\.\nnext",
                "trailing\\", "ünïcødé ✓ 𝄞", "quote \" and ' both", "",
            ]
            let entries = awkward.enumerated().map { index, text in
                AuditEntry(
                    runID: nil, action: "create", objectKind: "Namespace", objectNamespace: index % 2 == 0 ? text : nil,
                    objectName: "n\(index)-\(text)", before: nil, after: ["text": .string(text), "list": [.string(text)]],
                    provenance: ["why": .string(text)], outcome: .succeeded, message: text)
            }
            let written = try await log.append(entries)
            let stored = try await log.records()
            #expect(stored == written)
            #expect(stored.map(\.message) == awkward)
            #expect(stored.map(\.osUser) == Array(repeating: "svc\tuser", count: awkward.count))
            #expect(try await log.verify().isIntact)
        }
    }

    /// A COPY the server refuses (here: a row naming another database role, caught by the insert
    /// trigger) stores nothing, leaves the chain head where it was, and the connection usable.
    @Test func aRefusedCopyStoresNothing() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let app = try await database.appConnection()
            defer { Task { await app.close() } }
            let log = AuditLog(connection: app, osUser: "svc")
            try await log.append((0..<3).map { entry($0) })
            let head = try await log.head()
            do {
                _ = try await app.withTransaction { connection in
                    try await connection.copyIn(
                        "COPY accesssync.audit_log (id, at, db_role, os_user, action, object_kind, object_name, outcome, prev_hash, hash) FROM STDIN"
                    ) { sink in
                        for value in ["999", "2026-01-01T00:00:00Z", "postgres", "x", "create", "Namespace", "n", "succeeded"] {
                            try sink.field(value)
                        }
                        try sink.field(String(repeating: "a", count: 64))
                        try sink.field(String(repeating: "b", count: 64))
                        try sink.endRow()
                    }
                }
                Issue.record("a row naming another database role was stored")
            } catch let error as PostgresError {
                #expect(error.sqlState == "23514", "\(error)")
            }
            let after = try await log.head()
            #expect(after.id == head.id && after.hash == head.hash)
            #expect(try await log.records().count == 3)
            try await log.append(entry(3))
            #expect(try await log.verify().isIntact)
        }
    }

    @Test func connectionLostMidTransactionLosesNothingCommitted() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let admin = try await database.connect()
            defer { Task { await admin.close() } }
            let victim = try await database.appConnection()
            let log = AuditLog(connection: victim, osUser: "svc")
            let committed = try await log.append((0..<5).map { entry($0) })
            let repository = PolicyRepository(connection: victim, osUser: "svc")
            try await repository.applyPolicy(try samplePolicy())

            struct Killed: Error {}
            do {
                try await victim.withTransaction { connection in
                    try await AuditLog(connection: connection, osUser: "svc").append((100..<110).map { entry($0) })
                    try await connection.query(
                        "INSERT INTO accesssync.hub_users (name, person_id) VALUES ($1, $2)", ["zoe", "p-zoe"])
                    // The connection dies before COMMIT.
                    try await admin.query("SELECT pg_terminate_backend($1)", [Int(victim.backendPID)])
                    try await connection.query("SELECT 1")
                }
                Issue.record("the transaction survived a terminated connection")
            } catch let error as PostgresError {
                #expect(error.isRetriable)
            }
            await victim.close()

            let fresh = try await database.connect()
            defer { Task { await fresh.close() } }
            let audit = AuditLog(connection: fresh)
            let verification = try await audit.verify()
            #expect(verification.isIntact, "\(verification.problems)")
            let policyRows = 11
            #expect(verification.rowsChecked == committed.count + policyRows)
            #expect(try await PolicyRepository(connection: fresh).loadPolicy().grants.count == 3)
            #expect(try await HubUserRegistry(connection: fresh).all().isEmpty)
            // The chain continues from the last committed row.
            let next = try await audit.append(entry(200))
            #expect(next.prevHash == verification.headHash)
        }
    }

    @Test func entitlementsAreReconstructedAtAnInstant() async throws {
        try await withTestDatabase { database in
            let connection = try await database.migrated()
            defer { Task { await connection.close() } }
            let log = AuditLog(connection: connection, osUser: "cron")
            let alice = PersonID("aaaaaaaa-0000-0000-0000-000000000001")
            let binding = AuditPayload.roleBinding(
                roleRef: RoleRef(kind: .clusterRole, name: "edit"), subjects: [Subject(kind: .user, name: "oidc:alice")],
                person: alice)
            let intent = try await log.append(AuditEntry(
                action: "create", objectKind: "RoleBinding", objectNamespace: "jhub-alice", objectName: "alice-edit",
                after: binding, outcome: .intent))
            try await log.append([
                .outcome(of: intent, .succeeded),
                AuditEntry(action: "create-user", objectKind: "HubUser", objectName: "alice",
                           after: AuditPayload.hubUser(name: "alice", admin: false, person: alice), outcome: .succeeded),
                AuditEntry(action: "create-user", objectKind: "HubUser", objectName: "bob",
                           after: AuditPayload.hubUser(name: "bob", admin: true), outcome: .succeeded),
                // A failed change grants nothing.
                AuditEntry(action: "create-user", objectKind: "HubUser", objectName: "mallory",
                           after: AuditPayload.hubUser(name: "mallory", admin: true), outcome: .failed),
            ])
            try await Task.sleep(for: .milliseconds(20))
            let middle = Date()
            try await Task.sleep(for: .milliseconds(20))
            try await log.append([
                AuditEntry(action: "delete-user", objectKind: "HubUser", objectName: "bob",
                           before: AuditPayload.hubUser(name: "bob", admin: true), after: nil, outcome: .succeeded),
                AuditEntry(action: "update", objectKind: "RoleBinding", objectNamespace: "jhub-alice", objectName: "alice-edit",
                           before: binding,
                           after: AuditPayload.roleBinding(roleRef: RoleRef(kind: .clusterRole, name: "edit"), subjects: []),
                           outcome: .succeeded),
            ])
            let then = try await log.entitlements(at: middle).map(\.description)
            #expect(then == [
                "User:oidc:alice: ClusterRole edit in jhub-alice (RoleBinding alice-edit)", "alice: hub user",
                "bob: hub admin", "bob: hub user",
            ])
            let now = try await log.entitlements(at: Date())
            #expect(now.map(\.description) == ["alice: hub user"])
            #expect(now.first?.person == alice.rawValue)
            #expect(try await log.entitlements(at: Date(timeIntervalSince1970: 0)).isEmpty)
        }
    }

    @Test func retentionArchivesVerifiesThenDeletes() async throws {
        try await withTestDatabase { database in
            let owner = try await database.migrated()
            defer { Task { await owner.close() } }
            let log = AuditLog(connection: owner, osUser: "o")
            let old = try await log.append((0..<30).map { entry($0) })
            // Age the first 30 rows (as the owner, for the test) and re-seal the chain: rewrite `at`
            // and recompute hashes in order, so the log verifies with old timestamps.
            var previous = AuditRecord.genesisHash
            for var record in old {
                record.atText = "2020-01-01T00:00:00.000000Z"
                record.prevHash = previous
                record.hash = record.computedHash
                previous = record.hash
                try await owner.query(
                    "UPDATE accesssync.audit_log SET at = $1::timestamptz, prev_hash = $2, hash = $3 WHERE id = $4",
                    [record.atText, record.prevHash, record.hash, record.id])
            }
            try await owner.query("UPDATE accesssync.audit_head SET last_hash = $1", [previous])
            try await log.append((30..<35).map { entry($0) })
            #expect(try await log.verify().isIntact)

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archive-\(database.name)")
            defer { try? FileManager.default.removeItem(at: directory) }

            // The application role may not run retention.
            let app = try await database.appConnection()
            await #expect(throws: AuditRetentionError.notOwner(role: "accesssync_app")) {
                try await AuditLog(connection: app).archiveAndPrune(olderThanDays: 365, directory: directory)
            }
            await app.close()

            let report = try #require(try await log.archiveAndPrune(olderThanDays: 365, directory: directory))
            #expect(report.rowsArchived == 30)
            #expect(report.throughID == old.last!.id)
            let archived = try AuditLog.verifyArchive(at: report.archive, anchor: AuditRecord.genesisHash)
            #expect(archived.isIntact)
            #expect(archived.rowsChecked == 30)
            // What remains chains from the archive.
            let remaining = try await log.verify()
            #expect(remaining.isIntact, "\(remaining.problems)")
            #expect(remaining.rowsChecked == 5 + 1)
            #expect(try await log.records().last?.action == "retention.archive")
            // Nothing old enough left: no-op.
            #expect(try await log.archiveAndPrune(olderThanDays: 365, directory: directory) == nil)
        }
    }
}
