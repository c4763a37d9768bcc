public import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PolicyStore

/// `accesssync audit export|verify|entitlements|retention`.
public enum AuditCommands {
    public enum ExportFormat: String, Hashable, Sendable, CaseIterable {
        /// RFC 4180 CSV with a header row.
        case csv
        /// One JSON object per line.
        case jsonl
        /// A self-contained HTML report (summary per run, chart, filterable table).
        case html

        var store: AuditExportFormat {
            switch self {
            case .csv: .csv
            case .jsonl: .jsonl
            case .html: .html
            }
        }
    }

    /// Which rows an export covers (all criteria combine).
    public struct ExportFilter: Hashable, Sendable {
        /// Rows at or after this instant.
        public var since: Date?
        /// Rows strictly before this instant.
        public var until: Date?
        /// Rows whose actor (OS user or database role) or object name is this name.
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

    /// Exports audit rows, streaming to `write` (standard output in the CLI).
    /// - Returns: the number of rows exported.
    /// - Throws: `CommandFailure` (`usage` for `since` not before `until`, `postgresUnavailable`,
    ///   `configuration` when the database is not migrated).
    @discardableResult
    public static func export(
        _ session: PostgresSession, filter: ExportFilter = ExportFilter(), format: ExportFormat,
        to write: (String) throws -> Void
    ) async throws(CommandFailure) -> Int {
        if let since = filter.since, let until = filter.until, since >= until {
            throw CommandFailure(.usage, "--since must be before --until")
        }
        let auditFilter = AuditFilter(since: filter.since, until: filter.until, user: filter.user, run: filter.run)
        return try await session.withConnection { connection in
            try await AuditLog(connection: connection, osUser: session.osUser)
                .export(auditFilter, format: format.store, to: write)
        }
    }

    /// Exports audit rows into `file` (replaced; written next to it and renamed when complete).
    /// - Throws: as `export(_:filter:format:to:)`, and `cannotCreate` (73) when the file cannot be written.
    @discardableResult
    public static func export(
        _ session: PostgresSession, filter: ExportFilter = ExportFilter(), format: ExportFormat, toFile file: String
    ) async throws(CommandFailure) -> Int {
        let target = URL(fileURLWithPath: file)
        let temporary = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let handle = try? FileHandle(forWritingTo: temporary)
        else {
            throw CommandFailure(.cannotCreate, "cannot write \(file): check the directory exists and is writable")
        }
        let count: Int
        do {
            count = try await export(session, filter: filter, format: format) { text in
                try handle.write(contentsOf: Data(text.utf8))
            }
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            if let failure = error as? CommandFailure { throw failure }
            throw CommandFailure(.cannotCreate, "cannot write \(file): \(error.localizedDescription)")
        }
        // rename(2) replaces an existing file atomically (Foundation's replaceItemAt fails on Linux
        // when the target exists, and moveItem refuses an existing target).
        guard rename(temporary.path, target.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw CommandFailure(.cannotCreate, "cannot write \(file): \(reason)")
        }
        return count
    }

    /// What `audit verify` found on an intact log.
    public struct VerifyOutcome: Hashable, Sendable {
        public var rowsChecked: Int
        public var firstRowID: Int64?
        public var lastRowID: Int64?
        public var headHash: String

        public var text: String {
            guard let first = firstRowID, let last = lastRowID else {
                return "audit log intact: no rows, head \(headHash)\n"
            }
            return "audit log intact: \(rowsChecked) rows (ids \(first)–\(last)), head \(headHash)\n"
        }
    }

    /// Recomputes the hash chain; with `head`, also checks that this published head is in the log.
    /// - Throws: `CommandFailure(.verificationFailed)` (exit 6) naming the first altered, removed or
    ///   forked row (or the truncation) and listing the other problems.
    public static func verify(_ session: PostgresSession, head: String? = nil) async throws(CommandFailure) -> VerifyOutcome {
        if let head, head.count != 64 || !head.allSatisfy(\.isHexDigit) {
            throw CommandFailure(.usage, "--head must be a 64-character hex SHA-256 hash, not '\(head)'")
        }
        let verification = try await session.withConnection { connection in
            try await AuditLog(connection: connection, osUser: session.osUser).verify(publishedHead: head?.lowercased())
        }
        guard let first = verification.firstProblem else {
            return VerifyOutcome(
                rowsChecked: verification.rowsChecked, firstRowID: verification.firstRowID,
                lastRowID: verification.lastRowID, headHash: verification.headHash)
        }
        var message = "audit log verification failed: "
        if let row = first.rowID {
            message += "first bad row \(row) (\(first.kind.rawValue)): \(first.message)"
        } else {
            message += "\(first.kind.rawValue): \(first.message)"
        }
        let others = verification.problems.dropFirst()
        if !others.isEmpty {
            message += "\n\(others.count) more problem\(others.count == 1 ? "" : "s"):"
            for problem in others.prefix(20) {
                message += "\n  " + (problem.rowID.map { "row \($0): " } ?? "") + problem.message
            }
            if others.count > 20 { message += "\n  ..." }
        }
        message += "\n(\(verification.rowsChecked) rows checked)"
        throw CommandFailure(.verificationFailed, message)
    }

    public enum EntitlementsFormat: String, Hashable, Sendable, CaseIterable {
        case text, json
    }

    /// Who had which access at `instant`, reconstructed from the audit log.
    public static func entitlements(_ session: PostgresSession, at instant: Date, format: EntitlementsFormat = .text)
        async throws(CommandFailure) -> String
    {
        let entitlements = try await session.withConnection { connection in
            try await AuditLog(connection: connection, osUser: session.osUser).entitlements(at: instant)
        }
        switch format {
        case .text:
            var lines = ["entitlements at \(CommandTime.format(instant)) (from the audit log): \(entitlements.count)"]
            let width = min(entitlements.map(\.subject.count).max() ?? 0, 40)
            for entitlement in entitlements {
                var line = entitlement.subject.padding(toLength: max(width, entitlement.subject.count), withPad: " ", startingAt: 0)
                line += "  " + entitlement.accessText
                if let person = entitlement.person { line += "  person=\(person)" }
                line += "  (since row \(entitlement.sinceRow))"
                lines.append(line)
            }
            return lines.joined(separator: "\n") + "\n"
        case .json:
            let items: [JSONValue] = entitlements.map { entitlement in
                var object: [String: JSONValue] = [
                    "subject": .string(entitlement.subject),
                    "person": entitlement.person.map(JSONValue.string) ?? .null,
                    "description": .string(entitlement.accessText),
                    "sinceRow": .number(String(entitlement.sinceRow)),
                ]
                switch entitlement.access {
                case .hubUser: object["access"] = "hub-user"
                case .hubAdmin: object["access"] = "hub-admin"
                case .hubGroup(let group):
                    object["access"] = "hub-group"
                    object["group"] = .string(group)
                case .role(let namespace, let binding, let roleKind, let roleName):
                    object["access"] = "role"
                    object["namespace"] = .string(namespace)
                    object["binding"] = .string(binding)
                    object["roleKind"] = .string(roleKind)
                    object["roleName"] = .string(roleName)
                }
                return .object(object)
            }
            let document: JSONValue = .object([
                "at": .string(CommandTime.format(instant)), "entitlements": .array(items),
            ])
            return JSONText.pretty(document) + "\n"
        }
    }

    /// What retention archived and removed.
    public struct RetentionOutcome: Hashable, Sendable {
        /// nil when no row was older than the cutoff.
        public var archive: String?
        public var archiveSHA256: String?
        public var rowsArchived: Int
        public var firstID: Int64?
        public var throughID: Int64?
        public var before: Date

        public var text: String {
            guard let archive, let firstID, let throughID, let archiveSHA256 else {
                return "no audit rows before \(CommandTime.format(before)): nothing archived or removed\n"
            }
            return "archived \(rowsArchived) audit rows (ids \(firstID)–\(throughID)) to \(archive) "
                + "(sha256 \(archiveSHA256)), verified the archive, and removed them from the log\n"
        }
    }

    /// Archives the rows before `before` into `archiveDirectory` (JSON Lines with hashes), verifies
    /// the archive, then removes the rows. The whole log must verify first. Runs as the owner role.
    /// - Throws: `CommandFailure`: `cannotCreate` (73) for an unwritable directory,
    ///   `verificationFailed` (6) when the log or the archive does not verify (nothing is removed),
    ///   `configuration` (78) when the role does not own the audit log.
    public static func retention(_ session: PostgresSession, before: Date, archiveDirectory: String)
        async throws(CommandFailure) -> RetentionOutcome
    {
        let directory = URL(fileURLWithPath: archiveDirectory)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure(.cannotCreate, "cannot create the archive directory \(archiveDirectory): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: directory.path) else {
            throw CommandFailure(.cannotCreate, "the archive directory \(archiveDirectory) is not writable")
        }
        let report = try await session.withConnection { connection in
            try await AuditLog(connection: connection, osUser: session.osUser)
                .archiveAndPrune(olderThanDays: 0, now: before, directory: directory)
        }
        guard let report else { return RetentionOutcome(rowsArchived: 0, before: before) }
        return RetentionOutcome(
            archive: report.archive.path, archiveSHA256: report.archiveSHA256, rowsArchived: report.rowsArchived,
            firstID: report.firstID, throughID: report.throughID, before: before)
    }
}
