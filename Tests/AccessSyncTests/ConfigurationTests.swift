import AccessSyncCore
import Foundation
import KubeTarget
import PolicyFiles
import RBACModel
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fresh temporary directory for one test.
func temporaryDirectory(_ name: String = #function) throws -> URL {
    let sanitized = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("accesssync-\(sanitized)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The errors of a configuration that must be rejected.
func configurationErrors(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [YAMLFileError] {
    do {
        _ = try Configuration.parse(text, file: "c.yaml")
        Issue.record("expected the configuration to be rejected", sourceLocation: sourceLocation)
        return []
    } catch {
        #expect(error.exitStatus == .configuration, sourceLocation: sourceLocation)
        return error.errors
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test func emptyFileMeansDefaults() throws {
        let configuration = try Configuration.parse("", file: "c.yaml")
        var expected = Configuration()
        expected.file = "c.yaml"
        #expect(configuration == expected)
        #expect(configuration.planSettings.instance == "default")
        #expect(configuration.planSettings.protectedNamespaces == ["default", "kube-system", "kube-public", "kube-node-lease"])
        #expect(configuration.guardThresholds == GuardThresholds())
        #expect(configuration.ldap.schema == .rfc2307bis)
        #expect(configuration.kubernetes.mode == .kubeconfig)
        #expect(try Configuration.parse("# only a comment\n", file: "c.yaml").sync.instance == "default")
    }

    @Test func documentedExampleLoadsAndMaps() throws {
        let configuration = try Configuration.load(path: repositoryRoot.appendingPathComponent("examples/accesssync.yaml").path)
        #expect(configuration.ldap.uri == "ldaps://ldap.example.org:636")
        #expect(configuration.ldap.bindPassword == .file("/run/secrets/ldap-bind-password"))
        #expect(configuration.ldap.resolvedBase(configuration.ldap.people) == "ou=people,dc=example,dc=org")
        #expect(configuration.ldap.memberReadCheck.canaryGroups == ["jupyter-users"])
        #expect(configuration.ldap.disabled.attributeEquals == ["nsAccountLock": "true"])
        #expect(configuration.postgres.password == .file("/run/secrets/postgres-password"))
        #expect(configuration.postgres.sslMode == "verify-full")
        #expect(configuration.hub.token == .file("/run/secrets/hub-token"))
        #expect(configuration.kubernetes.mode == .inCluster)

        let settings = configuration.planSettings
        #expect(settings.instance == "default")
        #expect(settings.naming.subjectTemplate == "oidc:{uid}")
        #expect(settings.naming.namespaceTemplate == "{hubnamespace}-{username}")
        #expect(settings.naming.hubNamespace == "jhub")
        #expect(settings.groupSubjectTemplate == "oidc:{group}")
        #expect(settings.hubServiceAccountRole == RoleRef(kind: .clusterRole, name: "accesssync-hub-spawner"))
        #expect(settings.protectedNamespaces.isSuperset(of: ["jhub", "monitoring", "kube-system", "default"]))
        #expect(settings.retirementGracePeriod == 30 * 86_400)
        #expect(settings.syncHubGroups)
        #expect(configuration.guardThresholds.maxNewPrivilegedBindings == 3)
    }

    @Test func unknownKeysNameFileLineAndKeyPath() {
        let errors = configurationErrors("""
            ldap:
              uri: ldap://127.0.0.1:3890
              bindPasword: x
              tls:
                verfy: false
            sinc:
              instance: a
            """)
        #expect(errors.contains {
            $0.file == "c.yaml" && $0.line == 3 && $0.field == "ldap.bindPasword"
                && $0.message.contains("unknown key 'bindPasword' (did you mean 'bindPassword'?)")
        })
        #expect(errors.contains { $0.line == 5 && $0.field == "ldap.tls.verfy" && $0.message.contains("did you mean 'verify'?") })
        #expect(errors.contains { $0.line == 6 && $0.field == "sinc" && $0.message.contains("did you mean 'sync'?") })
        let error = ConfigurationError(errors)
        #expect(error.description.contains("c.yaml:3:3: ldap.bindPasword: unknown key"))
    }

    @Test func secretsAreOnlyReferences() {
        let errors = configurationErrors("""
            ldap:
              bindPassword: hunter2
            postgres:
              passwordFile: /run/pg
              passwordEnv: PGPASS
              url: postgres://u:secret@db/x
            hub:
              token: abc123
              tokenEnv: "1BAD"
            kubernetes:
              token: eyJ
            """)
        #expect(errors.contains { $0.line == 2 && $0.message.contains("secrets may not be written in the configuration; use bindPasswordFile") })
        #expect(errors.contains { $0.line == 4 && $0.message.contains("set only one of 'passwordFile' or 'passwordEnv'") })
        #expect(errors.contains { $0.line == 6 && $0.message.contains("connection strings can carry passwords") })
        #expect(errors.contains { $0.line == 8 && $0.field == "hub.token" })
        #expect(errors.contains { $0.line == 9 && $0.message.contains("not an environment variable name") })
        #expect(errors.contains { $0.line == 11 && $0.message.contains("kubeconfig") })
        // No error message repeats a secret value.
        for error in errors {
            for secret in ["hunter2", "secret@db", "abc123", "eyJ"] { #expect(!error.description.contains(secret)) }
        }
    }

    @Test func typesRangesAndChoices() {
        let errors = configurationErrors("""
            ldap:
              pageSize: many
              schema: openldap
              tls: {verify: yes}
              uri: http://ldap
              baseDN: "not a dn"
              people: {filter: "uid=*"}
            postgres: {port: 70000, sslMode: sometimes}
            kubernetes: {mode: render, hubServiceAccountRole: {clusterRole: a, role: b}, hubPodLabels: {"bad key!": x}, requestsPerSecond: -5, burst: 0}
            naming: {namespace: "{hub}-{uid}", hubNamespace: JHub, subject: "oidc:{uid"}
            safety: {maxDeletionsPercent: 150, retirementGracePeriod: 3w, maxPeopleLosingAccess: -1, onRename: keep}
            sync: {instance: "-bad", logLevel: loud, policySource: git}
            """)
        func has(_ line: Int, _ field: String, _ text: String) -> Bool {
            errors.contains { $0.line == line && $0.field == field && $0.message.contains(text) }
        }
        #expect(has(2, "ldap.pageSize", "expected an integer"))
        #expect(has(3, "ldap.schema", "unknown value 'openldap'; expected rfc2307, rfc2307bis, activeDirectory"))
        #expect(has(4, "ldap.tls.verify", "expected true or false"))
        #expect(has(5, "ldap.uri", "ldaps://"))
        #expect(has(6, "ldap.baseDN", "invalid DN"))
        #expect(has(7, "ldap.people.filter", "parenthesised"))
        #expect(has(8, "postgres.port", "1–65535"))
        #expect(has(8, "postgres.sslMode", "unknown sslMode"))
        #expect(has(9, "kubernetes.mode", "needs renderDirectory"))
        #expect(has(9, "kubernetes.hubServiceAccountRole", "set only one of 'clusterRole' or 'role'"))
        #expect(has(9, "kubernetes.hubPodLabels[bad key!]", "invalid label key"))
        #expect(has(9, "kubernetes.requestsPerSecond", "must not be negative (0 means no limit)"))
        #expect(has(9, "kubernetes.burst", "must be greater than zero"))
        #expect(has(10, "naming.namespace", "unknown placeholder {hub}"))
        #expect(has(10, "naming.hubNamespace", "invalid name 'JHub'"))
        #expect(has(10, "naming.subject", "unmatched '{'"))
        #expect(has(11, "safety.maxDeletionsPercent", "between 0 and 100"))
        #expect(has(11, "safety.retirementGracePeriod", "invalid duration '3w'"))
        #expect(has(11, "safety.maxPeopleLosingAccess", "must not be negative"))
        #expect(has(11, "safety.onRename", "unknown value 'keep'; use one of retire-and-create, block"))
        #expect(has(12, "sync.instance", "label value"))
        #expect(has(12, "sync.logLevel", "unknown logLevel"))
        #expect(has(12, "sync.policySource", "unknown value 'git'"))
    }

    @Test func documentShape() {
        #expect(configurationErrors("- a\n- b\n").first?.message.contains("expected a mapping, found a list") == true)
        #expect(configurationErrors("ldap: {}\n---\nhub: {}\n").first?.message.contains("one YAML document") == true)
        #expect(configurationErrors("ldap: [\n").first?.message.hasPrefix("invalid YAML") == true)
        #expect(configurationErrors("ldap: {uri: a}\nldap: {uri: b}\n").first?.message.contains("duplicate key 'ldap'") == true)
    }

    @Test func nullMeansDefaultAndPartialSectionsKeepDefaults() throws {
        let configuration = try Configuration.parse("""
            ldap:
              uri: null
              people: {filter: "(!(uid=svc-*))"}
            kubernetes:
              notebookServiceAccount:
            safety:
              retirementGracePeriod: 12h
              protectedNamespaces: [jhub]
              onRename: block
            """, file: "c.yaml")
        #expect(configuration.safety.onRename == .block)
        #expect(Configuration().safety.onRename == .retireAndCreate)
        #expect(configuration.ldap.uri == nil)
        #expect(configuration.ldap.people.base == "ou=people")  // kept from the default
        #expect(configuration.ldap.people.filter == "(!(uid=svc-*))")
        #expect(configuration.kubernetes.notebookServiceAccount == nil)
        #expect(configuration.safety.retirementGracePeriod == 12 * 3600)
        #expect(configuration.planSettings.protectedNamespaces.contains("jhub"))
        #expect(configuration.planSettings.protectedNamespaces.contains("kube-system"))
    }

    @Test func requestRateReachesTheKubernetesClient() throws {
        let defaults = Configuration().kubernetes.clientOptions
        #expect(defaults.requestsPerSecond == 100 && defaults.burst == 200 && defaults.maxConnections == 16)
        let tuned = try Configuration.parse("kubernetes: {requestsPerSecond: 2.5, burst: 5, concurrency: 4}\n", file: "c.yaml")
        #expect(tuned.kubernetes.clientOptions.requestsPerSecond == 2.5)
        #expect(tuned.kubernetes.clientOptions.burst == 5)
        #expect(tuned.kubernetes.clientOptions.maxConnections == 4)
        let unlimited = try Configuration.parse("kubernetes: {requestsPerSecond: 0}\n", file: "c.yaml")
        #expect(unlimited.kubernetes.clientOptions.requestsPerSecond == nil)
    }

    @Test func effectiveYAMLReadsBackToTheSameConfiguration() throws {
        for path in ["examples/accesssync.yaml", "examples/render.yaml"] {
            let original = try Configuration.load(path: repositoryRoot.appendingPathComponent(path).path)
            let text = original.effectiveYAML(environment: [:])
            var reparsed = try Configuration.parse(text, file: "effective.yaml")
            reparsed.file = original.file
            #expect(reparsed == original, "\(path)")
        }
        var custom = Configuration()
        custom.ldap.disabled.filter = "(employeeType=former)"
        custom.ldap.disabled.attributesPresent = ["nsAccountLock"]
        custom.hub.token = .environment("HUB_TOKEN")
        custom.kubernetes.hubServiceAccountRole = RoleRef(kind: .role, name: "hub-spawner")
        custom.safety.retirementGracePeriod = 90
        custom.kubernetes.requestsPerSecond = nil
        custom.kubernetes.burst = 7
        custom.safety.onRename = .block
        custom.naming.hubUsernameTemplate = "{uid}\"quoted\""
        let text = custom.effectiveYAML(environment: ["HUB_TOKEN": "s3cr3t-value"])
        #expect(!text.contains("s3cr3t-value"))
        #expect(text.contains("tokenEnv: \"HUB_TOKEN\"  # readable (content not shown)"))
        var reparsed = try Configuration.parse(text, file: "x")
        reparsed.file = nil
        #expect(reparsed == custom)
    }

    @Test func checkReportsUnreadableSecretsWithoutRevealingReadableOnes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("bind-password")
        try "correct horse battery staple\n".write(to: secretFile, atomically: true, encoding: .utf8)
        let configFile = directory.appendingPathComponent("c.yaml")
        try """
            ldap: {bindPasswordFile: \(secretFile.path)}
            postgres: {passwordEnv: ACCESSSYNC_TEST_NOT_SET_\(UUID().uuidString.prefix(8))}
            hub: {tokenFile: \(directory.path)/missing-token}
            """.write(to: configFile, atomically: true, encoding: .utf8)
        let result = try ConfigurationCheck.run(path: configFile.path, environment: [:])
        #expect(result.exitStatus == .configuration)
        #expect(result.problems.count == 2)
        #expect(result.problems.contains { $0.hasPrefix("postgres.password: the environment variable ACCESSSYNC_TEST_NOT_SET_") })
        #expect(result.problems.contains { $0 == "hub.token: cannot read the secret file \(directory.path)/missing-token" })
        #expect(!result.effectiveYAML.contains("correct horse"))
        #expect(result.effectiveYAML.contains("bindPasswordFile: \"\(secretFile.path)\"  # readable"))
        #expect(try Configuration.SecretSource.file(secretFile.path).read() == "correct horse battery staple")
        do {
            _ = try ConfigurationCheck.run(path: directory.appendingPathComponent("nope.yaml").path)
            Issue.record("a missing file must fail")
        } catch {
            #expect(error.exitStatus == .configuration)
            #expect(error.message.contains("configuration file does not exist"))
        }
    }

    @Test func ldifMappingUsesSchemaAndBases() throws {
        let configuration = try Configuration.load(path: repositoryRoot.appendingPathComponent("examples/render.yaml").path)
        let mapping = configuration.ldifMapping
        #expect(mapping.style == .rfc2307bis)
        #expect(mapping.peopleBase == "ou=people,dc=example,dc=org")
        #expect(mapping.groupsBase == "ou=groups,dc=example,dc=org")
        #expect(Configuration().ldifMapping.peopleBase == nil)  // relative base without baseDN: everywhere
        var ad = Configuration()
        ad.ldap.schema = .activeDirectory
        ad.ldap.people.base = "CN=Users,DC=corp,DC=example"
        #expect(ad.ldifMapping.identifierAttribute == "objectGUID")
        #expect(ad.ldifMapping.peopleBase == "CN=Users,DC=corp,DC=example")
    }
}

@Suite("Exit statuses")
struct ExitStatusTests {
    @Test func codesAndNamesAreUnique() {
        let codes = ExitStatus.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(Set(ExitStatus.allCases.map(\.name)).count == codes.count)
        #expect(ExitStatus.ok.rawValue == 0)
        #expect(ExitStatus.changesPending.rawValue == 2)
        #expect(ExitStatus.usage.rawValue == 64)
        #expect(ExitStatus.configuration.rawValue == 78)
    }

    @Test func documentedInDocs() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/exit-codes.md"), encoding: .utf8)
        for status in ExitStatus.allCases {
            #expect(text.contains("| \(status.rawValue) | `\(status.name)` |"), "\(status)")
        }
    }
}

@Suite("secret file overrides")
struct SecretOverrideTests {
    @Test func environmentReplacesSecretSources() throws {
        var configuration = Configuration()
        configuration.ldap.bindPassword = .environment("LDAP_PW")
        let overridden = configuration.applyingSecretOverrides(environment: [
            "ACCESSSYNC_LDAP_BIND_PASSWORD_FILE": "/run/secrets/ldap", "ACCESSSYNC_POSTGRES_PASSWORD_FILE": "",
            "ACCESSSYNC_HUB_TOKEN_FILE": "/run/secrets/hub",
        ])
        #expect(overridden.ldap.bindPassword == .file("/run/secrets/ldap"))
        #expect(overridden.postgres.password == nil, "an empty variable changes nothing")
        #expect(overridden.hub.token == .file("/run/secrets/hub"))
        #expect(configuration.applyingSecretOverrides(environment: [:]) == configuration)
    }
}
