public import Foundation
import Crypto

/// One numbered SQL migration (`NNNN_name.sql`).
public struct Migration: Sendable, Hashable {
    public let version: Int
    /// The file name, e.g. `0003_audit_log.sql`.
    public let name: String
    public let sql: String
    /// SHA-256 (hex) of the file's UTF-8 bytes, recorded when applied.
    public let checksum: String

    public init(name: String, sql: String) throws(MigrationError) {
        guard name.hasSuffix(".sql"), let prefix = name.split(separator: "_").first, prefix.count == 4,
            let version = Int(prefix), version > 0
        else { throw .badFileName(name) }
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Migrations compiled into this binary (generated from `migrations/` by `migrations/embed.sh`).
    public static var embedded: [Migration] {
        // The embedded names are checked by a test; a bad one is a build defect.
        EmbeddedMigrations.files.map { try! Migration(name: $0.name, sql: $0.sql) }
    }

    /// Loads `NNNN_*.sql` files from a directory (an override of the embedded set, e.g. from config).
    public static func load(directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        var migrations: [Migration] = []
        for name in names {
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            migrations.append(try Migration(name: name, sql: sql))
        }
        return migrations
    }
}

public enum MigrationError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    case badFileName(String)
    case duplicateVersion(Int)
    /// An applied migration's file no longer matches what was applied.
    case editedAfterApply(version: Int, name: String, recordedChecksum: String, currentChecksum: String)
    /// The database has a migration this binary does not know (the database is newer).
    case unknownApplied(version: Int, name: String)
    case failed(name: String, error: PostgresError)

    public var description: String {
        switch self {
        case .badFileName(let name):
            return "migration file \(name) is not named NNNN_name.sql"
        case .duplicateVersion(let version):
            return "two migration files share version \(version)"
        case .editedAfterApply(let version, let name, let recorded, let current):
            return "migration \(name) (version \(version)) was edited after it was applied "
                + "(recorded checksum \(recorded.prefix(12)), file now \(current.prefix(12))): "
                + "restore the original file and put the change in a new migration"
        case .unknownApplied(let version, let name):
            return "the database has migration \(name) (version \(version)) that this accesssync does not know: "
                + "upgrade accesssync"
        case .failed(let name, let error):
            return "migration \(name) failed: \(error)"
        }
    }

    public var errorDescription: String? { description }
}

/// What a migrate call did.
public struct MigrationReport: Sendable, Hashable {
    /// Migrations applied by this call, in order.
    public var applied: [String]
    /// Migrations that were already applied before this call.
    public var alreadyApplied: [String]
}

/// Applies numbered migrations in order, each in its own transaction.
///
/// Every step takes a transaction-scoped advisory lock first, so two `migrate` runs against the same
/// database serialise: the second one waits, then sees the first one's work and applies nothing
/// twice. Applied versions are recorded in `accesssync.schema_migrations` with the file's SHA-256;
/// a recorded migration whose file changed stops the run before anything is applied.
///
/// Run it as the owner role (the role that should own the tables), never as `accesssync_app`.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.embedded) throws(MigrationError) {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw .duplicateVersion(next.version)
        }
        self.migrations = sorted
    }

    /// Applies every pending migration.
    /// - Parameter osUser: recorded with each applied migration.
    /// - Throws: `MigrationError` (`.editedAfterApply`, `.unknownApplied`, `.failed`), or
    ///   `PostgresError` for connection problems.
    @discardableResult
    public func migrate(on connection: PGConnection, osUser: String = ProcessIdentity.osUser) async throws
        -> MigrationReport
    {
        var applied: [String] = []
        var already: [String]? = nil
        while true {
            let step: String? = try await connection.withTransaction { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock($1, $2)", [LockKeys.namespace, LockKeys.migrate])
                try await ensureBookkeeping(connection)
                let recorded = try await appliedMigrations(connection)
                try check(recorded: recorded)
                if already == nil { already = recorded.map(\.name) }
                let done = Set(recorded.map(\.version))
                guard let next = migrations.first(where: { !done.contains($0.version) }) else { return nil }
                do {
                    try await connection.executeScript(next.sql)
                } catch let error as PostgresError {
                    throw MigrationError.failed(name: next.name, error: error)
                }
                try await connection.query(
                    "INSERT INTO accesssync.schema_migrations (version, name, checksum, os_user) VALUES ($1, $2, $3, $4)",
                    [next.version, next.name, next.checksum, osUser])
                return next.name
            }
            guard let step else { break }
            applied.append(step)
        }
        return MigrationReport(applied: applied, alreadyApplied: already ?? [])
    }

    /// Applied migrations as recorded in the database (empty before the first migrate).
    public func status(on connection: PGConnection) async throws -> [(version: Int, name: String, checksum: String)] {
        let exists = try await connection.query("SELECT to_regclass('accesssync.schema_migrations') IS NOT NULL AS present")
        guard try exists.first?.bool("present") == true else { return [] }
        return try await appliedMigrations(connection).map { ($0.version, $0.name, $0.checksum) }
    }

    /// Throws if any recorded migration was edited or is unknown.
    func check(recorded: [RecordedMigration]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for row in recorded {
            guard let migration = known[row.version] else {
                throw MigrationError.unknownApplied(version: row.version, name: row.name)
            }
            if migration.checksum != row.checksum {
                throw MigrationError.editedAfterApply(
                    version: row.version, name: migration.name, recordedChecksum: row.checksum,
                    currentChecksum: migration.checksum)
            }
        }
    }

    struct RecordedMigration: Sendable {
        var version: Int
        var name: String
        var checksum: String
    }

    private func appliedMigrations(_ connection: PGConnection) async throws -> [RecordedMigration] {
        let result = try await connection.query(
            "SELECT version, name, checksum FROM accesssync.schema_migrations ORDER BY version")
        return try result.rows.map {
            RecordedMigration(version: try $0.int("version"), name: try $0.string("name"), checksum: try $0.string("checksum"))
        }
    }

    private func ensureBookkeeping(_ connection: PGConnection) async throws {
        // Checked first so that a role without CREATE on the database can still run a no-op migrate.
        let schema = try await connection.query(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'accesssync') AS present")
        if try schema.first?.bool("present") != true {
            try await connection.query("CREATE SCHEMA accesssync")
        }
        let table = try await connection.query(
            "SELECT to_regclass('accesssync.schema_migrations') IS NOT NULL AS present")
        if try table.first?.bool("present") != true {
            try await connection.query(
                """
                CREATE TABLE accesssync.schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    db_role    text NOT NULL DEFAULT current_user,
                    os_user    text
                )
                """)
        }
    }
}
