/// What one person is entitled to, with provenance — the basis of `explain` and of the
/// "people losing access" count.
public struct PersonEntitlement: Hashable, Sendable, Codable {
    public var person: PersonID
    public var uid: String
    public var hubUsername: String
    /// RBAC User subject name.
    public var subject: String
    /// Personal namespace (present when the person has hub access).
    public var namespace: String?
    public var hubAccess: Bool
    public var hubAdmin: Bool
    public var tier: String?
    /// Project namespace → role templates bound for this person there.
    public var projects: [String: Set<String>]
    /// Hub groups the person is in.
    public var hubGroups: Set<String>
    /// Why each right exists. Keys: `hub`, `hub-admin`, `tier`, `project:<ns>:<template>`, `hub-group:<g>`.
    public var provenance: [String: [Provenance]]
    /// Why the person has nothing although matched by some grant (disabled, suspended, expired...).
    public var withheld: [String]

    public init(
        person: PersonID, uid: String, hubUsername: String, subject: String, namespace: String? = nil,
        hubAccess: Bool = false, hubAdmin: Bool = false, tier: String? = nil, projects: [String: Set<String>] = [:],
        hubGroups: Set<String> = [], provenance: [String: [Provenance]] = [:], withheld: [String] = []
    ) {
        self.person = person
        self.uid = uid
        self.hubUsername = hubUsername
        self.subject = subject
        self.namespace = namespace
        self.hubAccess = hubAccess
        self.hubAdmin = hubAdmin
        self.tier = tier
        self.projects = projects
        self.hubGroups = hubGroups
        self.provenance = provenance
        self.withheld = withheld
    }

    /// True when the person holds any access at all.
    public var hasAnyAccess: Bool { hubAccess || hubAdmin || !projects.isEmpty }
}

/// Everything that must exist: Kubernetes objects, hub state, and per-person entitlements.
public struct DesiredState: Hashable, Sendable, Codable {
    public var objects: [ObjectRef: DesiredObject]
    public var hub: HubDesiredState
    public var entitlements: [PersonID: PersonEntitlement]
    public var diagnostics: [Diagnostic]
    /// RBAC User subject name → person, for every person in the directory (with access or not), so
    /// that the differ can say who loses access when a subject leaves a binding.
    public var subjectOwners: [String: PersonID]

    public init(
        objects: [DesiredObject] = [], hub: HubDesiredState = HubDesiredState(),
        entitlements: [PersonEntitlement] = [], diagnostics: [Diagnostic] = [], subjectOwners: [String: PersonID] = [:]
    ) {
        self.subjectOwners = subjectOwners
        self.objects = Self.index(objects)
        self.hub = hub
        var byPerson = [PersonID: PersonEntitlement](minimumCapacity: entitlements.count)
        byPerson.merge(entitlements.lazy.map { ($0.person, $0) }, uniquingKeysWith: { first, _ in first })
        self.entitlements = byPerson
        self.diagnostics = diagnostics
    }

    /// With the objects already keyed by `index(_:)` (the planner builds the index beside other work).
    init(
        indexedObjects: [ObjectRef: DesiredObject], hub: HubDesiredState, entitlements: [PersonEntitlement],
        diagnostics: [Diagnostic], subjectOwners: [String: PersonID]
    ) {
        self.init(objects: [], hub: hub, entitlements: entitlements, diagnostics: diagnostics, subjectOwners: subjectOwners)
        self.objects = indexedObjects
    }

    /// Objects by ref; the first of duplicate refs wins. Sized once, one hash per object.
    static func index(_ objects: [DesiredObject]) -> [ObjectRef: DesiredObject] {
        var byRef = [ObjectRef: DesiredObject](minimumCapacity: objects.count)
        byRef.merge(objects.lazy.map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
        return byRef
    }

    /// True when a diagnostic of severity error means the run must not write anything.
    public var hasBlockingErrors: Bool { diagnostics.contains { $0.severity == .error } }
}
