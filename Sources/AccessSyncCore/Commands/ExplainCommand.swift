public import Foundation
import LDAPBridge
public import Logging
import PolicyStore
public import RBACModel

/// The inputs of planning read the way `plan` reads them: the directory through LDAPBridge (complete
/// or an error) and the policy from PostgreSQL or the YAML files, then the planner's desired state.
public struct PlanInputs: Sendable {
    public var directory: DirectorySnapshot
    public var policy: Policy
    public var desired: DesiredState

    /// - Throws: `CommandFailure` with `ldap-unavailable`, `postgres-unavailable`, `configuration` or
    ///   `data-error`, as `plan` would.
    public static func read(_ configuration: Configuration, now: Date, logger: Logger) async throws(CommandFailure)
        -> PlanInputs
    {
        let snapshot: DirectorySnapshot
        do {
            snapshot = try await LDAPDirectorySource(configuration: configuration.ldap.ldapConfiguration, logger: logger)
                .readDirectory(now: now)
        } catch let error as LDAPError {
            let mapped = OperatorCommands.map(error)
            throw CommandFailure(
                mapped.exitStatus == .usage || mapped.exitStatus == .dataError ? .ldapUnavailable : mapped.exitStatus,
                "cannot read the directory: \(error)")
        } catch {
            throw CommandFailure(.ldapUnavailable, "cannot read the directory: \(error)")
        }
        let policy: Policy
        switch configuration.sync.policySource {
        case .files:
            do {
                policy = try await FilePolicySource(directory: configuration.sync.policyDirectory).loadPolicy()
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure(.dataError, "\(error)")
            }
        case .database:
            do {
                policy = try await PostgresPolicySource(options: configuration.postgres.connectionOptions).loadPolicy()
            } catch {
                throw PostgresFailure.map(error)
            }
        }
        let desired = Planner.plan(directory: snapshot, policy: policy, settings: configuration.planSettings, now: now)
        return PlanInputs(directory: snapshot, policy: policy, desired: desired)
    }
}

/// `accesssync explain USER`: reads the directory and the policy, plans, and explains one person.
public enum ExplainCommand {
    public static func run(_ query: String, configuration: Configuration, now: Date = Date(), logger: Logger)
        async throws(CommandFailure) -> Explanation
    {
        guard !query.isEmpty else { throw CommandFailure(.usage, "name the person to explain (login name or identifier)") }
        let inputs = try await PlanInputs.read(configuration, now: now, logger: logger)
        var explanation = Explain.explain(
            query, directory: inputs.directory, policy: inputs.policy, desired: inputs.desired, now: now)
        let errors = inputs.desired.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty {
            explanation.notes.append(
                "the plan has \(errors.count) error(s), so sync applies nothing until they are fixed (see `accesssync plan`)")
        }
        return explanation
    }
}
