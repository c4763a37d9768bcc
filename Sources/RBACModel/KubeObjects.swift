public import Foundation

/// The Kubernetes kinds AccessSync manages.
public enum ObjectKind: String, Hashable, Comparable, Sendable, Codable, CaseIterable {
    case namespace = "Namespace"
    case serviceAccount = "ServiceAccount"
    case role = "Role"
    case roleBinding = "RoleBinding"
    case resourceQuota = "ResourceQuota"
    case limitRange = "LimitRange"
    case networkPolicy = "NetworkPolicy"

    public var apiVersion: String {
        switch self {
        case .namespace, .serviceAccount, .resourceQuota, .limitRange: "v1"
        case .role, .roleBinding: "rbac.authorization.k8s.io/v1"
        case .networkPolicy: "networking.k8s.io/v1"
        }
    }

    /// API group ("" for the core group).
    public var group: String {
        switch self {
        case .namespace, .serviceAccount, .resourceQuota, .limitRange: ""
        case .role, .roleBinding: "rbac.authorization.k8s.io"
        case .networkPolicy: "networking.k8s.io"
        }
    }

    /// Resource name in URLs (`rolebindings`).
    public var plural: String {
        switch self {
        case .namespace: "namespaces"
        case .serviceAccount: "serviceaccounts"
        case .role: "roles"
        case .roleBinding: "rolebindings"
        case .resourceQuota: "resourcequotas"
        case .limitRange: "limitranges"
        case .networkPolicy: "networkpolicies"
        }
    }

    public var isNamespaced: Bool { self != .namespace }

    /// Creation order: namespaces first, then what bindings reference, then the rest.
    public var creationRank: Int {
        switch self {
        case .namespace: 0
        case .serviceAccount: 1
        case .resourceQuota: 2
        case .limitRange: 3
        case .role: 4
        case .roleBinding: 5
        case .networkPolicy: 6
        }
    }

    public static func < (lhs: ObjectKind, rhs: ObjectKind) -> Bool { lhs.creationRank < rhs.creationRank }
}

/// Identifies one Kubernetes object.
public struct ObjectRef: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var kind: ObjectKind
    /// nil for cluster-scoped kinds (Namespace).
    public var namespace: String?
    public var name: String

    public init(kind: ObjectKind, namespace: String?, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String {
        if let namespace { "\(kind.rawValue) \(namespace)/\(name)" } else { "\(kind.rawValue) \(name)" }
    }

    public static func < (lhs: ObjectRef, rhs: ObjectRef) -> Bool {
        (lhs.namespace ?? "", lhs.kind.creationRank, lhs.name) < (rhs.namespace ?? "", rhs.kind.creationRank, rhs.name)
    }

    /// The kind by its rank (one integer) rather than its raw-value string.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind.creationRank)
        hasher.combine(namespace)
        hasher.combine(name)
    }
}

/// `roleRef` of a RoleBinding (immutable on the server: a change is delete + create).
public struct RoleRef: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable { case role = "Role", clusterRole = "ClusterRole" }
    public var kind: Kind
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// A RoleBinding subject.
public struct Subject: Hashable, Comparable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable { case user = "User", group = "Group", serviceAccount = "ServiceAccount" }
    public var kind: Kind
    public var name: String
    /// Only for ServiceAccount subjects.
    public var namespace: String?

    public init(kind: Kind, name: String, namespace: String? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
    }

    public static func < (lhs: Subject, rhs: Subject) -> Bool {
        (lhs.kind.rawValue, lhs.namespace ?? "", lhs.name) < (rhs.kind.rawValue, rhs.namespace ?? "", rhs.name)
    }
}

/// A NetworkPolicy peer: pods matching both selectors (a nil selector is absent).
public struct NetworkPolicyPeer: Hashable, Sendable, Codable {
    public var namespaceSelector: [String: String]?
    public var podSelector: [String: String]?

    public init(namespaceSelector: [String: String]? = nil, podSelector: [String: String]? = nil) {
        self.namespaceSelector = namespaceSelector
        self.podSelector = podSelector
    }
}

/// The NetworkPolicy shape AccessSync generates: select all pods, allow ingress from listed peers.
public struct NetworkPolicySpec: Hashable, Sendable, Codable {
    public var podSelector: [String: String]
    public var ingressFrom: [NetworkPolicyPeer]
    public var policyTypes: [String]

    public init(podSelector: [String: String] = [:], ingressFrom: [NetworkPolicyPeer], policyTypes: [String] = ["Ingress"]) {
        self.podSelector = podSelector
        self.ingressFrom = ingressFrom
        self.policyTypes = policyTypes
    }
}

/// The managed content of an object, by kind. Only fields AccessSync sets appear here, so fields
/// the server adds (finalizers, defaults) never cause an update.
public enum ObjectSpec: Hashable, Sendable, Codable {
    case namespace
    case serviceAccount
    case role(rules: [PolicyRule])
    case roleBinding(roleRef: RoleRef, subjects: [Subject])
    case resourceQuota(hard: [String: Quantity])
    case limitRange(limits: [LimitRangeItem])
    case networkPolicy(NetworkPolicySpec)

    public var kind: ObjectKind {
        switch self {
        case .namespace: .namespace
        case .serviceAccount: .serviceAccount
        case .role: .role
        case .roleBinding: .roleBinding
        case .resourceQuota: .resourceQuota
        case .limitRange: .limitRange
        case .networkPolicy: .networkPolicy
        }
    }
}

/// Labels and annotations AccessSync writes. Keys are defined once here.
public enum ManagedKeys {
    public static let managedBy = "app.kubernetes.io/managed-by"
    public static let managedByValue = "accesssync"
    public static let instance = "accesssync.io/instance"
    public static let ownerID = "accesssync.io/owner-id"
    public static let ownerUID = "accesssync.io/owner-uid"
    public static let provenance = "accesssync.io/provenance"
    public static let retiredAt = "accesssync.io/retired-at"
    public static let adopted = "accesssync.io/adopted"
    public static let argoSyncOptions = "argocd.argoproj.io/sync-options"
    public static let podSecurityEnforce = "pod-security.kubernetes.io/enforce"
    public static let podSecurityWarn = "pod-security.kubernetes.io/warn"
    public static let podSecurityAudit = "pod-security.kubernetes.io/audit"
    /// On RoleBindings: the role template the binding grants.
    public static let roleTemplate = "accesssync.io/role-template"
    /// On RoleBindings: `"true"` when the template is privileged (counted by the guard).
    public static let privileged = "accesssync.io/privileged"
    /// Prefix of every annotation and label key AccessSync owns besides the standard ones.
    public static let prefix = "accesssync.io/"
}

/// The fields of a value type, shared between its copies; a write makes a new box. Equality,
/// hashing, the Codable form and the printed form are the fields' (equal at once when shared).
final class ImmutableBox<Fields: Hashable & Codable & Sendable>: Hashable, Codable, Sendable {
    let fields: Fields
    init(_ fields: Fields) { self.fields = fields }

    static func == (lhs: ImmutableBox, rhs: ImmutableBox) -> Bool { lhs === rhs || lhs.fields == rhs.fields }
    func hash(into hasher: inout Hasher) { fields.hash(into: &hasher) }
    convenience init(from decoder: any Decoder) throws { self.init(try Fields(from: decoder)) }
    func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }

    /// `subject` printed and dumped with the fields as its children.
    func mirror(for subject: Any) -> Mirror {
        Mirror(subject, children: Mirror(reflecting: fields).children, displayStyle: .struct)
    }
}

/// An object that must exist, with why it exists.
///
/// A value type whose fields live in one shared, copy-on-write box: the planner and differ pass
/// 150k of these through dictionaries, sorts and changes, and a copy is one retain instead of one
/// per field. Equality, hashing and the Codable form are exactly those of the fields.
public struct DesiredObject: Hashable, Sendable, Codable, CustomReflectable {
    fileprivate struct Fields: Hashable, Sendable, Codable {
        var ref: ObjectRef
        var labels: [String: String]
        var annotations: [String: String]
        var spec: ObjectSpec
        var owner: PersonID?
        var provenance: [Provenance]
    }

    fileprivate typealias Box = ImmutableBox<Fields>

    private var box: Box

    private var fields: Fields {
        get { box.fields }
        set { box = Box(newValue) }
    }

    public var ref: ObjectRef {
        get { box.fields.ref }
        set { fields.ref = newValue }
    }
    public var labels: [String: String] {
        get { box.fields.labels }
        set { fields.labels = newValue }
    }
    public var annotations: [String: String] {
        get { box.fields.annotations }
        set { fields.annotations = newValue }
    }
    public var spec: ObjectSpec {
        get { box.fields.spec }
        set { fields.spec = newValue }
    }
    /// The person whose access this object carries (personal namespace and its contents).
    public var owner: PersonID? {
        get { box.fields.owner }
        set { fields.owner = newValue }
    }
    public var provenance: [Provenance] {
        get { box.fields.provenance }
        set { fields.provenance = newValue }
    }

    public init(
        ref: ObjectRef, labels: [String: String], annotations: [String: String], spec: ObjectSpec,
        owner: PersonID? = nil, provenance: [Provenance]
    ) {
        box = Box(Fields(ref: ref, labels: labels, annotations: annotations, spec: spec, owner: owner, provenance: provenance))
    }

    public static func == (lhs: DesiredObject, rhs: DesiredObject) -> Bool { lhs.box == rhs.box }
    public func hash(into hasher: inout Hasher) { box.hash(into: &hasher) }
    public init(from decoder: any Decoder) throws { box = try Box(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try box.encode(to: encoder) }
    public var customMirror: Mirror { box.mirror(for: self) }
}

/// An object as the cluster reports it, reduced to what planning needs.
///
/// Fields in one shared box, as `DesiredObject` (copies are one retain).
public struct ObservedObject: Hashable, Sendable, Codable, CustomReflectable {
    fileprivate struct Fields: Hashable, Sendable, Codable {
        var ref: ObjectRef
        var uid: String
        var resourceVersion: String
        var labels: [String: String]
        var annotations: [String: String]
        var spec: ObjectSpec?
        var deletionTimestamp: Date?
        var phase: String?
    }

    fileprivate typealias Box = ImmutableBox<Fields>

    private var box: Box

    private var fields: Fields {
        get { box.fields }
        set { box = Box(newValue) }
    }

    public var ref: ObjectRef {
        get { box.fields.ref }
        set { fields.ref = newValue }
    }
    public var uid: String {
        get { box.fields.uid }
        set { fields.uid = newValue }
    }
    public var resourceVersion: String {
        get { box.fields.resourceVersion }
        set { fields.resourceVersion = newValue }
    }
    public var labels: [String: String] {
        get { box.fields.labels }
        set { fields.labels = newValue }
    }
    public var annotations: [String: String] {
        get { box.fields.annotations }
        set { fields.annotations = newValue }
    }
    /// The managed fields parsed into the same shape as `DesiredObject.spec`; nil when the object's
    /// content could not be mapped (it is then rewritten by apply).
    public var spec: ObjectSpec? {
        get { box.fields.spec }
        set { fields.spec = newValue }
    }
    public var deletionTimestamp: Date? {
        get { box.fields.deletionTimestamp }
        set { fields.deletionTimestamp = newValue }
    }
    /// Namespace phase (`Active`, `Terminating`).
    public var phase: String? {
        get { box.fields.phase }
        set { fields.phase = newValue }
    }

    public init(
        ref: ObjectRef, uid: String, resourceVersion: String, labels: [String: String] = [:],
        annotations: [String: String] = [:], spec: ObjectSpec?, deletionTimestamp: Date? = nil, phase: String? = nil
    ) {
        box = Box(
            Fields(
                ref: ref, uid: uid, resourceVersion: resourceVersion, labels: labels, annotations: annotations, spec: spec,
                deletionTimestamp: deletionTimestamp, phase: phase))
    }

    public static func == (lhs: ObservedObject, rhs: ObservedObject) -> Bool { lhs.box == rhs.box }
    public func hash(into hasher: inout Hasher) { box.hash(into: &hasher) }
    public init(from decoder: any Decoder) throws { box = try Box(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try box.encode(to: encoder) }
    public var customMirror: Mirror { box.mirror(for: self) }

    /// Carries both the managed-by label and this instance's label.
    public func isOwned(byInstance instance: String) -> Bool {
        labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue && labels[ManagedKeys.instance] == instance
    }

    public var isTerminating: Bool { deletionTimestamp != nil || phase == "Terminating" }
}

/// What the cluster holds that planning looks at.
public struct ObservedCluster: Hashable, Sendable, Codable {
    /// Objects carrying our managed-by and instance labels, from one list per kind.
    public var owned: [ObjectRef: ObservedObject]
    /// Every namespace in the cluster (unfiltered list), to see name conflicts.
    public var allNamespaces: [String: ObservedObject]
    /// Unowned objects found at desired names inside desired namespaces (filled by targets that
    /// look them up, e.g. after a 409 AlreadyExists), for conflict reporting.
    public var unownedAtDesiredNames: [ObjectRef: ObservedObject]

    public init(
        owned: [ObservedObject] = [], allNamespaces: [ObservedObject] = [], unownedAtDesiredNames: [ObservedObject] = []
    ) {
        self.owned = Dictionary(owned.map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
        self.allNamespaces = Dictionary(allNamespaces.map { ($0.ref.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.unownedAtDesiredNames = Dictionary(
            unownedAtDesiredNames.map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
    }
}
