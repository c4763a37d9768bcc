import RBACModel

/// One Kubernetes permission the sync job needs: `verb` on `resource` in API group `group`,
/// cluster-wide (the job lists every namespace and creates namespaces).
public struct KubePermission: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// API group ("" for the core group).
    public var group: String
    /// Plural resource name (`rolebindings`).
    public var resource: String
    public var verb: String
    /// Why the job needs it (for `doctor` and the ClusterRole's comments).
    public var reason: String

    public init(group: String, resource: String, verb: String, reason: String) {
        self.group = group
        self.resource = resource
        self.verb = verb
        self.reason = reason
    }

    /// `resource.group` as `kubectl auth can-i` writes it (`rolebindings.rbac.authorization.k8s.io`).
    public var qualifiedResource: String { group.isEmpty ? resource : "\(resource).\(group)" }

    public var description: String { "\(verb) \(qualifiedResource)" }

    public static func < (lhs: KubePermission, rhs: KubePermission) -> Bool {
        (lhs.group, lhs.resource, lhs.verb) < (rhs.group, rhs.resource, rhs.verb)
    }
}

/// The single table of what the sync job may do in the cluster: `accesssync doctor` asks the API
/// server about each entry (SelfSubjectAccessReview), and `deploy/base/clusterrole.yaml` grants
/// exactly these (checked by `DoctorTests` here and by `Tests/python/test_deploy.py` from the
/// requests the code sends).
public enum KubePermissions {
    /// Verbs used on every managed kind, through the kind-generic code of `KubeClusterTarget`.
    public static let managedKindVerbs: [(verb: String, reason: String)] = [
        ("list", "observe: one cluster-wide paginated LIST per kind"),
        ("get", "re-read after an ambiguous conflict and before retiring a namespace"),
        ("create", "new objects are created as a skeleton (never adopted by accident)"),
        ("patch", "server-side apply of the managed fields; retirement annotations"),
        ("delete", "deletions with uid and resourceVersion preconditions"),
    ]

    /// Every permission the sync (and `doctor`) needs, sorted.
    public static var required: [KubePermission] {
        var permissions: [KubePermission] = []
        for kind in ObjectKind.allCases {
            for (verb, reason) in managedKindVerbs {
                permissions.append(KubePermission(group: kind.group, resource: kind.plural, verb: verb, reason: reason))
            }
        }
        let rbac = "rbac.authorization.k8s.io"
        permissions.append(
            KubePermission(
                group: rbac, resource: "roles", verb: "escalate",
                reason: "role templates grant permissions the job itself does not hold"))
        permissions.append(
            KubePermission(
                group: rbac, resource: "roles", verb: "bind",
                reason: "RoleBindings to Roles whose permissions the job does not hold"))
        permissions.append(
            KubePermission(
                group: rbac, resource: "clusterroles", verb: "bind",
                reason: "RoleBindings to ClusterRoles (role templates' clusterRole, kubernetes.hubServiceAccountRole)"))
        permissions.append(
            KubePermission(
                group: "authorization.k8s.io", resource: "selfsubjectaccessreviews", verb: "create",
                reason: "doctor asks the API server what the job may do"))
        return permissions.sorted()
    }
}
