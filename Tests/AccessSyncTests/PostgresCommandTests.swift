import AccessSyncCore
import Foundation
import PolicyStore
import Testing

// `accesssync migrate`, `policy` and `audit` against the real PostgreSQL of scripts/testenv, one
// database per test. Fails (never skips) when the server's variables are missing.

/// The test PostgreSQL server (`ACCESSSYNC_TEST_PG_*`, written by scripts/testenv into env.sh).
struct CommandTestServer: Sendable {
    var host: String
    var port: String
    var user: String
    var passwordFile: String

    static func fromEnvironment() throws -> CommandTestServer {
        let environment = ProcessInfo.processInfo.environment
        guard let host = environment["ACCESSSYNC_TEST_PG_HOST"], let port = environment["ACCESSSYNC_TEST_PG_PORT"],
            let passwordFile = environment["ACCESSSYNC_TEST_PG_PASSWORD_FILE"]
        else {
            throw CLITestError(
                "ACCESSSYNC_TEST_PG_HOST/_PORT/_PASSWORD_FILE are not set: run scripts/test.sh "
                    + "(or source .testenv/env.sh after scripts/testenv/up.sh)")
        }
        return CommandTestServer(
            host: host, port: port, user: environment["ACCESSSYNC_TEST_PG_USER"] ?? "postgres", passwordFile: passwordFile)
    }

    func options(database: String) -> PostgresConnectionOptions {
        PostgresConnectionOptions(
            conninfo: "host=\(host) port=\(port) user=\(user) sslmode=disable", passwordFile: passwordFile,
            database: database, applicationName: "accesssync-command-tests")
    }
}

/// A database of its own for one test (created by the superuser, dropped afterwards).
struct CommandTestDatabase: Sendable {
    let name: String
    let server: CommandTestServer
    let directory: URL

    var options: PostgresConnectionOptions { server.options(database: name) }
    /// What the commands use: the server's options, the process's OS user as actor.
    var session: PostgresSession { PostgresSession(options: options) }

    func connect() async throws -> PGConnection { try await PGConnection.connect(options) }

    /// A configuration file naming this database (for the `accesssync` binary).
    func configurationFile() throws -> String {
        let url = directory.appendingPathComponent("accesssync.yaml")
        let text = """
            postgres:
              host: \(server.host)
              port: \(server.port)
              database: \(name)
              user: \(server.user)
              passwordFile: \(server.passwordFile)
              sslMode: disable
            """
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func migrate() async throws {
        _ = try await MigrateCommand.migrate(session)
    }

    /// Number of audit rows.
    func auditCount() async throws -> Int {
        let connection = try await connect()
        let count = try await connection.query("SELECT count(*) AS n FROM accesssync.audit_log").first?.int("n")
        await connection.close()
        return count ?? -1
    }
}

func withCommandDatabase(_ body: (CommandTestDatabase) async throws -> Void) async throws {
    let server = try CommandTestServer.fromEnvironment()
    let name = "accesssync_cmd_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    let admin = try await PGConnection.connect(server.options(database: "postgres"))
    // The name is generated here (letters and digits), never taken from input.
    try await admin.query("CREATE DATABASE \(name)")
    let directory = try temporaryDirectory("pgcmd-\(name)")
    let database = CommandTestDatabase(name: name, server: server, directory: directory)
    do {
        try await body(database)
    } catch {
        _ = try? await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        await admin.close()
        try? FileManager.default.removeItem(at: directory)
        throw error
    }
    try await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    await admin.close()
    try? FileManager.default.removeItem(at: directory)
}

/// The failure a command must report.
func commandFailure<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws(CommandFailure) -> T
) async -> CommandFailure? {
    do {
        _ = try await body()
        Issue.record("expected the command to fail", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Splits RFC 4180 CSV text into records of fields.
func parseCSV(_ text: String) -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field = ""
    var quoted = false
    var characters = Array(text.unicodeScalars)[...]
    while let character = characters.popFirst() {
        if quoted {
            if character == "\"" {
                if characters.first == "\"" {
                    field.unicodeScalars.append("\"")
                    characters.removeFirst()
                } else {
                    quoted = false
                }
            } else {
                field.unicodeScalars.append(character)
            }
            continue
        }
        switch character {
        case "\"": quoted = true
        case ",":
            record.append(field)
            field = ""
        case "\r": break
        case "\n":
            record.append(field)
            records.append(record)
            record = []
            field = ""
        default: field.unicodeScalars.append(character)
        }
    }
    if !field.isEmpty || !record.isEmpty {
        record.append(field)
        records.append(record)
    }
    return records
}

@Suite("PostgreSQL commands")
struct PostgresCommandTests {
    static let policies = repositoryRoot.appendingPathComponent("policies").path
    static let migrationsDirectory = repositoryRoot.appendingPathComponent("migrations").path

    // MARK: migrate

    @Test func migrateFreshThenUpToDateAndStatus() async throws {
        try await withCommandDatabase { database in
            let before = try await MigrateCommand.status(database.session)
            #expect(before.version == 0)
            #expect(!before.entries.isEmpty)
            #expect(before.entries.allSatisfy { $0.state == .pending })
            #expect(before.exitStatus == .ok)

            let first = try await MigrateCommand.migrate(database.session)
            let names = try Migrator().migrations.map(\.name)
            #expect(first.applied == names)
            #expect(first.version == names.count)
            #expect(first.text.contains("applied 0001_roles_and_policy.sql"))

            let second = try await MigrateCommand.migrate(database.session)
            #expect(second.applied.isEmpty)
            #expect(second.text == "database is up to date (version \(names.count))\n")

            let after = try await MigrateCommand.status(database.session)
            #expect(after.entries.map(\.name) == names)
            #expect(after.entries.allSatisfy { $0.state == .applied })
            #expect(after.text.contains("\(names.count) applied, 0 pending"))

            // The same through the binary, with the connection from --config and from ACCESSSYNC_CONFIG.
            let config = try database.configurationFile()
            let cli = try accesssync(["migrate", "--config", config])
            #expect(cli.status == 0, "\(cli.stderr)")
            #expect(cli.stdout == "database is up to date (version \(names.count))\n")
            var environment = ProcessInfo.processInfo.environment
            environment["ACCESSSYNC_CONFIG"] = config
            let status = try accesssync(["migrate", "--status"], environment: environment)
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("applied  0003_audit_log.sql"))
        }
    }

    @Test func editedMigrationIsRefused() async throws {
        try await withCommandDatabase { database in
            let directory = database.directory.appendingPathComponent("migrations")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: Self.migrationsDirectory)
            where name.hasSuffix(".sql") {
                try FileManager.default.copyItem(
                    atPath: Self.migrationsDirectory + "/" + name, toPath: directory.appendingPathComponent(name).path)
            }
            let applied = try await MigrateCommand.migrate(database.session, migrationsDirectory: directory.path)
            #expect(applied.applied.count == Migration.embedded.count)

            let edited = directory.appendingPathComponent("0002_runs_and_hub.sql")
            let handle = try FileHandle(forWritingTo: edited)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\n-- an edit after the fact\n".utf8))
            try handle.close()

            let failure = await commandFailure { () async throws(CommandFailure) in
                try await MigrateCommand.migrate(database.session, migrationsDirectory: directory.path)
            }
            #expect(failure?.exitStatus == .configuration)
            #expect(failure?.message.contains("0002_runs_and_hub.sql") == true)
            #expect(failure?.message.contains("edited after it was applied") == true)

            let status = try await MigrateCommand.status(database.session, migrationsDirectory: directory.path)
            #expect(status.entries.first { $0.version == 2 }?.state == .edited)
            #expect(status.exitStatus == .configuration)

            let cli = try accesssync(["migrate", "--config", try database.configurationFile(), "--migrations", directory.path])
            #expect(cli.status == ExitStatus.configuration.rawValue)
            #expect(cli.stderr.contains("0002_runs_and_hub.sql (version 2) was edited after it was applied"), "\(cli.stderr)")
            let cliStatus = try accesssync([
                "migrate", "--status", "--config", try database.configurationFile(), "--migrations", directory.path,
            ])
            #expect(cliStatus.status == ExitStatus.configuration.rawValue)
            #expect(cliStatus.stdout.contains("edited   0002_runs_and_hub.sql"), "\(cliStatus.stdout)")
        }
    }

    // MARK: policy

    @Test func policyApplyIsIdempotentAndAudited() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()

            // A dry run reports the changes and writes nothing.
            let dry = try await PolicyCommands.apply(database.session, directory: Self.policies, dryRun: true)
            #expect(dry.dryRun)
            #expect(dry.runID == nil)
            #expect(dry.changes.contains(PolicyCommands.Change(action: "create", table: "tiers", key: "standard")))
            #expect(dry.text.contains("dry run: nothing was written"))
            #expect(try await database.auditCount() == 0)
            let emptyShow = try await PolicyCommands.show(database.session, format: .json)
            #expect(emptyShow == "{}\n")

            let first = try await PolicyCommands.apply(database.session, directory: Self.policies)
            #expect(first.changes == dry.changes)
            #expect(first.changes.allSatisfy { $0.action == "create" })
            #expect(first.runID != nil)
            #expect(first.text.contains("create grants jupyter-users/hub"))
            // Every change has its audit row, with the OS user as actor, in the apply's run.
            let connection = try await database.connect()
            let rows = try await AuditLog(connection: connection).records()
            #expect(rows.count == first.changes.count)
            #expect(rows.allSatisfy { $0.osUser == ProcessIdentity.osUser && $0.runID == first.runID })
            #expect(rows.last?.hash == first.auditHead)
            let run = try await SyncRunStore(connection: connection).run(try #require(first.runID))
            #expect(run?.command == "policy apply")
            #expect(run?.status == .succeeded)
            #expect(run?.headHash == first.auditHead)
            await connection.close()

            let second = try await PolicyCommands.apply(database.session, directory: Self.policies)
            #expect(second.changes.isEmpty)
            #expect(second.unchanged == first.changes.count)
            #expect(second.text.hasPrefix("policy unchanged"))
            #expect(try await database.auditCount() == first.changes.count)

            // show: every stored row with its source.
            let json = try await PolicyCommands.show(database.session, format: .json)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let tiers = try #require(object["tiers"] as? [String: Any])
            let standard = try #require(tiers["standard"] as? [String: Any])
            #expect((standard["source"] as? String)?.hasPrefix("file:tiers.yaml:") == true)
            #expect(Set(object.keys) == ["tiers", "role_templates", "grants", "overrides", "policy_settings"])
            let yaml = try await PolicyCommands.show(database.session, format: .yaml)
            #expect(yaml.contains("tiers:\n  gpu:\n"))
            #expect(yaml.contains("source: file:grants.yaml:"))

            // Through the binary: a third apply changes nothing.
            let config = try database.configurationFile()
            let cli = try accesssync(["policy", "apply", Self.policies, "--config", config])
            #expect(cli.status == 0, "\(cli.stderr)")
            #expect(cli.stdout.hasPrefix("policy unchanged ("))
            let show = try accesssync(["policy", "show", "--output", "json", "--config", config])
            #expect(show.status == 0)
            #expect(show.stdout == json)
        }
    }

    @Test func policyApplyRemovesRowsGoneFromTheFiles() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let directory = database.directory.appendingPathComponent("policies")
            try FileManager.default.copyItem(atPath: Self.policies, toPath: directory.path)
            let first = try await PolicyCommands.apply(database.session, directory: Self.policies)
            #expect(!first.changes.isEmpty)
            // The same files from another path: nothing changes (sources are relative to DIR).
            let moved = try await PolicyCommands.apply(database.session, directory: directory.path)
            #expect(moved.changes.isEmpty, "\(moved.changes)")
            try FileManager.default.removeItem(at: directory.appendingPathComponent("overrides.yaml"))
            let outcome = try await PolicyCommands.apply(database.session, directory: directory.path)
            #expect(outcome.changes == [PolicyCommands.Change(action: "delete", table: "overrides", key: "oivanova/gpu-pilot")])
        }
    }

    @Test func badPolicyFileNamesFileLineAndField() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let directory = database.directory.appendingPathComponent("policies")
            try FileManager.default.copyItem(atPath: Self.policies, toPath: directory.path)
            let bad = directory.appendingPathComponent("extra.yaml")
            try Data("apiVersion: accesssync.io/v1\ngrants:\n  - id: bad/one\n    group: somegroup\n    hubAccess: maybe\n".utf8)
                .write(to: bad)

            let failure = await commandFailure { () async throws(CommandFailure) in
                try await PolicyCommands.apply(database.session, directory: directory.path)
            }
            #expect(failure?.exitStatus == .dataError)
            #expect(failure?.message.contains("\(bad.path):5:") == true, "\(failure?.message ?? "")")
            #expect(failure?.message.contains("grants[0].hubAccess") == true)
            #expect(try await database.auditCount() == 0)

            let missing = await commandFailure { () async throws(CommandFailure) in
                try await PolicyCommands.apply(database.session, directory: directory.path + "-missing")
            }
            #expect(missing?.exitStatus == .noInput)

            let cli = try accesssync(["policy", "apply", directory.path, "--config", try database.configurationFile()])
            #expect(cli.status == ExitStatus.dataError.rawValue)
            #expect(cli.stderr.contains("extra.yaml:5:16: grants[0].hubAccess: expected true or false"), "\(cli.stderr)")
        }
    }

    @Test func policyApplyWaitsForNoOneWhileASyncHoldsTheLock() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let lock = try await RunLock.acquire(database.options)
            let failure = await commandFailure { () async throws(CommandFailure) in
                try await PolicyCommands.apply(database.session, directory: Self.policies)
            }
            await lock.release()
            #expect(failure?.exitStatus == .lockHeld)
            #expect(failure?.message.contains("another sync is running") == true)
            #expect(try await database.auditCount() == 0)
        }
    }

    // MARK: audit

    @Test func auditExportInEveryFormatParses() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let applied = try await PolicyCommands.apply(database.session, directory: Self.policies)
            let expected = applied.changes.count

            var csv = ""
            let csvCount = try await AuditCommands.export(database.session, format: .csv) { csv += $0 }
            #expect(csvCount == expected)
            let records = parseCSV(csv)
            #expect(records.first == [
                "id", "run_id", "at", "db_role", "os_user", "action", "object_kind", "object_namespace", "object_name",
                "outcome", "intent_id", "message", "before", "after", "provenance", "prev_hash", "hash",
            ])
            #expect(records.count == expected + 1)
            #expect(records.dropFirst().allSatisfy { $0.count == 17 })
            #expect(records.dropFirst().allSatisfy { $0[5].hasPrefix("policy.") })

            var jsonl = ""
            try await AuditCommands.export(database.session, format: .jsonl) { jsonl += $0 }
            let lines = jsonl.split(separator: "\n")
            #expect(lines.count == expected)
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect((object?["hash"] as? String)?.count == 64)
            }

            var html = ""
            try await AuditCommands.export(database.session, format: .html) { html += $0 }
            #expect(html.contains("<table"))
            #expect(html.contains("</html>"))
            #expect(!html.contains("src=\"http"))

            // Filters.
            var none = ""
            let future = try #require(CommandTime.parse("2100-01-01"))
            let noRows = try await AuditCommands.export(
                database.session, filter: .init(since: future), format: .jsonl) { none += $0 }
            #expect(noRows == 0 && none.isEmpty)
            let byRun = try await AuditCommands.export(
                database.session, filter: .init(run: applied.runID), format: .jsonl) { _ in }
            #expect(byRun == expected)
            let byUser = try await AuditCommands.export(
                database.session, filter: .init(user: "nobody-\(UUID().uuidString)"), format: .csv) { _ in }
            #expect(byUser == 0)
            let byObject = try await AuditCommands.export(
                database.session, filter: .init(user: "gpu"), format: .csv) { _ in }
            #expect(byObject == 1)

            // To a file, and through the binary.
            let file = database.directory.appendingPathComponent("audit.jsonl").path
            let written = try await AuditCommands.export(database.session, format: .jsonl, toFile: file)
            #expect(written == expected)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == jsonl)
            // Exporting again replaces the file (a scheduled export overwrites yesterday's report).
            try "stale".write(toFile: file, atomically: false, encoding: .utf8)
            #expect(try await AuditCommands.export(database.session, format: .jsonl, toFile: file) == expected)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == jsonl)
            #expect(try FileManager.default.contentsOfDirectory(atPath: database.directory.path).filter { $0.hasSuffix(".tmp") }.isEmpty)
            let unwritable = await commandFailure { () async throws(CommandFailure) in
                try await AuditCommands.export(
                    database.session, format: .csv, toFile: database.directory.path + "/missing/dir/a.csv")
            }
            #expect(unwritable?.exitStatus == .cannotCreate)

            let config = try database.configurationFile()
            let cliCSV = try accesssync(["audit", "export", "--config", config])
            #expect(cliCSV.status == 0, "\(cliCSV.stderr)")
            #expect(cliCSV.stdout == csv)
            let htmlFile = database.directory.appendingPathComponent("report.html").path
            let cliHTML = try accesssync(["audit", "export", "--format", "html", "--out", htmlFile, "--config", config])
            #expect(cliHTML.status == 0, "\(cliHTML.stderr)")
            #expect(try String(contentsOfFile: htmlFile, encoding: .utf8).contains("<table"))
            let cliSince = try accesssync([
                "audit", "export", "--format", "jsonl", "--since", "2100-01-01T00:00:00Z", "--config", config,
            ])
            #expect(cliSince.status == 0)
            #expect(cliSince.stdout.isEmpty)
        }
    }

    @Test func auditVerifyPassesThenNamesTheTamperedRow() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let applied = try await PolicyCommands.apply(database.session, directory: Self.policies)
            let intact = try await AuditCommands.verify(database.session)
            #expect(intact.rowsChecked == applied.changes.count)
            #expect(intact.headHash == applied.auditHead)
            #expect(intact.text.hasPrefix("audit log intact: \(applied.changes.count) rows"))
            let withHead = try await AuditCommands.verify(database.session, head: applied.auditHead)
            #expect(withHead.rowsChecked == applied.changes.count)

            let config = try database.configurationFile()
            let cliOK = try accesssync(["audit", "verify", "--config", config])
            #expect(cliOK.status == 0, "\(cliOK.stderr)")
            #expect(cliOK.stdout.contains(applied.auditHead))

            // The owner (the test superuser) alters one row's content.
            let owner = try await database.connect()
            let ids = try await owner.query("SELECT id FROM accesssync.audit_log ORDER BY id").rows.map { try $0.int("id") }
            let victim = ids[ids.count / 2]
            try await owner.query("UPDATE accesssync.audit_log SET message = 'nothing to see' WHERE id = $1", [victim])
            await owner.close()

            let failure = await commandFailure { () async throws(CommandFailure) in
                try await AuditCommands.verify(database.session)
            }
            #expect(failure?.exitStatus == .verificationFailed)
            #expect(failure?.message.contains("first bad row \(victim) ") == true, "\(failure?.message ?? "")")

            let cli = try accesssync(["audit", "verify", "--config", config])
            #expect(cli.status == ExitStatus.verificationFailed.rawValue)
            #expect(cli.stderr.contains("first bad row \(victim) "), "\(cli.stderr)")
            #expect(cli.stdout.isEmpty)
        }
    }

    @Test func auditVerifyDetectsAnUnknownPublishedHead() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            try await PolicyCommands.apply(database.session, directory: Self.policies)
            let failure = await commandFailure { () async throws(CommandFailure) in
                try await AuditCommands.verify(database.session, head: String(repeating: "ab", count: 32))
            }
            #expect(failure?.exitStatus == .verificationFailed)
            #expect(failure?.message.contains("truncated") == true, "\(failure?.message ?? "")")
            let bad = await commandFailure { () async throws(CommandFailure) in
                try await AuditCommands.verify(database.session, head: "xyz")
            }
            #expect(bad?.exitStatus == .usage)
        }
    }

    @Test func entitlementsAtAMoment() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let connection = try await database.connect()
            let log = AuditLog(connection: connection, osUser: "sync")
            let hubUser: PolicyStore.JSONValue = ["name": "alice", "admin": true, "person": "p-alice"]
            let binding: PolicyStore.JSONValue = [
                "roleRef": ["kind": "ClusterRole", "name": "edit"],
                "subjects": [["kind": "User", "name": "alice"]],
                "person": "p-alice",
            ]
            try await log.append([
                AuditEntry(action: "create", objectKind: "HubUser", objectName: "alice", after: hubUser, outcome: .succeeded),
                AuditEntry(
                    action: "create", objectKind: "RoleBinding", objectNamespace: "jupyter-alice", objectName: "alice-edit",
                    after: binding, outcome: .succeeded),
            ])
            try await Task.sleep(for: .milliseconds(50))
            let moment = Date()
            try await Task.sleep(for: .milliseconds(50))
            try await log.append(
                AuditEntry(action: "delete", objectKind: "HubUser", objectName: "alice", before: hubUser, outcome: .succeeded))
            await connection.close()

            let then = try await AuditCommands.entitlements(database.session, at: moment, format: .text)
            let lines = then.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("alice ") && $0.contains("  hub user  person=p-alice  (since row") }, "\(then)")
            #expect(lines.contains { $0.hasPrefix("alice ") && $0.contains("  hub admin  person=p-alice") })
            #expect(then.contains("User:alice  ClusterRole edit in jupyter-alice (RoleBinding alice-edit)"))
            #expect(then.hasPrefix("entitlements at "))

            let now = try await AuditCommands.entitlements(database.session, at: Date().addingTimeInterval(1), format: .json)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(now.utf8)) as? [String: Any])
            let items = try #require(object["entitlements"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items.first?["access"] as? String == "role")
            #expect(items.first?["namespace"] as? String == "jupyter-alice")
            #expect(items.first?["subject"] as? String == "User:alice")

            let before = try await AuditCommands.entitlements(database.session, at: moment.addingTimeInterval(-3600))
            #expect(before.hasPrefix("entitlements at ") && before.contains(": 0\n"))

            let cli = try accesssync([
                "audit", "entitlements", "--at", "2100-01-01T00:00:00Z", "--output", "json", "--config",
                try database.configurationFile(),
            ])
            #expect(cli.status == 0, "\(cli.stderr)")
            let cliObject = try #require(try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])
            #expect(cliObject["at"] as? String == "2100-01-01T00:00:00Z")
            let cliItems = try #require(cliObject["entitlements"] as? [[String: Any]])
            #expect(cliItems.count == 1)
            #expect(cliItems.first?["roleName"] as? String == "edit")
        }
    }

    @Test func retentionArchivesVerifiesThenRemoves() async throws {
        try await withCommandDatabase { database in
            try await database.migrate()
            let applied = try await PolicyCommands.apply(database.session, directory: Self.policies)
            try await Task.sleep(for: .milliseconds(20))
            let cutoff = Date()
            let archiveDirectory = database.directory.appendingPathComponent("archive").path
            let outcome = try await AuditCommands.retention(database.session, before: cutoff, archiveDirectory: archiveDirectory)
            #expect(outcome.rowsArchived == applied.changes.count)
            let archive = try #require(outcome.archive)
            #expect(FileManager.default.fileExists(atPath: archive))
            #expect(outcome.text.hasPrefix("archived \(applied.changes.count) audit rows"))
            let archived = try String(contentsOfFile: archive, encoding: .utf8).split(separator: "\n")
            #expect(archived.count == applied.changes.count)
            // The remaining log (the retention's own audit row) still verifies.
            let after = try await AuditCommands.verify(database.session)
            #expect(after.rowsChecked >= 1)

            let again = try await AuditCommands.retention(
                database.session, before: cutoff, archiveDirectory: archiveDirectory)
            #expect(again.archive == nil)
            #expect(again.text.hasPrefix("no audit rows before"))
        }
    }

    // MARK: connection and arguments

    @Test func unreachableDatabaseAndUnreadableSecrets() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = "s3cret-\(UUID().uuidString)"
        let passwordFile = directory.appendingPathComponent("pw")
        try Data(secret.utf8).write(to: passwordFile)
        // Port 1: nothing listens there.
        let config = directory.appendingPathComponent("c.yaml")
        try Data("postgres:\n  host: 127.0.0.1\n  port: 1\n  database: x\n  user: u\n  passwordFile: \(passwordFile.path)\n".utf8)
            .write(to: config)

        let session = try PostgresSession.load(configurationFile: config.path)
        let failure = await commandFailure { () async throws(CommandFailure) in
            try await MigrateCommand.migrate(session)
        }
        #expect(failure?.exitStatus == .postgresUnavailable)
        #expect(failure?.message.contains("127.0.0.1") == true)
        #expect(failure?.message.contains(secret) == false)

        let cli = try accesssync(["audit", "verify", "--config", config.path])
        #expect(cli.status == ExitStatus.postgresUnavailable.rawValue)
        #expect(cli.stderr.contains("connection failed"), "\(cli.stderr)")
        #expect(!cli.stderr.contains(secret) && !cli.stdout.contains(secret))

        // A password file that cannot be read is a configuration problem (78), named but not shown.
        let missing = directory.appendingPathComponent("c2.yaml")
        try Data("postgres:\n  host: 127.0.0.1\n  passwordFile: \(directory.path)/nope\n".utf8).write(to: missing)
        let cliMissing = try accesssync(["policy", "show", "--config", missing.path])
        #expect(cliMissing.status == ExitStatus.configuration.rawValue)
        #expect(cliMissing.stderr.contains("postgres.password"), "\(cliMissing.stderr)")
        let noFile = try accesssync(["migrate", "--config", directory.path + "/absent.yaml"])
        #expect(noFile.status == ExitStatus.configuration.rawValue)
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let cases: [([String], String)] = [
            (["audit", "export", "--format", "pdf"], "'pdf' is invalid for '--format"),
            (["audit", "export", "--since", "yesterday"], "--since must be an RFC 3339 date-time"),
            (["audit", "export", "--since", "2025-02-01", "--until", "2025-01-01"], "--since must be before --until"),
            (["audit", "entitlements"], "--at"),
            (["audit", "entitlements", "--at", "2025-13-01"], "--at must be an RFC 3339"),
            (["audit", "entitlements", "--at", "2025-01-01", "--output", "xml"], "'xml' is invalid"),
            (["audit", "retention", "--before", "2025-01-01"], "--archive-dir"),
            (["policy", "show", "--output", "toml"], "'toml' is invalid"),
            (["policy", "apply"], "<dir>"),
            (["migrate", "--frobnicate"], "--frobnicate"),
        ]
        for (arguments, expected) in cases {
            let result = try accesssync(arguments)
            #expect(result.status == ExitStatus.usage.rawValue, "\(arguments)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        let help = try accesssync(["--help"])
        for command in ["migrate", "policy", "audit"] {
            #expect(help.stdout.contains("  \(command)"), "\(command)")
        }
        let audit = try accesssync(["audit", "--help"])
        for command in ["export", "verify", "entitlements", "retention"] {
            #expect(audit.stdout.contains(command))
        }
    }

    @Test func commandTimes() {
        #expect(CommandTime.parse("2025-06-30") == RFC3339Date.make(2025, 6, 30))
        #expect(CommandTime.parse("2025-06-30T00:00:00Z") == RFC3339Date.make(2025, 6, 30))
        #expect(CommandTime.parse("2025-06-30T02:00:00+02:00") == RFC3339Date.make(2025, 6, 30))
        #expect(CommandTime.parse("2025-02-30") == nil)
        #expect(CommandTime.parse("tomorrow") == nil)
    }
}

enum RFC3339Date {
    static func make(_ year: Int, _ month: Int, _ day: Int) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day))
    }
}
