/// Safety rules for role templates, shared by the policy loader, the policy store and the planner.
///
/// A template's Role rules may not grant RBAC writes (roles, rolebindings, clusterroles,
/// clusterrolebindings), the `bind`, `escalate` or `impersonate` verbs, or `create` on
/// `serviceaccounts/token` — explicitly or through wildcards that cover them. A reference to a
/// cluster-admin-like ClusterRole (`cluster-admin`, `admin`, `edit`, any `system:` role) requires
/// `privileged: true`.
public enum RoleTemplateValidation {
    /// ClusterRoles that need the privileged flag.
    public static let privilegedClusterRoles: Set<String> = ["cluster-admin", "admin", "edit"]

    static let rbacGroup = "rbac.authorization.k8s.io"
    static let rbacResources: Set<String> = ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]
    static let writeVerbs: Set<String> = ["create", "update", "patch", "delete", "deletecollection", "*"]
    static let forbiddenVerbs: Set<String> = ["bind", "escalate", "impersonate"]
    static let impersonable: Set<String> = ["users", "groups", "serviceaccounts", "uids", "userextras"]

    /// One problem with a template, naming the rule at fault.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        /// Index of the offending rule in the template's rules (nil for ClusterRole references).
        public var ruleIndex: Int?
        public var message: String
        public var description: String {
            if let ruleIndex { "rule \(ruleIndex + 1): \(message)" } else { message }
        }
    }

    /// True when a ClusterRole reference needs `privileged: true`.
    public static func isPrivilegedClusterRole(_ name: String) -> Bool {
        privilegedClusterRoles.contains(name) || name.hasPrefix("system:")
    }

    /// True when the template grants cluster-admin-like power (a privileged ClusterRole reference).
    public static func isPrivileged(_ template: RoleTemplate) -> Bool {
        if case .clusterRole(let name) = template.body { return isPrivilegedClusterRole(name) }
        return template.privileged
    }

    /// Every problem with the template; empty when it may be used.
    public static func problems(_ template: RoleTemplate) -> [Problem] {
        switch template.body {
        case .clusterRole(let name):
            if name.isEmpty { return [Problem(ruleIndex: nil, message: "empty ClusterRole name")] }
            if isPrivilegedClusterRole(name), !template.privileged {
                return [Problem(
                    ruleIndex: nil,
                    message: "references the cluster-admin-like ClusterRole \"\(name)\" without privileged: true")]
            }
            return []
        case .rules(let rules):
            var problems: [Problem] = []
            for (index, rule) in rules.enumerated() {
                problems += ruleProblems(rule).map { Problem(ruleIndex: index, message: $0) }
            }
            return problems
        }
    }

    /// The problems of one rule (messages without the rule number).
    public static func ruleProblems(_ rule: PolicyRule) -> [String] {
        var problems: [String] = []
        let groups = Set(rule.apiGroups)
        let verbs = Set(rule.verbs.map { $0.lowercased() })
        if rule.verbs.isEmpty { problems.append("has no verbs") }
        if rule.resources.isEmpty { problems.append("has no resources") }
        func covers(_ resource: String, _ candidates: [String]) -> Bool {
            // RBAC matches "*" (every resource and subresource), exact "res/sub", and "*/sub".
            candidates.contains { candidate in
                candidate == "*" || candidate == resource
                    || (resource.contains("/") && candidate == "*/" + resource.split(separator: "/").last!)
                    || (candidate.hasSuffix("/*") && resource.hasPrefix(String(candidate.dropLast(2)) + "/"))
            }
        }
        let anyGroup = groups.contains("*")
        // RBAC writes.
        if anyGroup || groups.contains(rbacGroup) {
            let hit = rbacResources.sorted().filter { covers($0, rule.resources) }
            let writes = verbs.intersection(writeVerbs.union(["bind", "escalate"]))
            if !hit.isEmpty, !writes.isEmpty {
                problems.append(
                    "grants \(writes.sorted().joined(separator: ", ")) on \(hit.joined(separator: ", ")) (RBAC writes)")
            }
        }
        // bind / escalate / impersonate, explicitly.
        let explicit = verbs.intersection(forbiddenVerbs)
        if !explicit.isEmpty {
            problems.append("grants the verb \(explicit.sorted().joined(separator: ", "))")
        }
        // "*" implies impersonate on users/groups/serviceaccounts (core and authentication.k8s.io).
        if verbs.contains("*"), anyGroup || groups.contains("") || groups.contains("authentication.k8s.io") {
            let hit = impersonable.sorted().filter { covers($0, rule.resources) }
            if !hit.isEmpty {
                problems.append("grants \"*\" on \(hit.joined(separator: ", ")), which includes impersonate")
            }
        }
        // serviceaccounts/token.
        if anyGroup || groups.contains(""), covers("serviceaccounts/token", rule.resources),
            !verbs.isDisjoint(with: ["create", "*"])
        {
            problems.append("grants create on serviceaccounts/token")
        }
        return problems
    }

    /// Validates every template of a policy, as diagnostics of severity error naming the template
    /// and its source.
    public static func diagnostics(for policy: Policy) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for name in policy.roleTemplates.keys.sorted() {
            let template = policy.roleTemplates[name]!
            if !Names.isValidRBACObjectName(ManagedNames.role(template: name)) {
                diagnostics.append(
                    Diagnostic(
                        severity: .error, code: "invalid-role-template", subject: "role template \(name)",
                        message: "name \"\(name)\" cannot be used in a Kubernetes object name (\(template.source))"))
            }
            for problem in problems(template) {
                diagnostics.append(
                    Diagnostic(
                        severity: .error, code: "forbidden-role-template", subject: "role template \(name)",
                        message: "\(problem) (\(template.source))"))
            }
        }
        return diagnostics
    }
}

/// Names of the objects AccessSync creates inside namespaces. Defined once; executors and reports
/// use the same values.
public enum ManagedNames {
    /// The person's RoleBinding in their own namespace.
    public static let personalRoleBinding = "accesssync-owner"
    /// The hub ServiceAccount's RoleBinding in a personal namespace.
    public static let hubRoleBinding = "accesssync-hub"
    public static let resourceQuota = "accesssync-quota"
    public static let limitRange = "accesssync-limits"
    public static let networkPolicy = "accesssync-allow-hub"

    /// The Role made from a rules template.
    public static func role(template: String) -> String { "accesssync-\(template)" }
    /// A project's RoleBinding for a role template.
    public static func projectRoleBinding(template: String) -> String { "accesssync-\(template)" }
}
