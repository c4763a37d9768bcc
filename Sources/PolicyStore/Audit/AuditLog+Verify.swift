public import Foundation

/// One problem `AuditLog.verify` found.
public struct AuditProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The row's content no longer matches its hash.
        case altered
        /// Rows are missing before this row (its previous hash matches no earlier row).
        case removed
        /// The row chains from a row that already has a successor.
        case forked
        /// The tail was removed: the head (table, a run's published head, or the head given) is not
        /// the last row of the chain.
        case truncated
    }

    public var kind: Kind
    /// The row at fault (nil for a truncated tail with no row to name).
    public var rowID: Int64?
    public var message: String

    public var description: String { message }
}

/// The result of `AuditLog.verify`.
public struct AuditVerification: Sendable, Hashable {
    public var rowsChecked: Int
    public var firstRowID: Int64?
    public var lastRowID: Int64?
    /// Hash of the last row (the chain head as found).
    public var headHash: String
    /// Every problem found, in chain order (capped at 100).
    public var problems: [AuditProblem]

    public var isIntact: Bool { problems.isEmpty }
    /// The first altered, removed or forked row (or the truncation).
    public var firstProblem: AuditProblem? { problems.first }
}

/// Checks a sequence of rows as a chain. Shared by database verification and archive verification.
struct ChainVerifier {
    private(set) var expectedPrevious: String
    private(set) var rowsChecked = 0
    private(set) var firstRowID: Int64?
    private(set) var lastRowID: Int64?
    private(set) var problems: [AuditProblem] = []
    /// hash → id of every row seen, to tell a fork from a removal and to find published heads.
    private(set) var seen: [String: Int64] = [:]
    /// hashes that already have a successor.
    private var followed: [String: Int64] = [:]
    static let maxProblems = 100

    init(anchor: String) {
        expectedPrevious = anchor
    }

    mutating func add(_ problem: AuditProblem) {
        if problems.count < Self.maxProblems { problems.append(problem) }
    }

    mutating func check(_ record: AuditRecord) {
        rowsChecked += 1
        if firstRowID == nil { firstRowID = record.id }
        lastRowID = record.id
        let recomputed = record.computedHash
        if recomputed != record.hash {
            add(AuditProblem(
                kind: .altered, rowID: record.id,
                message: "row \(record.id) was altered: its content hashes to \(recomputed.prefix(16))…, "
                    + "the stored hash is \(record.hash.prefix(16))…"))
        }
        if record.prevHash != expectedPrevious {
            if let predecessor = seen[record.prevHash], let successor = followed[record.prevHash] {
                add(AuditProblem(
                    kind: .forked, rowID: record.id,
                    message: "row \(record.id) forks the chain: it follows row \(predecessor), "
                        + "which row \(successor) already follows"))
            } else if record.prevHash == AuditRecord.genesisHash {
                add(AuditProblem(
                    kind: .forked, rowID: record.id,
                    message: "row \(record.id) starts a second chain (its previous hash is the genesis hash)"))
            } else {
                let before = previousID
                add(AuditProblem(
                    kind: .removed, rowID: record.id,
                    message: "rows are missing before row \(record.id)"
                        + (before.map { " (after row \($0))" } ?? " (at the start of the log)")
                        + ": its previous hash \(record.prevHash.prefix(16))… matches no row"))
            }
        }
        if followed[record.prevHash] == nil { followed[record.prevHash] = record.id }
        seen[record.hash] = record.id
        expectedPrevious = record.hash
        previousID = record.id
    }

    private var previousID: Int64?

    var headHash: String { expectedPrevious }
}

extension AuditLog {
    /// Recomputes the hash chain and names the first altered, removed or forked row.
    ///
    /// The chain starts from the genesis hash, or from the last retention archive's hash. The tail is
    /// checked against `audit_head`, against every head hash published by a finished run
    /// (`sync_runs.head_hash`), and against `publishedHead` when given (e.g. from a run's log or
    /// metrics): a head that is not a row of the chain means the tail was truncated or rewritten.
    public func verify(publishedHead: String? = nil) async throws -> AuditVerification {
        try await connection.withTransaction(isolation: .repeatableRead) { connection in
            let archive = try await connection.query(
                "SELECT through_id, through_hash, archived_at FROM accesssync.audit_archives ORDER BY through_id DESC LIMIT 1")
            let archivedAt = archive.first.flatMap { $0.optionalDate("archived_at") }
            let anchor = try archive.first.map { try $0.string("through_hash") } ?? AuditRecord.genesisHash
            var verifier = ChainVerifier(anchor: anchor)
            try await forEachPage { records in
                for record in records { verifier.check(record) }
            }
            let head = try await connection.query("SELECT last_id, last_hash FROM accesssync.audit_head")
            if let row = head.first {
                let headHash = try row.string("last_hash")
                if headHash != verifier.headHash {
                    if let id = verifier.seen[headHash] {
                        verifier.add(AuditProblem(
                            kind: .forked, rowID: id,
                            message: "audit_head names row \(id), but rows follow it: the head was moved back"))
                    } else if headHash != anchor || verifier.rowsChecked > 0 {
                        verifier.add(AuditProblem(
                            kind: .truncated, rowID: row.optionalInt("last_id").map(Int64.init),
                            message: "the tail of the log was removed: audit_head names row "
                                + "\(row["last_id"] ?? "?") (\(headHash.prefix(16))…), which is not in the log"))
                    }
                }
            }
            let published = try await connection.query(
                """
                SELECT id, head_hash FROM accesssync.sync_runs
                WHERE head_hash IS NOT NULL AND head_hash <> $1
                  AND ($2::timestamptz IS NULL OR finished_at > $2::timestamptz)
                ORDER BY id
                """, [AuditRecord.genesisHash, archivedAt])
            for row in published.rows {
                let hash = try row.string("head_hash")
                if verifier.seen[hash] == nil && hash != anchor {
                    verifier.add(AuditProblem(
                        kind: .truncated, rowID: nil,
                        message: "run \(row["id"] ?? "?") published head \(hash.prefix(16))…, which is not in the log: "
                            + "rows were removed or rewritten after that run"))
                }
            }
            if let publishedHead, publishedHead != verifier.headHash, verifier.seen[publishedHead] == nil,
                !(publishedHead == anchor && verifier.rowsChecked == 0)
            {
                verifier.add(AuditProblem(
                    kind: .truncated, rowID: nil,
                    message: "the published head \(publishedHead.prefix(16))… is not in the log: "
                        + "the tail was truncated or rewritten (log ends at row \(verifier.lastRowID.map(String.init) ?? "none"))"))
            }
            return AuditVerification(
                rowsChecked: verifier.rowsChecked, firstRowID: verifier.firstRowID, lastRowID: verifier.lastRowID,
                headHash: verifier.headHash, problems: verifier.problems)
        }
    }

    /// Verifies an archive written by retention (JSON Lines): every row's hash and the chain from
    /// `anchor` (the hash the archive starts from).
    public static func verifyArchive(at url: URL, anchor: String? = nil) throws -> AuditVerification {
        let text = try String(contentsOf: url, encoding: .utf8)
        var verifier: ChainVerifier? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let record = try AuditRecord(json: try JSONValue.parse(String(line)))
            if verifier == nil { verifier = ChainVerifier(anchor: anchor ?? record.prevHash) }
            verifier!.check(record)
        }
        let result = verifier ?? ChainVerifier(anchor: anchor ?? AuditRecord.genesisHash)
        return AuditVerification(
            rowsChecked: result.rowsChecked, firstRowID: result.firstRowID, lastRowID: result.lastRowID,
            headHash: result.headHash, problems: result.problems)
    }
}
