/// A user as JupyterHub's REST API reports it (the fields AccessSync reads).
public struct HubUser: Sendable, Hashable, Decodable, HubNamed {
    public var name: String
    public var admin: Bool
    public var groups: [String]
    /// URL of the default server when it is running, nil otherwise.
    public var server: String?
    /// `spawn`, `stop`, `check`... while the default server changes state, nil otherwise.
    public var pending: String?
    /// Active (running or pending) servers by server name (`""` is the default server); only present
    /// when the token can read servers.
    public var servers: [String: HubServer]?

    public init(
        name: String, admin: Bool, groups: [String] = [], server: String? = nil, pending: String? = nil,
        servers: [String: HubServer]? = nil
    ) {
        self.name = name
        self.admin = admin
        self.groups = groups
        self.server = server
        self.pending = pending
        self.servers = servers
    }

    enum CodingKeys: String, CodingKey {
        case name, admin, groups, server, pending, servers
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        admin = try c.decodeIfPresent(Bool.self, forKey: .admin) ?? false
        groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
        server = try c.decodeIfPresent(String.self, forKey: .server)
        pending = try c.decodeIfPresent(String.self, forKey: .pending)
        servers = try c.decodeIfPresent([String: HubServer].self, forKey: .servers)
    }

    /// True when any of the user's servers is running or changing state.
    public var hasActiveServer: Bool {
        server != nil || pending != nil || !(servers ?? [:]).isEmpty
    }

    /// Names of the servers that are active (`""` = the default server).
    public var activeServerNames: [String] {
        var names = Set((servers ?? [:]).keys)
        if server != nil || pending != nil { names.insert("") }
        return names.sorted()
    }
}

/// One of a user's servers.
public struct HubServer: Sendable, Hashable, Decodable {
    public var name: String
    public var ready: Bool
    public var pending: String?
    public var stopped: Bool

    enum CodingKeys: String, CodingKey {
        case name, ready, pending, stopped
    }

    public init(name: String, ready: Bool, pending: String?, stopped: Bool) {
        self.name = name
        self.ready = ready
        self.pending = pending
        self.stopped = stopped
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        ready = try c.decodeIfPresent(Bool.self, forKey: .ready) ?? false
        pending = try c.decodeIfPresent(String.self, forKey: .pending)
        stopped = try c.decodeIfPresent(Bool.self, forKey: .stopped) ?? false
    }
}

/// A group as JupyterHub's REST API reports it.
public struct HubGroup: Sendable, Hashable, Decodable, HubNamed {
    public var name: String
    public var users: [String]

    public init(name: String, users: [String]) {
        self.name = name
        self.users = users
    }

    enum CodingKeys: String, CodingKey {
        case name, users
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        users = try c.decodeIfPresent([String].self, forKey: .users) ?? []
    }
}

/// The identity behind the API token (`GET /user`).
public struct HubTokenIdentity: Sendable, Hashable, Decodable {
    /// `user` or `service`.
    public var kind: String
    public var name: String
    /// Present for users; services report admin through their roles and scopes.
    public var admin: Bool?
    public var roles: [String]
    public var scopes: [String]

    enum CodingKeys: String, CodingKey {
        case kind, name, admin, roles, scopes
    }

    public init(kind: String, name: String, admin: Bool?, roles: [String], scopes: [String]) {
        self.kind = kind
        self.name = name
        self.admin = admin
        self.roles = roles
        self.scopes = scopes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "unknown"
        name = try c.decode(String.self, forKey: .name)
        admin = try c.decodeIfPresent(Bool.self, forKey: .admin)
        roles = try c.decodeIfPresent([String].self, forKey: .roles) ?? []
        scopes = try c.decodeIfPresent([String].self, forKey: .scopes) ?? []
    }
}

/// Result of a bulk user creation: who was created, who already existed, who the hub refused.
public struct HubBulkCreateResult: Sendable, Hashable {
    /// Users the hub created, as the hub named them (it lowercases).
    public var created: [HubUser]
    /// Requested names that already existed on the hub (nothing was changed for them).
    public var alreadyExisting: [String]
    /// Requested names the hub refused, with its message.
    public var invalid: [String: String]
    /// Requested names whose batch failed for another reason (the error for each).
    public var failed: [String: HubError]

    public init(
        created: [HubUser] = [], alreadyExisting: [String] = [], invalid: [String: String] = [:],
        failed: [String: HubError] = [:]
    ) {
        self.created = created
        self.alreadyExisting = alreadyExisting
        self.invalid = invalid
        self.failed = failed
    }
}

struct Paginated<Item: Decodable>: Decodable {
    struct Pagination: Decodable {
        struct Next: Decodable {
            var offset: Int
            var limit: Int
        }
        var offset: Int
        var limit: Int
        var total: Int
        var next: Next?
    }
    var items: [Item]
    var pagination: Pagination

    enum CodingKeys: String, CodingKey {
        case items
        case pagination = "_pagination"
    }
}

/// Something the hub lists by unique name.
public protocol HubNamed {
    var name: String { get }
}
