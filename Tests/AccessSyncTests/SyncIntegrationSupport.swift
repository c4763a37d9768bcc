import AccessSyncCore
import Foundation
import HubTarget
import KubeTarget
import KubeTestServer
import LDAPBridge
import Logging
import PolicyFiles
import PolicyStore
import RBACModel
import Testing

/// Why an integration test could not start. Integration tests fail, never skip, without servers.
struct IntegrationSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The real servers started by scripts/testenv (variables from `.testenv/env.sh`).
struct IntegrationEnvironment: Sendable {
    let values: [String: String]

    static func load() throws -> IntegrationEnvironment {
        let values = ProcessInfo.processInfo.environment
        for name in [
            "ACCESSSYNC_TEST_LDAP_URI", "ACCESSSYNC_TEST_LDAP_BASE", "ACCESSSYNC_TEST_LDAP_CA",
            "ACCESSSYNC_TEST_LDAP_ADMIN_DN", "ACCESSSYNC_TEST_LDAP_ADMIN_PASSWORD_FILE", "ACCESSSYNC_TEST_LDAP_SYNC_DN",
            "ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE", "ACCESSSYNC_TEST_PG_HOST", "ACCESSSYNC_TEST_PG_PORT",
            "ACCESSSYNC_TEST_HUB_URL", "ACCESSSYNC_TEST_HUB_TOKEN_FILE",
        ] where (values[name] ?? "").isEmpty {
            throw IntegrationSetupError(
                "\(name) is not set: the sync integration tests need slapd, PostgreSQL and JupyterHub. "
                    + "Run scripts/test.sh, or scripts/testenv/up.sh and source .testenv/env.sh.")
        }
        return IntegrationEnvironment(values: values)
    }

    subscript(_ name: String) -> String { values[name] ?? "" }

    var pgServerOptions: PostgresConnectionOptions {
        PostgresConnectionOptions(
            conninfo: "host=\(self["ACCESSSYNC_TEST_PG_HOST"]) port=\(self["ACCESSSYNC_TEST_PG_PORT"]) "
                + "user=\(values["ACCESSSYNC_TEST_PG_USER"] ?? "postgres") sslmode=disable",
            passwordFile: values["ACCESSSYNC_TEST_PG_PASSWORD_FILE"], passfile: values["ACCESSSYNC_TEST_PG_PASSFILE"],
            database: "postgres", applicationName: "accesssync-tests")
    }

    var hubAPIURL: String {
        var url = self["ACCESSSYNC_TEST_HUB_URL"]
        while url.hasSuffix("/") { url.removeLast() }
        if url.hasSuffix("/hub/api") { return url }
        if url.hasSuffix("/hub") { return url + "/api" }
        return url + "/hub/api"
    }
}

/// One person of a test organisation.
struct TestPerson: Sendable {
    var uid: String
    var name: String
}

/// A self-contained world for one sync test: its own LDAP subtree, database, API server and hub
/// user prefix, so tests never see each other's people or objects.
final class SyncWorld: @unchecked Sendable {
    let environment: IntegrationEnvironment
    /// Lower-case letters and digits; prefixes uids (hence hub users and namespaces).
    let tag: String
    let ldapBase: String
    let database: String
    let cluster: KubeTestServer
    let kubeconfigPath: String
    let workDirectory: URL
    var configuration: Configuration
    static let token = "sync-test-token"

    private init(
        environment: IntegrationEnvironment, tag: String, database: String, cluster: KubeTestServer,
        kubeconfigPath: String, workDirectory: URL
    ) {
        self.environment = environment
        self.tag = tag
        self.ldapBase = "ou=\(tag),\(environment["ACCESSSYNC_TEST_LDAP_BASE"])"
        self.database = database
        self.cluster = cluster
        self.kubeconfigPath = kubeconfigPath
        self.workDirectory = workDirectory
        var configuration = Configuration()
        configuration.ldap.uri = environment["ACCESSSYNC_TEST_LDAP_URI"]
        configuration.ldap.baseDN = ldapBase
        configuration.ldap.bindDN = environment["ACCESSSYNC_TEST_LDAP_SYNC_DN"]
        configuration.ldap.bindPassword = .file(environment["ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE"])
        configuration.ldap.tls.caFile = environment["ACCESSSYNC_TEST_LDAP_CA"]
        configuration.ldap.schema = .rfc2307bis
        configuration.ldap.people = .init(base: "ou=people")
        configuration.ldap.groups = .init(base: "ou=groups")
        var postgres = Configuration.Postgres()
        postgres.host = environment["ACCESSSYNC_TEST_PG_HOST"]
        postgres.port = Int(environment["ACCESSSYNC_TEST_PG_PORT"])
        postgres.database = database
        postgres.user = environment.values["ACCESSSYNC_TEST_PG_USER"] ?? "postgres"
        postgres.sslMode = "disable"
        if let file = environment.values["ACCESSSYNC_TEST_PG_PASSWORD_FILE"], !file.isEmpty {
            postgres.password = .file(file)
        }
        configuration.postgres = postgres
        configuration.kubernetes.mode = .kubeconfig
        configuration.kubernetes.kubeconfig = kubeconfigPath
        configuration.hub.url = environment.hubAPIURL
        configuration.hub.token = .file(environment["ACCESSSYNC_TEST_HUB_TOKEN_FILE"])
        configuration.sync.instance = "it-\(tag)"
        self.configuration = configuration
    }

    /// Starts the world: LDAP subtree with `people` all in `jupyter-users` (the first also in
    /// `jupyter-admins`), a migrated database holding the repository's default policy, an API server.
    static func start(people names: [String], configure: (inout KubeTestServerConfiguration) -> Void = { _ in })
        async throws -> SyncWorld
    {
        let environment = try IntegrationEnvironment.load()
        let tag = "s" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        let database = "accesssync_it_\(tag)"
        let admin = try await PGConnection.connect(environment.pgServerOptions)
        try await admin.query("CREATE DATABASE \(database)")
        await admin.close()

        var serverConfiguration = KubeTestServerConfiguration()
        serverConfiguration.tokens = [token: .admin()]
        configure(&serverConfiguration)
        let cluster = try await KubeTestServer.start(serverConfiguration)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("accesssync-it-\(tag)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let kubeconfig = work.appendingPathComponent("kubeconfig").path
        try cluster.kubeconfig(token: token).write(toFile: kubeconfig, atomically: true, encoding: .utf8)

        let world = SyncWorld(
            environment: environment, tag: tag, database: database, cluster: cluster, kubeconfigPath: kubeconfig,
            workDirectory: work)
        try await world.createDirectory(people: names.map { TestPerson(uid: $0, name: $0.capitalized) })
        try await world.migrateAndLoadPolicy()
        return world
    }

    func stop() async {
        await cluster.stop()
        if let connection = try? await adminLDAP() {
            // Children first: people and groups, then their OUs, then the test's OU.
            let entries = (try? await connection.search(base: ldapBase, attributes: ["1.1"])) ?? []
            for dn in entries.map(\.dn).sorted(by: { $0.count > $1.count }) {
                try? await connection.delete(dn: dn)
            }
            await connection.close()
        }
        if let admin = try? await PGConnection.connect(environment.pgServerOptions) {
            _ = try? await admin.query("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            await admin.close()
        }
        try? FileManager.default.removeItem(at: workDirectory)
    }

    // MARK: LDAP

    func adminLDAP() async throws -> LDAPConnection {
        var ldap = LDAPConfiguration(
            uri: environment["ACCESSSYNC_TEST_LDAP_URI"], baseDN: environment["ACCESSSYNC_TEST_LDAP_BASE"],
            bindDN: environment["ACCESSSYNC_TEST_LDAP_ADMIN_DN"],
            password: .file(environment["ACCESSSYNC_TEST_LDAP_ADMIN_PASSWORD_FILE"]))
        ldap.tls.caFile = environment["ACCESSSYNC_TEST_LDAP_CA"]
        return try await LDAPConnection.connect(ldap, logger: Logger(label: "test"))
    }

    func uid(_ name: String) -> String { "\(tag)\(name)" }
    func personDN(_ name: String) -> String { "uid=\(uid(name)),ou=people,\(ldapBase)" }
    func groupDN(_ group: String) -> String { "cn=\(group),ou=groups,\(ldapBase)" }

    private func createDirectory(people: [TestPerson]) async throws {
        let connection = try await adminLDAP()
        defer { Task { await connection.close() } }
        func values(_ strings: String...) -> [[UInt8]] { strings.map { Array($0.utf8) } }
        try await connection.add(
            dn: ldapBase, attributes: [("objectClass", values("organizationalUnit")), ("ou", values(tag))])
        for ou in ["people", "groups"] {
            try await connection.add(
                dn: "ou=\(ou),\(ldapBase)", attributes: [("objectClass", values("organizationalUnit")), ("ou", values(ou))])
        }
        for (index, person) in people.enumerated() {
            try await connection.add(
                dn: personDN(person.uid),
                attributes: [
                    ("objectClass", values("inetOrgPerson", "posixAccount")), ("uid", values(uid(person.uid))),
                    ("cn", values(person.name)), ("sn", values(person.name)),
                    ("mail", values("\(person.uid)@example.org")), ("uidNumber", values(String(70_000 + index))),
                    ("gidNumber", values("70000")), ("homeDirectory", values("/home/\(uid(person.uid))")),
                ])
        }
        try await connection.add(
            dn: groupDN("jupyter-users"),
            attributes: [
                ("objectClass", values("groupOfNames")), ("cn", values("jupyter-users")),
                ("member", people.map { Array(personDN($0.uid).utf8) }),
            ])
        // The other groups the default policy grants to (a grant naming a missing group stops planning).
        for group in ["jupyter-admins", "data-science", "ml-platform", "finance-analytics"] {
            try await connection.add(
                dn: groupDN(group),
                attributes: [
                    ("objectClass", values("groupOfNames")), ("cn", values(group)),
                    ("member", [Array(personDN(people[0].uid).utf8)]),
                ])
        }
        await connection.close()
    }

    /// Removes people from `jupyter-users` (the group keeps at least one member).
    func removeFromUsers(_ names: [String]) async throws {
        let connection = try await adminLDAP()
        try await connection.modify(
            dn: groupDN("jupyter-users"),
            [LDAPModification(.delete, "member", names.map { Array(personDN($0).utf8) })])
        await connection.close()
    }

    // MARK: PostgreSQL

    var pgOptions: PostgresConnectionOptions { configuration.postgres.connectionOptions }

    private func migrateAndLoadPolicy() async throws {
        let connection = try await PGConnection.connect(pgOptions)
        try await Migrator().migrate(on: connection, osUser: "test")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let policy = try PolicyLoader.load(directory: root.appendingPathComponent("policies").path).policy
        try await PolicyRepository(connection: connection).applyPolicy(policy, actor: "test")
        await connection.close()
    }

    /// The first column of each row.
    func column(_ sql: String) async throws -> [String?] {
        let connection = try await PGConnection.connect(pgOptions)
        let result = try await connection.query(sql)
        await connection.close()
        return result.rows.map { $0[0] }
    }

    // MARK: Running

    func run(_ mode: SyncOptions.Mode, adopt: [String] = [], allowDeletes: Int? = nil, now: Date = Date())
        async throws(CommandFailure) -> SyncCommand.Result
    {
        var logger = Logger(label: "accesssync.it")
        logger.logLevel = .warning
        return try await SyncCommand.run(
            SyncCommand.Options(
                configuration: configuration, mode: mode, adopt: adopt, allowDeletes: allowDeletes, now: now,
                actor: "it-\(tag)"),
            logger: logger)
    }

    /// Writes in the API server's request log (POST, PUT, PATCH, DELETE without dryRun).
    var clusterWrites: Int { cluster.requestLog.filter(\.isWrite).count }

    func hubUser(_ name: String) async throws -> HubUser? {
        let client = try HubClient(configuration: try configuration.hub.clientConfiguration())
        let user: HubUser?
        do {
            user = try await client.user(named: uid(name))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        return user
    }
}

/// Runs `body` with a started world and always stops it.
func withSyncWorld(
    people: [String], configure: (inout KubeTestServerConfiguration) -> Void = { _ in },
    _ body: (SyncWorld) async throws -> Void
) async throws {
    let world = try await SyncWorld.start(people: people, configure: configure)
    do {
        try await body(world)
    } catch {
        await world.stop()
        throw error
    }
    await world.stop()
}

extension SyncWorld {
    /// The configuration as a YAML file for the `accesssync` binary (same values as `configuration`).
    func writeConfigurationFile() throws -> String {
        let ldap = configuration.ldap
        let postgres = configuration.postgres
        var passwordLine = ""
        if case .file(let path)? = postgres.password { passwordLine = "  passwordFile: \"\(path)\"\n" }
        var ldapPassword = ""
        if case .file(let path)? = ldap.bindPassword { ldapPassword = "  bindPasswordFile: \"\(path)\"\n" }
        var hubToken = ""
        if case .file(let path)? = configuration.hub.token { hubToken = "  tokenFile: \"\(path)\"\n" }
        let text = """
            ldap:
              uri: "\(ldap.uri ?? "")"
              baseDN: "\(ldap.baseDN ?? "")"
              bindDN: "\(ldap.bindDN ?? "")"
            \(ldapPassword)  tls:
                caFile: "\(ldap.tls.caFile ?? "")"
              schema: rfc2307bis
              people:
                base: ou=people
              groups:
                base: ou=groups
            postgres:
              host: "\(postgres.host ?? "")"
              port: \(postgres.port ?? 5432)
              database: \(postgres.database ?? "")
              user: "\(postgres.user ?? "")"
            \(passwordLine)  sslMode: disable
            kubernetes:
              mode: kubeconfig
              kubeconfig: "\(kubeconfigPath)"
            hub:
              url: "\(configuration.hub.url ?? "")"
            \(hubToken)sync:
              instance: "\(configuration.sync.instance)"

            """
        let path = workDirectory.appendingPathComponent("accesssync.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
