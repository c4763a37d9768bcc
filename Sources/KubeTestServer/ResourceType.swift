// The kinds this server serves, with their paths and per-kind rules.

/// How a kind's `metadata.name` is validated.
enum NameRule: Sendable {
    /// RBAC objects: `path.IsValidPathSegmentName`.
    case pathSegment
    /// Namespaces: RFC 1123 label, at most 63 characters.
    case dns1123Label
    /// Everything else here: RFC 1123 subdomain, at most 253 characters.
    case dns1123Subdomain

    func errors(_ name: String) -> [String] {
        switch self {
        case .pathSegment: return Validation.pathSegmentErrors(name)
        case .dns1123Label: return Validation.dns1123LabelErrors(name)
        case .dns1123Subdomain: return Validation.dns1123SubdomainErrors(name)
        }
    }
}

/// One served resource.
struct ResourceType: Sendable, Hashable {
    var group: String
    var version: String
    var kind: String
    var plural: String
    var singular: String
    var namespaced: Bool
    var shortNames: [String] = []
    var nameRule: NameRule = .dns1123Subdomain
    /// Top-level fields the kind's schema has besides apiVersion, kind and metadata.
    var topLevelFields: [String]
    /// `AllowCreateOnUpdate` of the kind's registry strategy.
    var allowCreateOnUpdate = false
    /// `AllowUnconditionalUpdate` of the kind's registry strategy.
    var allowUnconditionalUpdate = true
    /// Only `create` is served (reviews).
    var createOnly = false

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    var groupResource: String { group.isEmpty ? plural : "\(plural).\(group)" }
    var groupKind: String { group.isEmpty ? kind : "\(kind).\(group)" }
    var verbs: [String] {
        createOnly
            ? ["create"]
            : ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    static func == (a: ResourceType, b: ResourceType) -> Bool { a.group == b.group && a.plural == b.plural }
    func hash(into h: inout Hasher) {
        h.combine(group)
        h.combine(plural)
    }

    static let rbacGroup = "rbac.authorization.k8s.io"

    static let namespaces = ResourceType(
        group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false,
        shortNames: ["ns"], nameRule: .dns1123Label, topLevelFields: ["spec", "status"])
    static let configMaps = ResourceType(
        group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap", namespaced: true,
        shortNames: ["cm"], topLevelFields: ["data", "binaryData", "immutable"])
    static let resourceQuotas = ResourceType(
        group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", singular: "resourcequota",
        namespaced: true, shortNames: ["quota"], topLevelFields: ["spec", "status"])
    static let limitRanges = ResourceType(
        group: "", version: "v1", kind: "LimitRange", plural: "limitranges", singular: "limitrange", namespaced: true,
        shortNames: ["limits"], topLevelFields: ["spec"], allowCreateOnUpdate: true)
    static let serviceAccounts = ResourceType(
        group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", singular: "serviceaccount",
        namespaced: true, shortNames: ["sa"],
        topLevelFields: ["secrets", "imagePullSecrets", "automountServiceAccountToken"], allowCreateOnUpdate: true)
    static let networkPolicies = ResourceType(
        group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies",
        singular: "networkpolicy", namespaced: true, shortNames: ["netpol"], topLevelFields: ["spec"])
    static let roles = ResourceType(
        group: rbacGroup, version: "v1", kind: "Role", plural: "roles", singular: "role", namespaced: true,
        nameRule: .pathSegment, topLevelFields: ["rules"], allowCreateOnUpdate: true)
    static let roleBindings = ResourceType(
        group: rbacGroup, version: "v1", kind: "RoleBinding", plural: "rolebindings", singular: "rolebinding",
        namespaced: true, nameRule: .pathSegment, topLevelFields: ["subjects", "roleRef"], allowCreateOnUpdate: true)
    static let clusterRoles = ResourceType(
        group: rbacGroup, version: "v1", kind: "ClusterRole", plural: "clusterroles", singular: "clusterrole",
        namespaced: false, nameRule: .pathSegment, topLevelFields: ["rules", "aggregationRule"],
        allowCreateOnUpdate: true)
    static let clusterRoleBindings = ResourceType(
        group: rbacGroup, version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings",
        singular: "clusterrolebinding", namespaced: false, nameRule: .pathSegment,
        topLevelFields: ["subjects", "roleRef"], allowCreateOnUpdate: true)
    static let leases = ResourceType(
        group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease",
        namespaced: true, topLevelFields: ["spec"], allowUnconditionalUpdate: false)
    static let selfSubjectAccessReviews = ResourceType(
        group: "authorization.k8s.io", version: "v1", kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", namespaced: false,
        topLevelFields: ["spec", "status"], createOnly: true)

    static let all: [ResourceType] = [
        namespaces, configMaps, resourceQuotas, limitRanges, serviceAccounts, networkPolicies, roles, roleBindings,
        clusterRoles, clusterRoleBindings, leases, selfSubjectAccessReviews,
    ]

    /// Lookup by (group, plural).
    static func find(group: String, plural: String) -> ResourceType? {
        all.first { $0.group == group && $0.plural == plural }
    }

    /// Group versions in discovery order.
    static var groupVersions: [(group: String, version: String)] {
        var seen: [String] = []
        var out: [(String, String)] = []
        for t in all where !t.group.isEmpty && !seen.contains(t.group) {
            seen.append(t.group)
            out.append((t.group, t.version))
        }
        return out
    }
}
