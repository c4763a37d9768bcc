import AccessSyncCore
import ArgumentParser
import Foundation

extension AccessSync {
    /// The audit log: export, verification, entitlements at a moment, retention.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export, verify and query the hash-chained audit log.",
            subcommands: [Export.self, Verify.self, Entitlements.self, Retention.self]
        )

        /// Exports audit rows.
        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Export audit rows as CSV, JSON Lines or a self-contained HTML report.",
                discussion: """
                    Times are RFC 3339 (2025-06-30T12:00:00Z) or dates (2025-06-30, 00:00 UTC). --since is \
                    inclusive, --until exclusive. --user matches the OS user, the database role or the \
                    object's name. Without --out the export is written to standard output.
                    """
            )

            @Option(name: .long, help: ArgumentHelp("Rows at or after this time.", valueName: "time"))
            var since: String?

            @Option(name: .long, help: ArgumentHelp("Rows before this time.", valueName: "time"))
            var until: String?

            @Option(name: .long, help: ArgumentHelp("Rows of this actor or about this object name.", valueName: "name"))
            var user: String?

            @Option(name: .long, help: ArgumentHelp("Rows of this run.", valueName: "id"))
            var run: Int64?

            @Option(name: .long, help: ArgumentHelp("Output format.", valueName: "csv|jsonl|html"))
            var format: Format = .csv

            @Option(name: .long, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
            var out: String?

            @OptionGroup var postgres: PostgresOptions

            enum Format: String, CaseIterable, ExpressibleByArgument {
                case csv, jsonl, html
            }

            func validate() throws {
                let start = try parseTime(since, option: "--since")
                let end = try parseTime(until, option: "--until")
                if let start, let end, start >= end { throw ValidationError("--since must be before --until") }
            }

            func run() async throws {
                let session = try postgres.session()
                let filter = AuditCommands.ExportFilter(
                    since: try parseTime(since, option: "--since"), until: try parseTime(until, option: "--until"),
                    user: user, run: self.run)
                let format = AuditCommands.ExportFormat(rawValue: self.format.rawValue) ?? .csv
                let count = try await runReportingAsync { () async throws(CommandFailure) in
                    if let out {
                        return try await AuditCommands.export(session, filter: filter, format: format, toFile: out)
                    }
                    return try await AuditCommands.export(session, filter: filter, format: format, to: writeStandardOutput)
                }
                if let out { printError("exported \(count) audit rows to \(out)") }
            }
        }

        /// Recomputes the hash chain.
        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Recompute the audit hash chain; name the first altered, removed or forked row.",
                discussion: """
                    Exits 0 when the chain is intact and 6 (verification-failed) when it is not, naming \
                    the first bad row. Heads published by finished runs are checked too; give --head with a \
                    head hash published elsewhere (a run's log, metrics) to also detect a truncated tail.
                    """
            )

            @Option(name: .long, help: ArgumentHelp("A published chain head (SHA-256 hex) that must be in the log.", valueName: "hash"))
            var head: String?

            @OptionGroup var postgres: PostgresOptions

            func run() async throws {
                let session = try postgres.session()
                let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                    try await AuditCommands.verify(session, head: head)
                }
                print(outcome.text, terminator: "")
            }
        }

        /// Who had which access at a moment.
        struct Entitlements: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show who had which access at a moment, reconstructed from the audit log.")

            @Option(name: .long, help: ArgumentHelp("The moment (RFC 3339 or a date).", valueName: "time"))
            var at: String

            @Option(name: .long, help: ArgumentHelp("Output format.", valueName: "text|json"))
            var output: Output = .text

            @OptionGroup var postgres: PostgresOptions

            enum Output: String, CaseIterable, ExpressibleByArgument {
                case text, json
            }

            func validate() throws {
                _ = try parseTime(at, option: "--at")
            }

            func run() async throws {
                let session = try postgres.session()
                guard let instant = try parseTime(at, option: "--at") else { return }
                let format: AuditCommands.EntitlementsFormat = output == .json ? .json : .text
                let text = try await runReportingAsync { () async throws(CommandFailure) in
                    try await AuditCommands.entitlements(session, at: instant, format: format)
                }
                print(text, terminator: "")
            }
        }

        /// Archives and removes old rows.
        struct Retention: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Archive audit rows before a time, verify the archive, then remove them.",
                discussion: """
                    The whole log must verify first. The rows are written to \
                    DIR/accesssync-audit-FIRST-THROUGH.jsonl (with their hashes: the archive verifies on its \
                    own), read back and verified, and only then removed; the remaining log chains from the \
                    archive's last hash. Run it as the owner role: the application role may not delete audit \
                    rows (exit 78). A log or archive that does not verify exits 6 and removes nothing.
                    """
            )

            @Option(name: .long, help: ArgumentHelp("Archive and remove rows before this time.", valueName: "time"))
            var before: String

            @Option(name: .long, help: ArgumentHelp("Directory for the archive files.", valueName: "dir"))
            var archiveDir: String

            @OptionGroup var postgres: PostgresOptions

            func validate() throws {
                _ = try parseTime(before, option: "--before")
            }

            func run() async throws {
                let session = try postgres.session()
                guard let cutoff = try parseTime(before, option: "--before") else { return }
                let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                    try await AuditCommands.retention(session, before: cutoff, archiveDirectory: archiveDir)
                }
                print(outcome.text, terminator: "")
            }
        }
    }
}
