// Bearer-token users, RBAC-like permissions and the escalation check.
// Models k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go (forbiddenMessage),
// plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows), pkg/registry/rbac/validation/rule.go
// (ConfirmNoEscalation, Covers) and pkg/registry/rbac/{role,rolebinding}/policybased/storage.go.

/// One permission rule, like an RBAC PolicyRule plus the namespaces it is bound in.
public struct PermissionRule: Sendable, Hashable {
    public var verbs: [String]
    public var apiGroups: [String]
    public var resources: [String]
    public var resourceNames: [String]
    /// Namespaces where the rule applies; `nil` means everywhere including cluster-scoped resources
    /// (a ClusterRoleBinding), a list means RoleBindings in those namespaces.
    public var namespaces: [String]?
    public var nonResourceURLs: [String]

    public init(
        verbs: [String], apiGroups: [String] = ["*"], resources: [String] = ["*"], resourceNames: [String] = [],
        namespaces: [String]? = nil, nonResourceURLs: [String] = []
    ) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.namespaces = namespaces
        self.nonResourceURLs = nonResourceURLs
    }

    /// Everything, everywhere.
    public static let all = PermissionRule(verbs: ["*"])

    func appliesIn(namespace: String) -> Bool {
        guard let namespaces else { return true }
        return !namespace.isEmpty && (namespaces.contains(namespace) || namespaces.contains("*"))
    }

    func allows(_ a: RequestAttributes) -> Bool {
        guard appliesIn(namespace: a.namespace) else { return false }
        guard verbs.contains("*") || verbs.contains(a.verb) else { return false }
        guard apiGroups.contains("*") || apiGroups.contains(a.group) else { return false }
        let combined = a.subresource.isEmpty ? a.resource : "\(a.resource)/\(a.subresource)"
        guard resources.contains("*") || resources.contains(combined)
            || (!a.subresource.isEmpty && resources.contains("*/\(a.subresource)"))
        else { return false }
        if !resourceNames.isEmpty {
            guard !a.name.isEmpty, resourceNames.contains(a.name) else { return false }
        }
        return true
    }
}

/// Who a bearer token authenticates as and what that user may do.
public struct UserInfo: Sendable, Hashable {
    public var name: String
    public var groups: [String]
    public var rules: [PermissionRule]

    public init(name: String, groups: [String] = [], rules: [PermissionRule] = []) {
        self.name = name
        self.groups = groups
        self.rules = rules
    }

    /// A cluster admin (`system:masters`): every check passes, escalation included.
    public static func admin(_ name: String = "admin") -> UserInfo {
        UserInfo(name: name, groups: ["system:masters"], rules: [.all])
    }

    var isSuperuser: Bool { groups.contains("system:masters") }

    /// Groups as the server reports them (`system:authenticated` appended).
    var effectiveGroups: [String] {
        groups.contains("system:authenticated") ? groups : groups + ["system:authenticated"]
    }
}

/// The attributes of one authorization check.
struct RequestAttributes: Sendable {
    var verb: String
    var group: String
    var resource: String
    var subresource: String = ""
    var namespace: String
    var name: String
}

enum Authorizer {
    /// The message of `responsewriters.forbiddenMessage`.
    static func forbiddenMessage(user: String, _ a: RequestAttributes) -> String {
        let resource = a.subresource.isEmpty ? a.resource : "\(a.resource)/\(a.subresource)"
        if !a.namespace.isEmpty {
            return "User \(goQuote(user)) cannot \(a.verb) resource \(goQuote(resource)) in API group \(goQuote(a.group)) in the namespace \(goQuote(a.namespace))"
        }
        return "User \(goQuote(user)) cannot \(a.verb) resource \(goQuote(resource)) in API group \(goQuote(a.group)) at the cluster scope"
    }

    /// One atomic permission used by the coverage check.
    struct Atom: Hashable {
        var group: String
        var resource: String
        var verb: String
        var name: String
    }

    /// Expands RBAC policy rules (JSON) into atoms.
    static func atoms(of rules: [JSONValue]) -> [Atom] {
        var out: [Atom] = []
        for rule in rules {
            let groups = rule["apiGroups"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let resources = rule["resources"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let verbs = rule["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let names = rule["resourceNames"]?.arrayValue?.compactMap(\.stringValue) ?? []
            for g in groups {
                for r in resources {
                    for v in verbs {
                        if names.isEmpty {
                            out.append(Atom(group: g, resource: r, verb: v, name: ""))
                        } else {
                            for n in names { out.append(Atom(group: g, resource: r, verb: v, name: n)) }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Whether the owner's rules (applicable at `namespace`) cover an atom, with RBAC's wildcard semantics.
    static func covers(_ owner: [PermissionRule], namespace: String, _ atom: Atom) -> Bool {
        owner.contains { rule in
            guard namespace.isEmpty ? rule.namespaces == nil : rule.appliesIn(namespace: namespace) else { return false }
            let verbOK = rule.verbs.contains("*") || rule.verbs.contains(atom.verb)
            let groupOK = rule.apiGroups.contains("*") || rule.apiGroups.contains(atom.group)
            let resourceOK =
                rule.resources.contains("*") || rule.resources.contains(atom.resource)
                || (atom.resource.contains("/") && rule.resources.contains("*/" + atom.resource.split(separator: "/").last!))
            let nameOK = rule.resourceNames.isEmpty || (!atom.name.isEmpty && rule.resourceNames.contains(atom.name))
            return verbOK && groupOK && resourceOK && nameOK
        }
    }

    /// `rbacv1helpers.CompactString` of the missing atoms, grouped per rule as the server prints them.
    static func describeMissing(_ atoms: [Atom]) -> String {
        var lines = Set<String>()
        for a in atoms {
            var s = "{APIGroups:[\(goQuote(a.group))], Resources:[\(goQuote(a.resource))]"
            if !a.name.isEmpty { s += ", ResourceNames:[\(goQuote(a.name))]" }
            s += ", Verbs:[\(goQuote(a.verb))]}"
            lines.insert(s)
        }
        return lines.sorted().joined(separator: "\n")
    }

    /// The escalation refusal of `ConfirmNoEscalation`.
    static func escalationMessage(user: UserInfo, missing: [Atom]) -> String {
        let groups = "[" + user.effectiveGroups.map(goQuote).joined(separator: " ") + "]"
        return "user \(goQuote(user.name)) (groups=\(groups)) is attempting to grant RBAC permissions not currently held:\n"
            + describeMissing(missing)
    }
}
