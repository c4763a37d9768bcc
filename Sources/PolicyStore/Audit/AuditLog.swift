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

    /// Rows go in with one `COPY ... FROM STDIN`: the client hashes row k+1 while the server stores
    /// row k (the chain is sequential, the storing is not the client's), and nothing is parsed twice
    /// (a multi-row INSERT sends arrays that the server parses and unnests first).
    static let copySQL = """
        COPY accesssync.audit_log (id, run_id, at, db_role, os_user, action, object_kind, object_namespace,
            object_name, before, after, provenance, outcome, intent_id, message, prev_hash, hash) FROM STDIN
        """

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
            let first = try headRow.string("last_hash")
            let now = try headRow.string("now")
            let role = try headRow.string("role")
            let ids = try await connection.query(
                "SELECT nextval('accesssync.audit_log_id_seq') AS id FROM generate_series(1, $1)", [entries.count]
            ).rows.map { Int64(try $0.int("id")) }.sorted()

            let (records, stored) = try await connection.copyIn(Self.copySQL) { sink in
                var previous = first
                var records: [AuditRecord] = []
                records.reserveCapacity(entries.count)
                for (entry, id) in zip(entries, ids) {
                    var record = AuditRecord(
                        id: id, runID: entry.runID, atText: now, dbRole: role, osUser: osUser, action: entry.action,
                        objectKind: entry.objectKind, objectNamespace: entry.objectNamespace, objectName: entry.objectName,
                        before: entry.before, after: entry.after, provenance: entry.provenance, outcome: entry.outcome,
                        intentID: entry.intentID, message: entry.message, prevHash: previous, hash: "")
                    // Payload texts are serialised once, for the hash and for the row.
                    let texts = (
                        before: entry.before?.canonicalText, after: entry.after?.canonicalText,
                        provenance: entry.provenance?.canonicalText
                    )
                    record.hash = AuditRecord.sha256Hex(record.canonicalBytes(payloads: texts))
                    previous = record.hash
                    let fields: [String?] = [
                        String(id), entry.runID.map(String.init), now, role, osUser, entry.action, entry.objectKind,
                        entry.objectNamespace, entry.objectName, texts.before, texts.after, texts.provenance,
                        entry.outcome.rawValue, entry.intentID.map(String.init), entry.message, record.prevHash, record.hash,
                    ]
                    for value in fields { try sink.field(value) }
                    try sink.endRow()
                    records.append(record)
                }
                return records
            }
            guard stored == records.count else {
                throw PostgresError(
                    code: .client, message: "the audit log stored \(stored) of \(records.count) rows; nothing was committed")
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

    /// Decodes a row selected with `selectColumns` (by position: this runs once per exported row).
    static func decode(_ row: PGRow) throws -> AuditRecord {
        let values = row.values
        guard values.count == 17 else { throw PostgresError(code: .client, message: "unexpected audit row shape") }
        func required(_ index: Int, _ name: String) throws -> String {
            guard let value = values[index] else {
                throw PostgresError(code: .client, message: "audit row \(values[0] ?? "?") has no \(name)")
            }
            return value
        }
        func json(_ index: Int) throws -> JSONValue? {
            guard let text = values[index] else { return nil }
            return try JSONValue.parse(text)
        }
        guard let id = Int64(try required(0, "id")),
            let outcome = AuditOutcome(rawValue: try required(12, "outcome"))
        else {
            throw PostgresError(code: .client, message: "audit row \(values[0] ?? "?") is malformed")
        }
        return AuditRecord(
            id: id, runID: values[1].flatMap { Int64($0) }, atText: try required(2, "at"), dbRole: try required(3, "db_role"),
            osUser: try required(4, "os_user"), action: try required(5, "action"), objectKind: try required(6, "object_kind"),
            objectNamespace: values[7], objectName: try required(8, "object_name"), before: try json(9),
            after: try json(10), provenance: try json(11), outcome: outcome, intentID: values[13].flatMap { Int64($0) },
            message: values[14], prevHash: try required(15, "prev_hash"), hash: try required(16, "hash"))
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
