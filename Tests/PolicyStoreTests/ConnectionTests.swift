import Foundation
import Testing

@testable import PolicyStore

@Suite("libpq connection")
struct ConnectionTests {
    @Test func parameterizedQueryRoundTripsValues() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            let tricky = "O'Brien; DROP TABLE x; -- \u{00e9}\u{1F600}"
            let result = try await connection.query(
                "SELECT $1::text AS t, $2::int AS i, $3::bool AS b, $4::text AS n, $5::jsonb AS j",
                [tricky, 42, true, String?.none, ["a": 1, "b": [true, nil]] as JSONValue])
            let row = try #require(result.first)
            #expect(try row.string("t") == tricky)
            #expect(try row.int("i") == 42)
            #expect(try row.bool("b"))
            #expect(row["n"] == nil)
            #expect(try row.json("j") == ["a": 1, "b": [true, nil]])
        }
    }

    @Test func serverErrorsCarrySQLStateAndDetail() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            try await connection.query("CREATE TABLE t (id int PRIMARY KEY)")
            try await connection.query("INSERT INTO t VALUES ($1)", [1])
            do {
                try await connection.query("INSERT INTO t VALUES ($1)", [1])
                Issue.record("duplicate insert succeeded")
            } catch let error as PostgresError {
                #expect(error.code == .server)
                #expect(error.sqlState == "23505")
                #expect(error.detail?.contains("already exists") == true)
                #expect(!error.isRetriable)
            }
            // The connection is still usable after a failed statement.
            #expect(try await connection.query("SELECT 1 AS one").first?.int("one") == 1)
        }
    }

    @Test func transactionsCommitAndRollBack() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            try await connection.query("CREATE TABLE t (v text)")
            try await connection.withTransaction { connection in
                try await connection.query("INSERT INTO t VALUES ($1)", ["kept"])
            }
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await connection.withTransaction { connection in
                    try await connection.query("INSERT INTO t VALUES ($1)", ["dropped"])
                    throw Boom()
                }
            }
            // Nested: the inner failure rolls back to its savepoint only.
            try await connection.withTransaction { connection in
                try await connection.query("INSERT INTO t VALUES ($1)", ["outer"])
                _ = try? await connection.withTransaction { connection in
                    try await connection.query("INSERT INTO t VALUES ($1)", ["inner"])
                    throw Boom()
                }
            }
            let values = try await connection.query("SELECT v FROM t ORDER BY v").rows.map { $0["v"] ?? nil }
            #expect(values == ["kept", "outer"])
            #expect(await connection.inTransaction() == false)
        }
    }

    @Test func passwordNeverAppearsInErrors() async throws {
        let server = try TestServer.fromEnvironment()
        let secret = "s3cr3t-Pa55-\(UUID().uuidString.prefix(8))"
        // Wrong password inside the conninfo (bad practice, but it must still be scrubbed).
        let options = PostgresConnectionOptions(
            conninfo: "host=\(server.host) port=\(server.port) user=\(server.user) password=\(secret) dbname=postgres",
            passfile: "/nonexistent")
        do {
            _ = try await PGConnection.connect(options)
            Issue.record("connected with a wrong password")
        } catch let error as PostgresError {
            #expect(error.code == .connectionFailed)
            #expect(!error.description.contains(secret))
            #expect(error.description.contains("password authentication failed"))
        }
        // A malformed conninfo echoing the string back.
        let malformed = PostgresConnectionOptions(conninfo: "host=127.0.0.1 password=\(secret) bogus_keyword=1")
        do {
            _ = try await PGConnection.connect(malformed)
            Issue.record("connected with a bogus keyword")
        } catch let error as PostgresError {
            #expect(!error.description.contains(secret))
        }
        // A URI with a password.
        let uri = PostgresConnectionOptions(
            conninfo: "postgresql://\(server.user):\(secret)@\(server.host):\(server.port)/postgres?sslmode=disable",
            passfile: "/nonexistent")
        do {
            _ = try await PGConnection.connect(uri)
            Issue.record("connected with a wrong password")
        } catch let error as PostgresError {
            #expect(!error.description.contains(secret))
        }
        #expect(!uri.redactedConninfo.contains(secret))
        #expect(PostgresError.scrubPatterns("x password='a b' y") == "x password=*** y")
    }

    @Test func loginRoleWithPasswordFileConnects() async throws {
        try await withTestDatabase { database in
            let admin = try await database.migrated()
            defer { Task { await admin.close() } }
            let role = "accesssync_t_login_" + UUID().uuidString.prefix(8).lowercased()
            let password = UUID().uuidString
            // Role names are generated above; the password goes as a parameter-free literal only in
            // this test helper (format() quotes it).
            try await admin.query(
                "SELECT set_config('accesssync.test_pw', $1, false)", [password])
            try await admin.query(
                """
                DO $$ BEGIN
                  EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE accesssync_app', '\(role)',
                                 current_setting('accesssync.test_pw'));
                END $$
                """)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(role)")
            try Data((password + "\n").utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let options = PostgresConnectionOptions(
                conninfo: "host=\(database.server.host) port=\(database.server.port) user=\(role) dbname=\(database.name) sslmode=disable",
                passwordFile: file.path, passfile: "/nonexistent")
            let app = try await PGConnection.connect(options)
            let who = try await app.query("SELECT current_user AS u")
            #expect(who.first?["u"] == role)
            // The application role reads policy and may not touch the audit log.
            _ = try await app.query("SELECT count(*) FROM accesssync.grants")
            await #expect(throws: PostgresError.self) {
                try await app.query("DELETE FROM accesssync.audit_log")
            }
            await app.close()
            try await admin.query("DROP ROLE \(role)")
        }
    }

    @Test func lostConnectionIsReportedAsRetriable() async throws {
        try await withTestDatabase { database in
            let victim = try await database.connect()
            let admin = try await database.connect()
            defer { Task { await admin.close() } }
            try await admin.query("SELECT pg_terminate_backend($1)", [Int(victim.backendPID)])
            do {
                try await victim.query("SELECT 1")
                Issue.record("query on a terminated connection succeeded")
            } catch let error as PostgresError {
                #expect(error.isRetriable)
                #expect(error.code == .connectionLost || error.sqlState?.hasPrefix("57P") == true)
            }
            await victim.close()
            await #expect(throws: PostgresError.self) { try await victim.query("SELECT 1") }
        }
    }

    @Test func timestampsRoundTrip() async throws {
        let date = Date(timeIntervalSince1970: 1_714_557_600.123456)
        let text = PGTimestamp.format(date)
        #expect(text == "2024-05-01T10:00:00.123456Z")
        let parsed = try #require(PGTimestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.000002)
        #expect(PGTimestamp.parse("2024-05-01 12:00:00+02") == Date(timeIntervalSince1970: 1_714_557_600))
        #expect(PGTimestamp.parse("1969-12-31 23:59:59.5+00") == Date(timeIntervalSince1970: -0.5))
    }
}
