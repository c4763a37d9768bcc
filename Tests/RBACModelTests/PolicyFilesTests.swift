import Foundation
import PolicyFiles
import RBACModel
import Testing

/// The repository's `policies/` directory, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Loads files given as (name, text); returns the policy or the errors.
func loadPolicy(_ files: [(String, String)]) -> Result<LoadedPolicy, YAMLFileErrors> {
    Result { () throws(YAMLFileErrors) in
        try PolicyLoader.load(files: files.map { PolicyFileText(sourcePath: $0.0, text: $0.1) })
    }
}

/// The errors of a load that must fail.
func policyErrors(_ files: [(String, String)], sourceLocation: SourceLocation = #_sourceLocation) -> [YAMLFileError] {
    switch loadPolicy(files) {
    case .success:
        Issue.record("expected the policy to be rejected", sourceLocation: sourceLocation)
        return []
    case .failure(let errors):
        return errors.errors
    }
}

let minimalTiers = """
    tiers:
      - name: small
        rank: 10
        quota: {requests.cpu: "1"}
      - name: standard
        rank: 20
        quota: {requests.cpu: "2"}
    roleTemplates:
      - name: viewer
        clusterRole: view
      - name: editor
        rules:
          - apiGroups: [""]
            resources: [pods]
            verbs: [get]
    """

@Suite("Policy files")
struct PolicyFilesTests {
    @Test func shippedPoliciesLoad() throws {
        let directory = repositoryRoot.appendingPathComponent("policies").path
        let loaded = try PolicyLoader.load(directory: directory)
        let policy = loaded.policy
        #expect(loaded.files == ["defaults.yaml", "grants.yaml", "overrides.yaml", "role-templates.yaml", "tiers.yaml"])
        #expect(Set(policy.tiers.keys) == ["small", "standard", "large", "gpu"])
        #expect(Set(policy.roleTemplates.keys) == ["notebook-user", "project-viewer", "project-editor", "project-admin", "hub-spawner"])
        #expect(policy.grants.map(\.group) == ["jupyter-users", "jupyter-admins", "data-science", "ml-platform", "finance-analytics"])
        #expect(policy.defaultTier == "small")
        #expect(policy.personalRoleTemplate == "notebook-user")

        let standard = try #require(policy.tiers["standard"])
        #expect(standard.quota["requests.cpu"] == (try Quantity("2")))
        #expect(standard.quota["limits.cpu"] == (try Quantity("4")))
        #expect(standard.quota["requests.memory"] == (try Quantity("8Gi")))
        #expect(standard.quota["limits.memory"] == (try Quantity("16Gi")))
        #expect(standard.quota["requests.storage"] == (try Quantity("10Gi")))
        #expect(standard.podSecurity == .baseline)
        #expect(policy.tiers["gpu"]?.quota["requests.nvidia.com/gpu"] == Quantity(1))
        let ranks = ["small", "standard", "large", "gpu"].map { policy.tiers[$0]!.rank }
        #expect(ranks == ranks.sorted() && Set(ranks).count == 4)

        // Sources name the file and the line the row starts on.
        let tiersText = try String(contentsOfFile: directory + "/tiers.yaml", encoding: .utf8)
        let standardLine = tiersText.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("- name: standard") }.map { $0 + 1 }
        #expect(standard.source == .file(path: "tiers.yaml", line: standardLine))
        #expect(policy.grants.allSatisfy { if case .file("grants.yaml", .some) = $0.source { true } else { false } })

        #expect(policy.roleTemplates["project-admin"]?.privileged == false)
        #expect(policy.roleTemplates["project-viewer"]?.body == .clusterRole("view"))
        #expect(policy.roleTemplates["hub-spawner"]?.body == .clusterRole("accesssync-hub-spawner"))
        let mlProject = try #require(policy.grants.first { $0.group == "ml-platform" }?.project)
        #expect(mlProject == ProjectGrant(namespace: "proj-ml-platform", roleTemplates: ["project-editor"], tier: "gpu"))
        let override = try #require(policy.overrides.first)
        #expect(override.person == .uid("oivanova"))
        #expect(override.expires == RFC3339.parse("2030-01-01T00:00:00Z"))
    }

    @Test func shippedTemplatesPassTheSafetyCheck() throws {
        let policy = try PolicyLoader.load(directory: repositoryRoot.appendingPathComponent("policies").path).policy
        for template in policy.roleTemplates.values {
            if case .rules(let rules) = template.body {
                for rule in rules { #expect(RoleTemplateSafety.violations(of: rule).isEmpty, "\(template.name)") }
            }
        }
        // notebook-user does not create pods directly and can read but not write RBAC nowhere.
        guard case .rules(let rules) = policy.roleTemplates["notebook-user"]?.body else {
            Issue.record("notebook-user must have rules")
            return
        }
        #expect(!rules.contains { $0.resources.contains("pods") && $0.verbs.contains("create") })
        #expect(!rules.contains { $0.apiGroups.contains("rbac.authorization.k8s.io") })
    }

    @Test func multipleFilesAndDocumentsAreCombined() throws {
        let loaded = try loadPolicy([
            ("b.yaml", "grants:\n  - id: g1\n    group: team\n    tier: small\n---\ndefaults:\n  tier: standard\n"),
            ("a.yaml", minimalTiers),
            ("c.yml", "---\n# only a comment\n"),
        ]).get()
        #expect(loaded.files == ["a.yaml", "b.yaml", "c.yml"])
        #expect(loaded.policy.grants.first?.source == .file(path: "b.yaml", line: 2))
        #expect(loaded.policy.defaultTier == "standard")
        #expect(loaded.policy.tiers["standard"]?.source == .file(path: "a.yaml", line: 5))
    }

    @Test func quantitiesAreCanonical() throws {
        let loaded = try loadPolicy([
            ("t.yaml", "tiers:\n  - name: t\n    rank: 1\n    quota: {requests.cpu: 2000m, limits.memory: 16384Mi, pods: 10}\n")
        ]).get()
        let quota = try #require(loaded.policy.tiers["t"]?.quota)
        #expect(quota["requests.cpu"]?.canonical == "2")
        #expect(quota["limits.memory"]?.canonical == "16Gi")
        #expect(quota["pods"] == Quantity(10))
    }

    // MARK: Errors name file, line and field

    @Test func unknownKeysAreErrorsWithSuggestions() {
        let errors = policyErrors([
            ("x.yaml", "tiers:\n  - name: small\n    rank: 1\n    qouta: {cpu: 1}\ngrant: []\n")
        ])
        #expect(errors.contains {
            $0.file == "x.yaml" && $0.line == 4 && $0.field == "tiers[0].qouta"
                && $0.message.contains("unknown key 'qouta' (did you mean 'quota'?)")
        })
        #expect(errors.contains { $0.line == 5 && $0.field == "grant" && $0.message.contains("did you mean 'grants'?") })
        #expect(errors.contains { $0.line == 2 && $0.field == "tiers[0]" && $0.message == "missing required key 'quota'" })
        #expect(errors.first?.description.hasPrefix("x.yaml:2:") == true)
    }

    @Test func yamlSyntaxErrorsHaveLines() {
        let errors = policyErrors([("bad.yaml", "tiers:\n  - name: small\n    rank: [1\n")])
        #expect(errors.count == 1)
        #expect(errors.first?.file == "bad.yaml")
        #expect(errors.first?.line != nil)
        #expect(errors.first?.message.hasPrefix("invalid YAML") == true)
    }

    @Test func duplicateKeysAreErrors() {
        let errors = policyErrors([("dup.yaml", "tiers:\n  - name: a\n    name: b\n    rank: 1\n    quota: {cpu: 1}\n")])
        #expect(errors.contains { $0.file == "dup.yaml" && $0.message.contains("duplicate key 'name'") })
    }

    @Test func wrongTypes() {
        let errors = policyErrors([
            ("t.yaml", minimalTiers + "\ngrants:\n  - id: g\n    group: team\n    hubAccess: yes\n  - id: h\n    group: [a]\n    hubAccess: true\n"),
            ("r.yaml", "tiers:\n  - name: r\n    rank: high\n    quota: {cpu: 1}\n"),
        ])
        #expect(errors.contains { $0.file == "t.yaml" && $0.line == 19 && $0.field == "grants[0].hubAccess" && $0.message.contains("expected true or false") })
        #expect(errors.contains { $0.file == "t.yaml" && $0.line == 21 && $0.field == "grants[1].group" && $0.message.contains("expected a string, found a list") })
        #expect(errors.contains { $0.file == "r.yaml" && $0.line == 3 && $0.field == "tiers[0].rank" && $0.message.contains("expected an integer") })
    }

    @Test func badQuantitiesAndResourceNames() {
        let errors = policyErrors([
            ("q.yaml", """
                tiers:
                  - name: q
                    rank: 1
                    quota:
                      limits.memory: 16GB
                      requests.cpu: "-1"
                      Bad Name: "1"
                      pods:
                """)
        ])
        #expect(errors.contains {
            $0.line == 5 && $0.field == "tiers[0].quota[limits.memory]" && $0.message.contains("invalid quantity \"16GB\"")
        })
        #expect(errors.contains { $0.line == 6 && $0.message.contains("must not be negative") })
        #expect(errors.contains { $0.line == 7 && $0.message.contains("invalid resource name 'Bad Name'") })
        #expect(errors.contains { $0.field == "tiers[0].quota.pods" && $0.message.contains("found null") })
    }

    @Test func limitRangeIsCheckedLikeTheAPIServer() {
        let errors = policyErrors([
            ("l.yaml", """
                tiers:
                  - name: l
                    rank: 1
                    quota: {requests.cpu: "1"}
                    limitRange:
                      - type: Container
                        defaultRequest: {cpu: "2"}
                        default: {cpu: "1"}
                      - type: Pod
                        default: {cpu: "1"}
                      - type: PersistentVolumeClaim
                        default: {storage: 1Gi}
                      - type: Node
                      - type: Container
                        maxLimitRequestRatio: {cpu: 500m}
                """)
        ])
        #expect(errors.contains { $0.line == 7 && $0.message.contains("defaultRequest cpu 2 must be less than or equal to default cpu 1") })
        #expect(errors.contains { $0.line == 10 && $0.message == "may not be set when type is Pod" })
        #expect(errors.contains { $0.line == 11 && $0.message.contains("needs min or max storage") })
        #expect(errors.contains { $0.line == 13 && $0.message.contains("unknown limit type 'Node'") })
        #expect(errors.contains { $0.line == 15 && $0.message.contains("must be at least 1") })
    }

    @Test func namesAndNamespaces() {
        let errors = policyErrors([
            ("n.yaml", minimalTiers + """

                grants:
                  - id: g1
                    group: team
                    project: {namespace: Team_001, roleTemplates: [viewer]}
                  - id: g2
                    group: team
                    project: {namespace: kube-system, roleTemplates: [viewer]}
                  - id: "has space"
                    group: team
                    hubAccess: true
                """),
            ("t.yaml", "tiers:\n  - name: Large\n    rank: 99\n    quota: {cpu: 1}\n"),
        ])
        #expect(errors.contains { $0.line == 19 && $0.field == "grants[0].project.namespace" && $0.message.contains("invalid namespace name 'Team_001'") })
        #expect(errors.contains { $0.line == 22 && $0.message.contains("reserved") })
        #expect(errors.contains { $0.line == 23 && $0.field == "grants[2].id" && $0.message.contains("invalid id") })
        #expect(errors.contains { $0.file == "t.yaml" && $0.line == 2 && $0.message.contains("invalid name 'Large'") })
    }

    @Test func expiryMustBeRFC3339() {
        let errors = policyErrors([
            ("e.yaml", minimalTiers + """

                grants:
                  - id: g1
                    group: team
                    hubAccess: true
                    expires: 2025-12-31
                  - id: g2
                    group: team
                    hubAccess: true
                    expires: "2025-13-01T00:00:00Z"
                  - id: g3
                    group: team
                    hubAccess: true
                    expires: 2025-12-31T23:59:59+01:00
                """)
        ])
        #expect(errors.count == 2)
        #expect(errors.contains { $0.line == 20 && $0.field == "grants[0].expires" && $0.message.contains("expected RFC 3339") })
        #expect(errors.contains { $0.line == 24 && $0.message.contains("invalid timestamp '2025-13-01T00:00:00Z'") })
    }

    @Test func unknownReferences() {
        let errors = policyErrors([
            ("a.yaml", minimalTiers),
            ("b.yaml", """
                grants:
                  - id: g1
                    group: team
                    tier: standrad
                    project: {namespace: proj-a, roleTemplates: [viewer, admin], tier: huge}
                defaults:
                  personalRoleTemplate: notebook
                overrides:
                  - id: o1
                    uid: alice
                    tier: gpu
                """),
        ])
        #expect(errors.contains {
            $0.file == "b.yaml" && $0.line == 4 && $0.field == "grants[0].tier"
                && $0.message == "unknown tier 'standrad' (defined: small, standard)"
        })
        #expect(errors.contains { $0.line == 5 && $0.field == "grants[0].project.roleTemplates[1]" && $0.message.contains("unknown role template 'admin'") })
        #expect(errors.contains { $0.line == 5 && $0.field == "grants[0].project.tier" && $0.message.contains("unknown tier 'huge'") })
        #expect(errors.contains { $0.line == 7 && $0.message.contains("unknown role template 'notebook'") })
        #expect(errors.contains { $0.line == 11 && $0.message.contains("unknown tier 'gpu'") })
    }

    @Test func duplicatesNameTheFirstDefinition() {
        let errors = policyErrors([
            ("a.yaml", minimalTiers + "\ngrants:\n  - {id: g1, group: a, hubAccess: true}\ndefaults: {tier: small}\n"),
            ("b.yaml", """
                tiers:
                  - name: small
                    rank: 20
                    quota: {cpu: "1"}
                roleTemplates:
                  - {name: viewer, clusterRole: view}
                grants:
                  - {id: g1, group: b, hubAccess: true}
                defaults: {tier: standard}
                overrides:
                  - {id: o, uid: x, hubAdmin: true}
                  - {id: o, uid: y, hubAdmin: true}
                """),
        ])
        #expect(errors.contains { $0.file == "b.yaml" && $0.line == 2 && $0.message == "duplicate tier 'small' (first defined at a.yaml:2)" })
        #expect(errors.contains { $0.file == "b.yaml" && $0.line == 2 && $0.message == "duplicate tier rank '20' (first defined at a.yaml:5)" })
        #expect(errors.contains { $0.file == "b.yaml" && $0.line == 6 && $0.message.contains("duplicate role template 'viewer'") })
        #expect(errors.contains { $0.file == "b.yaml" && $0.line == 8 && $0.message.contains("duplicate grant id 'g1' (first defined at a.yaml:17)") })
        #expect(errors.contains { $0.file == "b.yaml" && $0.line == 9 && $0.message.contains("a second 'defaults' section (first at a.yaml:18)") })
        #expect(errors.contains { $0.file == "b.yaml" && $0.line == 12 && $0.message.contains("duplicate override id 'o'") })
    }

    @Test(arguments: [
        ("[rbac.authorization.k8s.io]", "[rolebindings]", "[create]", "writing RBAC objects"),
        ("[\"*\"]", "[\"*\"]", "[\"*\"]", "writing RBAC objects"),
        ("[rbac.authorization.k8s.io]", "[clusterroles]", "[bind]", "verb 'bind'"),
        ("[rbac.authorization.k8s.io]", "[roles]", "[escalate]", "verb 'escalate'"),
        ("[\"\"]", "[users, groups]", "[impersonate]", "verb 'impersonate'"),
        ("[\"\"]", "[serviceaccounts]", "[\"*\"]", "includes impersonate"),
        ("[\"\"]", "[serviceaccounts/token]", "[create]", "serviceaccounts/token"),
        ("[\"\"]", "[\"serviceaccounts/*\"]", "[create]", "serviceaccounts/token"),
    ])
    func forbiddenRules(apiGroups: String, resources: String, verbs: String, reason: String) {
        let errors = policyErrors([
            ("r.yaml", """
                roleTemplates:
                  - name: bad
                    rules:
                      - apiGroups: [""]
                        resources: [pods]
                        verbs: [get]
                      - apiGroups: \(apiGroups)
                        resources: \(resources)
                        verbs: \(verbs)
                """)
        ])
        #expect(errors.count == 1)
        #expect(errors.first?.line == 7)
        #expect(errors.first?.field == "roleTemplates[0].rules[1]")
        #expect(errors.first?.message.hasPrefix("forbidden rule: ") == true)
        #expect(errors.first?.message.contains(reason) == true, "\(errors)")
    }

    @Test func readingRBACIsAllowed() throws {
        let loaded = try loadPolicy([
            ("r.yaml", "roleTemplates:\n  - name: ok\n    rules:\n      - apiGroups: [rbac.authorization.k8s.io]\n        resources: [\"*\"]\n        verbs: [get, list, watch]\n")
        ]).get()
        #expect(loaded.policy.roleTemplates["ok"] != nil)
    }

    @Test func privilegedClusterRolesNeedTheFlag() throws {
        let errors = policyErrors([
            ("p.yaml", "roleTemplates:\n  - name: boss\n    clusterRole: cluster-admin\n  - name: both\n    clusterRole: view\n    rules: []\n  - name: none\n")
        ])
        #expect(errors.contains { $0.line == 3 && $0.field == "roleTemplates[0].clusterRole" && $0.message.contains("needs 'privileged: true'") })
        #expect(errors.contains { $0.line == 4 && $0.message.contains("set only one of 'rules' or 'clusterRole'") })
        #expect(errors.contains { $0.line == 7 && $0.message.contains("needs one of 'rules' or 'clusterRole'") })
        let loaded = try loadPolicy([
            ("p.yaml", "roleTemplates:\n  - name: boss\n    clusterRole: admin\n    privileged: true\n")
        ]).get()
        #expect(loaded.policy.roleTemplates["boss"]?.privileged == true)
    }

    @Test func grantsAndOverridesMustDoSomething() {
        let errors = policyErrors([
            ("g.yaml", """
                grants:
                  - id: g
                    group: team
                overrides:
                  - id: o1
                    uid: alice
                  - id: o2
                    uid: alice
                    personId: 6f1c2a4e-4b7d-5d0e-9c1a-acce55a11c0d
                    suspended: true
                  - id: o3
                    personId: not-a-uuid
                    suspended: true
                """)
        ])
        #expect(errors.contains { $0.line == 2 && $0.message.contains("grant gives nothing") })
        #expect(errors.contains { $0.line == 5 && $0.message.contains("override changes nothing") })
        #expect(errors.contains { $0.line == 7 && $0.message.contains("set only one of 'uid' or 'personId'") })
        #expect(errors.contains { $0.line == 12 && $0.message.contains("not a UUID") })
    }

    @Test func overridesByIdentifierAndSuspension() throws {
        let loaded = try loadPolicy([
            ("o.yaml", """
                overrides:
                  - id: leave
                    personId: 6F1C2A4E-4B7D-5D0E-9C1A-ACCE55A11C0D
                    suspended: true
                    expires: 2026-03-01T00:00:00Z
                    reason: parental leave
                """)
        ]).get()
        let override = try #require(loaded.policy.overrides.first)
        #expect(override.person == .id(PersonID("6f1c2a4e-4b7d-5d0e-9c1a-acce55a11c0d")))
        #expect(override.suspended)
        #expect(override.reason == "parental leave")
        #expect(override.expires.map(RFC3339.format) == "2026-03-01T00:00:00Z")
    }

    @Test func projectTierConflicts() {
        let errors = policyErrors([
            ("a.yaml", minimalTiers + """

                grants:
                  - id: g1
                    group: a
                    project: {namespace: proj-x, roleTemplates: [viewer], tier: small}
                  - id: g2
                    group: b
                    project: {namespace: proj-x, roleTemplates: [editor], tier: standard}
                  - id: g3
                    group: c
                    project: {namespace: proj-x, roleTemplates: [editor, editor]}
                """)
        ])
        #expect(errors.contains { $0.line == 22 && $0.message.contains("has tier 'standard' here but 'small' at a.yaml:19") })
        #expect(errors.contains { $0.line == 25 && $0.message.contains("lists a role template twice") })
    }

    @Test func apiVersionAndDocumentShape() {
        let errors = policyErrors([
            ("v.yaml", "apiVersion: accesssync.io/v2\ntiers: []\n"),
            ("l.yaml", "- just\n- a list\n"),
        ])
        #expect(errors.contains { $0.file == "v.yaml" && $0.line == 1 && $0.message.contains("unsupported apiVersion") })
        #expect(errors.contains { $0.file == "l.yaml" && $0.line == 1 && $0.message.contains("expected a mapping, found a list") })
    }

    @Test func collectsAllErrorsSortedByFileAndLine() throws {
        let errors = policyErrors([
            ("b.yaml", "tiers:\n  - name: B\n    rank: 1\n    quota: {cpu: x}\n"),
            ("a.yaml", "grants:\n  - id: g\n    group: t\n    tier: nope\n"),
        ])
        #expect(errors.count == 3)
        #expect(errors.map(\.file) == ["a.yaml", "b.yaml", "b.yaml"])
        #expect(errors.map(\.line) == [4, 2, 4])
        let description = YAMLFileErrors(errors).description
        #expect(description.split(separator: "\n").count == 3)
    }

    @Test func directoryErrors() throws {
        let missing = "/nonexistent/accesssync-policy-\(UUID().uuidString)"
        #expect(throws: YAMLFileErrors.self) { try PolicyLoader.load(directory: missing) }
        do {
            _ = try PolicyLoader.load(directory: missing)
        } catch {
            #expect(error.errors.first?.message == "policy directory does not exist")
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("policy-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try "notes".write(to: empty.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        do {
            _ = try PolicyLoader.load(directory: empty.path)
            Issue.record("an empty directory must fail")
        } catch {
            #expect(error.errors.first?.message.contains("no policy files") == true)
        }
        // Nested files load; hidden ones are skipped; errors use the directory as given.
        let nested = empty.appendingPathComponent("team")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try "tiers:\n  - {name: a, rank: 1, quota: {cpu: x}}\n".write(
            to: nested.appendingPathComponent("t.yaml"), atomically: true, encoding: .utf8)
        try "garbage: [".write(to: empty.appendingPathComponent(".hidden.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try PolicyLoader.load(directory: empty.path)
            Issue.record("a bad quantity must fail")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.errors.first?.file == empty.path + "/team/t.yaml")
            #expect(error.errors.first?.line == 2)
        }
    }
}

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0.0), ("2025-06-30T17:00:00Z", 1_751_302_800), ("2025-06-30T19:00:00+02:00", 1_751_302_800),
        ("2025-06-30t17:00:00z", 1_751_302_800), ("2024-02-29T12:00:00.5Z", 1_709_208_000.5),
        ("1969-12-31T23:59:59Z", -1), ("2000-03-01T00:00:00-00:30", 951_870_600),
    ])
    func parses(text: String, seconds: Double) {
        #expect(RFC3339.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: [
        "2025-06-30", "2025-06-30T17:00:00", "2025-06-30 17:00:00Z", "2023-02-29T00:00:00Z", "2025-06-31T00:00:00Z",
        "2025-06-30T24:00:00Z", "2025-06-30T17:00:00.Z", "2025-06-30T17:00:00+0200", "25-06-30T17:00:00Z", "",
        "2025-06-30T17:00:00Zjunk",
    ])
    func rejects(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsUTC() {
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_751_302_800)) == "2025-06-30T17:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }
}
