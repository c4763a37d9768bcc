/// What one person is entitled to, with provenance — the basis of `explain` and of the
/// "people losing access" count.
///
/// A value type whose fields live in one copy-on-write box: the planner moves one of these per
/// person through several arrays and a dictionary, and a copy is then one retain instead of one
/// per field. Equality, hashing and the Codable form are exactly those of the fields.
public struct PersonEntitlement: Hashable, Sendable, Codable, CustomReflectable {
    fileprivate struct Fields: Hashable, Sendable, Codable {
        var person: PersonID
        var uid: String
        var hubUsername: String
        var subject: String
        var namespace: String?
        var hubAccess: Bool
        var hubAdmin: Bool
        var tier: String?
        var projects: [String: Set<String>]
        var hubGroups: Set<String>
        var provenance: [String: [Provenance]]
        var withheld: [String]
    }

    /// Mutated only through `mutate`, which first makes the box unique (copy on write), so a box
    /// shared between values is never written: that is what makes it safe to send.
    fileprivate final class Box: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    private mutating func mutate(_ body: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
        body(&box.fields)
    }

    public var person: PersonID {
        get { box.fields.person }
        set { mutate { $0.person = newValue } }
    }
    public var uid: String {
        get { box.fields.uid }
        set { mutate { $0.uid = newValue } }
    }
    public var hubUsername: String {
        get { box.fields.hubUsername }
        set { mutate { $0.hubUsername = newValue } }
    }
    /// RBAC User subject name.
    public var subject: String {
        get { box.fields.subject }
        set { mutate { $0.subject = newValue } }
    }
    /// Personal namespace (present when the person has hub access).
    public var namespace: String? {
        get { box.fields.namespace }
        set { mutate { $0.namespace = newValue } }
    }
    public var hubAccess: Bool {
        get { box.fields.hubAccess }
        set { mutate { $0.hubAccess = newValue } }
    }
    public var hubAdmin: Bool {
        get { box.fields.hubAdmin }
        set { mutate { $0.hubAdmin = newValue } }
    }
    public var tier: String? {
        get { box.fields.tier }
        set { mutate { $0.tier = newValue } }
    }
    /// Project namespace → role templates bound for this person there.
    public var projects: [String: Set<String>] {
        get { box.fields.projects }
        set { mutate { $0.projects = newValue } }
    }
    /// Hub groups the person is in.
    public var hubGroups: Set<String> {
        get { box.fields.hubGroups }
        set { mutate { $0.hubGroups = newValue } }
    }
    /// Why each right exists. Keys: `hub`, `hub-admin`, `tier`, `project:<ns>:<template>`, `hub-group:<g>`.
    public var provenance: [String: [Provenance]] {
        get { box.fields.provenance }
        set { mutate { $0.provenance = newValue } }
    }
    /// Why the person has nothing although matched by some grant (disabled, suspended, expired...).
    public var withheld: [String] {
        get { box.fields.withheld }
        set { mutate { $0.withheld = newValue } }
    }

    public init(
        person: PersonID, uid: String, hubUsername: String, subject: String, namespace: String? = nil,
        hubAccess: Bool = false, hubAdmin: Bool = false, tier: String? = nil, projects: [String: Set<String>] = [:],
        hubGroups: Set<String> = [], provenance: [String: [Provenance]] = [:], withheld: [String] = []
    ) {
        box = Box(
            Fields(
                person: person, uid: uid, hubUsername: hubUsername, subject: subject, namespace: namespace,
                hubAccess: hubAccess, hubAdmin: hubAdmin, tier: tier, projects: projects, hubGroups: hubGroups,
                provenance: provenance, withheld: withheld))
    }

    public static func == (lhs: PersonEntitlement, rhs: PersonEntitlement) -> Bool {
        lhs.box === rhs.box || lhs.box.fields == rhs.box.fields
    }

    public func hash(into hasher: inout Hasher) { box.fields.hash(into: &hasher) }

    public init(from decoder: any Decoder) throws { box = Box(try Fields(from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try box.fields.encode(to: encoder) }

    /// Printed and dumped with its fields (as before they moved into the box).
    public var customMirror: Mirror {
        Mirror(self, children: Mirror(reflecting: box.fields).children, displayStyle: .struct)
    }

    /// True when the person holds any access at all.
    public var hasAnyAccess: Bool { box.fields.hubAccess || box.fields.hubAdmin || !box.fields.projects.isEmpty }
}

/// Everything that must exist: Kubernetes objects, hub state, and per-person entitlements.
public struct DesiredState: Hashable, Sendable, Codable {
    public var objects: [ObjectRef: DesiredObject] {
        didSet { layout = NamespaceLayout.Cache() }
    }
    public var hub: HubDesiredState
    public var entitlements: [PersonID: PersonEntitlement]
    public var diagnostics: [Diagnostic]
    /// RBAC User subject name → person, for every person in the directory (with access or not), so
    /// that the differ can say who loses access when a subject leaves a binding.
    public var subjectOwners: [String: PersonID]
    /// `objects` by namespace as the planner produced them (see `NamespaceLayout`); cleared whenever
    /// `objects` is changed. Not part of the value: equality, hashing and Codable ignore it.
    var layout = NamespaceLayout.Cache()

    enum CodingKeys: String, CodingKey {
        case objects, hub, entitlements, diagnostics, subjectOwners
    }

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

    /// With the objects already keyed by `index(_:)` (the planner builds the index beside other work),
    /// and, when the planner has it, their layout by namespace.
    init(
        indexedObjects: [ObjectRef: DesiredObject], layout: NamespaceLayout? = nil, hub: HubDesiredState,
        entitlements: [PersonEntitlement], diagnostics: [Diagnostic], subjectOwners: [String: PersonID]
    ) {
        self.init(objects: [], hub: hub, entitlements: entitlements, diagnostics: diagnostics, subjectOwners: subjectOwners)
        self.objects = indexedObjects
        self.layout = NamespaceLayout.Cache(layout)
    }

    /// Objects by ref; the first of duplicate refs wins. Sized once, one hash per object.
    static func index(_ objects: [DesiredObject]) -> [ObjectRef: DesiredObject] { index(lists: [objects]) }

    /// The objects of all lists, in order (the first of duplicate refs wins).
    static func index(lists: [[DesiredObject]]...) -> [ObjectRef: DesiredObject] {
        var byRef = [ObjectRef: DesiredObject](minimumCapacity: lists.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } })
        for part in lists {
            for list in part { byRef.merge(list.lazy.map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first }) }
        }
        return byRef
    }

    /// True when a diagnostic of severity error means the run must not write anything.
    public var hasBlockingErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Desired objects by namespace: each Namespace object followed by the objects in it, in namespace
/// name order, plus objects whose namespace is not itself desired. The differ walks this; the
/// planner hands it over (it builds objects namespace by namespace), otherwise it is derived from
/// `objects`.
struct NamespaceLayout: Sendable {
    /// Per desired namespace: its Namespace object first, then the objects in it (in no order).
    var groups: [[DesiredObject]]
    /// Namespace name → objects in it, for namespaces that are not desired.
    var orphans: [String: [DesiredObject]]

    /// Groups in namespace name order, checked: each starts with its Namespace object and holds only
    /// objects in that namespace; names are not repeated.
    struct SortedGroups: Sendable {
        var groups: [[DesiredObject]]
        var names: [String]
        var objectCount: Int

        /// Nil when a group is malformed or two groups share a namespace.
        init?(_ groups: [[DesiredObject]]) {
            var count = 0
            var names: [String] = []
            names.reserveCapacity(groups.count)
            for group in groups {
                guard let first = group.first, first.ref.kind == .namespace else { return nil }
                let name = first.ref.name
                for child in group.dropFirst() where child.ref.kind == .namespace || child.ref.namespace != name { return nil }
                count += group.count
                names.append(name)
            }
            // Usually already in name order (one pass finds the run).
            let order = names.indices.sorted { names[$0] < names[$1] }
            for index in order.indices.dropFirst() where names[order[index - 1]] == names[order[index]] { return nil }
            self.groups = order.map { groups[$0] }
            self.names = order.map { names[$0] }
            objectCount = count
        }
    }

    /// The planner's layout from its parts, when together they hold exactly the indexed objects (no
    /// duplicate refs, no namespace in two parts); nil otherwise.
    static func combining(_ parts: [SortedGroups?], indexedCount: Int) -> NamespaceLayout? {
        var groups: [[DesiredObject]] = []
        var names: [String] = []
        var count = 0
        for part in parts {
            guard let part else { return nil }
            groups += part.groups
            names += part.names
            count += part.objectCount
        }
        guard count == indexedCount else { return nil }
        guard parts.count > 1 else { return NamespaceLayout(groups: groups, orphans: [:]) }
        let order = names.indices.sorted { names[$0] < names[$1] }
        for index in order.indices.dropFirst() where names[order[index - 1]] == names[order[index]] { return nil }
        return NamespaceLayout(groups: order.map { groups[$0] }, orphans: [:])
    }

    /// A cached layout that is not part of its owner's value (always equal, hashes nothing).
    struct Cache: Hashable, Sendable {
        let layout: NamespaceLayout?
        init(_ layout: NamespaceLayout? = nil) { self.layout = layout }
        static func == (lhs: Cache, rhs: Cache) -> Bool { true }
        func hash(into hasher: inout Hasher) {}
    }
}
