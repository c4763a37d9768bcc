public import Foundation
import HubTarget
import KubeTarget
import LDAPBridge
public import Logging
import PolicyStore
public import RBACModel

/// `accesssync sync` and `accesssync plan`: assemble the engine from the configuration and run it.
public enum SyncCommand {
    public struct Options: Sendable {
        public var configuration: Configuration
        public var mode: SyncOptions.Mode
        public var serverDryRun: Bool
        /// `--adopt`: kinds of unowned objects to take over (`Namespace`, `RoleBinding`, ... or
        /// `hub-users`, `hub-groups`).
        public var adopt: [String]
        public var allowDeletes: Int?
        /// `--only-user UID`: apply only the changes concerning this person.
        public var onlyUser: String?
        public var now: Date
        public var actor: String
        /// Receives the summary the engine records when it finishes a run (also a failed or blocked
        /// one), for the metrics of runs that end with an error.
        public var summaryObserver: (@Sendable (RunSummary) -> Void)?

        public init(
            configuration: Configuration, mode: SyncOptions.Mode, serverDryRun: Bool = false, adopt: [String] = [],
            allowDeletes: Int? = nil, onlyUser: String? = nil, now: Date = Date(), actor: String? = nil
        ) {
            self.onlyUser = onlyUser
            self.configuration = configuration
            self.mode = mode
            self.serverDryRun = serverDryRun
            self.adopt = adopt
            self.allowDeletes = allowDeletes
            self.now = now
            self.actor = actor ?? ProcessIdentity.osUser
        }
    }

    /// What a run produced, and the exit status it maps to.
    public struct Result: Sendable {
        public var report: SyncReport
        public var exitStatus: ExitStatus
    }

    /// The names `--adopt` accepts.
    public static let adoptableNames: [String] =
        ObjectKind.allCases.map(\.rawValue) + ["hub-users", "hub-groups"]

    /// Parses `--adopt` values (case-insensitive; `all` takes everything).
    public static func diffOptions(adopt: [String]) throws(CommandFailure) -> DiffOptions {
        var options = DiffOptions()
        for raw in adopt.flatMap({ $0.split(separator: ",").map(String.init) }) {
            let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if name == "all" {
                options.adoptKinds = Set(ObjectKind.allCases)
                options.adoptHubUsers = true
                options.adoptHubGroups = true
            } else if name == "hub-users" || name == "hub-user" {
                options.adoptHubUsers = true
            } else if name == "hub-groups" || name == "hub-group" {
                options.adoptHubGroups = true
            } else if let kind = ObjectKind.allCases.first(where: { $0.rawValue.lowercased() == name }) {
                options.adoptKinds.insert(kind)
            } else {
                throw CommandFailure(
                    .usage, "--adopt: unknown kind '\(raw)'; use one of \(adoptableNames.joined(separator: ", ")) or all")
            }
        }
        return options
    }

    /// Builds the ports from the configuration, runs, closes connections.
    public static func run(_ options: Options, logger: Logger) async throws(CommandFailure) -> Result {
        let configuration = options.configuration
        let diff = try diffOptions(adopt: options.adopt)
        // Unreadable secrets are configuration errors (78), found before any connection.
        for (setting, secret) in [
            ("ldap.bindPassword", configuration.ldap.bindPassword), ("postgres.password", configuration.postgres.password),
            ("hub.token", configuration.hub.url == nil ? nil : configuration.hub.token),
        ] {
            guard let secret else { continue }
            do {
                _ = try secret.read()
            } catch {
                throw CommandFailure(.configuration, "\(setting): \(error.message)")
            }
        }
        let pgOptions = configuration.postgres.connectionOptions

        let cluster: any ClusterTarget
        var kubeClient: KubeClient?
        switch configuration.kubernetes.mode {
        case .render:
            guard let directory = configuration.kubernetes.renderDirectory, !directory.isEmpty else {
                throw CommandFailure(.configuration, "kubernetes.mode is render but kubernetes.renderDirectory is not set")
            }
            cluster = RenderDirectoryPort(directory: directory)
        case .kubeconfig, .inCluster:
            guard let clientConfiguration = try configuration.kubernetes.clientConfiguration() else {
                throw CommandFailure(.configuration, "kubernetes: no client configuration")
            }
            let client: KubeClient
            do {
                client = try KubeClient(
                    configuration: clientConfiguration, options: configuration.kubernetes.clientOptions, logger: logger)
            } catch {
                throw CommandFailure(.configuration, "kubernetes: \(error)")
            }
            kubeClient = client
            cluster = KubeClusterPort(
                target: KubeClusterTarget(
                    client: client, instance: configuration.sync.instance,
                    fieldManager: configuration.kubernetes.fieldManager, logger: logger),
                concurrency: configuration.kubernetes.concurrency)
        }

        let store: PostgresRunStore
        do {
            store = try await PostgresRunStore(
                options: pgOptions, osUser: options.actor,
                lockWait: configuration.sync.waitForLock ? .seconds(configuration.sync.lockTimeoutSeconds) : nil)
        } catch {
            try? await kubeClient?.shutdown()
            throw CommandFailure(.postgresUnavailable, "cannot connect to PostgreSQL: \(error)")
        }

        var hubPort: (any HubPort)?
        var hubClient: HubClient?
        var registry: PostgresHubRegistry?
        if configuration.hub.url != nil {
            do {
                let clientConfiguration = try configuration.hub.clientConfiguration()
                let client = try HubClient(configuration: clientConfiguration)
                hubClient = client
                let pgRegistry = try await PostgresHubRegistry(options: pgOptions)
                registry = pgRegistry
                hubPort = HubTargetPort(
                    target: HubTarget(
                        client: client, registry: pgRegistry,
                        options: HubTargetOptions(
                            syncGroups: configuration.hub.syncGroups, hubManagesGroups: configuration.hub.managesGroups,
                            adoptUsers: diff.adoptHubUsers, adoptGroups: diff.adoptHubGroups),
                        logger: logger))
            } catch let failure as CommandFailure {
                await store.close()
                try? await kubeClient?.shutdown()
                try? await hubClient?.shutdown()
                throw failure
            } catch {
                await store.close()
                try? await kubeClient?.shutdown()
                try? await hubClient?.shutdown()
                throw CommandFailure(.postgresUnavailable, "hub registry: \(error)")
            }
        }

        let policy: any PolicyProvider
        switch configuration.sync.policySource {
        case .database: policy = PostgresPolicySource(options: pgOptions)
        case .files: policy = FilePolicySource(directory: configuration.sync.policyDirectory)
        }

        let engine = SyncEngine(
            directory: LDAPDirectorySource(configuration: configuration.ldap.ldapConfiguration, logger: logger),
            policy: policy, cluster: cluster, hub: hubPort,
            store: options.summaryObserver.map { SummaryObservingStore(base: store, observer: $0) } ?? store,
            settings: configuration.planSettings,
            logger: logger)
        let syncOptions = SyncOptions(
            mode: options.mode, serverDryRun: options.serverDryRun, diff: diff,
            thresholds: configuration.guardThresholds, now: options.now, actor: options.actor,
            allowDeletes: options.allowDeletes, onlyUser: options.onlyUser, onRename: configuration.safety.onRename)

        let outcome: Swift.Result<SyncReport, any Error>
        do {
            outcome = .success(try await engine.run(syncOptions))
        } catch {
            outcome = .failure(error)
        }
        await registry?.close()
        await store.close()
        try? await kubeClient?.shutdown()
        try? await hubClient?.shutdown()

        switch outcome {
        case .success(var report):
            if options.mode == .sync, configuration.kubernetes.mode == .render,
                let directory = configuration.kubernetes.renderDirectory, configuration.hub.url == nil
            {
                // Without a hub to talk to, the hub state is rendered beside the manifests.
                do {
                    try RenderTarget().writeHub(report.desired.hub, directory: directory)
                } catch {
                    report.summary.findings.append("hub.json not written: \(error)")
                }
            }
            let status: ExitStatus
            switch (options.mode, report.status) {
            case (.plan, _): status = report.changes.changes.isEmpty ? .ok : .changesPending
            case (.sync, .succeeded): status = .ok
            case (.sync, .blocked): status = .blockedByGuard
            case (.sync, _): status = .partialFailure
            }
            return Result(report: report, exitStatus: status)
        case .failure(let error as SyncError):
            throw CommandFailure(exitStatus(of: error), error.description)
        case .failure(let error as CommandFailure):
            throw error
        case .failure(let error):
            throw CommandFailure(.failure, "\(error)")
        }
    }

    /// The exit status of each way a run can stop.
    public static func exitStatus(of error: SyncError) -> ExitStatus {
        switch error {
        case .directoryUnreadable: .ldapUnavailable
        case .policyUnreadable, .planningFailed: .dataError
        case .clusterUnobservable: .kubernetesUnavailable
        case .hubUnobservable: .hubUnavailable
        case .blocked: .blockedByGuard
        case .lockLost: .partialFailure
        case .auditUnwritable, .storeUnavailable: .postgresUnavailable
        case .lockHeld: .lockHeld
        }
    }
}
