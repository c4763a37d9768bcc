import Foundation
public import HubTarget
public import KubeTarget
import Logging
public import PolicyStore
public import RBACModel

// Adapters from the product modules to the sync engine's ports. They hold no logic beyond
// mapping types: behaviour lives in the modules, where it is tested against real servers.

/// Reads the policy from PostgreSQL.
public struct PostgresPolicySource: PolicyProvider {
    public let options: PostgresConnectionOptions

    public init(options: PostgresConnectionOptions) {
        self.options = options
    }

    public func loadPolicy() async throws -> Policy {
        let connection = try await PGConnection.connect(options)
        do {
            let policy = try await PolicyRepository(connection: connection).loadPolicy()
            await connection.close()
            return policy
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// The Kubernetes API through `KubeClusterTarget`.
public struct KubeClusterPort: ClusterTarget {
    public let target: KubeClusterTarget
    public let concurrency: Int

    public init(target: KubeClusterTarget, concurrency: Int = 16) {
        self.target = target
        self.concurrency = concurrency
    }

    public func observe() async throws -> ObservedCluster {
        try await target.observe()
    }

    public func apply(_ changes: [Change], dryRun: Bool) async -> [ChangeOutcome] {
        guard !changes.isEmpty else { return [] }
        let report = await target.apply(changes, options: KubeApplyOptions(concurrency: concurrency, dryRun: dryRun))
        return report.outcomes.map { outcome in
            let status: ChangeOutcome.Status
            switch outcome.status {
            case .succeeded: status = .succeeded
            case .failed, .conflict: status = .failed
            case .skipped: status = .skipped
            case .needsReplan: status = .needsReplan
            }
            return ChangeOutcome(
                changeID: outcome.changeID, status: status, message: outcome.message, httpStatus: outcome.httpStatus)
        }
    }
}

/// JupyterHub through `HubTarget` (which keeps the registry of managed users and groups).
public struct HubTargetPort: HubPort {
    public let target: HubTarget

    public init(target: HubTarget) {
        self.target = target
    }

    public func observe() async throws -> HubObservedState {
        try await target.observe()
    }

    public func apply(_ changes: [Change], dryRun: Bool) async -> [ChangeOutcome] {
        guard !changes.isEmpty else { return [] }
        do {
            // The engine hands over only changes whose dependencies (in earlier waves) succeeded.
            let completed = Set(changes.flatMap(\.dependsOn))
            return try await target.apply(changes, dryRun: dryRun, completed: completed).map { outcome in
                let status: ChangeOutcome.Status
                switch outcome.status {
                case .succeeded: status = .succeeded
                case .failed: status = .failed
                case .skipped: status = .skipped
                }
                return ChangeOutcome(
                    changeID: outcome.changeID, status: status, message: outcome.message,
                    httpStatus: outcome.httpStatus)
            }
        } catch {
            return changes.map {
                ChangeOutcome(changeID: $0.id, status: .failed, message: "hub refused the change set: \(error)")
            }
        }
    }
}
