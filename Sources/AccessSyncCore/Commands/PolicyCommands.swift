import Foundation
import PolicyFiles
import PolicyStore
import RBACModel
import Yams

/// `accesssync policy apply DIR` and `accesssync policy show`.
public enum PolicyCommands {
    /// One row change of `policy apply`.
    public struct Change: Hashable, Sendable, CustomStringConvertible {
        /// `create`, `update` or `delete`.
        public var action: String
        /// The table: `tiers`, `role_templates`, `grants`, `overrides`, `policy_settings`.
        public var table: String
        public var key: String
        public var description: String { "\(action) \(table) \(key)" }

        public init(action: String, table: String, key: String) {
            self.action = action
            self.table = table
            self.key = key
        }
    }

    public struct ApplyOutcome: Hashable, Sendable {
        public var changes: [Change]
        public var unchanged: Int
        /// CLI-sourced rows that apply left in place.
        public var keptCLIRows: Int
        public var dryRun: Bool
        /// The run recorded for the apply (nil for a dry run).
        public var runID: Int64?
        /// The audit chain head afterwards (for a dry run: unchanged).
        public var auditHead: String

        public var text: String {
            if changes.isEmpty {
                var text = "policy unchanged (\(unchanged) rows"
                if keptCLIRows > 0 { text += ", \(keptCLIRows) CLI rows kept" }
                return text + ")\n"
            }
            var lines = changes.map { "  \($0)" }
            let verb = dryRun ? "would apply" : "applied"
            var summary = "\(verb) \(changes.count) change\(changes.count == 1 ? "" : "s") (\(unchanged) rows unchanged"
            if keptCLIRows > 0 { summary += ", \(keptCLIRows) CLI rows kept" }
            summary += ")"
            if let runID { summary += " in run \(runID)" }
            if dryRun { summary += "; dry run: nothing was written" }
            lines.insert(summary + ":", at: 0)
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// Thrown inside the transaction of a dry run so that everything is rolled back.
    private struct DryRunRollback: Error {
        var report: PolicyApplyReport
    }

    /// Loads the YAML policy in `directory` and makes the stored policy equal to it.
    ///
    /// Idempotent (a second run changes nothing); only file-sourced rows are pruned; every change is
    /// audited with the OS user as actor, in a run of its own (`policy apply`) taken under the run
    /// lock. `dryRun` computes the same changes in a transaction that is rolled back.
    /// - Throws: `CommandFailure`: `noInput` (66) for a missing directory, `dataError` (65) for
    ///   invalid files (each problem as `file:line: field: message`) or an inconsistent policy,
    ///   `lockHeld` (75) when a sync is running, `postgresUnavailable` (81), `configuration` (78).
    @discardableResult
    public static func apply(_ session: PostgresSession, directory: String, dryRun: Bool = false)
        async throws(CommandFailure) -> ApplyOutcome
    {
        let policy = try loadPolicy(directory: directory)
        // The settings rows' source is the library's fixed `file:policies` (not the DIR argument), so
        // applying the same files from another path changes nothing.
        if dryRun {
            return try await session.withConnection { connection in
                let repository = PolicyRepository(connection: connection, osUser: session.osUser)
                let head = try await repository.audit.head().hash
                do {
                    try await connection.withTransaction { _ in
                        let report = try await repository.applyPolicy(policy)
                        throw DryRunRollback(report: report)
                    }
                } catch let rollback as DryRunRollback {
                    return outcome(rollback.report, dryRun: true, runID: nil, head: head)
                }
                throw CommandFailure(.failure, "dry run did not roll back")
            }
        }

        let lock: RunLock
        do {
            lock = try await RunLock.acquire(session.options)
        } catch {
            throw PostgresFailure.map(error)
        }
        do {
            let result = try await session.withConnection { connection in
                let runs = SyncRunStore(connection: connection)
                let run = try await runs.start(command: "policy apply", lock: lock, osUser: session.osUser)
                do {
                    try await lock.check()
                    let repository = PolicyRepository(connection: connection, osUser: session.osUser)
                    let report = try await repository.applyPolicy(policy, runID: run.id)
                    let counts: PolicyStore.JSONValue = .object([
                        "created": .int(report.changes.filter { $0.action == .create }.count),
                        "updated": .int(report.changes.filter { $0.action == .update }.count),
                        "deleted": .int(report.changes.filter { $0.action == .delete }.count),
                        "unchanged": .int(report.unchanged),
                    ])
                    try await runs.finish(run.id, status: .succeeded, counts: counts, headHash: report.auditHead)
                    return outcome(report, dryRun: false, runID: run.id, head: report.auditHead)
                } catch {
                    let message = PostgresFailure.map(error).message
                    try? await runs.finish(run.id, status: .failed, error: message)
                    throw error
                }
            }
            await lock.release()
            return result
        } catch {
            await lock.release()
            throw error
        }
    }

    static func outcome(_ report: PolicyApplyReport, dryRun: Bool, runID: Int64?, head: String) -> ApplyOutcome {
        ApplyOutcome(
            changes: report.changes.map { Change(action: $0.action.rawValue, table: $0.table, key: $0.key) },
            unchanged: report.unchanged, keptCLIRows: report.keptCLIRows, dryRun: dryRun, runID: runID,
            auditHead: head)
    }

    /// Loads and validates the policy files (no database).
    static func loadPolicy(directory: String) throws(CommandFailure) -> Policy {
        do {
            return try PolicyLoader.load(directory: directory).policy
        } catch {
            let missing = error.errors.count == 1 && error.errors[0].line == nil && error.errors[0].file == directory
            throw CommandFailure(
                missing ? .noInput : .dataError,
                "invalid policy; nothing was written:\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }
    }

    public enum OutputFormat: String, Hashable, Sendable, CaseIterable {
        case yaml, json
    }

    /// The stored policy, one mapping per table (`tiers`, `role_templates`, `grants`, `overrides`,
    /// `policy_settings`), each row keyed by its name or id with every column including `source`.
    public static func show(_ session: PostgresSession, format: OutputFormat = .yaml) async throws(CommandFailure)
        -> String
    {
        let rows = try await session.withConnection { connection in
            try await PolicyRepository(connection: connection, osUser: session.osUser).storedRows()
        }
        var tables: [(String, [(String, PolicyStore.JSONValue)])] = []
        for row in rows {
            if tables.last?.0 != row.table { tables.append((row.table, [])) }
            tables[tables.count - 1].1.append((row.key, row.document))
        }
        switch format {
        case .json:
            return JSONText.pretty(.object(Dictionary(uniqueKeysWithValues: tables.map { ($0.0, .object(Dictionary(uniqueKeysWithValues: $0.1))) }))) + "\n"
        case .yaml:
            let node = Node.mapping(Node.Mapping(tables.map { table in
                (Node(table.0), Node.mapping(Node.Mapping(table.1.map { (Node($0.0), YAMLText.node($0.1)) })))
            }))
            do {
                return try Yams.serialize(node: node, width: -1, sortKeys: false)
            } catch {
                throw CommandFailure(.failure, "cannot write the policy as YAML: \(error)")
            }
        }
    }
}

/// Indented JSON for people (keys sorted), from PolicyStore's `JSONValue`.
enum JSONText {
    static func pretty(_ value: PolicyStore.JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let values):
            guard !values.isEmpty else { return "[]" }
            return "[\n" + values.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let members):
            guard !members.isEmpty else { return "{}" }
            return "{\n"
                + members.sorted { $0.key < $1.key }.map { inner + PolicyStore.JSONValue.string($0.key).canonicalText + ": " + pretty($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return value.canonicalText
        }
    }
}

/// YAML nodes from `PolicyStore.JSONValue` (strings quoted where YAML would read them as something else).
enum YAMLText {
    static func node(_ value: PolicyStore.JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let flag): return Node(flag ? "true" : "false", Tag(.bool))
        case .number(let text): return Node(text, Tag(Int(text) == nil ? .float : .int))
        case .string(let text):
            return (try? text.represented()) ?? Node(text, Tag(.str), .doubleQuoted)
        case .array(let values): return Node.sequence(Node.Sequence(values.map(node)))
        case .object(let members):
            return Node.mapping(Node.Mapping(members.sorted { $0.key < $1.key }.map { (Node($0.key), node($0.value)) }))
        }
    }
}
