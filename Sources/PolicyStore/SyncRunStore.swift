public import Foundation

public enum RunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case running, succeeded, failed, blocked, interrupted
}

/// One row of `accesssync.sync_runs`.
public struct SyncRun: Sendable, Hashable {
    public var id: Int64
    public var command: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: RunStatus
    public var counts: JSONValue
    public var headHash: String?
    public var error: String?
    public var planHash: String?
    public var lockPID: Int32?
    public var dbRole: String
    public var osUser: String?
}

/// Sync runs (and runs of mutating CLI commands), their outcome and the audit head they published.
public struct SyncRunStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// Records a new running run. Call it while holding the run lock: any other row still marked
    /// `running` belongs to a process that died without finishing, and is marked `interrupted`.
    public func start(
        command: String = "sync", lock: RunLock?, osUser: String = ProcessIdentity.osUser, planHash: String? = nil
    ) async throws -> SyncRun {
        try await connection.withTransaction { connection in
            if lock != nil {
                try await connection.query(
                    """
                    UPDATE accesssync.sync_runs SET status = 'interrupted', finished_at = now(),
                        error = coalesce(error, 'the process ended without recording an outcome')
                    WHERE status = 'running'
                    """)
            }
            let result = try await connection.query(
                """
                INSERT INTO accesssync.sync_runs (command, lock_pid, os_user, plan_hash) VALUES ($1, $2, $3, $4)
                RETURNING \(Self.columns)
                """, [command, lock.map { Int($0.backendPID) }, osUser, planHash])
            return try Self.decode(result.rows[0])
        }
    }

    /// Records how a run ended.
    public func finish(
        _ id: Int64, status: RunStatus, counts: JSONValue = [:], headHash: String? = nil, error: String? = nil,
        planHash: String? = nil
    ) async throws {
        precondition(status != .running, "finish needs a final status")
        try await connection.query(
            """
            UPDATE accesssync.sync_runs SET status = $2, finished_at = now(), counts = $3::jsonb,
                head_hash = coalesce($4, head_hash), error = $5, plan_hash = coalesce($6, plan_hash)
            WHERE id = $1
            """, [id, status.rawValue, counts, headHash, error, planHash])
    }

    public func run(_ id: Int64) async throws -> SyncRun? {
        let result = try await connection.query("SELECT \(Self.columns) FROM accesssync.sync_runs WHERE id = $1", [id])
        return try result.first.map(Self.decode)
    }

    /// The most recent runs, newest first.
    public func recent(limit: Int = 20, status: RunStatus? = nil, command: String? = nil) async throws -> [SyncRun] {
        let result = try await connection.query(
            """
            SELECT \(Self.columns) FROM accesssync.sync_runs
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR command = $2)
            ORDER BY id DESC LIMIT $3
            """, [status?.rawValue, command, limit])
        return try result.rows.map(Self.decode)
    }

    static let columns = """
        id, command, started_at, finished_at, status, counts, head_hash, error, plan_hash, lock_pid, db_role, os_user
        """

    static func decode(_ row: PGRow) throws -> SyncRun {
        SyncRun(
            id: Int64(try row.int("id")), command: try row.string("command"), startedAt: try row.date("started_at"),
            finishedAt: row.optionalDate("finished_at"),
            status: RunStatus(rawValue: try row.string("status")) ?? .failed, counts: try row.json("counts") ?? [:],
            headHash: row["head_hash"], error: row["error"], planHash: row["plan_hash"],
            lockPID: row.optionalInt("lock_pid").map(Int32.init), dbRole: try row.string("db_role"),
            osUser: row["os_user"])
    }
}

/// An operator's approval of exactly one plan (by its hash).
public struct Approval: Sendable, Hashable {
    public var id: Int64
    public var planHash: String
    public var approvedBy: String
    public var dbRole: String
    public var approvedAt: Date
    public var usedByRun: Int64?
    public var note: String?
}

/// `accesssync approve PLAN_HASH` and its use by the next run with the same plan.
public struct ApprovalStore: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// Records an approval (audit it with `AuditLog` in the same transaction when the CLI approves).
    public func approve(planHash: String, by osUser: String = ProcessIdentity.osUser, note: String? = nil)
        async throws -> Approval
    {
        let result = try await connection.query(
            "INSERT INTO accesssync.approvals (plan_hash, approved_by, note) VALUES ($1, $2, $3) RETURNING \(Self.columns)",
            [planHash, osUser, note])
        return try Self.decode(result.rows[0])
    }

    /// Consumes an unused approval of `planHash` for `run` (atomically); nil when there is none.
    public func consume(planHash: String, run: Int64) async throws -> Approval? {
        let result = try await connection.query(
            """
            UPDATE accesssync.approvals SET used_by_run = $2
            WHERE id = (SELECT id FROM accesssync.approvals WHERE plan_hash = $1 AND used_by_run IS NULL
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING \(Self.columns)
            """, [planHash, run])
        return try result.first.map(Self.decode)
    }

    public func approvals(planHash: String) async throws -> [Approval] {
        let result = try await connection.query(
            "SELECT \(Self.columns) FROM accesssync.approvals WHERE plan_hash = $1 ORDER BY id", [planHash])
        return try result.rows.map(Self.decode)
    }

    static let columns = "id, plan_hash, approved_by, db_role, approved_at, used_by_run, note"

    static func decode(_ row: PGRow) throws -> Approval {
        Approval(
            id: Int64(try row.int("id")), planHash: try row.string("plan_hash"), approvedBy: try row.string("approved_by"),
            dbRole: try row.string("db_role"), approvedAt: try row.date("approved_at"),
            usedByRun: row.optionalInt("used_by_run").map(Int64.init), note: row["note"])
    }
}

/// A hub user AccessSync created (or adopted) and may therefore delete.
public struct ManagedHubUser: Sendable, Hashable {
    public var name: String
    public var personID: String?
    public var createdByRun: Int64?
    public var adopted: Bool
    public var createdAt: Date
}

/// The registry of hub users AccessSync manages (the hub itself has no labels).
public struct HubUserRegistry: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public func all() async throws -> [ManagedHubUser] {
        let result = try await connection.query(
            "SELECT name, person_id, created_by_run, adopted, created_at FROM accesssync.hub_users ORDER BY name")
        return try result.rows.map {
            ManagedHubUser(
                name: try $0.string("name"), personID: $0["person_id"],
                createdByRun: $0.optionalInt("created_by_run").map(Int64.init), adopted: try $0.bool("adopted"),
                createdAt: try $0.date("created_at"))
        }
    }

    /// Registers (or updates the person of) a managed hub user.
    public func register(name: String, personID: String?, run: Int64?, adopted: Bool = false) async throws {
        try await connection.query(
            """
            INSERT INTO accesssync.hub_users (name, person_id, created_by_run, adopted) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO UPDATE SET person_id = EXCLUDED.person_id,
                adopted = accesssync.hub_users.adopted OR EXCLUDED.adopted, updated_at = now()
            """, [name, personID, run, adopted])
    }

    /// Removes a user from the registry (after the hub user was deleted).
    @discardableResult
    public func remove(name: String) async throws -> Bool {
        try await connection.query("DELETE FROM accesssync.hub_users WHERE name = $1", [name]).affectedRows > 0
    }
}

/// The registry of hub groups AccessSync manages.
public struct HubGroupRegistry: Sendable {
    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// Managed group names with their adopted flag.
    public func all() async throws -> [(name: String, adopted: Bool)] {
        let result = try await connection.query("SELECT name, adopted FROM accesssync.hub_groups ORDER BY name")
        return try result.rows.map { (name: try $0.string("name"), adopted: try $0.bool("adopted")) }
    }

    public func register(name: String, run: Int64?, adopted: Bool = false) async throws {
        try await connection.query(
            """
            INSERT INTO accesssync.hub_groups (name, created_by_run, adopted) VALUES ($1, $2, $3)
            ON CONFLICT (name) DO UPDATE SET adopted = accesssync.hub_groups.adopted OR EXCLUDED.adopted,
                updated_at = now()
            """, [name, run, adopted])
    }

    @discardableResult
    public func remove(name: String) async throws -> Bool {
        try await connection.query("DELETE FROM accesssync.hub_groups WHERE name = $1", [name]).affectedRows > 0
    }
}
