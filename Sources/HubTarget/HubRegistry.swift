public import RBACModel

/// AccessSync's record of the hub users and groups it manages.
///
/// The hub has no labels, so ownership lives outside it: in the product this is a PostgreSQL
/// table (policy-store issue); ``InMemoryHubRegistry`` serves tests and dry tools. The target
/// records a name *before* creating it on the hub (so a create whose answer was lost still
/// belongs to AccessSync on the next run) and forgets it after the hub deleted it, or when the
/// hub refused to create it.
public protocol HubRegistry: Sendable {
    /// Managed hub users with the person each belongs to.
    func managedUsers() async throws -> [String: PersonID]
    /// Managed hub groups.
    func managedGroups() async throws -> Set<String>
    /// Records a managed user (created by AccessSync, or adopted when `adopted`).
    func recordUser(_ name: String, person: PersonID, adopted: Bool) async throws
    /// Forgets a user (deleted from the hub, or never created).
    func forgetUser(_ name: String) async throws
    /// Records a managed group.
    func recordGroup(_ name: String, adopted: Bool) async throws
    /// Forgets a group.
    func forgetGroup(_ name: String) async throws
}

/// A ``HubRegistry`` kept in memory (tests, `render`-style dry tools).
public actor InMemoryHubRegistry: HubRegistry {
    public private(set) var users: [String: PersonID]
    public private(set) var groups: Set<String>
    /// Names recorded with `adopted: true`.
    public private(set) var adoptedUsers: Set<String> = []
    public private(set) var adoptedGroups: Set<String> = []

    public init(users: [String: PersonID] = [:], groups: Set<String> = []) {
        self.users = users
        self.groups = groups
    }

    public func managedUsers() -> [String: PersonID] { users }
    public func managedGroups() -> Set<String> { groups }

    public func recordUser(_ name: String, person: PersonID, adopted: Bool) {
        users[name] = person
        if adopted { adoptedUsers.insert(name) }
    }

    public func forgetUser(_ name: String) {
        users[name] = nil
        adoptedUsers.remove(name)
    }

    public func recordGroup(_ name: String, adopted: Bool) {
        groups.insert(name)
        if adopted { adoptedGroups.insert(name) }
    }

    public func forgetGroup(_ name: String) {
        groups.remove(name)
        adoptedGroups.remove(name)
    }
}
