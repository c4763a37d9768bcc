public import Logging
public import RBACModel

/// How AccessSync uses a hub.
public struct HubTargetOptions: Sendable, Hashable {
    /// Mirror LDAP groups into hub groups (`PlanSettings.syncHubGroups`).
    public var syncGroups: Bool
    /// The operator's statement that the hub runs with `Authenticator.manage_groups = True`.
    ///
    /// JupyterHub 5.3 and later accept the group APIs even then (and the authenticator rewrites
    /// memberships at every login), so the API cannot reveal it: it must be declared. Older hubs
    /// refuse group membership calls with 400 "Group management via API is disabled", which
    /// ``HubTarget`` detects with a harmless probe.
    public var hubManagesGroups: Bool
    /// Take over existing hub users that are not in the registry (`--adopt`).
    public var adoptUsers: Bool
    /// Take over existing hub groups that are not in the registry.
    public var adoptGroups: Bool

    public init(syncGroups: Bool = true, hubManagesGroups: Bool = false, adoptUsers: Bool = false, adoptGroups: Bool = false)
    {
        self.syncGroups = syncGroups
        self.hubManagesGroups = hubManagesGroups
        self.adoptUsers = adoptUsers
        self.adoptGroups = adoptGroups
    }
}

/// Why the hub target refuses to work at all.
public enum HubTargetError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Group sync is configured but the hub's authenticator manages groups.
    case hubManagesGroups(String)
    /// The registry of managed users could not be read or written.
    case registry(String)

    public var description: String {
        switch self {
        case .hubManagesGroups(let detail):
            "refusing to sync hub groups: the hub's authenticator manages groups (Authenticator.manage_groups = True), "
                + "so every login would overwrite the memberships AccessSync sets. Turn off hub group sync or "
                + "manage_groups. \(detail)"
        case .registry(let detail): "hub registry: \(detail)"
        }
    }
}

/// JupyterHub as a sync target: observes users, admins and groups, and applies `.hub` changes.
///
/// Touches only users and groups recorded in the ``HubRegistry`` (or adopted when the options say
/// so). Revocation stops the user's servers, waits until they are stopped, then deletes the user.
public struct HubTarget: Sendable {
    public let client: HubClient
    public let registry: any HubRegistry
    public let options: HubTargetOptions
    let logger: Logger

    public init(
        client: HubClient, registry: any HubRegistry, options: HubTargetOptions = HubTargetOptions(),
        logger: Logger = HubClient.silentLogger
    ) {
        self.client = client
        self.registry = registry
        self.options = options
        self.logger = logger
    }

    /// The message JupyterHub before 5.3 answers group membership calls with under `manage_groups`.
    static let managedGroupsMessage = "Group management via API is disabled"

    /// Refuses to run when group sync is configured but the hub manages groups.
    ///
    /// Checks the operator's declaration, then probes the hub: adding nobody to a group that does
    /// not exist answers 404 on a hub that allows group management, and 400 "Group management via
    /// API is disabled" on a pre-5.3 hub with `manage_groups`. The probe changes nothing.
    public func checkGroupManagement() async throws {
        guard options.syncGroups else { return }
        if options.hubManagesGroups {
            throw HubTargetError.hubManagesGroups("(declared in AccessSync's hub configuration)")
        }
        if try await client.groupAPIDisabledByAuthenticator() {
            throw HubTargetError.hubManagesGroups("(the hub answers: \(Self.managedGroupsMessage))")
        }
    }

    /// Reads the hub's users and groups (every page) and the registry of managed names.
    ///
    /// - Throws: `HubTargetError.hubManagesGroups` when group sync is configured but the hub
    ///   manages groups; a `HubError` when the hub cannot be read completely.
    public func observe() async throws -> HubObservedState {
        try await checkGroupManagement()
        let users = try await client.listUsers()
        let groups = try await client.listGroups()
        let managedUsers: [String: PersonID]
        let managedGroups: Set<String>
        do {
            managedUsers = try await registry.managedUsers()
            managedGroups = try await registry.managedGroups()
        } catch {
            throw HubTargetError.registry("cannot read the registry: \(error)")
        }
        return HubObservedState(
            users: users.map { HubObservedUser(name: $0.name, admin: $0.admin, serverActive: $0.hasActiveServer) },
            groups: Dictionary(groups.map { ($0.name, Set($0.users)) }, uniquingKeysWith: { a, b in a.union(b) }),
            managedUsers: managedUsers,
            managedGroups: managedGroups
        )
    }
}

extension HubClient {
    /// True when the hub refuses group membership calls because its authenticator manages groups
    /// (JupyterHub before 5.3). Sends `POST /groups/<random>/users {"users": []}` to a group that
    /// does not exist: nothing can change.
    public func groupAPIDisabledByAuthenticator() async throws(HubError) -> Bool {
        struct Body: Encodable { var users: [String] }
        let probe = "accesssync-probe-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        do {
            _ = try await send(
                .POST, "/groups/\(Self.pathSegment(probe))/users", body: Body(users: []), expect: [200])
            return false
        } catch .notFound {
            return false
        } catch .badRequest(let message) where message.contains(HubTarget.managedGroupsMessage) {
            return true
        }
    }
}
