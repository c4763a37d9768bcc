import Foundation
import RBACModel
import Testing

@testable import PolicyStore

/// A small but complete policy, as the YAML loader would produce it.
func samplePolicy() throws -> Policy {
    let file = { (name: String, line: Int) in PolicySource.file(path: "policies/\(name).yaml", line: line) }
    return Policy(
        tiers: [
            Tier(name: "small", rank: 1, quota: ["cpu": try Quantity("2"), "memory": try Quantity("4Gi")],
                 limitRange: [LimitRangeItem(type: .container, default: ["cpu": try Quantity("500m")])],
                 podSecurity: .restricted, source: file("tiers", 1)),
            Tier(name: "large", rank: 2, quota: ["cpu": try Quantity("16")], source: file("tiers", 9)),
        ],
        roleTemplates: [
            RoleTemplate(
                name: "editor",
                body: .rules([PolicyRule(apiGroups: ["", "apps"], resources: ["pods", "deployments"], verbs: ["get", "list", "create"])]),
                source: file("templates", 1)),
            RoleTemplate(name: "viewer", body: .clusterRole("view"), source: file("templates", 8)),
        ],
        grants: [
            Grant(id: "ds/hub", group: "data-science", hubAccess: true, hubGroup: true, tier: "small", source: file("grants", 1)),
            Grant(id: "admins/hub", group: "hub-admins", hubAccess: true, hubAdmin: true, source: file("grants", 7)),
            Grant(
                id: "ml/project", group: "ml-team",
                project: ProjectGrant(namespace: "proj-ml", roleTemplates: ["editor", "viewer"], tier: "large"),
                expires: Date(timeIntervalSince1970: 1_900_000_000.25), source: file("grants", 12)),
        ],
        overrides: [
            Override(
                id: "alice-large", person: .id(PersonID("0F5C2A52-1111-4AAA-8BBB-123456789ABC")), tier: "large",
                expires: Date(timeIntervalSince1970: 1_800_000_000), reason: "GPU project", source: file("overrides", 1)),
            Override(id: "bob-suspended", person: .uid("bob"), suspended: true, source: file("overrides", 6)),
        ],
        defaultTier: "small", personalRoleTemplate: "editor")
}

@Suite("policy repository")
struct PolicyRepositoryTests {
    @Test func applyIsIdempotentAndReadsBackTheSamePolicy() async throws {
        try await withTestDatabase { database in
            let owner = try await database.migrated()
            await owner.close()
            let connection = try await database.appConnection()
            defer { Task { await connection.close() } }
            let repository = PolicyRepository(connection: connection, osUser: "alice")
            let policy = try samplePolicy()

            let first = try await repository.applyPolicy(policy)
            let expectedRows = 11  // 2 tiers, 2 templates, 3 grants, 2 overrides, 2 settings
            #expect(first.changes.count == expectedRows)
            #expect(first.changes.allSatisfy { $0.action == .create })

            let second = try await repository.applyPolicy(policy)
            #expect(second.isEmpty, "second apply changed \(second.changes)")
            #expect(second.unchanged == first.changes.count)
            #expect(second.auditHead == first.auditHead)

            let loaded = try await repository.loadPolicy()
            #expect(loaded.tiers == policy.tiers)
            #expect(loaded.roleTemplates == policy.roleTemplates)
            #expect(loaded.grants == policy.grants.sorted { $0.id < $1.id })
            #expect(loaded.overrides == policy.overrides.sorted { $0.id < $1.id })
            #expect(loaded.defaultTier == "small")
            #expect(loaded.personalRoleTemplate == "editor")

            // Every change was audited with its after document, as alice.
            let audit = try await repository.audit.records()
            #expect(audit.count == first.changes.count)
            #expect(audit.allSatisfy { $0.osUser == "alice" && $0.dbRole == "accesssync_app" && $0.outcome == .succeeded })
            let grantRow = try #require(audit.first { $0.objectKind == "Grant" && $0.objectName == "ml/project" })
            #expect(grantRow.after?["project_namespace"] == "proj-ml")
            #expect(grantRow.after?["source"] == "file:policies/grants.yaml:12")
        }
    }

    @Test func applyPrunesOnlyFileRowsAndAuditsBeforeAndAfter() async throws {
        try await withTestDatabase { database in
            let connection = try await database.migrated()
            defer { Task { await connection.close() } }
            let repository = PolicyRepository(connection: connection, osUser: "ops")
            var policy = try samplePolicy()
            try await repository.applyPolicy(policy)

            // A CLI grant, outside the files.
            try await repository.upsertGrant(
                Grant(id: "cli/extra", group: "contractors", hubAccess: true, tier: "small", source: .cli(actor: "carol")))

            // The files change: one grant removed, one tier edited.
            policy.grants.removeAll { $0.id == "admins/hub" }
            policy.tiers["small"]!.quota["cpu"] = try Quantity("3")
            let report = try await repository.applyPolicy(policy)
            #expect(Set(report.changes.map(\.description)) == ["delete grants admins/hub", "update tiers small"])
            #expect(report.keptCLIRows == 1)

            let loaded = try await repository.loadPolicy()
            #expect(loaded.grants.map(\.id).sorted() == ["cli/extra", "ds/hub", "ml/project"])
            #expect(loaded.grants.first { $0.id == "cli/extra" }?.source == .cli(actor: "carol"))

            let rows = try await repository.audit.records()
            let update = try #require(rows.first { $0.action == "policy.update" && $0.objectName == "small" })
            #expect(update.before?["quota"]?["cpu"] == "2")
            #expect(update.after?["quota"]?["cpu"] == "3")
            let deletion = try #require(rows.first { $0.action == "policy.delete" })
            #expect(deletion.objectName == "admins/hub")
            #expect(deletion.after == nil)
            #expect(deletion.before?["group_name"] == "hub-admins")

            // CLI edits cannot touch file rows, and revoke removes CLI rows with an audit row.
            await #expect(throws: PolicyEditError.self) { try await repository.revokeGrant(id: "ds/hub", actor: "carol") }
            try await repository.revokeGrant(id: "cli/extra", actor: "carol")
            #expect(try await repository.loadPolicy().grants.count == 2)
            let verification = try await repository.audit.verify()
            #expect(verification.isIntact, "\(verification.problems)")
        }
    }

    @Test func cliGrantReferencingUnknownTierIsRefused() async throws {
        try await withTestDatabase { database in
            let connection = try await database.migrated()
            defer { Task { await connection.close() } }
            let repository = PolicyRepository(connection: connection)
            try await repository.applyPolicy(try samplePolicy())
            do {
                try await repository.upsertGrant(
                    Grant(id: "cli/bad", group: "x", hubAccess: true, tier: "platinum", source: .cli(actor: "dave")))
                Issue.record("a grant with an unknown tier was stored")
            } catch let error as PolicyInconsistentError {
                #expect(error.issues.map(\.key) == ["cli/bad"])
                #expect(error.description.contains("\"platinum\" is not a known tier"))
            }
            #expect(try await repository.loadPolicy().grants.count == 3)
        }
    }

    @Test func inconsistentRowsAreNamedAndStopTheLoad() async throws {
        try await withTestDatabase { database in
            let connection = try await database.migrated()
            defer { Task { await connection.close() } }
            let repository = PolicyRepository(connection: connection)
            try await repository.applyPolicy(try samplePolicy())
            // Rows edited by hand in the database (as a DBA might), bypassing apply's checks.
            try await connection.query(
                "INSERT INTO accesssync.grants (id, group_name, hub_access, tier, source) VALUES ($1, $2, true, $3, $4)",
                ["g/unknown-tier", "ops", "gold", "cli:dba"])
            try await connection.query(
                "INSERT INTO accesssync.tiers (name, rank, quota, source) VALUES ($1, 3, $2::jsonb, $3)",
                ["broken", #"{"cpu": "", "memory": 4}"#, "file:policies/tiers.yaml:30"])
            try await connection.query(
                "INSERT INTO accesssync.role_templates (name, rules, source) VALUES ($1, $2::jsonb, $3)",
                ["binder", #"[{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": []}]"#,
                 "file:policies/templates.yaml:40"])
            try await connection.query(
                """
                INSERT INTO accesssync.grants (id, group_name, project_namespace, project_role_templates, source)
                VALUES ($1, $2, $3, $4::jsonb, $5)
                """, ["g/unknown-template", "ops", "proj-ops", #"["nonexistent"]"#, "cli:dba"])
            do {
                _ = try await repository.loadPolicy()
                Issue.record("an inconsistent policy loaded")
            } catch let error as PolicyInconsistentError {
                let named = Set(error.issues.map { "\($0.table)/\($0.key)" })
                #expect(named == ["grants/g/unknown-tier", "tiers/broken", "role_templates/binder", "grants/g/unknown-template"])
                #expect(error.issues.contains { $0.key == "broken" && $0.problem.contains("quota cpu") })
                #expect(error.issues.contains { $0.key == "broken" && $0.problem.contains("quota memory is not a quantity string") })
                #expect(error.issues.contains { $0.key == "binder" && $0.problem.contains("bind") && $0.source == "file:policies/templates.yaml:40" })
                #expect(error.description.contains("grants \"g/unknown-tier\" (cli:dba): tier \"gold\" is not a known tier"))
            }
        }
    }

    @Test func inconsistentPolicyIsNotApplied() async throws {
        try await withTestDatabase { database in
            let connection = try await database.migrated()
            defer { Task { await connection.close() } }
            let repository = PolicyRepository(connection: connection)
            var policy = try samplePolicy()
            policy.roleTemplates["escalator"] = RoleTemplate(
                name: "escalator", body: .rules([PolicyRule(apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["escalate"])]),
                source: .file(path: "policies/templates.yaml", line: 20))
            policy.roleTemplates["root"] = RoleTemplate(
                name: "root", body: .clusterRole("cluster-admin"), source: .file(path: "policies/templates.yaml", line: 30))
            policy.grants.append(Grant(id: "ds/hub", group: "dup", source: .file(path: "policies/grants.yaml", line: 50)))
            do {
                try await repository.applyPolicy(policy)
                Issue.record("an inconsistent policy was applied")
            } catch let error as PolicyInconsistentError {
                #expect(Set(error.issues.map(\.key)) == ["escalator", "root", "ds/hub"])
            }
            let count = try await connection.query("SELECT count(*) AS n FROM accesssync.grants")
            #expect(try count.first?.int("n") == 0)
            #expect(try await repository.audit.records().isEmpty)
        }
    }

    @Test func sourcesRoundTrip() {
        for source in [
            PolicySource.file(path: "policies/a:b.yaml", line: 3), .file(path: "policies/x.yaml", line: nil),
            .cli(actor: "alice@host"),
        ] {
            #expect(SourceText.parse(SourceText.format(source)) == source)
        }
        #expect(SourceText.parse("ldap:x") == nil)
    }
}
