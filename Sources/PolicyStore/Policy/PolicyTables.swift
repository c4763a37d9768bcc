import Foundation
import RBACModel

/// Column types of the policy tables, for generic row reads and writes.
enum ColumnType {
    case text, bool, int, jsonb, timestamptz

    var cast: String {
        switch self {
        case .text: "text"
        case .bool: "boolean"
        case .int: "integer"
        case .jsonb: "jsonb"
        case .timestamptz: "timestamptz"
        }
    }
}

/// A policy table: its key column and the columns a row document holds (`updated_at` excluded).
struct PolicyTable: Sendable {
    let name: String
    /// Object kind used in audit rows.
    let auditKind: String
    let key: String
    let columns: [(name: String, type: ColumnType)]

    static let tiers = PolicyTable(
        name: "tiers", auditKind: "Tier", key: "name",
        columns: [
            ("name", .text), ("rank", .int), ("quota", .jsonb), ("limit_range", .jsonb), ("pod_security", .text),
            ("source", .text),
        ])
    static let roleTemplates = PolicyTable(
        name: "role_templates", auditKind: "RoleTemplate", key: "name",
        columns: [("name", .text), ("rules", .jsonb), ("cluster_role", .text), ("privileged", .bool), ("source", .text)])
    static let grants = PolicyTable(
        name: "grants", auditKind: "Grant", key: "id",
        columns: [
            ("id", .text), ("group_name", .text), ("hub_access", .bool), ("hub_admin", .bool), ("hub_group", .bool),
            ("tier", .text), ("project_namespace", .text), ("project_role_templates", .jsonb), ("project_tier", .text),
            ("expires_at", .timestamptz), ("source", .text),
        ])
    static let overrides = PolicyTable(
        name: "overrides", auditKind: "Override", key: "id",
        columns: [
            ("id", .text), ("person_id", .text), ("person_uid", .text), ("tier", .text), ("hub_access", .bool),
            ("hub_admin", .bool), ("project_namespace", .text), ("project_role_templates", .jsonb),
            ("project_tier", .text), ("suspended", .bool), ("expires_at", .timestamptz), ("reason", .text),
            ("source", .text),
        ])
    static let settings = PolicyTable(
        name: "policy_settings", auditKind: "PolicySetting", key: "name",
        columns: [("name", .text), ("value", .text), ("source", .text)])

    /// In dependency order (referenced tables first).
    static let all: [PolicyTable] = [.tiers, .roleTemplates, .grants, .overrides, .settings]

    var qualified: String { "accesssync.\(name)" }

    var selectList: String {
        columns.map { column in
            column.type == .timestamptz
                ? "to_char(\(column.name) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS \(column.name)"
                : column.name
        }.joined(separator: ", ")
    }

    /// Reads every row as a document (column name → JSON value; SQL NULL → `.null`).
    func readAll(_ connection: PGConnection) async throws -> [String: [String: JSONValue]] {
        let result = try await connection.query("SELECT \(selectList) FROM \(qualified) ORDER BY \(key)")
        var rows: [String: [String: JSONValue]] = [:]
        for row in result.rows {
            var document: [String: JSONValue] = [:]
            for column in columns {
                guard let text = row[column.name] else {
                    document[column.name] = .null
                    continue
                }
                switch column.type {
                case .text, .timestamptz: document[column.name] = .string(text)
                case .bool: document[column.name] = .bool(text == "t")
                case .int: document[column.name] = .number(text)
                case .jsonb: document[column.name] = try row.json(column.name) ?? .null
                }
            }
            rows[document[key]?.stringValue ?? ""] = document
        }
        return rows
    }

    private func parameter(_ value: JSONValue?, _ type: ColumnType) -> any PGParam {
        guard let value, value != .null else { return PGNull() }
        switch (type, value) {
        case (.text, .string(let text)), (.timestamptz, .string(let text)): return text
        case (.bool, .bool(let flag)): return flag
        case (.int, .number(let text)): return text
        default: return value.canonicalText
        }
    }

    func insert(_ document: [String: JSONValue], _ connection: PGConnection) async throws {
        let names = columns.map(\.name).joined(separator: ", ")
        let placeholders = columns.enumerated().map { "$\($0.offset + 1)::\($0.element.type.cast)" }
            .joined(separator: ", ")
        try await connection.query(
            "INSERT INTO \(qualified) (\(names)) VALUES (\(placeholders))",
            columns.map { parameter(document[$0.name], $0.type) })
    }

    func update(_ document: [String: JSONValue], _ connection: PGConnection) async throws {
        let others = columns.filter { $0.name != key }
        let assignments = others.enumerated().map { "\($0.element.name) = $\($0.offset + 2)::\($0.element.type.cast)" }
            .joined(separator: ", ")
        try await connection.query(
            "UPDATE \(qualified) SET \(assignments), updated_at = now() WHERE \(key) = $1",
            [parameter(document[key], .text)] + others.map { parameter(document[$0.name], $0.type) })
    }

    func delete(key value: String, _ connection: PGConnection) async throws {
        try await connection.query("DELETE FROM \(qualified) WHERE \(key) = $1", [value])
    }
}

/// Policy values ⇄ row documents.
enum PolicyDocuments {
    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
    static func optional(_ flag: Bool?) -> JSONValue { flag.map(JSONValue.bool) ?? .null }
    static func timestamp(_ date: Date?) -> JSONValue { date.map { .string(PGTimestamp.format($0)) } ?? .null }

    static func tier(_ tier: Tier) throws -> [String: JSONValue] {
        [
            "name": .string(tier.name), "rank": .number(String(tier.rank)),
            "quota": .object(tier.quota.mapValues { .string($0.canonical) }),
            "limit_range": try JSONValue.encoding(tier.limitRange), "pod_security": .string(tier.podSecurity.rawValue),
            "source": .string(SourceText.format(tier.source)),
        ]
    }

    static func roleTemplate(_ template: RoleTemplate) throws -> [String: JSONValue] {
        var document: [String: JSONValue] = [
            "name": .string(template.name), "privileged": .bool(template.privileged),
            "source": .string(SourceText.format(template.source)), "rules": .null, "cluster_role": .null,
        ]
        switch template.body {
        case .rules(let rules): document["rules"] = try JSONValue.encoding(rules)
        case .clusterRole(let name): document["cluster_role"] = .string(name)
        }
        return document
    }

    static func project(_ project: ProjectGrant?, into document: inout [String: JSONValue]) {
        document["project_namespace"] = optional(project?.namespace)
        document["project_role_templates"] = .array((project?.roleTemplates ?? []).map(JSONValue.string))
        document["project_tier"] = optional(project?.tier)
    }

    static func grant(_ grant: Grant) -> [String: JSONValue] {
        var document: [String: JSONValue] = [
            "id": .string(grant.id), "group_name": .string(grant.group), "hub_access": .bool(grant.hubAccess),
            "hub_admin": .bool(grant.hubAdmin), "hub_group": .bool(grant.hubGroup), "tier": optional(grant.tier),
            "expires_at": timestamp(grant.expires), "source": .string(SourceText.format(grant.source)),
        ]
        project(grant.project, into: &document)
        return document
    }

    static func override(_ override: Override) -> [String: JSONValue] {
        var document: [String: JSONValue] = [
            "id": .string(override.id), "person_id": .null, "person_uid": .null, "tier": optional(override.tier),
            "hub_access": optional(override.hubAccess), "hub_admin": optional(override.hubAdmin),
            "suspended": .bool(override.suspended), "expires_at": timestamp(override.expires),
            "reason": optional(override.reason), "source": .string(SourceText.format(override.source)),
        ]
        switch override.person {
        case .id(let id): document["person_id"] = .string(id.rawValue)
        case .uid(let uid): document["person_uid"] = .string(uid)
        }
        project(override.project, into: &document)
        return document
    }

    static func setting(_ name: String, _ value: String, source: PolicySource) -> [String: JSONValue] {
        ["name": .string(name), "value": .string(value), "source": .string(SourceText.format(source))]
    }

    /// Every table's documents for a policy, keyed by table name then row key.
    static func documents(for policy: Policy, settingsSource: PolicySource) throws
        -> [String: [String: [String: JSONValue]]]
    {
        var tables: [String: [String: [String: JSONValue]]] = [:]
        tables["tiers"] = Dictionary(uniqueKeysWithValues: try policy.tiers.map { ($0.key, try tier($0.value)) })
        tables["role_templates"] = Dictionary(
            uniqueKeysWithValues: try policy.roleTemplates.map { ($0.key, try roleTemplate($0.value)) })
        var grants: [String: [String: JSONValue]] = [:]
        for item in policy.grants { grants[item.id] = grant(item) }
        tables["grants"] = grants
        var overrides: [String: [String: JSONValue]] = [:]
        for item in policy.overrides { overrides[item.id] = override(item) }
        tables["overrides"] = overrides
        var settings: [String: [String: JSONValue]] = [:]
        if let value = policy.defaultTier { settings["default_tier"] = setting("default_tier", value, source: settingsSource) }
        if let value = policy.personalRoleTemplate {
            settings["personal_role_template"] = setting("personal_role_template", value, source: settingsSource)
        }
        tables["policy_settings"] = settings
        return tables
    }
}
