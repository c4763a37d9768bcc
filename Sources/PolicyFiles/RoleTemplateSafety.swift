public import RBACModel

/// The role template rules the design forbids: RBAC writes, `bind`, `escalate`, `impersonate` and
/// `serviceaccounts/token`; and which ClusterRole references are cluster-admin-like.
///
/// LOCAL CHECK: the model engineer is adding the authoritative validation to RBACModel; the loader
/// switches to it once it is on main. Keep the two in agreement until then.
public enum RoleTemplateSafety {
    /// ClusterRoles that need `privileged: true` to be referenced: built-in roles that write RBAC or
    /// impersonate (`admin`, `edit`: `serviceaccounts` impersonate), or grant everything.
    public static let privilegedClusterRoles: Set<String> = [
        "cluster-admin", "admin", "edit", "system:masters", "system:controller:clusterrole-aggregation-controller",
    ]

    static let rbacGroup = "rbac.authorization.k8s.io"
    static let rbacResources: Set<String> = ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]
    static let writeVerbs: Set<String> = ["create", "update", "patch", "delete", "deletecollection", "*"]
    static let impersonable: Set<String> = ["users", "groups", "serviceaccounts", "uids", "userextras"]

    /// Why `rule` may not appear in a role template, or an empty list.
    public static func violations(of rule: PolicyRule) -> [String] {
        var reasons: [String] = []
        let verbs = Set(rule.verbs)
        let anyGroup = rule.apiGroups.contains("*")
        func covers(_ resource: String) -> Bool {
            rule.resources.contains { $0 == "*" || $0 == resource || $0 == resource.split(separator: "/").first.map { "\($0)/*" } }
        }
        for verb in ["bind", "escalate", "impersonate"] where verbs.contains(verb) {
            reasons.append("verb '\(verb)' is not allowed")
        }
        if anyGroup || rule.apiGroups.contains(rbacGroup),
            rbacResources.contains(where: covers), !verbs.isDisjoint(with: writeVerbs)
        {
            reasons.append("writing RBAC objects (roles, rolebindings, clusterroles, clusterrolebindings) is not allowed")
        }
        if verbs.contains("*"), anyGroup || rule.apiGroups.contains(""), impersonable.contains(where: covers) {
            reasons.append("verb '*' on users, groups or serviceaccounts includes impersonate, which is not allowed")
        }
        if anyGroup || rule.apiGroups.contains(""), covers("serviceaccounts/token"),
            verbs.contains("create") || verbs.contains("*")
        {
            reasons.append("creating serviceaccounts/token is not allowed")
        }
        return reasons
    }
}
