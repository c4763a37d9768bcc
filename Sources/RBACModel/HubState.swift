/// A JupyterHub user that must exist.
public struct HubUserDesired: Hashable, Sendable, Codable {
    /// The hub username (what the authenticator produces at login).
    public var name: String
    public var admin: Bool
    public var person: PersonID
    public var provenance: [Provenance]

    public init(name: String, admin: Bool, person: PersonID, provenance: [Provenance]) {
        self.name = name
        self.admin = admin
        self.person = person
        self.provenance = provenance
    }
}

/// A JupyterHub group mirrored from an LDAP group flagged for the hub.
public struct HubGroupDesired: Hashable, Sendable, Codable {
    public var name: String
    public var members: Set<String>
    public var provenance: [Provenance]

    public init(name: String, members: Set<String>, provenance: [Provenance]) {
        self.name = name
        self.members = members
        self.provenance = provenance
    }
}

public struct HubDesiredState: Hashable, Sendable, Codable {
    public var users: [String: HubUserDesired]
    public var groups: [String: HubGroupDesired]

    public init(users: [HubUserDesired] = [], groups: [HubGroupDesired] = []) {
        self.users = Dictionary(users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.groups = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// A hub user as the hub reports it.
public struct HubObservedUser: Hashable, Sendable, Codable {
    public var name: String
    public var admin: Bool
    /// True when the user has a running (or pending) server.
    public var serverActive: Bool

    public init(name: String, admin: Bool, serverActive: Bool = false) {
        self.name = name
        self.admin = admin
        self.serverActive = serverActive
    }
}

/// The hub's users and groups, plus AccessSync's registry of what it manages there (the hub has
/// no labels, so ownership lives in PostgreSQL).
public struct HubObservedState: Hashable, Sendable, Codable {
    public var users: [String: HubObservedUser]
    public var groups: [String: Set<String>]
    /// Hub users AccessSync created or adopted (with the person they belong to).
    public var managedUsers: [String: PersonID]
    /// Hub groups AccessSync created or adopted.
    public var managedGroups: Set<String>

    public init(
        users: [HubObservedUser] = [], groups: [String: Set<String>] = [:], managedUsers: [String: PersonID] = [:],
        managedGroups: Set<String> = []
    ) {
        self.users = Dictionary(users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.groups = groups
        self.managedUsers = managedUsers
        self.managedGroups = managedGroups
    }
}
