public import Foundation

/// Which audit rows an export, entitlement query or listing covers.
public struct AuditFilter: Sendable, Hashable {
    /// Rows at or after this instant.
    public var since: Date?
    /// Rows strictly before this instant.
    public var until: Date?
    /// Rows where this name is the actor (OS user or database role) or the object's name.
    public var user: String?
    /// Rows of one run.
    public var run: Int64?

    public init(since: Date? = nil, until: Date? = nil, user: String? = nil, run: Int64? = nil) {
        self.since = since
        self.until = until
        self.user = user
        self.run = run
    }
}

/// The append-only, hash-chained audit log in `accesssync.audit_log`.
///
/// Appending locks the single `audit_head` row (`SELECT ... FOR UPDATE`) for the rest of the
/// transaction, so concurrent writers (a sync and a `grant` at the same moment) take turns and each
/// row's `prev_hash` is the hash of the row committed just before it: the chain never forks.
public struct AuditLog: Sendable {
    public let connection: PGConnection
    /// The OS user recorded next to the database role.
    public let osUser: String

    /// Rows per multi-row INSERT (17 parameters each; PostgreSQL allows 65,535 per statement).
    static let insertBatch = 2000
    /// Rows per page when reading the log.
    static let pageSize = 5000

    public init(connection: PGConnection, osUser: String = ProcessIdentity.osUser) {
        self.connection = connection
        self.osUser = osUser
    }

    /// Appends one row. See `append(_:)`.
    @discardableResult
    public func append(_ entry: AuditEntry) async throws -> AuditRecord {
        try await append([entry])[0]
    }

    /// Appends rows in order, in one transaction (or a savepoint of the caller's transaction, so that
    /// a policy change and its audit rows commit together).
    ///
    /// Rows are inserted with multi-row INSERTs; each row's hash covers its content and the previous
    /// row's hash. The time is the server's clock, the database role is `current_user`.
    /// - Returns: the stored rows, with ids and hashes.
    @discardableResult
    public func append(_ entries: [AuditEntry]) async throws -> [AuditRecord] {
        guard !entries.isEmpty else { return [] }
        let osUser = self.osUser
        return try await connection.withTransaction { connection in
            let head = try await connection.query(
                """
                SELECT last_hash, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now,
                    current_user AS role
                FROM accesssync.audit_head FOR UPDATE
                """)
            guard let headRow = head.first else {
                throw PostgresError(code: .client, message: "accesssync.audit_head is empty: run accesssync migrate")
            }
            var previous = try headRow.string("last_hash")
            let now = try headRow.string("now")
            let role = try headRow.string("role")
            let ids = try await connection.query(
                "SELECT nextval('accesssync.audit_log_id_seq') AS id FROM generate_series(1, $1)", [entries.count]
            ).rows.map { Int64(try $0.int("id")) }.sorted()

            var records: [AuditRecord] = []
            records.reserveCapacity(entries.count)
            for (entry, id) in zip(entries, ids) {
                var record = AuditRecord(
                    id: id, runID: entry.runID, atText: now, dbRole: role, osUser: osUser, action: entry.action,
                    objectKind: entry.objectKind, objectNamespace: entry.objectNamespace, objectName: entry.objectName,
                    before: entry.before, after: entry.after, provenance: entry.provenance, outcome: entry.outcome,
                    intentID: entry.intentID, message: entry.message, prevHash: previous, hash: "")
                record.hash = record.computedHash
                previous = record.hash
                records.append(record)
            }

            var start = 0
            while start < records.count {
                let chunk = records[start..<min(start + Self.insertBatch, records.count)]
                var sql = """
                    INSERT INTO accesssync.audit_log (id, run_id, at, db_role, os_user, action, object_kind,
                        object_namespace, object_name, before, after, provenance, outcome, intent_id, message,
                        prev_hash, hash) VALUES
                    """
                var parameters: [any PGParam] = []
                parameters.reserveCapacity(chunk.count * 17)
                for (offset, record) in chunk.enumerated() {
                    let base = offset * 17
                    sql += offset == 0 ? "(" : ",("
                    sql += (1...17).map { "$\(base + $0)" }.joined(separator: ",")
                    sql += ")"
                    parameters.append(contentsOf: [
                        record.id, record.runID, record.atText, record.dbRole, record.osUser, record.action,
                        record.objectKind, record.objectNamespace, record.objectName, record.before,
                        record.after, record.provenance, record.outcome.rawValue, record.intentID, record.message,
                        record.prevHash, record.hash,
                    ] as [any PGParam])
                }
                try await connection.query(sql, parameters)
                start += chunk.count
            }
            try await connection.query(
                "UPDATE accesssync.audit_head SET last_id = $1, last_hash = $2", [records.last!.id, records.last!.hash])
            return records
        }
    }

    /// The current chain head: the last row's id and hash (genesis hash and nil on an empty log).
    public func head() async throws -> (id: Int64?, hash: String) {
        let result = try await connection.query("SELECT last_id, last_hash FROM accesssync.audit_head")
        guard let row = result.first else { return (nil, AuditRecord.genesisHash) }
        return (row.optionalInt("last_id").map(Int64.init), try row.string("last_hash"))
    }

    static let selectColumns = """
        id, run_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text, db_role, os_user, action,
        object_kind, object_namespace, object_name, before, after, provenance, outcome, intent_id, message, prev_hash, hash
        """

    static func decode(_ row: PGRow) throws -> AuditRecord {
        guard let outcome = AuditOutcome(rawValue: try row.string("outcome")) else {
            throw PostgresError(code: .client, message: "audit row \(row["id"] ?? "?") has an unknown outcome")
        }
        return AuditRecord(
            id: Int64(try row.int("id")), runID: row.optionalInt("run_id").map(Int64.init), atText: try row.string("at_text"),
            dbRole: try row.string("db_role"), osUser: try row.string("os_user"), action: try row.string("action"),
            objectKind: try row.string("object_kind"), objectNamespace: row["object_namespace"],
            objectName: try row.string("object_name"), before: try row.json("before"), after: try row.json("after"),
            provenance: try row.json("provenance"), outcome: outcome, intentID: row.optionalInt("intent_id").map(Int64.init),
            message: row["message"], prevHash: try row.string("prev_hash"), hash: try row.string("hash"))
    }

    /// Reads rows in id order, a page at a time, calling `body` for each page.
    func forEachPage(
        _ filter: AuditFilter = AuditFilter(), throughID: Int64? = nil, _ body: ([AuditRecord]) async throws -> Void
    ) async throws {
        var after: Int64 = Int64.min
        while true {
            let result = try await connection.query(
                """
                SELECT \(Self.selectColumns) FROM accesssync.audit_log
                WHERE id > $1
                  AND ($2::timestamptz IS NULL OR at >= $2::timestamptz)
                  AND ($3::timestamptz IS NULL OR at < $3::timestamptz)
                  AND ($4::text IS NULL OR os_user = $4 OR db_role = $4 OR object_name = $4)
                  AND ($5::bigint IS NULL OR run_id = $5)
                  AND ($6::bigint IS NULL OR id <= $6)
                ORDER BY id LIMIT $7
                """,
                [after, filter.since, filter.until, filter.user, filter.run, throughID, Self.pageSize])
            let records = try result.rows.map(Self.decode)
            if records.isEmpty { return }
            try await body(records)
            after = records.last!.id
            if records.count < Self.pageSize { return }
        }
    }

    /// Rows matching `filter`, in id order (for small selections; exports stream instead).
    public func records(_ filter: AuditFilter = AuditFilter()) async throws -> [AuditRecord] {
        var all: [AuditRecord] = []
        try await forEachPage(filter) { all.append(contentsOf: $0) }
        return all
    }
}
