import Foundation
import PolicyStore

/// `accesssync migrate`: applies the numbered SQL migrations (PolicyStore's `Migrator`).
///
/// Runs as the owner role. Migration 0001 creates the application role `accesssync_app` when the
/// owner may create roles; otherwise an administrator creates it first (`migrations/README.md`).
public enum MigrateCommand {
    /// What `migrate` did.
    public struct Outcome: Hashable, Sendable {
        /// Migrations applied by this call, in order.
        public var applied: [String]
        /// The schema version afterwards (the highest applied version; 0 for none).
        public var version: Int

        /// The lines printed by the command.
        public var text: String {
            if applied.isEmpty { return "database is up to date (version \(version))\n" }
            return applied.map { "applied \($0)\n" }.joined() + "database is at version \(version)\n"
        }
    }

    /// One migration in `migrate --status`.
    public struct StatusEntry: Hashable, Sendable {
        public enum State: String, Hashable, Sendable {
            case applied, pending
            /// Applied, but the file now has a different checksum.
            case edited
            /// Recorded in the database, unknown to this binary.
            case unknown
        }
        public var version: Int
        public var name: String
        public var state: State
    }

    public struct Status: Hashable, Sendable {
        public var entries: [StatusEntry]

        /// The highest applied version (0 for none).
        public var version: Int {
            entries.filter { $0.state != .pending }.map(\.version).max() ?? 0
        }
        /// `configuration` when a migration was edited after it was applied or is unknown, else `ok`.
        public var exitStatus: ExitStatus {
            entries.contains { $0.state == .edited || $0.state == .unknown } ? .configuration : .ok
        }

        public var text: String {
            var lines = entries.map { entry in
                let state = entry.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                var line = "\(state) \(entry.name)"
                switch entry.state {
                case .edited: line += "  (edited after it was applied: restore the file, put changes in a new migration)"
                case .unknown: line += "  (in the database, unknown to this accesssync: upgrade accesssync)"
                case .applied, .pending: break
                }
                return line
            }
            let pending = entries.filter { $0.state == .pending }.count
            lines.append(
                "version \(version); \(entries.filter { $0.state != .pending }.count) applied, \(pending) pending")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// The migrations to apply: the ones compiled in, or the `NNNN_*.sql` files of `directory`.
    static func migrator(directory: String?) throws(CommandFailure) -> Migrator {
        do {
            guard let directory else { return try Migrator() }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else { throw CommandFailure(.noInput, "migrations directory \(directory) does not exist") }
            let migrations: [Migration]
            do {
                migrations = try Migration.load(directory: URL(fileURLWithPath: directory))
            } catch let error as MigrationError {
                throw CommandFailure(.dataError, "\(directory): \(error.description)")
            } catch {
                throw CommandFailure(.noInput, "cannot read migrations in \(directory): \(error.localizedDescription)")
            }
            guard !migrations.isEmpty else {
                throw CommandFailure(.noInput, "no migration files (NNNN_name.sql) in \(directory)")
            }
            return try Migrator(migrations: migrations)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw PostgresFailure.map(error)
        }
    }

    /// Applies every pending migration.
    /// - Parameter migrationsDirectory: use these files instead of the migrations compiled in.
    /// - Throws: `CommandFailure`: `configuration` (78) when an applied migration was edited or is
    ///   unknown, or the role may not do what a migration needs; `postgresUnavailable` (81).
    public static func migrate(_ session: PostgresSession, migrationsDirectory: String? = nil) async throws(CommandFailure)
        -> Outcome
    {
        let migrator = try migrator(directory: migrationsDirectory)
        return try await session.withConnection { connection in
            let report = try await migrator.migrate(on: connection, osUser: session.osUser)
            let version = try await migrator.status(on: connection).map(\.version).max() ?? 0
            return Outcome(applied: report.applied, version: version)
        }
    }

    /// Lists applied and pending migrations (and edited or unknown ones).
    public static func status(_ session: PostgresSession, migrationsDirectory: String? = nil) async throws(CommandFailure)
        -> Status
    {
        let migrator = try migrator(directory: migrationsDirectory)
        return try await session.withConnection { connection in
            let recorded = try await migrator.status(on: connection)
            let known = Dictionary(uniqueKeysWithValues: migrator.migrations.map { ($0.version, $0) })
            var entries: [StatusEntry] = []
            for row in recorded {
                guard let migration = known[row.version] else {
                    entries.append(StatusEntry(version: row.version, name: row.name, state: .unknown))
                    continue
                }
                entries.append(StatusEntry(
                    version: row.version, name: migration.name,
                    state: migration.checksum == row.checksum ? .applied : .edited))
            }
            let done = Set(recorded.map(\.version))
            for migration in migrator.migrations where !done.contains(migration.version) {
                entries.append(StatusEntry(version: migration.version, name: migration.name, state: .pending))
            }
            return Status(entries: entries.sorted { $0.version < $1.version })
        }
    }
}
