import RBACModel

/// Checks that hold for a whole `Policy` value: references resolve and role templates stay within
/// what AccessSync may grant.
enum PolicyConsistency {
    static func issues(in policy: Policy) -> [PolicyRowIssue] {
        var issues: [PolicyRowIssue] = []
        func source(_ source: PolicySource) -> String { SourceText.format(source) }

        for template in policy.roleTemplates.values.sorted(by: { $0.name < $1.name }) {
            for problem in templateViolations(template) {
                issues.append(PolicyRowIssue(
                    table: "role_templates", key: template.name, source: source(template.source), problem: problem))
            }
        }
        func checkTier(_ name: String?, _ what: String, table: String, key: String, rowSource: PolicySource) {
            guard let name else { return }
            if policy.tiers[name] == nil {
                issues.append(PolicyRowIssue(
                    table: table, key: key, source: source(rowSource), problem: "\(what) \"\(name)\" is not a known tier"))
            }
        }
        func checkProject(_ project: ProjectGrant?, table: String, key: String, rowSource: PolicySource) {
            guard let project else { return }
            if project.namespace.isEmpty {
                issues.append(PolicyRowIssue(
                    table: table, key: key, source: source(rowSource), problem: "project has no namespace"))
            }
            for template in project.roleTemplates where policy.roleTemplates[template] == nil {
                issues.append(PolicyRowIssue(
                    table: table, key: key, source: source(rowSource),
                    problem: "project role template \"\(template)\" is not a known role template"))
            }
            checkTier(project.tier, "project tier", table: table, key: key, rowSource: rowSource)
        }
        for grant in policy.grants.sorted(by: { $0.id < $1.id }) {
            if grant.group.isEmpty {
                issues.append(PolicyRowIssue(
                    table: "grants", key: grant.id, source: source(grant.source), problem: "grant names no LDAP group"))
            }
            checkTier(grant.tier, "tier", table: "grants", key: grant.id, rowSource: grant.source)
            checkProject(grant.project, table: "grants", key: grant.id, rowSource: grant.source)
        }
        for override in policy.overrides.sorted(by: { $0.id < $1.id }) {
            checkTier(override.tier, "tier", table: "overrides", key: override.id, rowSource: override.source)
            checkProject(override.project, table: "overrides", key: override.id, rowSource: override.source)
        }
        if let name = policy.defaultTier, policy.tiers[name] == nil {
            issues.append(PolicyRowIssue(
                table: "policy_settings", key: "default_tier", source: nil,
                problem: "default tier \"\(name)\" is not a known tier"))
        }
        if let name = policy.personalRoleTemplate, policy.roleTemplates[name] == nil {
            issues.append(PolicyRowIssue(
                table: "policy_settings", key: "personal_role_template", source: nil,
                problem: "personal role template \"\(name)\" is not a known role template"))
        }
        return issues
    }

    /// Why a role template may not be used.
    ///
    /// Stand-in until RBACModel publishes its own validation of role templates (the model engineer
    /// adds it); then this forwards to it so the rule lives in one place.
    static func templateViolations(_ template: RoleTemplate) -> [String] {
        var problems: [String] = []
        switch template.body {
        case .clusterRole(let name):
            let privilegedRoles: Set<String> = ["cluster-admin", "admin", "edit"]
            if (privilegedRoles.contains(name) || name.hasPrefix("system:")) && !template.privileged {
                problems.append("references ClusterRole \"\(name)\" without the privileged flag")
            }
        case .rules(let rules):
            let writeVerbs: Set<String> = ["create", "update", "patch", "delete", "deletecollection", "*"]
            let rbacResources: Set<String> = [
                "roles", "rolebindings", "clusterroles", "clusterrolebindings", "*",
            ]
            for (index, rule) in rules.enumerated() {
                let label = "rule \(index + 1)"
                let verbs = Set(rule.verbs.map { $0.lowercased() })
                let groups = Set(rule.apiGroups)
                let resources = Set(rule.resources.map { $0.lowercased() })
                for verb in ["bind", "escalate", "impersonate"] where verbs.contains(verb) {
                    problems.append("\(label) grants the forbidden verb \"\(verb)\"")
                }
                if verbs.contains("*") {
                    problems.append("\(label) grants every verb (\"*\"), which includes bind, escalate and impersonate")
                }
                let touchesRBAC = groups.contains("rbac.authorization.k8s.io") || groups.contains("*")
                if touchesRBAC, !resources.isDisjoint(with: rbacResources), !verbs.isDisjoint(with: writeVerbs),
                    !verbs.contains("*")
                {
                    problems.append("\(label) grants writes to RBAC objects")
                }
                let touchesCore = groups.contains("") || groups.contains("*")
                if touchesCore, resources.contains("serviceaccounts/token") || resources.contains("*") {
                    if resources.contains("serviceaccounts/token") || !verbs.isDisjoint(with: writeVerbs) {
                        problems.append("\(label) grants serviceaccounts/token")
                    }
                }
            }
        }
        return problems
    }
}
