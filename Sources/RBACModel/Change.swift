public import Foundation

/// A change to a Kubernetes object.
public enum KubeAction: Hashable, Sendable, Codable {
    /// POST a skeleton, then server-side apply the managed fields.
    case create(DesiredObject)
    /// Server-side apply the managed fields of an owned object (observed resourceVersion sent).
    case update(from: ObservedObject, to: DesiredObject)
    /// DELETE with the observed uid (and resourceVersion) as preconditions.
    case delete(ObservedObject)
    /// Mark a leaver's namespace retired (annotation with the time) and stop new pods
    /// (quota `pods: 0`); deletion follows after the grace period.
    case retire(ObservedObject, at: Date)
    /// Take over an existing unowned object (`--adopt`): add our labels by apply.
    case adopt(from: ObservedObject, to: DesiredObject)

    public var ref: ObjectRef {
        switch self {
        case .create(let desired): desired.ref
        case .update(_, let desired): desired.ref
        case .delete(let observed): observed.ref
        case .retire(let observed, _): observed.ref
        case .adopt(_, let desired): desired.ref
        }
    }

    public var verb: String {
        switch self {
        case .create: "create"
        case .update: "update"
        case .delete: "delete"
        case .retire: "retire"
        case .adopt: "adopt"
        }
    }
}

/// A change to JupyterHub.
public enum HubAction: Hashable, Sendable, Codable {
    case createUser(name: String, admin: Bool)
    /// Revocation: stop the user's server, then delete the user.
    case deleteUser(name: String)
    case setAdmin(name: String, admin: Bool)
    case createGroup(name: String)
    case deleteGroup(name: String)
    case addGroupMembers(group: String, users: [String])
    case removeGroupMembers(group: String, users: [String])

    public var verb: String {
        switch self {
        case .createUser: "create-user"
        case .deleteUser: "delete-user"
        case .setAdmin(_, let admin): admin ? "grant-admin" : "revoke-admin"
        case .createGroup: "create-group"
        case .deleteGroup: "delete-group"
        case .addGroupMembers: "add-group-members"
        case .removeGroupMembers: "remove-group-members"
        }
    }

    /// The hub object the change touches, for display and audit (`user/alice`, `group/ds`).
    public var objectName: String {
        switch self {
        case .createUser(let name, _), .deleteUser(let name), .setAdmin(let name, _): "user/\(name)"
        case .createGroup(let name), .deleteGroup(let name): "group/\(name)"
        case .addGroupMembers(let group, _), .removeGroupMembers(let group, _): "group/\(group)"
        }
    }
}

public enum ChangeTarget: Hashable, Sendable, Codable {
    case kube(KubeAction)
    case hub(HubAction)
}

/// One planned change: what, why, and what it depends on. Changes are data; only executors do I/O.
///
/// A value type whose fields live in one copy-on-write box (a copy is one retain: the differ moves
/// 170k of these through a dictionary and the ordering). Equality, hashing and the Codable form
/// are exactly those of the fields.
public struct Change: Hashable, Sendable, Codable, CustomReflectable, Identifiable {
    fileprivate struct Fields: Hashable, Sendable, Codable {
        var id: String
        var target: ChangeTarget
        var removesAccess: Bool
        var peopleLosingAccess: Set<PersonID>
        var dependsOn: [String]
        var provenance: [Provenance]
        var reason: String
        var person: PersonID?
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

    /// Stable, unique within a change set (e.g. `kube/create/RoleBinding/jhub-alice/alice`).
    public var id: String {
        get { box.fields.id }
        set { mutate { $0.id = newValue } }
    }
    public var target: ChangeTarget {
        get { box.fields.target }
        set { mutate { $0.target = newValue } }
    }
    /// True when applying it removes someone's access (a subject dropped from a binding, a binding
    /// or hub user deleted, an admin flag cleared). Such changes are applied first.
    public var removesAccess: Bool {
        get { box.fields.removesAccess }
        set { mutate { $0.removesAccess = newValue } }
    }
    /// People who lose access through this change.
    public var peopleLosingAccess: Set<PersonID> {
        get { box.fields.peopleLosingAccess }
        set { mutate { $0.peopleLosingAccess = newValue } }
    }
    /// Ids of changes that must succeed before this one may run.
    public var dependsOn: [String] {
        get { box.fields.dependsOn }
        set { mutate { $0.dependsOn = newValue } }
    }
    public var provenance: [Provenance] {
        get { box.fields.provenance }
        set { mutate { $0.provenance = newValue } }
    }
    /// One human sentence: why this change is needed.
    public var reason: String {
        get { box.fields.reason }
        set { mutate { $0.reason = newValue } }
    }
    /// The person the change is for (the owner of a personal object, the person of a hub user —
    /// executors record it in the hub-user registry), nil for shared objects.
    public var person: PersonID? {
        get { box.fields.person }
        set { mutate { $0.person = newValue } }
    }

    public init(
        id: String, target: ChangeTarget, removesAccess: Bool, peopleLosingAccess: Set<PersonID> = [],
        dependsOn: [String] = [], provenance: [Provenance], reason: String, person: PersonID? = nil
    ) {
        box = Box(
            Fields(
                id: id, target: target, removesAccess: removesAccess, peopleLosingAccess: peopleLosingAccess,
                dependsOn: dependsOn, provenance: provenance, reason: reason, person: person))
    }

    public static func == (lhs: Change, rhs: Change) -> Bool { lhs.box === rhs.box || lhs.box.fields == rhs.box.fields }

    public func hash(into hasher: inout Hasher) { box.fields.hash(into: &hasher) }

    public init(from decoder: any Decoder) throws { box = Box(try Fields(from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try box.fields.encode(to: encoder) }

    /// Printed and dumped with its fields (as before they moved into the box).
    public var customMirror: Mirror {
        Mirror(self, children: Mirror(reflecting: box.fields).children, displayStyle: .struct)
    }
}

/// An existing object that blocks a desired one (unowned object at a desired name, a namespace
/// still terminating, a reused uid meeting a leaver's namespace...). Reported, never fought.
public struct Conflict: Hashable, Sendable, Codable {
    public enum Reason: String, Hashable, Sendable, Codable {
        case unownedObject = "unowned-object"
        case namespaceTerminating = "namespace-terminating"
        case ownerMismatch = "owner-mismatch"
        case unmanagedHubUser = "unmanaged-hub-user"
        case unmanagedHubGroup = "unmanaged-hub-group"
        /// A desired object in a protected namespace (never created, changed or deleted).
        case protectedNamespace = "protected-namespace"
    }

    public var ref: String
    public var reason: Reason
    public var detail: String
    /// Desired changes skipped because they depend on the conflicted object.
    public var skippedChanges: [String]

    public init(ref: String, reason: Reason, detail: String, skippedChanges: [String] = []) {
        self.ref = ref
        self.reason = reason
        self.detail = detail
        self.skippedChanges = skippedChanges
    }
}

/// The ordered result of diffing desired against observed state.
public struct ChangeSet: Hashable, Sendable, Codable {
    /// In application order: revocations first, then dependency order.
    public var changes: [Change]
    public var conflicts: [Conflict]

    public init(changes: [Change] = [], conflicts: [Conflict] = []) {
        self.changes = changes
        self.conflicts = conflicts
    }

    public var isEmpty: Bool { changes.isEmpty }
}
