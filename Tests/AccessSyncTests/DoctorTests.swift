import AccessSyncCore
import Foundation
import KubeTarget
import KubeTestServer
import Logging
import PolicyStore
import RBACModel
import Testing

/// `accesssync doctor` against the real servers (slapd, PostgreSQL, JupyterHub) and the test API
/// server: a good setup passes every check; each deliberately broken one fails with its own line.
@Suite("accesssync doctor")
struct DoctorTests {
    /// The job's identity in the test API server; its rights come only from stored RBAC objects.
    static let jobToken = "doctor-job-token"
    static let jobUser = "system:serviceaccount:accesssync:accesssync"
    static let weakToken = "doctor-weak-token"
    static let weakUser = "system:serviceaccount:accesssync:weak"

    static var logger: Logger {
        var logger = Logger(label: "accesssync.doctor.test")
        logger.logLevel = .critical
        return logger
    }

    /// `deploy/base/clusterrole.yaml`'s rules as (group, resource, verb) triples (its flow lists).
    static func deployClusterRole() throws -> Set<String> {
        let text = try String(
            contentsOf: repositoryRoot.appendingPathComponent("deploy/base/clusterrole.yaml"), encoding: .utf8)
        func list(_ line: Substring) -> [String] {
            guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return [] }
            return line[line.index(after: open)..<close].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            }
        }
        var rules: [[String: [String]]] = []
        for raw in text.split(separator: "\n") {
            let line = raw.drop { $0 == " " }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("- apiGroups:") {
                rules.append(["apiGroups": list(line)])
            } else if line.hasPrefix("resources:") || line.hasPrefix("verbs:"), !rules.isEmpty {
                rules[rules.count - 1][String(line.prefix { $0 != ":" })] = list(line)
            }
        }
        var out: Set<String> = []
        for rule in rules {
            for group in rule["apiGroups"] ?? [] {
                for resource in rule["resources"] ?? [] {
                    for verb in rule["verbs"] ?? [] { out.insert("\(group)|\(resource)|\(verb)") }
                }
            }
        }
        return out
    }

    @Test func permissionTableIsTheDeployedClusterRole() throws {
        let table = Set(KubePermissions.required.map { "\($0.group)|\($0.resource)|\($0.verb)" })
        let deployed = try Self.deployClusterRole()
        #expect(deployed.count > 30)
        #expect(table.subtracting(deployed).isEmpty, "needed but not in deploy/base/clusterrole.yaml: \(table.subtracting(deployed).sorted())")
        #expect(deployed.subtracting(table).isEmpty, "granted but not in KubePermissions: \(deployed.subtracting(table).sorted())")
        #expect(table.contains("rbac.authorization.k8s.io|roles|escalate"))
        #expect(table.contains("rbac.authorization.k8s.io|clusterroles|bind"))
    }

    /// A world whose API server authorizes `jobToken` from stored RBAC only, with the job's
    /// ClusterRole (built from `rules`) bound to it, and `weakToken` bound to `weakRules`.
    static func startWorld(weakRules: [RBACModel.JSONValue]) async throws -> SyncWorld {
        let world = try await SyncWorld.start(people: ["alice", "bob"]) { server in
            server.authorizeFromStoredRBAC = true
            server.tokens[jobToken] = UserInfo(name: jobUser, groups: ["system:serviceaccounts"])
            server.tokens[weakToken] = UserInfo(name: weakUser, groups: ["system:serviceaccounts"])
        }
        do {
            // The deployed ClusterRole, verbatim, and a weaker one, bound through the API as an admin would.
            var rules: [String: Set<String>] = [:]
            for permission in KubePermissions.required {
                rules["\(permission.group)|\(permission.resource)", default: []].insert(permission.verb)
            }
            let jobRules: [RBACModel.JSONValue] = rules.keys.sorted().map { key in
                let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                return .object([
                    "apiGroups": .array([.string(parts[0])]), "resources": .array([.string(parts[1])]),
                    "verbs": .array(rules[key]!.sorted().map { .string($0) }),
                ])
            }
            let admin = try KubeClient(
                configuration: try KubeClientConfiguration.fromKubeconfig(path: world.kubeconfigPath),
                logger: Self.logger)
            for (name, user, roleRules) in [("accesssync", jobUser, jobRules), ("weak", weakUser, weakRules)] {
                _ = try await admin.sendJSON(
                    KubeRequest(
                        method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                        body: .object(["metadata": .object(["name": .string(name)]), "rules": .array(roleRules)])))
                _ = try await admin.sendJSON(
                    KubeRequest(
                        method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                        body: .object([
                            "metadata": .object(["name": .string(name)]),
                            "roleRef": .object([
                                "apiGroup": .string("rbac.authorization.k8s.io"), "kind": .string("ClusterRole"), "name": .string(name),
                            ]),
                            "subjects": .array([.object(["kind": .string("User"), "name": .string(user)])]),
                        ])))
            }
            try? await admin.shutdown()
            // The job's kubeconfig.
            let path = world.workDirectory.appendingPathComponent("job-kubeconfig").path
            try world.cluster.writeKubeconfig(to: path, token: jobToken)
            world.configuration.kubernetes.kubeconfig = path
            // The database as the application role: a login that is only a member of accesssync_app.
            let role = "doctor_\(world.tag)"
            let password = UUID().uuidString
            let passwordFile = world.workDirectory.appendingPathComponent("app.pw")
            try Data(password.utf8).write(to: passwordFile)
            let connection = try await PGConnection.connect(world.pgOptions)
            try await connection.query("CREATE ROLE \(role) LOGIN PASSWORD '\(password)' IN ROLE accesssync_app")
            await connection.close()
            world.configuration.postgres.user = role
            world.configuration.postgres.password = .file(passwordFile.path)
        } catch {
            await world.stop()
            throw error
        }
        return world
    }

    static func stop(_ world: SyncWorld) async {
        let role = "doctor_\(world.tag)"
        await world.stop()
        if let admin = try? await PGConnection.connect(world.environment.pgServerOptions) {
            _ = try? await admin.query("DROP ROLE IF EXISTS \(role)")
            await admin.close()
        }
    }

    static func withWorld(weakRules: [RBACModel.JSONValue] = [], _ body: (SyncWorld) async throws -> Void) async throws {
        let world = try await startWorld(weakRules: weakRules)
        do {
            try await body(world)
        } catch {
            await stop(world)
            throw error
        }
        await stop(world)
    }

    static func expectFailed(_ report: Doctor.Report, _ id: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let check = report.check(id)
        #expect(check?.status == .failed, "\(id): \(String(describing: check))", sourceLocation: sourceLocation)
        let line = "\(check?.detail ?? "") \(check?.fix ?? "")"
        for fragment in fragments {
            #expect(line.contains(fragment), "\(id) should mention \(fragment): \(line)", sourceLocation: sourceLocation)
        }
        #expect(check?.fix?.isEmpty == false, "\(id) has no fix", sourceLocation: sourceLocation)
        #expect(report.exitStatus == .verificationFailed, sourceLocation: sourceLocation)
    }

    @Test func goodSetupPassesEveryCheck() async throws {
        try await Self.withWorld { world in
            let report = await Doctor.run(configuration: world.configuration, logger: Self.logger)
            let text = Doctor.text(report)
            #expect(report.failed.isEmpty, "\(text)")
            #expect(report.exitStatus == .ok)
            for id in [
                "ldap.bind", "ldap.paging", "ldap.members", "postgres.connect", "postgres.audit_rights", "kubernetes.api",
                "hub.version", "hub.token", "hub.token.admin", "hub.token.scopes",
            ] {
                #expect(report.check(id)?.status == .ok, "\(id): \(text)")
            }
            // The application role reads the migration state (migration 0005), so this is a real check.
            #expect(report.check("postgres.migrations")?.status == .ok, "\(text)")
            #expect(report.check("postgres.migrations")?.detail.contains("migrations applied") == true, "\(text)")
            let rbac = report.checks.filter { $0.id.hasPrefix("kubernetes.rbac.") }
            #expect(rbac.count == Set(KubePermissions.required.map(\.resource)).count)
            #expect(rbac.allSatisfy { $0.status == .ok }, "\(text)")
            #expect(report.check("kubernetes.rbac.roles")?.detail.contains("escalate") == true)
            // One SelfSubjectAccessReview per permission, as the job's user.
            let reviews = world.cluster.requestLog.filter { $0.path.hasSuffix("selfsubjectaccessreviews") }
            #expect(reviews.count == KubePermissions.required.count)
            #expect(reviews.allSatisfy { $0.user == Self.jobUser })
            // The checklist of what the hub API cannot show.
            for id in [
                "hub.config.allow_existing_users", "hub.config.allow_all", "hub.config.allowed_groups",
                "hub.config.delete_pvc", "hub.config.manage_groups",
            ] {
                #expect(report.check(id)?.status == .manual, "\(id): \(text)")
            }
            #expect(report.check("hub.config.delete_pvc")?.fix == "c.KubeSpawner.delete_pvc = False")
            // One line per check plus the verdict; JSON says the same.
            #expect(text.split(separator: "\n").count == report.checks.count + 1)
            #expect(text.contains("ok     ldap.members: "))
            let json = try JSONSerialization.jsonObject(with: Data(Doctor.json(report).utf8)) as? [String: Any]
            #expect(json?["failed"] as? Int == 0)
            #expect((json?["checks"] as? [Any])?.count == report.checks.count)
        }
    }

    @Test func brokenLDAPSetupsFailWithTheirLine() async throws {
        try await Self.withWorld { world in
            let environment = world.environment
            // A wrong password.
            var configuration = world.configuration
            let wrong = world.workDirectory.appendingPathComponent("wrong.pw")
            try Data("not-the-password".utf8).write(to: wrong)
            configuration.ldap.bindPassword = .file(wrong.path)
            var report = await Doctor.run(configuration: configuration, logger: Self.logger)
            Self.expectFailed(report, "ldap.bind", ["rc=49", "ldap.bindDN", wrong.path])
            #expect(report.check("ldap.members")?.status == .skipped)
            #expect(report.check("postgres.connect")?.status == .ok)

            // A bind that cannot read member: bind and paging pass, members fails.
            configuration = world.configuration
            configuration.ldap.bindDN = environment["ACCESSSYNC_TEST_LDAP_NOMEMBER_DN"]
            configuration.ldap.bindPassword = .file(environment["ACCESSSYNC_TEST_LDAP_NOMEMBER_PASSWORD_FILE"])
            report = await Doctor.run(configuration: configuration, logger: Self.logger)
            #expect(report.check("ldap.bind")?.status == .ok)
            #expect(report.check("ldap.paging")?.status == .ok)
            Self.expectFailed(report, "ldap.members", ["member", environment["ACCESSSYNC_TEST_LDAP_NOMEMBER_DN"], "olcAccess"])
            #expect(report.failed.count == 1, "\(Doctor.text(report))")

            // The limited account on the bulk subtree (> 500 people): the size limit caps the paged search.
            configuration = world.configuration
            configuration.ldap.baseDN = environment["ACCESSSYNC_TEST_LDAP_BASE"]
            configuration.ldap.people = .init(base: environment["ACCESSSYNC_TEST_LDAP_BULK_BASE"])
            configuration.ldap.groups = .init(base: "ou=groups,\(world.ldapBase)")
            configuration.ldap.bindDN = environment["ACCESSSYNC_TEST_LDAP_LIMITED_DN"]
            configuration.ldap.bindPassword = .file(environment["ACCESSSYNC_TEST_LDAP_LIMITED_PASSWORD_FILE"])
            report = await Doctor.run(configuration: configuration, logger: Self.logger)
            Self.expectFailed(report, "ldap.paging", ["rc=4", "size limit", "size.prtotal=unlimited"])
            #expect(report.check("ldap.members")?.status == .skipped)

            // Control: the sync account pages through the same subtree.
            configuration.ldap.bindDN = environment["ACCESSSYNC_TEST_LDAP_SYNC_DN"]
            configuration.ldap.bindPassword = .file(environment["ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE"])
            let ldap = await Doctor.checkLDAP(configuration.ldap, logger: Self.logger)
            let paging = ldap.first { $0.id == "ldap.paging" }
            #expect(paging?.status == .ok, "\(String(describing: paging))")
            #expect(paging?.detail.contains("\(environment["ACCESSSYNC_TEST_LDAP_BULK_COUNT"]) people") == true)
        }
    }

    @Test func brokenPostgresSetupsFailWithTheirLine() async throws {
        try await Self.withWorld { world in
            // The owner / a superuser: the audit log is not append-only for it.
            var configuration = world.configuration
            configuration.postgres.user = world.environment.values["ACCESSSYNC_TEST_PG_USER"] ?? "postgres"
            configuration.postgres.password = .file(world.environment["ACCESSSYNC_TEST_PG_PASSWORD_FILE"])
            var checks = await Doctor.checkPostgres(configuration.postgres)
            var report = Doctor.Report(checks: checks)
            #expect(report.check("postgres.migrations")?.status == .ok, "\(Doctor.text(report))")
            Self.expectFailed(report, "postgres.audit_rights", ["UPDATE", "superuser", "accesssync_app"])

            // An unmigrated database.
            let empty = "accesssync_doctor_\(world.tag)"
            let admin = try await PGConnection.connect(world.environment.pgServerOptions)
            try await admin.query("CREATE DATABASE \(empty)")
            configuration.postgres.database = empty
            checks = await Doctor.checkPostgres(configuration.postgres)
            _ = try? await admin.query("DROP DATABASE IF EXISTS \(empty) WITH (FORCE)")
            await admin.close()
            report = Doctor.Report(checks: checks)
            #expect(report.check("postgres.connect")?.status == .ok)
            Self.expectFailed(report, "postgres.migrations", ["no AccessSync schema", "accesssync migrate"])
            Self.expectFailed(report, "postgres.audit_rights", ["does not exist", "accesssync migrate"])

            // A wrong password.
            configuration = world.configuration
            let wrong = world.workDirectory.appendingPathComponent("wrong-pg.pw")
            try Data("nope".utf8).write(to: wrong)
            configuration.postgres.password = .file(wrong.path)
            report = Doctor.Report(checks: await Doctor.checkPostgres(configuration.postgres))
            Self.expectFailed(report, "postgres.connect", ["postgres.user", wrong.path])
            #expect(!Doctor.text(report).contains("nope"))
        }
    }

    @Test func kubernetesTokenLackingRightsFails() async throws {
        // The weak role lacks bind/escalate and everything on network policies.
        var weak: [RBACModel.JSONValue] = []
        for (group, resources) in [
            ("", ["namespaces", "serviceaccounts", "resourcequotas", "limitranges"]),
            ("rbac.authorization.k8s.io", ["roles", "rolebindings"]),
        ] {
            weak.append(
                .object([
                    "apiGroups": .array([.string(group)]), "resources": .array(resources.map { .string($0) }),
                    "verbs": .array(["get", "list", "create", "patch", "delete"].map { .string($0) }),
                ]))
        }
        try await Self.withWorld(weakRules: weak) { world in
            var configuration = world.configuration
            let path = world.workDirectory.appendingPathComponent("weak-kubeconfig").path
            try world.cluster.writeKubeconfig(to: path, token: Self.weakToken)
            configuration.kubernetes.kubeconfig = path
            var report = Doctor.Report(checks: await Doctor.checkKubernetes(configuration, logger: Self.logger))
            #expect(report.check("kubernetes.api")?.status == .ok)
            #expect(report.check("kubernetes.rbac.namespaces")?.status == .ok)
            #expect(report.check("kubernetes.rbac.rolebindings")?.status == .ok)
            Self.expectFailed(report, "kubernetes.rbac.roles", ["bind", "escalate", "clusterrole.yaml"])
            Self.expectFailed(report, "kubernetes.rbac.clusterroles", ["bind"])
            Self.expectFailed(report, "kubernetes.rbac.networkpolicies", ["list", "create", "delete"])
            #expect(report.failed.count == 3, "\(Doctor.text(report))")

            // A token the API server does not know.
            try world.cluster.writeKubeconfig(to: path, token: "no-such-token")
            report = Doctor.Report(checks: await Doctor.checkKubernetes(configuration, logger: Self.logger))
            Self.expectFailed(report, "kubernetes.api", ["401", "refused the credentials"])
        }
    }

    @Test func wrongHubTokenFails() async throws {
        try await Self.withWorld { world in
            var configuration = world.configuration
            let wrong = world.workDirectory.appendingPathComponent("wrong-hub-token")
            try Data("0123456789abcdef0123456789abcdef".utf8).write(to: wrong)
            configuration.hub.token = .file(wrong.path)
            let report = Doctor.Report(checks: await Doctor.checkHub(configuration))
            #expect(report.check("hub.version")?.status == .ok)
            Self.expectFailed(report, "hub.token", ["403", wrong.path])
            #expect(!Doctor.text(report).contains("0123456789abcdef"))
            // The checklist is printed even then.
            #expect(report.check("hub.config.delete_pvc")?.status == .manual)
        }
    }

    @Test func cliPrintsOneLinePerCheckAndExitsSix() async throws {
        try await Self.withWorld { world in
            let wrong = world.workDirectory.appendingPathComponent("wrong-hub-token")
            try Data("0123456789abcdef0123456789abcdef".utf8).write(to: wrong)
            let config = world.workDirectory.appendingPathComponent("accesssync.yaml")
            let c = world.configuration
            let yaml = """
                ldap:
                  uri: "\(c.ldap.uri!)"
                  baseDN: "\(c.ldap.baseDN!)"
                  bindDN: "\(c.ldap.bindDN!)"
                  bindPasswordFile: "\(world.environment["ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE"])"
                  tls: {caFile: "\(c.ldap.tls.caFile!)"}
                postgres:
                  host: "\(c.postgres.host!)"
                  port: \(c.postgres.port!)
                  database: "\(c.postgres.database!)"
                  user: "\(c.postgres.user!)"
                  passwordFile: "\(world.workDirectory.appendingPathComponent("app.pw").path)"
                  sslMode: disable
                kubernetes:
                  mode: kubeconfig
                  kubeconfig: "\(c.kubernetes.kubeconfig!)"
                hub:
                  url: "\(c.hub.url!)"
                  tokenFile: "\(wrong.path)"
                sync:
                  instance: "\(c.sync.instance)"
                  logFormat: logfmt
                """
            try yaml.write(to: config, atomically: true, encoding: .utf8)
            let result = try await accesssyncAsync(["doctor", "--config", config.path])
            #expect(result.status == 6, "\(result.stdout)\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("ok     ldap.bind: ") })
            #expect(lines.contains { $0.hasPrefix("FAIL   hub.token: ") && $0.contains("Fix: ") })
            #expect(lines.contains { $0.hasPrefix("CHECK  hub.config.delete_pvc: ") })
            #expect(lines.last?.hasPrefix("doctor: 1 check(s) failed: hub.token") == true, "\(result.stdout)")
            let json = try await accesssyncAsync(["doctor", "--config", config.path, "--output", "json"])
            #expect(json.status == 6)
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["exitStatusName"] as? String == "verification-failed")
        }
    }
}
