import Foundation
import Testing

@testable import PolicyStore

@Suite("migrations")
struct MigrationTests {
    static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    @Test func embeddedMigrationsMatchTheMigrationsDirectory() throws {
        let files = try Migration.load(directory: Self.migrationsDirectory)
        let embedded = Migration.embedded
        #expect(!files.isEmpty)
        #expect(
            files.map(\.name) == embedded.map(\.name),
            "migrations/ and the embedded copy differ: run migrations/embed.sh")
        for (file, copy) in zip(files, embedded) {
            #expect(file.checksum == copy.checksum, "\(file.name) differs from its embedded copy: run migrations/embed.sh")
        }
        #expect(embedded.map(\.version) == Array(1...embedded.count))
    }

    @Test func badFileNamesAndDuplicateVersionsAreRefused() throws {
        #expect(throws: MigrationError.badFileName("audit.sql")) { try Migration(name: "audit.sql", sql: "") }
        let one = try Migration(name: "0001_a.sql", sql: "SELECT 1")
        let two = try Migration(name: "0001_b.sql", sql: "SELECT 2")
        #expect(throws: MigrationError.duplicateVersion(1)) { try Migrator(migrations: [one, two]) }
    }

    @Test func freshMigrationCreatesSchemaAndRecordsChecksums() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            let report = try await Migrator().migrate(on: connection, osUser: "tester")
            #expect(report.applied == Migration.embedded.map(\.name))
            #expect(report.alreadyApplied.isEmpty)
            let rows = try await connection.query(
                "SELECT version, checksum, os_user FROM accesssync.schema_migrations ORDER BY version")
            #expect(rows.rows.count == Migration.embedded.count)
            for (row, migration) in zip(rows.rows, Migration.embedded) {
                #expect(try row.int("version") == migration.version)
                #expect(row["checksum"] == migration.checksum)
                #expect(row["os_user"] == "tester")
            }
            // Second run: nothing to do.
            let again = try await Migrator().migrate(on: connection)
            #expect(again.applied.isEmpty)
            #expect(again.alreadyApplied.count == Migration.embedded.count)
            // The app role exists and does not own the tables.
            let owners = try await connection.query(
                """
                SELECT count(*) AS n FROM pg_tables
                WHERE schemaname = 'accesssync' AND tableowner = 'accesssync_app'
                """)
            #expect(try owners.first?.int("n") == 0)
        }
    }

    @Test func incrementalMigrationAppliesOnlyNewFiles() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            let all = Migration.embedded
            let first = try await Migrator(migrations: Array(all.prefix(2))).migrate(on: connection)
            #expect(first.applied == all.prefix(2).map(\.name))
            let exists = try await connection.query("SELECT to_regclass('accesssync.audit_log') IS NULL AS missing")
            #expect(try exists.first?.bool("missing") == true)
            let second = try await Migrator(migrations: all).migrate(on: connection)
            #expect(second.applied == all.dropFirst(2).map(\.name))
            #expect(second.alreadyApplied == all.prefix(2).map(\.name))
        }
    }

    @Test func editedMigrationIsRefused() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            try await Migrator().migrate(on: connection)
            var edited = Migration.embedded
            edited[1] = try Migration(name: edited[1].name, sql: edited[1].sql + "\n-- a quiet edit\n")
            let extra = try Migration(name: "0099_more.sql", sql: "CREATE TABLE accesssync.should_not_exist (x int);")
            do {
                try await Migrator(migrations: edited + [extra]).migrate(on: connection)
                Issue.record("an edited migration was accepted")
            } catch let error as MigrationError {
                guard case .editedAfterApply(let version, let name, _, _) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(version == 2)
                #expect(name == edited[1].name)
                #expect(error.description.contains("was edited after it was applied"))
            }
            // Nothing after the refusal was applied.
            let table = try await connection.query("SELECT to_regclass('accesssync.should_not_exist') IS NULL AS missing")
            #expect(try table.first?.bool("missing") == true)
            // A binary that does not know an applied migration refuses too.
            await #expect(throws: MigrationError.unknownApplied(version: 3, name: Migration.embedded[2].name)) {
                try await Migrator(migrations: Array(Migration.embedded.prefix(2))).migrate(on: connection)
            }
        }
    }

    @Test func failingMigrationRollsBackAndNamesTheFile() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            let bad = try Migration(name: "0099_bad.sql", sql: "CREATE TABLE accesssync.half (x int);\nSELECT nonsense_fn();")
            do {
                try await Migrator(migrations: Migration.embedded + [bad]).migrate(on: connection)
                Issue.record("a failing migration succeeded")
            } catch let error as MigrationError {
                guard case .failed(let name, let underlying) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(name == "0099_bad.sql")
                #expect(underlying.sqlState == "42883")
            }
            let half = try await connection.query("SELECT to_regclass('accesssync.half') IS NULL AS missing")
            #expect(try half.first?.bool("missing") == true)
            let count = try await connection.query("SELECT count(*) AS n FROM accesssync.schema_migrations")
            #expect(try count.first?.int("n") == Migration.embedded.count)
        }
    }

    @Test func concurrentMigrationsApplyEachFileOnce() async throws {
        try await withTestDatabase { database in
            let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        let connection = try await database.connect()
                        let report = try await Migrator().migrate(on: connection)
                        await connection.close()
                        return report
                    }
                }
                var all: [MigrationReport] = []
                for try await report in group { all.append(report) }
                return all
            }
            let applied = reports.flatMap(\.applied)
            #expect(applied.sorted() == Migration.embedded.map(\.name).sorted())
            let connection = try await database.connect()
            let count = try await connection.query("SELECT count(*) AS n FROM accesssync.schema_migrations")
            #expect(try count.first?.int("n") == Migration.embedded.count)
            await connection.close()
        }
    }
}
