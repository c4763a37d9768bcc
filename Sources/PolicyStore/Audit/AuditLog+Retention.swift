public import Foundation
import Crypto

/// What retention archived and removed.
public struct RetentionReport: Sendable, Hashable {
    public var archive: URL
    /// SHA-256 (hex) of the archive file.
    public var archiveSHA256: String
    public var rowsArchived: Int
    public var firstID: Int64
    public var throughID: Int64
    /// The hash the remaining log now chains from.
    public var throughHash: String
}

public enum AuditRetentionError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// Deleting audit rows needs the role that owns `audit_log` (the application role may not).
    case notOwner(role: String)
    /// The log does not verify; nothing is archived or removed until it does.
    case chainBroken(String)
    /// The archive written does not verify or does not match the database.
    case archiveMismatch(String)

    public var description: String {
        switch self {
        case .notOwner(let role):
            return "audit retention deletes rows and must run as the owner of accesssync.audit_log, not \(role)"
        case .chainBroken(let problem):
            return "the audit log does not verify (\(problem)): nothing was archived or removed"
        case .archiveMismatch(let problem):
            return "the archive does not verify (\(problem)): nothing was removed"
        }
    }

    public var errorDescription: String? { description }
}

extension AuditLog {
    /// Retention: archives rows older than `days` days, verifies the archive, then deletes them.
    ///
    /// 1. The whole log must verify. 2. Rows up to the last one older than the cutoff are written to
    /// `directory/accesssync-audit-<first>-<through>.jsonl` (JSON Lines with hashes: the archive
    /// verifies on its own) and flushed. 3. The file is read back and its chain verified from the
    /// current anchor. 4. In one transaction holding the chain head: the archive is recorded in
    /// `audit_archives` (the remaining log chains from its last hash), the rows are deleted, and the
    /// retention itself is audited.
    ///
    /// Must run as the owner role: the application role can neither delete nor truncate audit rows.
    /// - Returns: nil when no row is older than the cutoff.
    public func archiveAndPrune(olderThanDays days: Int, now: Date = Date(), directory: URL) async throws
        -> RetentionReport?
    {
        let owner = try await connection.query(
            """
            SELECT current_user AS role, pg_has_role(current_user, c.relowner, 'MEMBER') AS owner
            FROM pg_catalog.pg_class c WHERE c.oid = 'accesssync.audit_log'::regclass
            """)
        guard let ownerRow = owner.first else { throw AuditRetentionError.notOwner(role: "?") }
        guard try ownerRow.bool("owner") else { throw AuditRetentionError.notOwner(role: try ownerRow.string("role")) }

        let cutoff = now.addingTimeInterval(-Double(days) * 86400)
        let bounds = try await connection.query(
            "SELECT min(id) AS first, max(id) AS through, count(*) AS n FROM accesssync.audit_log WHERE at < $1::timestamptz",
            [cutoff])
        guard let boundsRow = bounds.first, let through = boundsRow.optionalInt("through"),
            let first = boundsRow.optionalInt("first")
        else { return nil }
        // Rows are appended in time order, but be strict: archive a prefix of the chain only.
        let newer = try await connection.query(
            "SELECT count(*) AS n FROM accesssync.audit_log WHERE id <= $1 AND at >= $2::timestamptz", [through, cutoff])
        if try newer.first?.int("n") ?? 0 > 0 {
            throw AuditRetentionError.chainBroken("rows are not in time order before row \(through)")
        }

        let verification = try await verify()
        if let problem = verification.firstProblem { throw AuditRetentionError.chainBroken(problem.message) }

        let anchorResult = try await connection.query(
            "SELECT through_hash FROM accesssync.audit_archives ORDER BY through_id DESC LIMIT 1")
        let anchor = try anchorResult.first.map { try $0.string("through_hash") } ?? AuditRecord.genesisHash

        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("accesssync-audit-\(first)-\(through).jsonl")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw AuditRetentionError.archiveMismatch("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        var hasher = SHA256()
        var written = 0
        do {
            try await forEachPage(throughID: Int64(through)) { records in
                var chunk = ""
                for record in records {
                    record.jsonObject.write(to: &chunk)
                    chunk += "\n"
                }
                let data = Data(chunk.utf8)
                hasher.update(data: data)
                try handle.write(contentsOf: data)
                written += records.count
            }
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()

        let archived = try Self.verifyArchive(at: url, anchor: anchor)
        if let problem = archived.firstProblem { throw AuditRetentionError.archiveMismatch(problem.message) }
        guard archived.rowsChecked == written, archived.lastRowID == Int64(through) else {
            throw AuditRetentionError.archiveMismatch("the archive has \(archived.rowsChecked) rows, expected \(written)")
        }
        let fileDigest = SHA256.hash(data: try Data(contentsOf: url)).map { String(format: "%02x", $0) }.joined()
        guard fileDigest == digest else { throw AuditRetentionError.archiveMismatch("the file changed after writing") }

        let throughHash = archived.headHash
        let osUser = self.osUser
        try await connection.withTransaction { connection in
            try await connection.query("SELECT last_hash FROM accesssync.audit_head FOR UPDATE")
            let check = try await connection.query(
                "SELECT count(*) AS n, max(hash) FILTER (WHERE id = $1) AS through_hash FROM accesssync.audit_log WHERE id <= $1",
                [through])
            guard let row = check.first, try row.int("n") == written, row["through_hash"] == throughHash else {
                throw AuditRetentionError.archiveMismatch("the log changed while the archive was written")
            }
            try await connection.query(
                """
                INSERT INTO accesssync.audit_archives (through_id, through_hash, row_count, archive_sha256, archive_path, os_user)
                VALUES ($1, $2, $3, $4, $5, $6)
                """, [through, throughHash, written, digest, url.path, osUser])
            try await connection.query("DELETE FROM accesssync.audit_log WHERE id <= $1", [through])
            try await self.append(AuditEntry(
                action: "retention.archive", objectKind: "AuditArchive", objectName: url.lastPathComponent,
                after: [
                    "first_id": .number(String(first)), "through_id": .number(String(through)),
                    "through_hash": .string(throughHash), "rows": .number(String(written)), "sha256": .string(digest),
                    "older_than_days": .number(String(days)),
                ], outcome: .succeeded, message: "archived and removed \(written) rows older than \(days) days"))
        }
        return RetentionReport(
            archive: url, archiveSHA256: digest, rowsArchived: written, firstID: Int64(first), throughID: Int64(through),
            throughHash: throughHash)
    }
}
