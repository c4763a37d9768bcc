public import Foundation

/// Where a policy row came from. `policy apply` prunes only `.file` rows.
public enum PolicySource: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A YAML file under `policies/`, with the line the row starts on.
    case file(path: String, line: Int?)
    /// The CLI (`grant`, `add-user`, ...), with the actor who ran it.
    case cli(actor: String)

    public var description: String {
        switch self {
        case .file(let path, let line): line.map { "\(path):\($0)" } ?? path
        case .cli(let actor): "cli(\(actor))"
        }
    }
}

/// Pod Security Admission level applied to a namespace through its labels.
public enum PodSecurityLevel: String, Hashable, Sendable, Codable, CaseIterable {
    case privileged, baseline, restricted
}

/// One LimitRange item as a tier defines it. Only the fields set here are managed and diffed.
public struct LimitRangeItem: Hashable, Sendable, Codable {
    public enum ItemType: String, Hashable, Sendable, Codable { case container = "Container", pod = "Pod", persistentVolumeClaim = "PersistentVolumeClaim" }
    public var type: ItemType
    public var max: [String: Quantity]
    public var min: [String: Quantity]
    public var `default`: [String: Quantity]
    public var defaultRequest: [String: Quantity]
    public var maxLimitRequestRatio: [String: Quantity]

    public init(
        type: ItemType, max: [String: Quantity] = [:], min: [String: Quantity] = [:],
        default: [String: Quantity] = [:], defaultRequest: [String: Quantity] = [:],
        maxLimitRequestRatio: [String: Quantity] = [:]
    ) {
        self.type = type
        self.max = max
        self.min = min
        self.default = `default`
        self.defaultRequest = defaultRequest
        self.maxLimitRequestRatio = maxLimitRequestRatio
    }
}

/// A ranked quota tier: a higher rank wins when several grants give a person a tier.
public struct Tier: Hashable, Sendable, Codable {
    public var name: String
    public var rank: Int
    /// ResourceQuota `spec.hard`.
    public var quota: [String: Quantity]
    public var limitRange: [LimitRangeItem]
    public var podSecurity: PodSecurityLevel
    public var source: PolicySource

    public init(
        name: String, rank: Int, quota: [String: Quantity], limitRange: [LimitRangeItem] = [],
        podSecurity: PodSecurityLevel = .baseline, source: PolicySource
    ) {
        self.name = name
        self.rank = rank
        self.quota = quota
        self.limitRange = limitRange
        self.podSecurity = podSecurity
        self.source = source
    }
}

/// One RBAC policy rule.
public struct PolicyRule: Hashable, Sendable, Codable {
    public var apiGroups: [String]
    public var resources: [String]
    public var verbs: [String]
    public var resourceNames: [String]

    public init(apiGroups: [String], resources: [String], verbs: [String], resourceNames: [String] = []) {
        self.apiGroups = apiGroups
        self.resources = resources
        self.verbs = verbs
        self.resourceNames = resourceNames
    }
}

/// What a role template grants: namespaced Role rules, or a reference to an existing ClusterRole.
public enum RoleTemplateBody: Hashable, Sendable, Codable {
    case rules([PolicyRule])
    case clusterRole(String)
}

public struct RoleTemplate: Hashable, Sendable, Codable {
    public var name: String
    public var body: RoleTemplateBody
    /// Required for references to cluster-admin-like ClusterRoles (`admin`, `cluster-admin`, `edit`...).
    public var privileged: Bool
    public var source: PolicySource

    public init(name: String, body: RoleTemplateBody, privileged: Bool = false, source: PolicySource) {
        self.name = name
        self.body = body
        self.privileged = privileged
        self.source = source
    }
}

/// A project namespace granted to a group's members.
public struct ProjectGrant: Hashable, Sendable, Codable {
    /// The project namespace name (validated as an RFC 1123 label).
    public var namespace: String
    /// Role templates bound in the namespace; one RoleBinding per template.
    public var roleTemplates: [String]
    /// The project's quota tier.
    public var tier: String?

    public init(namespace: String, roleTemplates: [String], tier: String? = nil) {
        self.namespace = namespace
        self.roleTemplates = roleTemplates
        self.tier = tier
    }
}

/// An entitlement given to the members of an LDAP group.
public struct Grant: Hashable, Sendable, Codable {
    /// Stable identifier of the row (unique within the policy), e.g. `jupyter-users/hub`.
    public var id: String
    /// The LDAP group's name (cn / sAMAccountName).
    public var group: String
    /// Members get a hub user and a personal namespace.
    public var hubAccess: Bool
    /// Members are hub admins.
    public var hubAdmin: Bool
    /// The group is mirrored as a JupyterHub group.
    public var hubGroup: Bool
    /// Tier of the members' personal namespaces (the highest rank wins across grants).
    public var tier: String?
    /// A project namespace for the group.
    public var project: ProjectGrant?
    /// After this instant the grant no longer applies.
    public var expires: Date?
    public var source: PolicySource

    public init(
        id: String, group: String, hubAccess: Bool = false, hubAdmin: Bool = false, hubGroup: Bool = false,
        tier: String? = nil, project: ProjectGrant? = nil, expires: Date? = nil, source: PolicySource
    ) {
        self.id = id
        self.group = group
        self.hubAccess = hubAccess
        self.hubAdmin = hubAdmin
        self.hubGroup = hubGroup
        self.tier = tier
        self.project = project
        self.expires = expires
        self.source = source
    }
}

/// How an override names its person: by directory identifier (preferred) or by uid.
public enum PersonSelector: Hashable, Sendable, Codable, CustomStringConvertible {
    case id(PersonID)
    case uid(String)

    public var description: String {
        switch self {
        case .id(let id): "id:\(id)"
        case .uid(let uid): "uid:\(uid)"
        }
    }
}

/// A per-person exception to the group grants.
public struct Override: Hashable, Sendable, Codable {
    public var id: String
    public var person: PersonSelector
    /// Replaces the tier from grants.
    public var tier: String?
    /// Extra hub access (a person outside the hub groups).
    public var hubAccess: Bool?
    /// Makes the person a hub admin (true) or prevents it (false).
    public var hubAdmin: Bool?
    /// Extra project access (same shape as a group grant's project).
    public var project: ProjectGrant?
    /// Suspends all access while in force. An expired suspension restores access.
    public var suspended: Bool
    public var expires: Date?
    public var reason: String?
    public var source: PolicySource

    public init(
        id: String, person: PersonSelector, tier: String? = nil, hubAccess: Bool? = nil, hubAdmin: Bool? = nil,
        project: ProjectGrant? = nil, suspended: Bool = false, expires: Date? = nil, reason: String? = nil,
        source: PolicySource
    ) {
        self.id = id
        self.person = person
        self.tier = tier
        self.hubAccess = hubAccess
        self.hubAdmin = hubAdmin
        self.project = project
        self.suspended = suspended
        self.expires = expires
        self.reason = reason
        self.source = source
    }
}

/// The complete policy: what LDAP groups and individual people are entitled to.
public struct Policy: Hashable, Sendable, Codable {
    public var tiers: [String: Tier]
    public var roleTemplates: [String: RoleTemplate]
    public var grants: [Grant]
    public var overrides: [Override]
    /// Tier for people with hub access and no tier from any grant.
    public var defaultTier: String?
    /// Role template bound to each person in their own namespace.
    public var personalRoleTemplate: String?

    public init(
        tiers: [Tier] = [], roleTemplates: [RoleTemplate] = [], grants: [Grant] = [], overrides: [Override] = [],
        defaultTier: String? = nil, personalRoleTemplate: String? = nil
    ) {
        var tierMap: [String: Tier] = [:]
        for tier in tiers { tierMap[tier.name] = tier }
        var templateMap: [String: RoleTemplate] = [:]
        for template in roleTemplates { templateMap[template.name] = template }
        self.tiers = tierMap
        self.roleTemplates = templateMap
        self.grants = grants
        self.overrides = overrides
        self.defaultTier = defaultTier
        self.personalRoleTemplate = personalRoleTemplate
    }
}
