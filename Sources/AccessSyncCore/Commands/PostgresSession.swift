public import Foundation
public import PolicyStore
import PolicyFiles

/// Where the PostgreSQL commands (`migrate`, `policy`, `audit`) connect, and how their failures map
/// to exit statuses.
///
/// The connection comes from the configuration file's `postgres:` section (`--config FILE`, else
/// `$ACCESSSYNC_CONFIG`). Without a configuration file only libpq's own defaults apply (`PGHOST`,
/// `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGPASSFILE`/`~/.pgpass`, `PGSERVICE`).
public struct PostgresSession: Sendable {
    /// The configuration file used, if any.
    public let configurationFile: String?
    public let options: PostgresConnectionOptions
    /// The OS user recorded in audit rows and runs.
    public let osUser: String

    public init(options: PostgresConnectionOptions, configurationFile: String? = nil, osUser: String = ProcessIdentity.osUser) {
        self.options = options
        self.configurationFile = configurationFile
        self.osUser = osUser
    }

    /// Resolves the configuration file (`configurationFile`, else `ACCESSSYNC_CONFIG`) and reads its
    /// `postgres:` section.
    /// - Throws: `CommandFailure(.configuration)` when the file is missing or invalid, or when the
    ///   password file or variable it names cannot be read (the secret itself is never shown).
    public static func load(
        configurationFile: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(CommandFailure) -> PostgresSession {
        guard let path = Configuration.resolvePath(explicit: configurationFile, environment: environment) else {
            return PostgresSession(options: Configuration().applyingSecretOverrides().postgres.connectionOptions)
        }
        let configuration: Configuration
        do {
            configuration = try Configuration.load(path: path)
        } catch {
            throw CommandFailure(.configuration, error.description)
        }
        if let secret = configuration.postgres.password {
            do {
                _ = try secret.read(environment: environment)
            } catch {
                throw CommandFailure(.configuration, "postgres.password: \(error.message)")
            }
        }
        return PostgresSession(options: configuration.postgres.connectionOptions, configurationFile: path)
    }

    /// Opens a connection.
    /// - Throws: `CommandFailure(.postgresUnavailable)` with libpq's message (never a password).
    public func connect() async throws(CommandFailure) -> PGConnection {
        do {
            return try await PGConnection.connect(options)
        } catch {
            throw PostgresFailure.map(error)
        }
    }

    /// Opens a connection, runs `body`, closes the connection; every error is mapped by
    /// `PostgresFailure.map`.
    public func withConnection<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws(CommandFailure) -> T {
        let connection = try await connect()
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw PostgresFailure.map(error)
        }
    }
}

/// Maps PolicyStore and libpq errors to the exit statuses of `docs/exit-codes.md`.
public enum PostgresFailure {
    public static func map(_ error: any Error) -> CommandFailure {
        switch error {
        case let failure as CommandFailure:
            return failure
        case let error as PostgresError:
            return map(error)
        case let error as MigrationError:
            switch error {
            case .failed(_, let underlying):
                let mapped = map(underlying)
                // A migration refused for lack of privilege (e.g. the owner may not create the
                // application role) is a setup problem, not a bug.
                let setup = ["42501", "P0001"].contains(underlying.sqlState ?? "")
                return CommandFailure(
                    mapped.exitStatus == .postgresUnavailable ? .postgresUnavailable : setup ? .configuration : .failure,
                    error.description)
            case .editedAfterApply, .unknownApplied, .badFileName, .duplicateVersion:
                return CommandFailure(.configuration, error.description)
            }
        case let error as PolicyInconsistentError:
            return CommandFailure(.dataError, error.description)
        case let error as PolicyEditError:
            return CommandFailure(.dataError, error.description)
        case let error as RunLockError:
            switch error {
            case .lockHeld: return CommandFailure(.lockHeld, error.description)
            case .lockLost: return CommandFailure(.failure, error.description)
            }
        case let error as AuditRetentionError:
            switch error {
            case .notOwner: return CommandFailure(.configuration, error.description)
            case .chainBroken, .archiveMismatch: return CommandFailure(.verificationFailed, error.description)
            }
        default:
            return CommandFailure(.failure, String(describing: error))
        }
    }

    static func map(_ error: PostgresError) -> CommandFailure {
        let text = error.description
        switch error.code {
        case .connectionFailed, .connectionLost, .closed:
            return CommandFailure(.postgresUnavailable, text)
        case .client:
            if error.message.contains("run accesssync migrate") { return CommandFailure(.configuration, text) }
            return CommandFailure(.failure, text)
        case .server:
            break
        }
        let state = error.sqlState ?? ""
        if state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state) {
            return CommandFailure(.postgresUnavailable, text)
        }
        if ["3F000", "42P01"].contains(state) {
            return CommandFailure(.configuration, text + ": the database has no AccessSync schema; run `accesssync migrate`")
        }
        if state == "42501" {
            return CommandFailure(.configuration, text + ": the database role lacks a privilege this command needs")
        }
        return CommandFailure(.failure, text)
    }
}

/// Date-time arguments of the PostgreSQL commands (`--since`, `--until`, `--at`, `--before`).
public enum CommandTime {
    /// RFC 3339 (`2025-06-30T12:00:00Z`, `2025-06-30T12:00:00+02:00`) or a date (`2025-06-30`,
    /// meaning 00:00 UTC that day).
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = RFC3339.parse(trimmed) { return date }
        let parts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components),
            calendar.component(.day, from: date) == day
        else { return nil }
        return date
    }

    /// RFC 3339 in UTC with seconds (`2025-06-30T12:00:00Z`).
    public static func format(_ date: Date) -> String { RFC3339.format(date) }

    /// The message for a bad value of `option`.
    public static func invalid(_ option: String, _ text: String) -> String {
        "\(option) must be an RFC 3339 date-time such as 2025-06-30T12:00:00Z (or a date, 2025-06-30), not '\(text)'"
    }
}
