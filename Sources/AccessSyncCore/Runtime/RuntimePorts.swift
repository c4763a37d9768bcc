public import Foundation
public import HubTarget
import KubeTarget
public import LDAPBridge
public import Logging
import PolicyFiles
public import PolicyStore
public import RBACModel

/// The directory through LDAPBridge: a complete snapshot or an error, never part of one.
public struct LDAPDirectorySource: DirectorySource {
    public let configuration: LDAPConfiguration
    public let logger: Logger

    public init(configuration: LDAPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func readDirectory(now: Date) async throws -> DirectorySnapshot {
        try await DirectoryReader.read(config: configuration, now: now, logger: logger)
    }
}

/// The policy read straight from YAML files (`sync.policySource: files`).
public struct FilePolicySource: PolicyProvider {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func loadPolicy() async throws -> Policy {
        do {
            return try PolicyLoader.load(directory: directory).policy
        } catch {
            throw CommandFailure(
                .dataError, "invalid policy in \(directory):\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }
    }
}

/// `kubernetes.mode: render`: the render directory plays the cluster (see `RenderTarget+Sync`).
public struct RenderDirectoryPort: ClusterTarget {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func observe() async throws -> ObservedCluster {
        try RenderTarget().observe(directory: directory)
    }

    public func apply(_ changes: [Change], dryRun: Bool) async -> [ChangeOutcome] {
        guard !changes.isEmpty else { return [] }
        if dryRun {
            return changes.map { ChangeOutcome(changeID: $0.id, status: .skipped, message: "dry run: file not written") }
        }
        let failures = RenderTarget().apply(changes, directory: directory)
        return changes.map { change in
            if let message = failures[change.id] {
                return ChangeOutcome(changeID: change.id, status: .failed, message: message)
            }
            return ChangeOutcome(changeID: change.id, status: .succeeded, message: "written to \(directory)")
        }
    }
}

/// The registry of managed hub users and groups in PostgreSQL, on its own connection.
public actor PostgresHubRegistry: HubRegistry {
    let connection: PGConnection
    /// The run that records new users (for `created_by_run`).
    var runID: Int64?

    public init(options: PostgresConnectionOptions) async throws {
        connection = try await PGConnection.connect(options)
    }

    public func setRun(_ id: Int64?) {
        runID = id
    }

    public func close() async {
        await connection.close()
    }

    public func managedUsers() async throws -> [String: PersonID] {
        var users: [String: PersonID] = [:]
        for user in try await HubUserRegistry(connection: connection).all() {
            // A row without a person (registered by hand) is still ours; it belongs to nobody.
            users[user.name] = PersonID(user.personID ?? "")
        }
        return users
    }

    public func managedGroups() async throws -> Set<String> {
        Set(try await HubGroupRegistry(connection: connection).all().map(\.name))
    }

    public func recordUser(_ name: String, person: PersonID, adopted: Bool) async throws {
        try await HubUserRegistry(connection: connection).register(
            name: name, personID: person.rawValue, run: runID, adopted: adopted)
    }

    public func forgetUser(_ name: String) async throws {
        try await HubUserRegistry(connection: connection).remove(name: name)
    }

    public func recordGroup(_ name: String, adopted: Bool) async throws {
        try await HubGroupRegistry(connection: connection).register(name: name, run: runID, adopted: adopted)
    }

    public func forgetGroup(_ name: String) async throws {
        try await HubGroupRegistry(connection: connection).remove(name: name)
    }
}
