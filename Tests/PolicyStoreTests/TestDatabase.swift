import Foundation
import PolicyStore
import TestSupport
import Testing

/// Configuration of the test PostgreSQL server, from the environment set by `scripts/test.sh`
/// (`.testenv/env.sh`). Integration tests fail, never skip, when it is missing.
struct TestServer {
    var host: String
    var port: String
    var user: String
    var passfile: String?
    var passwordFile: String?

    static func fromEnvironment() throws -> TestServer {
        let environment = ProcessInfo.processInfo.environment
        guard let host = environment["ACCESSSYNC_TEST_PG_HOST"], let port = environment["ACCESSSYNC_TEST_PG_PORT"]
        else {
            throw TestSetupError(
                "ACCESSSYNC_TEST_PG_HOST/ACCESSSYNC_TEST_PG_PORT are not set: run scripts/test.sh "
                    + "(or source .testenv/env.sh after scripts/testenv/up.sh)")
        }
        return TestServer(
            host: host, port: port, user: environment["ACCESSSYNC_TEST_PG_USER"] ?? "postgres",
            passfile: environment["ACCESSSYNC_TEST_PG_PASSFILE"],
            passwordFile: environment["ACCESSSYNC_TEST_PG_PASSWORD_FILE"])
    }

    func options(database: String) -> PostgresConnectionOptions {
        PostgresConnectionOptions(
            conninfo: "host=\(host) port=\(port) user=\(user) sslmode=disable", passwordFile: passwordFile,
            passfile: passfile, database: database, applicationName: "accesssync-tests")
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A database of its own for one test, created from the superuser connection and dropped after.
struct TestDatabase: Sendable {
    let name: String
    let server: TestServer

    var options: PostgresConnectionOptions { server.options(database: name) }

    func connect() async throws -> PGConnection { try await PGConnection.connect(options) }

    /// A connection with the schema migrated (as the owner: the test superuser).
    func migrated() async throws -> PGConnection {
        let connection = try await connect()
        try await Migrator().migrate(on: connection, osUser: "test")
        return connection
    }

    /// A connection acting as the application role (`SET ROLE accesssync_app`).
    func appConnection() async throws -> PGConnection {
        let connection = try await connect()
        try await connection.query("SET ROLE accesssync_app")
        return connection
    }

    static func admin(_ server: TestServer) async throws -> PGConnection {
        try await PGConnection.connect(server.options(database: "postgres"))
    }
}

extension TestServer: Sendable {}

/// Runs `body` with a fresh database, dropped afterwards (even when `body` throws).
func withTestDatabase(_ body: (TestDatabase) async throws -> Void) async throws {
    let server = try TestServer.fromEnvironment()
    let name = "accesssync_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    let admin = try await TestDatabase.admin(server)
    // The name is generated here (letters and digits), never taken from input.
    try await admin.query("CREATE DATABASE \(name)")
    let database = TestDatabase(name: name, server: server)
    do {
        try await body(database)
    } catch {
        _ = try? await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        await admin.close()
        throw error
    }
    try await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    await admin.close()
}

/// Runs a Python snippet with `input` on stdin; returns stdout. Fails the test on a non-zero exit.
func runPython(_ script: String, input: String) throws -> String {
    let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("accesssync-py-\(UUID().uuidString)")
    try Data(input.utf8).write(to: inputFile)
    defer { try? FileManager.default.removeItem(at: inputFile) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = try FileHandle(forReadingFrom: inputFile)
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    let errors = stderr.fileHandleForReading.readDataToEndOfFile()
    let reapedStatus = reapChild(process)
    guard reapedStatus == 0 else {
        throw TestSetupError("python failed: " + String(decoding: errors, as: UTF8.self))
    }
    return String(decoding: output, as: UTF8.self)
}
