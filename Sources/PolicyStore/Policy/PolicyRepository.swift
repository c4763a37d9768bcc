import Foundation
public import RBACModel

/// What `applyPolicy` changed.
public struct PolicyApplyReport: Sendable, Hashable {
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        public enum Action: String, Sendable, Hashable { case create, update, delete }
        public var action: Action
        public var table: String
        public var key: String
        public var description: String { "\(action.rawValue) \(table) \(key)" }
    }

    public var changes: [Change]
    /// Rows already as desired.
    public var unchanged: Int
    /// CLI-sourced rows left in place (apply never prunes them).
    public var keptCLIRows: Int
    /// The audit chain head after the apply.
    public var auditHead: String

    public var isEmpty: Bool { changes.isEmpty }
}

/// The policy tables: reading the policy for a run, loading it from files, and CLI edits.
///
/// Every change is written together with its audit row (before/after documents) in one transaction.
public struct PolicyRepository: Sendable {
    public let connection: PGConnection
    public let audit: AuditLog

    public init(connection: PGConnection, osUser: String = ProcessIdentity.osUser) {
        self.connection = connection
        self.audit = AuditLog(connection: connection, osUser: osUser)
    }

    // MARK: Reading

    /// Reads the policy stored in PostgreSQL.
    ///
    /// - Throws: `PolicyInconsistentError` listing every inconsistent row (unknown tier or role
    ///   template, bad quantity, forbidden rule, malformed JSON) by table, key and source; the run
    ///   must stop. `PostgresError` for database failures.
    public func loadPolicy() async throws -> Policy {
        let (policy, issues) = try await readPolicy()
        let all = issues + PolicyConsistency.issues(in: policy)
        if !all.isEmpty { throw PolicyInconsistentError(issues: all) }
        return policy
    }

    /// Reads rows into a policy, collecting row-level decoding problems instead of stopping.
    func readPolicy() async throws -> (Policy, [PolicyRowIssue]) {
        try await connection.withTransaction(isolation: .repeatableRead) { connection in
            var issues: [PolicyRowIssue] = []
            func issue(_ table: String, _ key: String, _ source: String?, _ problem: String) {
                issues.append(PolicyRowIssue(table: table, key: key, source: source, problem: problem))
            }
            func source(_ table: String, _ key: String, _ document: [String: JSONValue]) -> PolicySource? {
                let text = document["source"]?.stringValue ?? ""
                guard let parsed = SourceText.parse(text) else {
                    issue(table, key, text, "source is neither file:... nor cli:...")
                    return nil
                }
                return parsed
            }
            func date(_ value: JSONValue?) -> Date? { value?.stringValue.flatMap(PGTimestamp.parse) }
            func strings(_ table: String, _ key: String, _ src: String?, _ column: String, _ value: JSONValue?) -> [String] {
                guard let value, value != .null else { return [] }
                guard let array = value.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
                    issue(table, key, src, "\(column) is not a list of names")
                    return []
                }
                return array.compactMap(\.stringValue)
            }
            func project(_ table: String, _ key: String, _ src: String?, _ document: [String: JSONValue]) -> ProjectGrant? {
                let templates = strings(table, key, src, "project_role_templates", document["project_role_templates"])
                let tier = document["project_tier"]?.stringValue
                guard let namespace = document["project_namespace"]?.stringValue else {
                    if !templates.isEmpty || tier != nil {
                        issue(table, key, src, "project role templates or tier given without a project namespace")
                    }
                    return nil
                }
                return ProjectGrant(namespace: namespace, roleTemplates: templates, tier: tier)
            }

            var tiers: [Tier] = []
            for (key, document) in try await PolicyTable.tiers.readAll(connection).sorted(by: { $0.key < $1.key }) {
                let src = document["source"]?.stringValue
                guard let rowSource = source("tiers", key, document) else { continue }
                var quota: [String: Quantity] = [:]
                var valid = true
                if case .object(let members) = document["quota"] ?? .null {
                    for (resource, value) in members.sorted(by: { $0.key < $1.key }) {
                        guard let text = value.stringValue else {
                            issue("tiers", key, src, "quota \(resource) is not a quantity string")
                            valid = false
                            continue
                        }
                        do {
                            quota[resource] = try Quantity(text)
                        } catch {
                            issue("tiers", key, src, "quota \(resource): \(error)")
                            valid = false
                        }
                    }
                } else {
                    issue("tiers", key, src, "quota is not an object")
                    valid = false
                }
                var limits: [LimitRangeItem] = []
                do {
                    limits = try (document["limit_range"] ?? []).decode([LimitRangeItem].self)
                } catch {
                    issue("tiers", key, src, "limit_range: \(Self.decodingMessage(error))")
                    valid = false
                }
                guard let podSecurity = PodSecurityLevel(rawValue: document["pod_security"]?.stringValue ?? "") else {
                    issue("tiers", key, src, "pod_security must be privileged, baseline or restricted")
                    continue
                }
                guard valid, let rank = document["rank"]?.intValue else { continue }
                tiers.append(Tier(
                    name: key, rank: rank, quota: quota, limitRange: limits, podSecurity: podSecurity, source: rowSource))
            }

            var templates: [RoleTemplate] = []
            for (key, document) in try await PolicyTable.roleTemplates.readAll(connection).sorted(by: { $0.key < $1.key }) {
                let src = document["source"]?.stringValue
                guard let rowSource = source("role_templates", key, document) else { continue }
                let body: RoleTemplateBody
                if let clusterRole = document["cluster_role"]?.stringValue {
                    body = .clusterRole(clusterRole)
                } else {
                    do {
                        body = .rules(try (document["rules"] ?? []).decode([PolicyRule].self))
                    } catch {
                        issue("role_templates", key, src, "rules: \(Self.decodingMessage(error))")
                        continue
                    }
                }
                templates.append(RoleTemplate(
                    name: key, body: body, privileged: document["privileged"]?.boolValue ?? false, source: rowSource))
            }

            var grants: [Grant] = []
            for (key, document) in try await PolicyTable.grants.readAll(connection).sorted(by: { $0.key < $1.key }) {
                let src = document["source"]?.stringValue
                guard let rowSource = source("grants", key, document) else { continue }
                grants.append(Grant(
                    id: key, group: document["group_name"]?.stringValue ?? "",
                    hubAccess: document["hub_access"]?.boolValue ?? false,
                    hubAdmin: document["hub_admin"]?.boolValue ?? false,
                    hubGroup: document["hub_group"]?.boolValue ?? false, tier: document["tier"]?.stringValue,
                    project: project("grants", key, src, document), expires: date(document["expires_at"]),
                    source: rowSource))
            }

            var overrides: [Override] = []
            for (key, document) in try await PolicyTable.overrides.readAll(connection).sorted(by: { $0.key < $1.key }) {
                let src = document["source"]?.stringValue
                guard let rowSource = source("overrides", key, document) else { continue }
                let person: PersonSelector
                if let id = document["person_id"]?.stringValue {
                    person = .id(PersonID(id))
                } else if let uid = document["person_uid"]?.stringValue {
                    person = .uid(uid)
                } else {
                    issue("overrides", key, src, "names no person")
                    continue
                }
                overrides.append(Override(
                    id: key, person: person, tier: document["tier"]?.stringValue,
                    hubAccess: document["hub_access"]?.boolValue, hubAdmin: document["hub_admin"]?.boolValue,
                    project: project("overrides", key, src, document),
                    suspended: document["suspended"]?.boolValue ?? false, expires: date(document["expires_at"]),
                    reason: document["reason"]?.stringValue, source: rowSource))
            }

            let settings = try await PolicyTable.settings.readAll(connection)
            let policy = Policy(
                tiers: tiers, roleTemplates: templates, grants: grants, overrides: overrides,
                defaultTier: settings["default_tier"]?["value"]?.stringValue,
                personalRoleTemplate: settings["personal_role_template"]?["value"]?.stringValue)
            return (policy, issues)
        }
    }

    static func decodingMessage(_ error: any Error) -> String {
        if let quantity = error as? QuantityError { return quantity.description }
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError as? QuantityError { return underlying.description }
            return context.debugDescription
        }
        if case DecodingError.keyNotFound(let key, _) = error { return "missing field \(key.stringValue)" }
        if case DecodingError.typeMismatch(_, let context) = error {
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        }
        return String(describing: error)
    }

    // MARK: Loading from files

    /// Makes the stored policy equal to `policy` (from the YAML files).
    ///
    /// Idempotent: a second apply of the same policy changes nothing. Rows missing from `policy` are
    /// deleted only when file-sourced; CLI-sourced rows stay. Every create, update and delete is
    /// audited with the row's before and after documents, in the same transaction as the change.
    /// - Parameters:
    ///   - settingsSource: the source recorded for `defaultTier`/`personalRoleTemplate`.
    ///   - runID: the run (from `SyncRunStore.start`) the audit rows belong to.
    /// - Throws: `PolicyInconsistentError` (nothing is written) when `policy` itself is inconsistent.
    @discardableResult
    public func applyPolicy(
        _ policy: Policy, settingsSource: PolicySource = .file(path: "policies", line: nil), runID: Int64? = nil
    ) async throws -> PolicyApplyReport {
        let issues = PolicyConsistency.issues(in: policy) + Self.duplicateIssues(policy)
        if !issues.isEmpty { throw PolicyInconsistentError(issues: issues) }
        let desired = try PolicyDocuments.documents(for: policy, settingsSource: settingsSource)
        let audit = self.audit

        return try await connection.withTransaction { connection in
            // Serialise policy writers on the policy itself (rows, then the audit head).
            try await connection.query(
                "LOCK TABLE accesssync.tiers, accesssync.role_templates, accesssync.grants, accesssync.overrides, "
                    + "accesssync.policy_settings IN SHARE ROW EXCLUSIVE MODE")
            var changes: [PolicyApplyReport.Change] = []
            var entries: [AuditEntry] = []
            var unchanged = 0
            var kept = 0
            // Deletions in reverse dependency order, then creations/updates in dependency order.
            var deletions: [(PolicyTable, String, [String: JSONValue])] = []
            var current: [String: [String: [String: JSONValue]]] = [:]
            for table in PolicyTable.all {
                current[table.name] = try await table.readAll(connection)
            }
            for table in PolicyTable.all.reversed() {
                let wanted = desired[table.name] ?? [:]
                for (key, document) in (current[table.name] ?? [:]).sorted(by: { $0.key < $1.key })
                where wanted[key] == nil {
                    if document["source"]?.stringValue?.hasPrefix("file:") == true {
                        deletions.append((table, key, document))
                    } else {
                        kept += 1
                    }
                }
            }
            for (table, key, document) in deletions {
                try await table.delete(key: key, connection)
                changes.append(.init(action: .delete, table: table.name, key: key))
                entries.append(AuditEntry(
                    runID: runID, action: "policy.delete", objectKind: table.auditKind, objectName: key,
                    before: .object(document), after: nil, outcome: .succeeded,
                    message: "removed from the policy files"))
            }
            for table in PolicyTable.all {
                let existing = current[table.name] ?? [:]
                for (key, document) in (desired[table.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    if let old = existing[key] {
                        if old == document {
                            unchanged += 1
                            continue
                        }
                        try await table.update(document, connection)
                        changes.append(.init(action: .update, table: table.name, key: key))
                        entries.append(AuditEntry(
                            runID: runID, action: "policy.update", objectKind: table.auditKind, objectName: key,
                            before: .object(old), after: .object(document), outcome: .succeeded))
                    } else {
                        try await table.insert(document, connection)
                        changes.append(.init(action: .create, table: table.name, key: key))
                        entries.append(AuditEntry(
                            runID: runID, action: "policy.create", objectKind: table.auditKind, objectName: key,
                            before: nil, after: .object(document), outcome: .succeeded))
                    }
                }
            }
            if !entries.isEmpty { try await audit.append(entries) }
            // Whatever is stored now must read back consistently (CLI rows may reference file rows).
            let (stored, readIssues) = try await readPolicy()
            let remaining = readIssues + PolicyConsistency.issues(in: stored)
            if !remaining.isEmpty { throw PolicyInconsistentError(issues: remaining) }
            let head = try await audit.head()
            return PolicyApplyReport(changes: changes, unchanged: unchanged, keptCLIRows: kept, auditHead: head.hash)
        }
    }

    static func duplicateIssues(_ policy: Policy) -> [PolicyRowIssue] {
        var issues: [PolicyRowIssue] = []
        var seen: [String: PolicySource] = [:]
        for grant in policy.grants {
            if let first = seen[grant.id] {
                issues.append(PolicyRowIssue(
                    table: "grants", key: grant.id, source: SourceText.format(grant.source),
                    problem: "duplicate grant id (first at \(SourceText.format(first)))"))
            } else {
                seen[grant.id] = grant.source
            }
        }
        seen = [:]
        for override in policy.overrides {
            if let first = seen[override.id] {
                issues.append(PolicyRowIssue(
                    table: "overrides", key: override.id, source: SourceText.format(override.source),
                    problem: "duplicate override id (first at \(SourceText.format(first)))"))
            } else {
                seen[override.id] = override.source
            }
        }
        return issues
    }

    // MARK: CLI edits

    /// Creates or replaces a CLI-sourced grant (`accesssync grant`), audited.
    /// - Throws: `PolicyEditError.fileSourced` when a file-sourced grant has that id,
    ///   `PolicyInconsistentError` when the grant references an unknown tier or template.
    @discardableResult
    public func upsertGrant(_ grant: Grant, runID: Int64? = nil) async throws -> PolicyApplyReport.Change? {
        guard case .cli = grant.source else { throw PolicyEditError.notCLISource(table: "grants", key: grant.id) }
        return try await upsert(.grants, key: grant.id, document: PolicyDocuments.grant(grant), runID: runID)
    }

    /// Creates or replaces a CLI-sourced override, audited.
    @discardableResult
    public func upsertOverride(_ override: Override, runID: Int64? = nil) async throws -> PolicyApplyReport.Change? {
        guard case .cli = override.source else {
            throw PolicyEditError.notCLISource(table: "overrides", key: override.id)
        }
        return try await upsert(.overrides, key: override.id, document: PolicyDocuments.override(override), runID: runID)
    }

    /// Deletes a CLI-sourced grant (`accesssync revoke`), audited.
    public func revokeGrant(id: String, actor: String, runID: Int64? = nil) async throws {
        try await remove(.grants, key: id, actor: actor, runID: runID)
    }

    /// Deletes a CLI-sourced override, audited.
    public func removeOverride(id: String, actor: String, runID: Int64? = nil) async throws {
        try await remove(.overrides, key: id, actor: actor, runID: runID)
    }

    private func upsert(_ table: PolicyTable, key: String, document: [String: JSONValue], runID: Int64?) async throws
        -> PolicyApplyReport.Change?
    {
        let audit = self.audit
        return try await connection.withTransaction { connection in
            let existing = try await connection.query(
                "SELECT \(table.key) FROM \(table.qualified) WHERE \(table.key) = $1 FOR UPDATE", [key])
            let current = existing.rows.isEmpty ? nil : try await table.readAll(connection)[key]
            if let current, let source = current["source"]?.stringValue, source.hasPrefix("file:") {
                throw PolicyEditError.fileSourced(table: table.name, key: key, source: source)
            }
            if current == document { return nil }
            let change: PolicyApplyReport.Change
            if current == nil {
                try await table.insert(document, connection)
                change = .init(action: .create, table: table.name, key: key)
            } else {
                try await table.update(document, connection)
                change = .init(action: .update, table: table.name, key: key)
            }
            try await audit.append(AuditEntry(
                runID: runID, action: "policy.\(change.action.rawValue)", objectKind: table.auditKind, objectName: key,
                before: current.map(JSONValue.object), after: .object(document), outcome: .succeeded))
            let (stored, readIssues) = try await readPolicy()
            let issues = (readIssues + PolicyConsistency.issues(in: stored)).filter {
                $0.table == table.name && $0.key == key
            }
            if !issues.isEmpty { throw PolicyInconsistentError(issues: issues) }
            return change
        }
    }

    private func remove(_ table: PolicyTable, key: String, actor: String, runID: Int64?) async throws {
        let audit = self.audit
        try await connection.withTransaction { connection in
            let existing = try await connection.query(
                "SELECT \(table.key) FROM \(table.qualified) WHERE \(table.key) = $1 FOR UPDATE", [key])
            guard !existing.rows.isEmpty, let current = try await table.readAll(connection)[key] else {
                throw PolicyEditError.notFound(table: table.name, key: key)
            }
            if let source = current["source"]?.stringValue, source.hasPrefix("file:") {
                throw PolicyEditError.fileSourced(table: table.name, key: key, source: source)
            }
            try await table.delete(key: key, connection)
            try await audit.append(AuditEntry(
                runID: runID, action: "policy.delete", objectKind: table.auditKind, objectName: key,
                before: .object(current), after: nil, outcome: .succeeded, message: "removed by \(actor)"))
        }
    }
}
