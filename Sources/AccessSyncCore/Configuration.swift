public import Foundation
public import PolicyFiles
public import RBACModel

/// The `accesssync` configuration file (YAML), documented in `examples/accesssync.yaml`.
///
/// Sections: `ldap`, `postgres`, `kubernetes`, `hub`, `naming`, `safety`, `sync`; all optional,
/// with defaults. Strict: unknown keys and wrong types are errors naming file, line and key path.
/// Secrets are never values in the file: only a file path (`…File`) or an environment variable
/// name (`…Env`) to read them from; a literal `password`/`token` key is an error.
public struct Configuration: Hashable, Sendable {
    /// The file this was loaded from (nil for defaults).
    public var file: String?
    public var ldap = LDAP()
    public var postgres = Postgres()
    public var kubernetes = Kubernetes()
    public var hub = Hub()
    public var naming = NamingSettings()
    public var safety = Safety()
    public var sync = Sync()

    public init() {}

    // MARK: Sections

    /// Where a secret comes from. The secret itself is read only when connecting.
    public enum SecretSource: Hashable, Sendable, CustomStringConvertible {
        /// A file holding the secret; one trailing newline is ignored.
        case file(String)
        /// An environment variable holding the secret.
        case environment(String)

        public var description: String {
            switch self {
            case .file(let path): "file \(path)"
            case .environment(let name): "environment variable \(name)"
            }
        }

        /// Reads the secret. Errors name the source, never the content.
        public func read(environment: [String: String] = ProcessInfo.processInfo.environment) throws(CommandFailure)
            -> String
        {
            switch self {
            case .file(let path):
                guard let data = FileManager.default.contents(atPath: path),
                    var text = String(data: data, encoding: .utf8)
                else {
                    throw CommandFailure(.configuration, "cannot read the secret file \(path)")
                }
                if text.hasSuffix("\r\n") {
                    text.removeLast(2)
                } else if text.hasSuffix("\n") {
                    text.removeLast()
                }
                return text
            case .environment(let name):
                guard let value = environment[name], !value.isEmpty else {
                    throw CommandFailure(.configuration, "the environment variable \(name) is not set")
                }
                return value
            }
        }
    }

    /// `ldap:` — the directory (mapped to LDAPBridge's configuration by the LDAP reader).
    public struct LDAP: Hashable, Sendable {
        public enum Schema: String, Hashable, Sendable, CaseIterable {
            case rfc2307, rfc2307bis, activeDirectory
        }
        public enum Scope: String, Hashable, Sendable, CaseIterable {
            case base, oneLevel, subtree, children
        }
        public struct Search: Hashable, Sendable {
            /// Relative to `baseDN` unless it already ends with it.
            public var base: String?
            public var scope: Scope = .subtree
            /// Extra filter ANDed with the schema's object-class filter.
            public var filter: String?
            public init(base: String? = nil, scope: Scope = .subtree, filter: String? = nil) {
                self.base = base
                self.scope = scope
                self.filter = filter
            }
        }
        public struct TLS: Hashable, Sendable {
            public var startTLS = true
            public var caFile: String?
            public var certificateFile: String?
            public var keyFile: String?
            /// Certificate verification; only tests against throwaway servers turn it off.
            public var verify = true
            public init() {}
        }
        /// `ldap.writer`: the directory account the mutating commands (`add-user`, `remove-user`) bind as.
        public struct Writer: Hashable, Sendable {
            /// What `remove-user` does without `--disable` or `--remove-memberships`.
            public enum RemoveUser: String, Hashable, Sendable, CaseIterable {
                /// Establish the configured disabled condition (the entry and its groups stay).
                case disable
                /// Remove the person from every group (the entry stays enabled).
                case removeMemberships
            }
            /// nil: bind with `ldap.bindDN` (which then must be allowed to write).
            public var bindDN: String?
            public var bindPassword: SecretSource?
            public var removeUser: RemoveUser = .disable
            public init() {}
        }
        /// The disabled test; unset parts use the schema's default.
        public struct Disabled: Hashable, Sendable {
            public var attributesPresent: [String]?
            public var attributeEquals: [String: String]?
            public var shadowExpire: Bool?
            public var filter: String?
            public var activeDirectory: Bool?
            public init() {}
            public var isDefault: Bool { self == Disabled() }
        }
        public struct MemberReadCheck: Hashable, Sendable {
            public var schemaRequired = true
            public var compareProbe = true
            public var rejectAllGroupsEmpty = true
            public var canaryGroups: [String] = []
            public init() {}
        }

        /// `ldap://`, `ldaps://` or `ldapi://`; nil: libldap's default (`LDAPURI`, ldap.conf).
        public var uri: String?
        public var baseDN: String?
        /// nil binds anonymously.
        public var bindDN: String?
        public var bindPassword: SecretSource?
        public var tls = TLS()
        public var networkTimeoutSeconds = 10
        public var operationTimeoutSeconds = 120
        public var searchTimeLimitSeconds: Int?
        public var pageSize = 500
        public var schema: Schema = .rfc2307bis
        public var people = Search(base: "ou=people")
        public var groups = Search(base: "ou=groups")
        public var disabled = Disabled()
        /// `tolerate` keeps unresolved members for planning to report; `fail` fails the read.
        public var failOnUnresolvedMembers = false
        public var memberReadCheck = MemberReadCheck()
        /// The account `add-user`, `remove-user` bind as (nil: `bindDN`/`bindPassword`).
        public var writer = Writer()

        public init() {}

        /// A search base resolved against `baseDN` (`ou=people` → `ou=people,dc=example,dc=org`).
        public func resolvedBase(_ search: Search) -> String? {
            guard let base = search.base, !base.isEmpty else { return baseDN }
            guard let baseDN, !baseDN.isEmpty else { return base }
            if let child = try? DistinguishedName(base), let root = try? DistinguishedName(baseDN), child.isWithin(root) {
                return base
            }
            return "\(base),\(baseDN)"
        }
    }

    /// `postgres:` — the policy and audit database (mapped by PolicyStore).
    public struct Postgres: Hashable, Sendable {
        /// nil: libpq's defaults (`PGHOST`, `PGPORT`, ... and service files).
        public var host: String?
        public var port: Int?
        public var database: String?
        public var user: String?
        public var password: SecretSource?
        /// libpq `sslmode`: disable, allow, prefer, require, verify-ca, verify-full; nil: libpq's default.
        public var sslMode: String?
        public var sslRootCert: String?
        public var connectTimeoutSeconds = 10
        public var applicationName = "accesssync"
        public init() {}
        static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    }

    /// `kubernetes:` — the cluster (or a render directory) and the objects AccessSync creates.
    public struct Kubernetes: Hashable, Sendable {
        public enum Mode: String, Hashable, Sendable, CaseIterable {
            /// A kubeconfig file (`kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`).
            case kubeconfig
            /// The pod's ServiceAccount (`/var/run/secrets/kubernetes.io/serviceaccount`).
            case inCluster
            /// No cluster: `sync` writes manifests to `renderDirectory` (GitOps).
            case render
        }
        public enum ProjectSubjects: String, Hashable, Sendable, CaseIterable {
            /// One User subject per member.
            case users
            /// One Group subject named after the LDAP group (`naming.groupSubject`).
            case group
        }

        public var mode: Mode = .kubeconfig
        public var kubeconfig: String?
        public var context: String?
        public var renderDirectory: String?
        /// Server-side apply field manager.
        public var fieldManager = "accesssync"
        /// Concurrent requests while applying.
        public var concurrency = 16
        /// Average requests per second to the API server (a token bucket over the whole client); nil for
        /// no limit. The default keeps a large first sync from crowding out other API clients.
        public var requestsPerSecond: Double? = 100
        /// Requests that may be sent at once above the average rate.
        public var burst = 200
        /// The hub's (KubeSpawner's) ServiceAccount, bound in each personal namespace.
        public var hubServiceAccount = "hub"
        public var hubServiceAccountRole = RoleRef(kind: .clusterRole, name: "accesssync-hub-spawner")
        /// Notebook pods' ServiceAccount created in each personal namespace.
        public var notebookServiceAccount: String?
        public var projectSubjects: ProjectSubjects = .users
        public var networkPolicy = true
        public var hubPodLabels = ["app": "jupyterhub", "component": "hub"]
        public var proxyPodLabels = ["app": "jupyterhub", "component": "proxy"]
        public init() {}
    }

    /// `hub:` — the JupyterHub REST API (mapped by HubTarget).
    public struct Hub: Hashable, Sendable {
        /// e.g. `http://hub:8081/hub/api`.
        public var url: String?
        public var token: SecretSource?
        public var caFile: String?
        public var verifyTLS = true
        /// Mirror LDAP groups flagged `hubGroup` into the hub.
        public var syncGroups = true
        /// The hub's authenticator manages groups (`Authenticator.manage_groups = True`): AccessSync
        /// then refuses to sync hub groups (every login would overwrite them). The API cannot tell.
        public var managesGroups = false
        public var requestTimeoutSeconds = 30
        public init() {}
    }

    /// `safety:` — the guard's thresholds and the retirement of leavers' namespaces.
    public struct Safety: Hashable, Sendable {
        public var thresholds = GuardThresholds()
        /// Added to the built-in protected namespaces (default, kube-system, kube-public, kube-node-lease).
        public var protectedNamespaces: [String] = []
        /// A retired namespace is deleted this long after retirement (seconds; written `30d`, `12h`).
        public var retirementGracePeriod: TimeInterval = 30 * 86_400
        public var maxNamespaceDeletionsPerRun = 5
        /// Delete running pods when a namespace is retired (otherwise only new pods are stopped).
        public var stopRunningPodsOnRetirement = false
        /// What a renamed person (same entryUUID/objectGUID, new uid) does to the run.
        public var onRename: RenameHandling = .retireAndCreate
        public init() {}
        public static let builtInProtectedNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
    }

    /// `sync:` — the run itself.
    public struct Sync: Hashable, Sendable {
        public enum PolicySource: String, Hashable, Sendable, CaseIterable {
            /// The policy stored in PostgreSQL (`policy apply` loads it from YAML).
            case database
            /// The YAML files in `policyDirectory`, read directly.
            case files
        }
        public enum LogFormat: String, Hashable, Sendable, CaseIterable {
            /// Human output on a terminal, logfmt otherwise.
            case auto
            case text, logfmt, json
        }
        /// Value of the instance label; objects of other instances are never touched.
        public var instance = "default"
        public var policySource: PolicySource = .database
        public var policyDirectory = "policies"
        /// Wait for another run's lock instead of exiting with `lock-held`.
        public var waitForLock = false
        public var lockTimeoutSeconds = 600
        public var logFormat: LogFormat = .auto
        public var logLevel = "info"
        /// Write each run's metrics (Prometheus text format) to this file (`--metrics-file`).
        public var metricsFile: String?
        /// Push each run's metrics to this Pushgateway (`--pushgateway`), e.g. `http://pushgateway:9091`.
        public var pushgatewayURL: String?
        public init() {}
        static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    }

    // MARK: Mappings

    /// The planner's settings.
    public var planSettings: PlanSettings {
        PlanSettings(
            instance: sync.instance, naming: naming, hubServiceAccount: kubernetes.hubServiceAccount,
            hubServiceAccountRole: kubernetes.hubServiceAccountRole,
            notebookServiceAccount: kubernetes.notebookServiceAccount,
            projectSubjectsAsGroup: kubernetes.projectSubjects == .group, groupSubjectTemplate: groupSubjectTemplate,
            hubPodLabels: kubernetes.hubPodLabels, proxyPodLabels: kubernetes.proxyPodLabels,
            networkPolicy: kubernetes.networkPolicy, retirementGracePeriod: safety.retirementGracePeriod,
            maxNamespaceDeletionsPerRun: safety.maxNamespaceDeletionsPerRun, syncHubGroups: hub.syncGroups,
            protectedNamespaces: Set(Safety.builtInProtectedNamespaces + safety.protectedNamespaces)
        )
    }

    /// The guard's thresholds.
    public var guardThresholds: GuardThresholds { safety.thresholds }

    /// Group subject template for project bindings (`naming.groupSubject`).
    public var groupSubjectTemplate = "{group}"
}

/// Why a configuration could not be loaded; exit status `configuration` (78).
public struct ConfigurationError: ExitStatusProviding, CustomStringConvertible, LocalizedError, Equatable {
    public var errors: [YAMLFileError]
    public var exitStatus: ExitStatus { .configuration }

    public init(_ errors: [YAMLFileError]) { self.errors = errors.sorted() }

    public var description: String {
        "invalid configuration:\n" + errors.map { "  " + $0.description }.joined(separator: "\n")
    }
    public var errorDescription: String? { description }
}

/// `safety.onRename`: what happens when a person keeps their directory identifier but gets a new
/// login name (their namespace and hub user are named from the login name).
public enum RenameHandling: String, Hashable, Sendable, CaseIterable {
    /// The old namespace is retired (data kept for the grace period) and a new one created.
    case retireAndCreate = "retire-and-create"
    /// The run is blocked by the guard until an operator approves exactly that plan.
    case block
}
