public import Foundation
public import HubTarget
public import KubeTarget
public import LDAPBridge
public import PolicyStore

// Mappings from the configuration file to each module's own configuration. Each module keeps
// its own types (and tests them against its real server); this file only translates.

extension Configuration.SecretSource {
    var ldapPassword: LDAPConfiguration.PasswordSource {
        switch self {
        case .file(let path): .file(path)
        case .environment(let name): .environment(name)
        }
    }
}

extension Configuration.LDAP {
    /// LDAPBridge's configuration for this section.
    public var ldapConfiguration: LDAPConfiguration {
        func spec(_ search: Search) -> LDAPConfiguration.SearchSpec {
            let scope: LDAPScope
            switch search.scope {
            case .base: scope = .base
            case .oneLevel: scope = .oneLevel
            case .subtree: scope = .subtree
            case .children: scope = .children
            }
            return LDAPConfiguration.SearchSpec(base: search.base, scope: scope, filter: search.filter)
        }
        let directorySchema: DirectorySchema
        switch schema {
        case .rfc2307: directorySchema = .rfc2307
        case .rfc2307bis: directorySchema = .rfc2307bis
        case .activeDirectory: directorySchema = .activeDirectory
        }
        var disabledTest: DisabledTest? = nil
        if !disabled.isDefault {
            var conditions: [DisabledTest.Condition] = []
            for name in disabled.attributesPresent ?? [] { conditions.append(.attributePresent(name)) }
            for (name, value) in (disabled.attributeEquals ?? [:]).sorted(by: { $0.key < $1.key }) {
                conditions.append(.attributeEquals(name, value))
            }
            if disabled.shadowExpire == true { conditions.append(.shadowExpired) }
            if let filter = disabled.filter { conditions.append(.filter(filter)) }
            if disabled.activeDirectory == true { conditions.append(.activeDirectoryAccountControl) }
            disabledTest = DisabledTest(conditions)
        }
        let check = LDAPBridge.MemberReadCheck(
            requireMembersForRequiringClasses: memberReadCheck.schemaRequired,
            compareProbe: memberReadCheck.compareProbe, rejectAllGroupsEmpty: memberReadCheck.rejectAllGroupsEmpty,
            canaryGroups: memberReadCheck.canaryGroups)
        return LDAPConfiguration(
            uri: uri, baseDN: baseDN, bindDN: bindDN, password: bindPassword?.ldapPassword,
            tls: LDAPConfiguration.TLSOptions(
                startTLS: tls.startTLS, caFile: tls.caFile, certificateFile: tls.certificateFile, keyFile: tls.keyFile,
                verify: tls.verify ? .demand : .insecureNoVerification),
            timeouts: LDAPConfiguration.Timeouts(
                network: .seconds(networkTimeoutSeconds), operation: .seconds(operationTimeoutSeconds),
                searchTimeLimitSeconds: searchTimeLimitSeconds),
            pageSize: pageSize, schema: directorySchema, people: spec(people), groups: spec(groups),
            disabled: disabledTest, unresolvedMembers: failOnUnresolvedMembers ? .fail : .tolerate,
            memberReadCheck: check)
    }
}

extension Configuration.Postgres {
    /// libpq connection options for this section. Unset values are left to libpq's own defaults
    /// (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `~/.pgpass`, service files).
    public var connectionOptions: PostgresConnectionOptions {
        var parts: [String] = []
        func add(_ key: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            parts.append("\(key)='\(escaped)'")
        }
        add("host", host)
        add("port", port.map(String.init))
        add("dbname", database)
        add("user", user)
        add("sslmode", sslMode)
        add("sslrootcert", sslRootCert)
        var options = PostgresConnectionOptions(
            conninfo: parts.joined(separator: " "), applicationName: applicationName,
            connectTimeoutSeconds: connectTimeoutSeconds)
        switch password {
        case .file(let path): options.passwordFile = path
        case .environment(let name): options.passwordEnvironment = name
        case nil: break
        }
        return options
    }
}

extension Configuration.Hub {
    /// The hub client's configuration, reading the token now. Errors name the setting, never the token.
    public func clientConfiguration() throws(CommandFailure) -> HubClientConfiguration {
        guard let url, let apiURL = URL(string: url), apiURL.scheme == "http" || apiURL.scheme == "https" else {
            throw CommandFailure(.configuration, "hub.url must be the hub's API URL, such as http://hub:8081/hub/api")
        }
        guard let token else {
            throw CommandFailure(.configuration, "hub.tokenFile (or hub.tokenEnv) must name the AccessSync service token")
        }
        let value = try token.read()
        return HubClientConfiguration(
            apiURL: apiURL, token: HubToken(value), caFile: caFile, verifyCertificates: verifyTLS,
            requestTimeout: .seconds(requestTimeoutSeconds))
    }
}

extension Configuration.Kubernetes {
    /// The API client's configuration (kubeconfig or in-cluster); nil in render mode.
    public func clientConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(CommandFailure) -> KubeClientConfiguration?
    {
        do {
            switch mode {
            case .render: return nil
            case .inCluster: return try KubeClientConfiguration.inCluster(environment: environment)
            case .kubeconfig:
                return try KubeClientConfiguration.fromKubeconfig(
                    path: kubeconfig, context: context, environment: environment)
            }
        } catch {
            throw CommandFailure(.configuration, "kubernetes: \(error)")
        }
    }

    /// Client options: the apply concurrency is also the connection pool size.
    public var clientOptions: KubeClientOptions {
        KubeClientOptions(requestsPerSecond: requestsPerSecond, burst: burst, maxConnections: max(1, concurrency))
    }
}
