public import Foundation

/// Why the run lock could not be taken or was lost.
///
/// The CLI maps `.lockHeld` to its documented "another writer is running" exit code (75,
/// `EX_TEMPFAIL`: try again later) and `.lockLost` to a failed run.
public enum RunLockError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// Another process holds the lock. `runID`/`startedAt`/`command` come from its `sync_runs` row
    /// when it has one; `holderPID` is the backend pid of its lock connection.
    case lockHeld(runID: Int64?, startedAt: Date?, command: String?, holderPID: Int32?)
    /// The lock is gone: its connection dropped or was terminated, or the lock was released.
    case lockLost(reason: String)

    public var description: String {
        switch self {
        case .lockHeld(let runID, let startedAt, let command, let holderPID):
            if let runID {
                var text = "another sync is running (run \(runID)"
                if let startedAt { text += ", started \(PGTimestamp.formatSeconds(startedAt))" }
                text += ")"
                if let command, command != "sync" { text += " [accesssync \(command)]" }
                return text
            }
            if let holderPID {
                return "another sync is running (lock held by PostgreSQL backend \(holderPID), no run recorded yet)"
            }
            return "another sync is running"
        case .lockLost(let reason):
            return "the run lock was lost (\(reason)): stopping before the next batch of writes"
        }
    }

    public var errorDescription: String? { description }
}

/// One writer at a time: a session-level advisory lock held on its own dedicated connection.
///
/// An advisory lock vanishes silently when its connection drops, so writers call `check()` before
/// each batch of writes; it verifies with a round trip that this connection is alive and that
/// `pg_locks` still lists the lock for this backend. Use the lock's connection for nothing else.
public final class RunLock: Sendable {
    /// The dedicated connection holding the lock.
    public let connection: PGConnection
    /// Backend pid of the lock connection (recorded in `sync_runs.lock_pid`).
    public var backendPID: Int32 { connection.backendPID }

    private init(connection: PGConnection) {
        self.connection = connection
    }

    /// Opens a dedicated connection and takes the run lock.
    ///
    /// - Parameter wait: how long to keep trying when another writer holds the lock
    ///   (`nil` or zero: fail at once).
    /// - Throws: `RunLockError.lockHeld` naming the other run, or `PostgresError` if the connection
    ///   cannot be opened.
    public static func acquire(_ options: PostgresConnectionOptions, wait: Duration? = nil) async throws -> RunLock {
        let connection = try await PGConnection.connect(options)
        do {
            let deadline = ContinuousClock.now + (wait ?? .zero)
            while true {
                let result = try await connection.query(
                    "SELECT pg_try_advisory_lock($1, $2) AS locked", [LockKeys.namespace, LockKeys.run])
                if try result.first?.bool("locked") == true {
                    return RunLock(connection: connection)
                }
                if ContinuousClock.now >= deadline {
                    throw try await holder(on: connection)
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Describes whoever holds the lock, as a `.lockHeld` error.
    static func holder(on connection: PGConnection) async throws -> RunLockError {
        let lockQuery = """
            SELECT l.pid FROM pg_catalog.pg_locks l
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid
              AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
            """
        let pid = try await connection.query(lockQuery, [LockKeys.namespace, LockKeys.run]).first.flatMap {
            $0.optionalInt("pid")
        }
        guard let pid else { return .lockHeld(runID: nil, startedAt: nil, command: nil, holderPID: nil) }
        let hasRuns = try await connection.query(
            "SELECT has_table_privilege(to_regclass('accesssync.sync_runs'), 'SELECT') IS TRUE AS ok")
        if try hasRuns.first?.bool("ok") == true {
            let run = try await connection.query(
                """
                SELECT id, started_at, command FROM accesssync.sync_runs
                WHERE status = 'running' AND lock_pid = $1 ORDER BY id DESC LIMIT 1
                """, [pid])
            if let row = run.first {
                return .lockHeld(
                    runID: Int64(try row.int("id")), startedAt: row.optionalDate("started_at"), command: row["command"],
                    holderPID: Int32(pid))
            }
        }
        return .lockHeld(runID: nil, startedAt: nil, command: nil, holderPID: Int32(pid))
    }

    /// Verifies, with a round trip, that the lock connection is alive and still holds the lock.
    /// - Throws: `RunLockError.lockLost`.
    public func check() async throws {
        let held: Bool
        do {
            let result = try await connection.query(
                """
                SELECT EXISTS (
                    SELECT FROM pg_catalog.pg_locks
                    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                      AND classid = $1::oid AND objid = $2::oid AND objsubid = 2
                ) AS held
                """, [LockKeys.namespace, LockKeys.run])
            held = try result.first?.bool("held") == true
        } catch let error as PostgresError {
            throw RunLockError.lockLost(reason: "lock connection failed: \(error.message)")
        }
        if !held { throw RunLockError.lockLost(reason: "pg_locks no longer lists the lock for this connection") }
    }

    /// Releases the lock and closes its connection (idempotent).
    public func release() async {
        _ = try? await connection.query("SELECT pg_advisory_unlock($1, $2)", [LockKeys.namespace, LockKeys.run])
        await connection.close()
    }
}
