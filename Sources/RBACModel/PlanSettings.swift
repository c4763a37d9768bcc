public import Foundation

/// Name templates. Placeholders: `{uid}` (as stored), `{username}` (the hub username),
/// `{hubnamespace}`, `{id}` (the directory identifier).
public struct NamingSettings: Hashable, Sendable, Codable {
    /// Hub username; must equal what the hub's authenticator produces at login.
    /// Default `{uid}` lowercased (the transform is applied after expansion).
    public var hubUsernameTemplate: String
    public var lowercaseHubUsername: Bool
    /// Kubernetes RBAC User subject for the person, e.g. `oidc:{uid}`.
    public var subjectTemplate: String
    /// KubeSpawner's `user_namespace_template`, expanded the way KubeSpawner does it.
    public var namespaceTemplate: String
    /// The namespace the hub runs in (`{hubnamespace}`).
    public var hubNamespace: String

    public init(
        hubUsernameTemplate: String = "{uid}", lowercaseHubUsername: Bool = true, subjectTemplate: String = "{uid}",
        namespaceTemplate: String = "{hubnamespace}-{username}", hubNamespace: String = "jhub"
    ) {
        self.hubUsernameTemplate = hubUsernameTemplate
        self.lowercaseHubUsername = lowercaseHubUsername
        self.subjectTemplate = subjectTemplate
        self.namespaceTemplate = namespaceTemplate
        self.hubNamespace = hubNamespace
    }
}

/// Everything planning needs besides the directory and the policy. Pure values.
public struct PlanSettings: Hashable, Sendable, Codable {
    /// Value of the instance label; objects of other instances are never touched.
    public var instance: String
    public var naming: NamingSettings
    /// ServiceAccount of the hub (KubeSpawner), bound in each personal namespace.
    public var hubServiceAccount: String
    /// ClusterRole or role template the hub's ServiceAccount gets in personal namespaces.
    public var hubServiceAccountRole: RoleRef
    /// Notebook pods' ServiceAccount created in each personal namespace, if any.
    public var notebookServiceAccount: String?
    /// Project bindings use one Group subject named after the LDAP group instead of User subjects.
    public var projectSubjectsAsGroup: Bool
    /// Group subject template when `projectSubjectsAsGroup` (e.g. `oidc:{group}`).
    public var groupSubjectTemplate: String
    /// Labels selecting the hub and proxy pods admitted by each personal namespace's NetworkPolicy.
    public var hubPodLabels: [String: String]
    public var proxyPodLabels: [String: String]
    /// Whether to create a NetworkPolicy in personal namespaces.
    public var networkPolicy: Bool
    /// A leaver's namespace is deleted this long after retirement.
    public var retirementGracePeriod: TimeInterval
    /// At most this many retired namespaces are deleted per run.
    public var maxNamespaceDeletionsPerRun: Int
    /// Mirror LDAP groups flagged `hubGroup` into the hub.
    public var syncHubGroups: Bool
    /// Namespaces AccessSync must never create, change or delete.
    public var protectedNamespaces: Set<String>

    public init(
        instance: String = "default", naming: NamingSettings = NamingSettings(), hubServiceAccount: String = "hub",
        hubServiceAccountRole: RoleRef = RoleRef(kind: .clusterRole, name: "accesssync-hub-spawner"),
        notebookServiceAccount: String? = nil, projectSubjectsAsGroup: Bool = false,
        groupSubjectTemplate: String = "{group}",
        hubPodLabels: [String: String] = ["app": "jupyterhub", "component": "hub"],
        proxyPodLabels: [String: String] = ["app": "jupyterhub", "component": "proxy"], networkPolicy: Bool = true,
        retirementGracePeriod: TimeInterval = 30 * 86_400, maxNamespaceDeletionsPerRun: Int = 5,
        syncHubGroups: Bool = true,
        protectedNamespaces: Set<String> = ["default", "kube-system", "kube-public", "kube-node-lease"]
    ) {
        self.instance = instance
        self.naming = naming
        self.hubServiceAccount = hubServiceAccount
        self.hubServiceAccountRole = hubServiceAccountRole
        self.notebookServiceAccount = notebookServiceAccount
        self.projectSubjectsAsGroup = projectSubjectsAsGroup
        self.groupSubjectTemplate = groupSubjectTemplate
        self.hubPodLabels = hubPodLabels
        self.proxyPodLabels = proxyPodLabels
        self.networkPolicy = networkPolicy
        self.retirementGracePeriod = retirementGracePeriod
        self.maxNamespaceDeletionsPerRun = maxNamespaceDeletionsPerRun
        self.syncHubGroups = syncHubGroups
        self.protectedNamespaces = protectedNamespaces
    }
}
