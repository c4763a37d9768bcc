public import Foundation

/// Options for one diff.
public struct DiffOptions: Hashable, Sendable, Codable {
    /// Kinds for which unowned objects at desired names are adopted instead of reported.
    public var adoptKinds: Set<ObjectKind>
    /// Adopt unmanaged hub users / groups at desired names.
    public var adoptHubUsers: Bool
    public var adoptHubGroups: Bool

    public init(adoptKinds: Set<ObjectKind> = [], adoptHubUsers: Bool = false, adoptHubGroups: Bool = false) {
        self.adoptKinds = adoptKinds
        self.adoptHubUsers = adoptHubUsers
        self.adoptHubGroups = adoptHubGroups
    }
}

/// Computes the ordered, dependency-aware change set from desired and observed state. Pure.
///
/// Rules:
/// - Only objects carrying both our labels (`observed.owned`) are updated or deleted; protected
///   namespaces and their contents are never touched.
/// - Updates happen only when managed content differs: the `ObjectSpec` (quantities by value,
///   binding subjects as a set, LimitRange items after the API server's defaulting) and, for labels
///   and annotations, only the keys desired plus the `accesssync.io/` keys we write. An update
///   carries an observed `accesssync.io/adopted` annotation over so that apply never drops it.
/// - A roleRef change is a delete then a create (the create depends on the delete).
/// - A namespace's contents depend on the namespace's create or adopt; bindings depend on the
///   creation of the Role they reference.
/// - A namespace no longer desired (personal or project) is retired first: annotation
///   `accesssync.io/retired-at` = now and quota `pods: 0` (`KubeAction.retire`), and the RoleBindings
///   in it that name people are deleted at once; the namespace itself is deleted once
///   retired-at + grace period < now, oldest first, at most `maxNamespaceDeletionsPerRun` per run,
///   and never when it carries `accesssync.io/adopted`. A returning person's retired namespace is
///   updated (the annotation and the quota return to normal).
/// - Conflicts (reported, never fought; dependants skipped): a desired namespace still terminating,
///   an unowned object at a desired name (adopted instead when its kind is in `adoptKinds` and it
///   belongs to no other instance), an owner-id mismatch (a reused uid meeting a leaver's
///   namespace, which is then retired like any namespace no one is entitled to), unmanaged hub
///   users and groups, protected namespaces.
/// - Hub: users are created after their namespace's changes; managed users no longer desired are
///   deleted (stopping their server first is the executor's job); admin flags set or cleared;
///   managed groups created, deleted and their members added or removed.
/// - Order: every change that removes access comes first; then dependency order. Ties are broken
///   by deletes first, kind creation rank, then id, so the order is deterministic.
public enum Differ {
    /// - Parameters:
    ///   - hub: the hub's observed state, or nil when no hub target is configured.
    public static func diff(
        desired: DesiredState, observed: ObservedCluster, hub: HubObservedState?, settings: PlanSettings,
        options: DiffOptions = DiffOptions(), now: Date
    ) -> ChangeSet {
        diff(
            desired: desired, observed: observed, hub: hub, settings: settings, options: options, now: now,
            parallelFrom: 4096, parts: Parallel.threads)
    }

    /// - Parameters:
    ///   - parallelFrom: with at least this many desired namespaces, they are diffed in `parts`
    ///     runs in parallel (tests compare both ways).
    static func diff(
        desired: DesiredState, observed: ObservedCluster, hub: HubObservedState?, settings: PlanSettings,
        options: DiffOptions = DiffOptions(), now: Date, parallelFrom: Int, parts: Int
    ) -> ChangeSet {
        var builder = DiffBuilder(desired: desired, observed: observed, settings: settings, options: options, now: now)
        builder.diffKube(parallelFrom: parallelFrom, parts: parts)
        if let hub { builder.diffHub(hub) }
        let result = ChangeSet(
            changes: builder.ordered(),
            conflicts: builder.conflicts.sorted { ($0.ref, $0.reason.rawValue) < ($1.ref, $1.reason.rawValue) })
        // The builder's bookkeeping (a reference to every change, every id) is freed off this path.
        Parallel.release(consume builder)
        return result
    }

    /// Stable change id for a Kubernetes action: `kube/<verb>/<Kind>/<namespace>/<name>`.
    public static func changeID(_ verb: String, _ ref: ObjectRef) -> String {
        let kind = ref.kind.rawValue
        var id = "kube/"
        id.reserveCapacity(8 + verb.utf8.count + kind.utf8.count + (ref.namespace?.utf8.count ?? 0) + ref.name.utf8.count)
        id += verb
        id += "/"
        id += kind
        id += "/"
        appendPath(of: ref, to: &id)
        return id
    }

    /// Appends `<namespace>/<name>` (or `<name>` for a cluster-scoped object).
    static func appendPath(of ref: ObjectRef, to text: inout String) {
        if let namespace = ref.namespace {
            text += namespace
            text += "/"
        }
        text += ref.name
    }

    /// Stable change id for a hub action: `hub/<verb>/<user|group>/<name>`.
    public static func changeID(_ action: HubAction) -> String { "hub/\(action.verb)/\(action.objectName)" }

    // MARK: - Comparison (public so that executors and reports agree with the differ)

    /// True when the managed content of `observed` differs from `desired` (see the type's rules).
    public static func needsUpdate(_ observed: ObservedObject, to desired: DesiredObject) -> Bool {
        !metadataMatches(observed.labels, desired.labels, ignoring: [])
            || !metadataMatches(observed.annotations, desired.annotations, ignoring: [ManagedKeys.adopted])
            || !specMatches(observed.spec, desired.spec)
    }

    static func metadataMatches(_ observed: [String: String], _ desired: [String: String], ignoring: Set<String>) -> Bool {
        for (key, value) in desired where observed[key] != value { return false }
        for key in observed.keys where desired[key] == nil && !ignoring.contains(key) {
            if key.hasPrefix(ManagedKeys.prefix) { return false }
        }
        return true
    }

    /// Compares managed spec content. Quantities compare by value; subjects as sorted lists;
    /// LimitRange items after the API server's defaulting of Container items.
    public static func specMatches(_ observed: ObjectSpec?, _ desired: ObjectSpec) -> Bool {
        guard let observed else { return false }
        switch (observed, desired) {
        case (.roleBinding(let observedRef, let observedSubjects), .roleBinding(let desiredRef, let desiredSubjects)):
            guard observedRef == desiredRef, observedSubjects.count == desiredSubjects.count else { return false }
            return observedSubjects == desiredSubjects || observedSubjects.sorted() == desiredSubjects.sorted()
        case (.limitRange(let observedItems), .limitRange(let desiredItems)):
            return observedItems.map(defaulted) == desiredItems.map(defaulted)
        default:
            return observed == desired
        }
    }

    /// The API server's defaulting of a LimitRange item (`SetDefaults_LimitRangeItem`): for Container
    /// items, `default` from `max`, then `defaultRequest` from `default`, then from `min`.
    public static func defaulted(_ item: LimitRangeItem) -> LimitRangeItem {
        guard item.type == .container else { return item }
        var copy = item
        for (key, value) in item.max where copy.default[key] == nil { copy.default[key] = value }
        for (key, value) in copy.default where copy.defaultRequest[key] == nil { copy.defaultRequest[key] = value }
        for (key, value) in item.min where copy.defaultRequest[key] == nil { copy.defaultRequest[key] = value }
        return copy
    }
}

private enum NamespaceStatus {
    /// Exists and is ours (or will be after `change`, when a change is planned: its id and position).
    case usable(change: (id: String, position: Int)?)
    /// Blocked: its desired contents are skipped and recorded on this conflict index.
    case blocked(conflict: Int)
}

private struct DiffBuilder {
    let desired: DesiredState
    let observed: ObservedCluster
    let settings: PlanSettings
    let options: DiffOptions
    let now: Date

    /// Planned changes in the order they were found. Dependencies are recorded by position when a
    /// change is added; `ordered()` looks ids up only for the few changes added without them.
    var changes: [Change] = []
    /// Per change (same positions): its id and the integer part of its order key, recorded when
    /// the change is added (see `ordered()`).
    var ids: [String] = []
    var orderClasses: [Int] = []
    var conflicts: [Conflict] = []
    /// Person → positions (in `changes`) of the changes in their personal namespace that their hub
    /// user must wait for. Consecutive notes for one person are gathered in `pendingPersonal` and
    /// stored together (one dictionary access per namespace, not per change): read it only after
    /// `flushPersonal()`.
    var personalChanges: [PersonID: [Int]] = [:]
    var pendingPersonal: (owner: PersonID, positions: [Int])?
    /// Dependencies given as positions when a change was added (a child's on its namespace and
    /// Role, a hub user's on its personal changes): `ordered()` need not look their ids up.
    /// `hasRecordedDependencies[i]` says whether change i's are here; edges are in dependant order.
    var recordedEdges: [(from: Int, to: Int)] = []
    var hasRecordedDependencies: [Bool] = []
    /// People whose personal namespace has a conflict or skipped object (no hub user yet).
    var blockedPeople: [PersonID: Int] = [:]

    /// Owned namespaces met while diffing desired ones that must be retired (owner mismatch).
    var retiringDesired: [String: ObservedObject] = [:]

    /// - Parameter expectedChanges: capacity to reserve (default: every desired and owned object).
    init(
        desired: DesiredState, observed: ObservedCluster, settings: PlanSettings, options: DiffOptions, now: Date,
        expectedChanges: Int? = nil
    ) {
        self.desired = desired
        self.observed = observed
        self.settings = settings
        self.options = options
        self.now = now
        let expected = expectedChanges ?? desired.objects.count + desired.hub.users.count + observed.owned.count + 16
        changes.reserveCapacity(expected)
        ids.reserveCapacity(expected)
        orderClasses.reserveCapacity(expected)
        hasRecordedDependencies.reserveCapacity(expected)
        recordedEdges.reserveCapacity(expected)
    }

    /// Appends what another builder found (for later namespaces than this one's) as if this builder
    /// had found it: positions and conflict indices are shifted.
    mutating func absorb(_ part: consuming DiffBuilder) {
        let changeBase = changes.count
        let conflictBase = conflicts.count
        precondition(pendingPersonal == nil && part.pendingPersonal == nil, "personal changes are flushed before absorbing")
        if changes.isEmpty, conflicts.isEmpty, personalChanges.isEmpty, recordedEdges.isEmpty, blockedPeople.isEmpty,
            retiringDesired.isEmpty
        {
            // Nothing found yet: take the part's collections as they are (no copy).
            changes = part.changes
            ids = part.ids
            orderClasses = part.orderClasses
            conflicts = part.conflicts
            personalChanges = part.personalChanges
            recordedEdges = part.recordedEdges
            hasRecordedDependencies = part.hasRecordedDependencies
            blockedPeople = part.blockedPeople
            retiringDesired = part.retiringDesired
            return
        }
        changes.append(contentsOf: part.changes)
        ids.append(contentsOf: part.ids)
        orderClasses.append(contentsOf: part.orderClasses)
        conflicts.append(contentsOf: part.conflicts)
        for (person, indices) in part.personalChanges {
            personalChanges[person, default: []].append(contentsOf: indices.map { $0 + changeBase })
        }
        recordedEdges.append(contentsOf: part.recordedEdges.lazy.map { ($0.from + changeBase, $0.to + changeBase) })
        hasRecordedDependencies.append(contentsOf: part.hasRecordedDependencies)
        for (person, conflict) in part.blockedPeople where blockedPeople[person] == nil {
            blockedPeople[person] = conflict + conflictBase
        }
        retiringDesired.merge(part.retiringDesired, uniquingKeysWith: { first, _ in first })
        // The part's copies are freed off this path.
        Parallel.release(consume part)
    }

    var protected: Set<String> { settings.protectedNamespaces }

    /// - Parameter dependencyPositions: the positions of the changes `change.dependsOn` names, when
    ///   the caller knows them (exactly those, each once).
    mutating func add(_ change: Change, dependencyPositions: [Int]? = nil) {
        hasRecordedDependencies.append(dependencyPositions != nil)
        for dependency in dependencyPositions ?? [] { recordedEdges.append((dependency, changes.count)) }
        var change = change
        if change.person == nil {
            switch change.target {
            case .kube(let action):
                switch action {
                case .create(let object), .update(_, let object), .adopt(_, let object):
                    change.person = object.owner
                case .delete(let object), .retire(let object, _):
                    change.person = object.annotations[ManagedKeys.ownerID].map { PersonID($0) }
                }
            case .hub(let action):
                switch action {
                case .createUser(let name, _), .setAdmin(let name, _):
                    change.person = desired.hub.users[name]?.person
                case .deleteUser:
                    change.person = change.peopleLosingAccess.first
                default:
                    break
                }
            }
        }
        changes.append(change)
        ids.append(change.id)
        orderClasses.append(Self.orderClass(change))
    }

    /// The integer part of a change's order key: revocations first, then deletes, then kind rank.
    static func orderClass(_ change: Change) -> Int {
        var isDelete = 1
        var rank = 10
        switch change.target {
        case .kube(let action):
            if case .delete = action { isDelete = 0 }
            rank = action.ref.kind.creationRank
        case .hub(let action):
            if case .deleteUser = action { isDelete = 0 }
            if case .deleteGroup = action { isDelete = 0 }
        }
        return (change.removesAccess ? 0 : 1) << 16 | isDelete << 8 | rank
    }

    mutating func conflict(_ ref: String, _ reason: Conflict.Reason, _ detail: String) -> Int {
        conflicts.append(Conflict(ref: ref, reason: reason, detail: detail))
        return conflicts.count - 1
    }

    mutating func skip(_ id: String, onConflict index: Int, owner: PersonID?) {
        conflicts[index].skippedChanges.append(id)
        if let owner, blockedPeople[owner] == nil { blockedPeople[owner] = index }
    }

    // MARK: - People losing access

    func person(forSubject subject: Subject, ownerAnnotation: String?) -> PersonID? {
        switch subject.kind {
        case .serviceAccount: return nil
        case .group: return PersonID("group:\(subject.name)")
        case .user:
            if let known = desired.subjectOwners[subject.name] { return known }
            if let ownerAnnotation { return PersonID(ownerAnnotation) }
            return PersonID("subject:\(subject.name)")
        }
    }

    func people(in subjects: [Subject], ownerAnnotation: String?) -> Set<PersonID> {
        Set(subjects.compactMap { person(forSubject: $0, ownerAnnotation: ownerAnnotation) })
    }

    func bindingSubjects(_ spec: ObjectSpec?) -> [Subject] {
        if case .roleBinding(_, let subjects) = spec { return subjects }
        return []
    }

    // MARK: - Kubernetes

    mutating func diffKube(parallelFrom: Int, parts requestedParts: Int) {
        // The planner's layout of the desired objects by namespace when it is there (and `objects`
        // was not changed since), else the same derived from `objects`.
        let layout = desired.layout.layout ?? Self.layout(of: desired.objects)
        let (ownedNamespaces, ownedChildren) = Self.byNamespace(observed.owned.values, ref: \.ref)

        // Desired namespaces and their contents. Each namespace is diffed on its own, so runs of
        // namespaces are diffed in parallel by separate builders and absorbed in name order: the
        // same changes, conflicts and positions as one pass over all names.
        let groups = layout.groups
        let parts = groups.count < parallelFrom ? 1 : min(requestedParts, groups.count)
        if parts <= 1 {
            diffDesiredNamespaces(groups[...], ownedNamespaces, ownedChildren)
        } else {
            // Runs of namespaces with about as many objects each (namespaces differ in size).
            var bounds = [0]
            let total = groups.reduce(0) { $0 + $1.count }
            var sum = 0
            for (index, group) in groups.enumerated() where bounds.count < parts {
                sum += group.count
                if sum * parts >= total * bounds.count { bounds.append(index + 1) }
            }
            while bounds.count <= parts { bounds.append(groups.count) }
            var builders = Parallel.map(parts, minimumChunk: 1) { part in
                var builder = DiffBuilder(
                    desired: desired, observed: observed, settings: settings, options: options, now: now,
                    expectedChanges: desired.objects.count / parts + 16)
                builder.diffDesiredNamespaces(groups[bounds[part]..<bounds[part + 1]], ownedNamespaces, ownedChildren)
                return builder
            }
            // Each builder is moved out of the array, so the first one's collections are taken
            // without a copy.
            builders.reverse()
            while let builder = builders.popLast() { absorb(builder) }
        }
        let desiredNames: Set<String> =
            ownedNamespaces.isEmpty && ownedChildren.isEmpty ? [] : Set(groups.lazy.map { $0[0].ref.name })
        var retiring = retiringDesired
        // Owned namespaces no one is entitled to (or mismatched): retire, later delete.
        for name in ownedNamespaces.keys where !desiredNames.contains(name) { retiring[name] = ownedNamespaces[name]! }
        var deletable: [(Date, String)] = []
        for name in retiring.keys.sorted() where !protected.contains(name) {
            let namespace = retiring[name]!
            if namespace.isTerminating { continue }
            let owner = namespace.annotations[ManagedKeys.ownerID].map { PersonID($0) }
            guard let retiredText = namespace.annotations[ManagedKeys.retiredAt] else {
                var losing = Set<PersonID>()
                if let owner { losing.insert(owner) }
                add(
                    Change(
                        id: Differ.changeID("retire", namespace.ref), target: .kube(.retire(namespace, at: now)),
                        removesAccess: true, peopleLosingAccess: losing, provenance: [Provenance(person: owner, rule: .system("not-desired"))],
                        reason: "retire \(namespace.ref): no one is entitled to it any more; new pods stop, data is kept "
                            + "until the grace period ends"))
                revokeBindings(in: name, owned: ownedChildren[name] ?? [])
                continue
            }
            let retiredAt = Timestamp.parse(retiredText)
            if let retiredAt, namespace.annotations[ManagedKeys.adopted] == nil,
                retiredAt.addingTimeInterval(settings.retirementGracePeriod) < now
            {
                deletable.append((retiredAt, name))
            } else {
                revokeBindings(in: name, owned: ownedChildren[name] ?? [])
            }
        }
        deletable.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (index, (retiredAt, name)) in deletable.enumerated() {
            let namespace = retiring[name]!
            guard index < settings.maxNamespaceDeletionsPerRun else {
                revokeBindings(in: name, owned: ownedChildren[name] ?? [])
                continue
            }
            let owner = namespace.annotations[ManagedKeys.ownerID].map { PersonID($0) }
            add(
                Change(
                    id: Differ.changeID("delete", namespace.ref), target: .kube(.delete(namespace)), removesAccess: false,
                    provenance: [Provenance(person: owner, rule: .system("retirement-grace-period-over"))],
                    reason: "delete \(namespace.ref): retired at \(Timestamp.format(retiredAt)), grace period over"))
        }
        // Owned objects in namespaces neither desired nor owned by us (e.g. an adopted namespace
        // whose labels were removed): plain deletes of what is no longer desired.
        for name in ownedChildren.keys.sorted()
        where !desiredNames.contains(name) && ownedNamespaces[name] == nil && !protected.contains(name) {
            if observed.allNamespaces[name]?.isTerminating == true { continue }
            let wanted = Set((layout.orphans[name] ?? []).map(\.ref))
            for object in ownedChildren[name]!.sorted(by: { $0.ref < $1.ref }) where !wanted.contains(object.ref) {
                deleteObject(object)
            }
        }
        flushPersonal()
    }

    /// Namespaces by name, and the other objects by their namespace (in no particular order: every
    /// use sorts them or looks them up). Large collections are grouped in two halves in parallel.
    static func byNamespace<Objects: Collection>(
        _ objects: Objects, ref: (Objects.Element) -> ObjectRef
    ) -> (namespaces: [String: Objects.Element], children: [String: [Objects.Element]]) {
        func group(_ slice: Objects.SubSequence) -> ([String: Objects.Element], [String: [Objects.Element]]) {
            var namespaces: [String: Objects.Element] = [:]
            var children: [String: [Objects.Element]] = [:]
            for object in slice {
                let ref = ref(object)
                if ref.kind == .namespace {
                    namespaces[ref.name] = object
                } else if let namespace = ref.namespace {
                    children[namespace, default: []].append(object)
                }
            }
            return (namespaces, children)
        }
        guard objects.count >= 8 * Parallel.minimumChunk, Parallel.threads > 1 else { return group(objects[...]) }
        let middle = objects.index(objects.startIndex, offsetBy: objects.count / 2)
        let halves = Parallel.map(2, minimumChunk: 1) { group($0 == 0 ? objects[..<middle] : objects[middle...]) }
        var (namespaces, children) = halves[0]
        namespaces.merge(halves[1].0, uniquingKeysWith: { first, _ in first })
        for (namespace, list) in halves[1].1 { children[namespace, default: []].append(contentsOf: list) }
        return (namespaces, children)
    }

    /// The layout of desired objects by namespace, derived from the objects.
    static func layout(of objects: [ObjectRef: DesiredObject]) -> NamespaceLayout {
        var (namespaces, children) = byNamespace(objects.values, ref: \.ref)
        var groups: [[DesiredObject]] = []
        groups.reserveCapacity(namespaces.count)
        for name in namespaces.keys.sorted() {
            groups.append([namespaces[name]!] + (children.removeValue(forKey: name) ?? []))
        }
        return NamespaceLayout(groups: groups, orphans: children)
    }

    /// Diffs desired namespaces (in the order given) and their contents.
    /// - Parameter groups: per namespace, its Namespace object and then the objects in it.
    mutating func diffDesiredNamespaces(
        _ groups: ArraySlice<[DesiredObject]>, _ ownedNamespaces: [String: ObservedObject],
        _ ownedChildren: [String: [ObservedObject]]
    ) {
        for group in groups {
            let namespace = group[0]
            let name = namespace.ref.name
            // Within one namespace, ref order is (kind rank, name): the order diffChildren needs.
            let children = group.dropFirst().sorted {
                ($0.ref.kind.creationRank, $0.ref.name) < ($1.ref.kind.creationRank, $1.ref.name)
            }
            switch diffNamespace(namespace, owned: ownedNamespaces[name]) {
            case .blocked(let index):
                skip(Differ.changeID("create", namespace.ref), onConflict: index, owner: namespace.owner)
                for child in children {
                    skip(Differ.changeID("create", child.ref), onConflict: index, owner: child.owner)
                }
                if let owned = ownedNamespaces[name], conflicts[index].reason == .ownerMismatch {
                    retiringDesired[name] = owned
                }
            case .usable(let change):
                diffChildren(children, owned: ownedChildren[name] ?? [], namespaceChange: change, namespace: namespace)
            }
        }
        flushPersonal()
    }

    /// Deletes the RoleBindings naming people in a namespace being retired (or already retired).
    mutating func revokeBindings(in namespace: String, owned: [ObservedObject]) {
        for object in owned.sorted(by: { $0.ref < $1.ref }) where object.ref.kind == .roleBinding {
            let subjects = bindingSubjects(object.spec)
            if object.spec == nil || subjects.contains(where: { $0.kind != .serviceAccount }) {
                deleteObject(object)
            }
        }
    }

    mutating func deleteObject(_ object: ObservedObject) {
        guard !object.isTerminating else { return }
        let subjects = bindingSubjects(object.spec)
        let losing = people(in: subjects, ownerAnnotation: object.annotations[ManagedKeys.ownerID])
        let owner = object.annotations[ManagedKeys.ownerID].map { PersonID($0) }
        add(
            Change(
                id: Differ.changeID("delete", object.ref), target: .kube(.delete(object)),
                removesAccess: object.ref.kind == .roleBinding && !losing.isEmpty, peopleLosingAccess: losing,
                provenance: [Provenance(person: owner, rule: .system("not-desired"))],
                reason: "delete \(object.ref): no longer desired"))
    }

    mutating func diffNamespace(_ namespace: DesiredObject, owned: ObservedObject?) -> NamespaceStatus {
        let name = namespace.ref.name
        let refText = namespace.ref.description
        if protected.contains(name) {
            return .blocked(conflict: conflict(refText, .protectedNamespace, "namespace \(name) is protected; AccessSync never manages it"))
        }
        if let owned {
            if owned.isTerminating {
                return .blocked(conflict: conflict(
                    refText, .namespaceTerminating,
                    "namespace \(name) is still terminating; its contents are created on a later run"))
            }
            let observedOwner = owned.annotations[ManagedKeys.ownerID]
            let desiredOwner = namespace.annotations[ManagedKeys.ownerID]
            if observedOwner != desiredOwner {
                return .blocked(conflict: conflict(
                    refText, .ownerMismatch,
                    "namespace \(name) belongs to \(observedOwner ?? "no person") but is desired for \(desiredOwner ?? "a project"); "
                        + "it is retired and deleted after the grace period before it can be reused"))
            }
            if Differ.needsUpdate(owned, to: namespace) {
                let id = Differ.changeID("update", namespace.ref)
                add(
                    Change(
                        id: id, target: .kube(.update(from: owned, to: carryOver(owned, namespace))), removesAccess: false,
                        provenance: namespace.provenance,
                        reason: owned.annotations[ManagedKeys.retiredAt] != nil
                            ? "update \(namespace.ref): entitled again, no longer retired"
                            : "update \(namespace.ref): labels or annotations differ"))
                notePersonal(namespace.owner, id)
                // Contents of a retired namespace wait for it to be un-retired.
                return .usable(change: owned.annotations[ManagedKeys.retiredAt] != nil ? (id, changes.count - 1) : nil)
            }
            return .usable(change: nil)
        }
        if let existing = observed.allNamespaces[name] {
            if existing.isTerminating {
                return .blocked(conflict: conflict(
                    refText, .namespaceTerminating,
                    "namespace \(name) is still terminating; it is created on a later run"))
            }
            if existing.labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue,
                let instance = existing.labels[ManagedKeys.instance], instance != settings.instance
            {
                return .blocked(conflict: conflict(
                    refText, .unownedObject, "namespace \(name) belongs to AccessSync instance \"\(instance)\""))
            }
            if options.adoptKinds.contains(.namespace) {
                return .usable(change: (adopt(existing, namespace), changes.count - 1))
            }
            return .blocked(conflict: conflict(
                refText, .unownedObject,
                "namespace \(name) exists without AccessSync's labels; adopt it with --adopt or remove it"))
        }
        let id = Differ.changeID("create", namespace.ref)
        add(Change(id: id, target: .kube(.create(namespace)), removesAccess: false, provenance: namespace.provenance,
                   reason: Self.createReason(namespace)))
        notePersonal(namespace.owner, id)
        return .usable(change: (id, changes.count - 1))
    }

    /// `create <ref>: desired by <provenance summary>` (or `: desired` without provenance), built in
    /// one buffer (one per planned create).
    static func createReason(_ object: DesiredObject) -> String {
        let summary = object.annotations[ManagedKeys.provenance] ?? Planner.provenanceSummary(object.provenance)
        let ref = object.ref
        let kind = ref.kind.rawValue
        var text = "create "
        text.reserveCapacity(24 + kind.utf8.count + (ref.namespace?.utf8.count ?? 0) + ref.name.utf8.count + summary.utf8.count)
        text += kind
        text += " "
        Differ.appendPath(of: ref, to: &text)
        text += summary.isEmpty ? ": desired" : ": desired by "
        text += summary
        return text
    }

    /// Records the change just added (with id `id`) as one of `owner`'s personal changes.
    mutating func notePersonal(_ owner: PersonID?, _ id: String) {
        guard let owner else { return }
        precondition(changes.last?.id == id, "notePersonal must follow the add of \(id)")
        if pendingPersonal?.owner == owner {
            pendingPersonal!.positions.append(changes.count - 1)
        } else {
            flushPersonal()
            pendingPersonal = (owner, [changes.count - 1])
        }
    }

    mutating func flushPersonal() {
        guard let (owner, positions) = pendingPersonal else { return }
        pendingPersonal = nil
        personalChanges[owner, default: []].append(contentsOf: positions)
    }

    func carryOver(_ observed: ObservedObject, _ desired: DesiredObject) -> DesiredObject {
        guard let adopted = observed.annotations[ManagedKeys.adopted], desired.annotations[ManagedKeys.adopted] == nil else {
            return desired
        }
        var copy = desired
        copy.annotations[ManagedKeys.adopted] = adopted
        return copy
    }

    mutating func adopt(_ existing: ObservedObject, _ desired: DesiredObject, dependsOn: [String] = []) -> String {
        var target = desired
        target.annotations[ManagedKeys.adopted] = "true"
        let id = Differ.changeID("adopt", desired.ref)
        add(
            Change(
                id: id, target: .kube(.adopt(from: existing, to: target)), removesAccess: false, dependsOn: dependsOn,
                provenance: desired.provenance, reason: "adopt \(desired.ref): exists without AccessSync's labels (--adopt)"))
        notePersonal(desired.owner, id)
        return id
    }

    /// - Parameter children: the namespace's desired objects in (kind rank, name) order, so that
    ///   Roles come first and bindings can depend on (or be skipped with) them.
    mutating func diffChildren(
        _ children: [DesiredObject], owned: [ObservedObject], namespaceChange: (id: String, position: Int)?,
        namespace: DesiredObject
    ) {
        let ownedByRef = owned.isEmpty ? [:] : Dictionary(owned.map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
        let base = namespaceChange.map { [$0.id] } ?? []
        let basePositions = namespaceChange.map { [$0.position] } ?? []
        var roleChanges: [String: (id: String, position: Int)] = [:]
        var blockedRoles: [String: Int] = [:]
        for object in children {
            var dependsOn = base
            var dependencyPositions = basePositions
            if case .roleBinding(let roleRef, _) = object.spec, roleRef.kind == .role {
                if let index = blockedRoles[roleRef.name] {
                    skip(Differ.changeID("create", object.ref), onConflict: index, owner: object.owner)
                    continue
                }
                if let roleChange = roleChanges[roleRef.name] {
                    dependsOn.append(roleChange.id)
                    dependencyPositions.append(roleChange.position)
                }
            }
            if let current = ownedByRef[object.ref] {
                if current.isTerminating { continue }
                if case .roleBinding(let oldRef, let oldSubjects) = current.spec,
                    case .roleBinding(let newRef, let newSubjects) = object.spec, oldRef != newRef
                {
                    let deleteID = Differ.changeID("delete", current.ref)
                    let losing = people(in: oldSubjects, ownerAnnotation: current.annotations[ManagedKeys.ownerID])
                        .subtracting(people(in: newSubjects, ownerAnnotation: object.annotations[ManagedKeys.ownerID]))
                    add(
                        Change(
                            id: deleteID, target: .kube(.delete(current)),
                            removesAccess: oldSubjects.contains { $0.kind != .serviceAccount }, peopleLosingAccess: losing,
                            provenance: object.provenance,
                            reason: "delete \(current.ref): roleRef changes from \(oldRef.kind.rawValue) \(oldRef.name) "
                                + "to \(newRef.kind.rawValue) \(newRef.name) (immutable; re-created)"))
                    let createID = Differ.changeID("create", object.ref)
                    add(
                        Change(
                            id: createID, target: .kube(.create(object)), removesAccess: false, dependsOn: dependsOn + [deleteID],
                            provenance: object.provenance, reason: "create \(object.ref): re-created with the new roleRef"))
                    notePersonal(object.owner, createID)
                    continue
                }
                if Differ.needsUpdate(current, to: object) {
                    let id = Differ.changeID("update", object.ref)
                    let oldSubjects = bindingSubjects(current.spec)
                    let newSubjects = bindingSubjects(object.spec)
                    let losing = people(in: oldSubjects, ownerAnnotation: current.annotations[ManagedKeys.ownerID])
                        .subtracting(people(in: newSubjects, ownerAnnotation: object.annotations[ManagedKeys.ownerID]))
                    let removed = Set(oldSubjects).subtracting(newSubjects).contains { $0.kind != .serviceAccount }
                    add(
                        Change(
                            id: id, target: .kube(.update(from: current, to: carryOver(current, object))),
                            removesAccess: removed, peopleLosingAccess: losing,
                            dependsOn: removed ? [] : dependsOn,
                            provenance: object.provenance,
                            reason: removed
                                ? "update \(object.ref): subjects removed"
                                : "update \(object.ref): managed content differs"))
                    notePersonal(object.owner, id)
                }
                continue
            }
            if let unowned = observed.unownedAtDesiredNames[object.ref] {
                let otherInstance = unowned.labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue
                    && unowned.labels[ManagedKeys.instance] != settings.instance
                if options.adoptKinds.contains(object.ref.kind), !otherInstance {
                    let id = adopt(unowned, object, dependsOn: dependsOn)
                    if object.ref.kind == .role { roleChanges[object.ref.name] = (id, changes.count - 1) }
                    continue
                }
                let index = conflict(
                    object.ref.description, .unownedObject,
                    otherInstance
                        ? "\(object.ref) belongs to AccessSync instance \"\(unowned.labels[ManagedKeys.instance] ?? "")\""
                        : "\(object.ref) exists without AccessSync's labels; adopt it with --adopt or remove it")
                skip(Differ.changeID("create", object.ref), onConflict: index, owner: object.owner)
                if object.ref.kind == .role { blockedRoles[object.ref.name] = index }
                continue
            }
            let id = Differ.changeID("create", object.ref)
            add(
                Change(
                    id: id, target: .kube(.create(object)), removesAccess: false, dependsOn: dependsOn,
                    provenance: object.provenance, reason: Self.createReason(object)),
                dependencyPositions: dependencyPositions)
            notePersonal(object.owner, id)
            if object.ref.kind == .role { roleChanges[object.ref.name] = (id, changes.count - 1) }
        }
        guard !owned.isEmpty else { return }
        let wanted = Set(children.map(\.ref))
        for object in owned.sorted(by: { $0.ref < $1.ref }) where !wanted.contains(object.ref) {
            deleteObject(object)
        }
    }

    // MARK: - Hub

    mutating func diffHub(_ hub: HubObservedState) {
        flushPersonal()
        var deletedUsers = Set<String>()
        /// Hub user name → position of its create (or adoption) change.
        var createdUsers: [String: Int] = [:]
        var existingAfter = Set(hub.users.keys)
        // Revocations: managed users not desired for the same person.
        for name in hub.users.keys.sorted() {
            guard let person = hub.managedUsers[name] else { continue }
            if let wanted = desired.hub.users[name], wanted.person == person { continue }
            let action = HubAction.deleteUser(name: name)
            add(
                Change(
                    id: Differ.changeID(action), target: .hub(action), removesAccess: true, peopleLosingAccess: [person],
                    provenance: [Provenance(person: person, rule: .system("not-desired"))],
                    reason: "delete hub user \(name): no longer entitled to hub access"))
            deletedUsers.insert(name)
            existingAfter.remove(name)
        }
        // The common case — a new user, not blocked — is prepared for every name in parallel
        // (id, dependencies, reason); the changes are added in name order below.
        let names = desired.hub.users.keys.sorted()
        let prepared = preparedUserCreations(names, hub: hub)
        for (index, name) in names.enumerated() {
            if let (change, waitFor) = prepared[index] {
                add(change, dependencyPositions: waitFor)
                createdUsers[name] = changes.count - 1
                existingAfter.insert(name)
                continue
            }
            let user = desired.hub.users[name]!
            if let current = hub.users[name] {
                if let managedFor = hub.managedUsers[name] {
                    if managedFor != user.person {
                        let index = conflict(
                            "user/\(name)", .ownerMismatch,
                            "hub user \(name) was created for \(managedFor.rawValue) and is now desired for \(user.person.rawValue); "
                                + "the old user is deleted and the new one is created on a later run")
                        skip(Differ.changeID(.createUser(name: name, admin: user.admin)), onConflict: index, owner: nil)
                        continue
                    }
                    if current.admin != user.admin {
                        let action = HubAction.setAdmin(name: name, admin: user.admin)
                        add(
                            Change(
                                id: Differ.changeID(action), target: .hub(action), removesAccess: !user.admin,
                                peopleLosingAccess: user.admin ? [] : [user.person], provenance: user.provenance,
                                reason: user.admin ? "make \(name) a hub admin" : "\(name) is no longer a hub admin"))
                    }
                } else if options.adoptHubUsers {
                    // Adoption: a create meeting the existing user records it and sets the admin flag.
                    let action = HubAction.createUser(name: name, admin: user.admin)
                    let revokes = current.admin && !user.admin
                    let waitFor = revokes ? [] : personalChanges[user.person] ?? []
                    add(
                        Change(
                            id: Differ.changeID(action), target: .hub(action), removesAccess: revokes,
                            peopleLosingAccess: revokes ? [user.person] : [],
                            dependsOn: waitFor.map { changes[$0].id },
                            provenance: user.provenance, reason: "adopt existing hub user \(name) (--adopt)"),
                        dependencyPositions: waitFor)
                    createdUsers[name] = changes.count - 1
                } else {
                    _ = conflict(
                        "user/\(name)", .unmanagedHubUser,
                        "hub user \(name) exists but was not created by AccessSync; adopt it with --adopt")
                }
                continue
            }
            let action = HubAction.createUser(name: name, admin: user.admin)
            if let index = blockedPeople[user.person] {
                skip(Differ.changeID(action), onConflict: index, owner: nil)
                continue
            }
            let waitFor = personalChanges[user.person] ?? []
            add(
                Change(
                    id: Differ.changeID(action), target: .hub(action), removesAccess: false,
                    dependsOn: waitFor.map { changes[$0].id }, provenance: user.provenance,
                    reason: "create hub user \(name)\(user.admin ? " (admin)" : ""): \(Planner.provenanceSummary(user.provenance))",
                    person: user.person),
                dependencyPositions: waitFor)
            createdUsers[name] = changes.count - 1
            existingAfter.insert(name)
        }
        // Groups.
        func personFor(_ user: String) -> PersonID? { desired.hub.users[user]?.person ?? hub.managedUsers[user] }
        for name in hub.groups.keys.sorted() where desired.hub.groups[name] == nil && hub.managedGroups.contains(name) {
            let action = HubAction.deleteGroup(name: name)
            let losing = Set(hub.groups[name]!.compactMap(personFor))
            add(
                Change(
                    id: Differ.changeID(action), target: .hub(action), removesAccess: !hub.groups[name]!.isEmpty,
                    peopleLosingAccess: losing, provenance: [Provenance(rule: .system("not-desired"))],
                    reason: "delete hub group \(name): no longer mirrored"))
        }
        for name in desired.hub.groups.keys.sorted() {
            let group = desired.hub.groups[name]!
            var base: [String] = []
            var basePositions: [Int] = []
            var current: Set<String> = []
            if let observedMembers = hub.groups[name] {
                current = observedMembers
                if !hub.managedGroups.contains(name) {
                    if options.adoptHubGroups {
                        // Adoption: a create meeting the existing group records it as managed.
                        let action = HubAction.createGroup(name: name)
                        add(
                            Change(
                                id: Differ.changeID(action), target: .hub(action), removesAccess: false,
                                provenance: group.provenance, reason: "adopt existing hub group \(name) (--adopt)"))
                        base = [Differ.changeID(action)]
                        basePositions = [changes.count - 1]
                    } else {
                        _ = conflict(
                            "group/\(name)", .unmanagedHubGroup,
                            "hub group \(name) exists but was not created by AccessSync; adopt it with --adopt")
                        continue
                    }
                }
            } else {
                let action = HubAction.createGroup(name: name)
                add(
                    Change(
                        id: Differ.changeID(action), target: .hub(action), removesAccess: false,
                        provenance: group.provenance, reason: "create hub group \(name)"))
                base = [Differ.changeID(action)]
                basePositions = [changes.count - 1]
            }
            let toRemove = current.subtracting(group.members).subtracting(deletedUsers).sorted()
            if !toRemove.isEmpty {
                let action = HubAction.removeGroupMembers(group: name, users: toRemove)
                add(
                    Change(
                        id: Differ.changeID(action), target: .hub(action), removesAccess: true,
                        peopleLosingAccess: Set(toRemove.compactMap(personFor)),
                        provenance: group.provenance, reason: "remove \(toRemove.count) member(s) from hub group \(name)"))
            }
            let toAdd = group.members.subtracting(current).filter { existingAfter.contains($0) }.sorted()
            if !toAdd.isEmpty {
                let action = HubAction.addGroupMembers(group: name, users: toAdd)
                var dependsOn = base
                var dependencyPositions = basePositions
                for user in toAdd where hub.users[user] == nil {
                    if let created = createdUsers[user] {
                        dependsOn.append(changes[created].id)
                        dependencyPositions.append(created)
                    } else {
                        dependsOn.append(Differ.changeID(.createUser(name: user, admin: desired.hub.users[user]?.admin ?? false)))
                    }
                }
                add(
                    Change(
                        id: Differ.changeID(action), target: .hub(action), removesAccess: false, dependsOn: dependsOn,
                        provenance: group.provenance, reason: "add \(toAdd.count) member(s) to hub group \(name)"),
                    dependencyPositions: dependencyPositions)
            }
        }
    }

    /// For each name (in order), the change creating that desired hub user with the positions it
    /// waits for, when it is the common case (not in the hub, not blocked); else nil. Parallel.
    func preparedUserCreations(_ names: [String], hub: HubObservedState) -> [(change: Change, waitFor: [Int])?] {
        Parallel.map(names.count) { index in
            let name = names[index]
            let user = desired.hub.users[name]!
            guard hub.users[name] == nil, blockedPeople[user.person] == nil else { return nil }
            let action = HubAction.createUser(name: name, admin: user.admin)
            let waitFor = personalChanges[user.person] ?? []
            let change = Change(
                id: Differ.changeID(action), target: .hub(action), removesAccess: false,
                dependsOn: waitFor.map { changes[$0].id }, provenance: user.provenance,
                reason: "create hub user \(name)\(user.admin ? " (admin)" : ""): \(Planner.provenanceSummary(user.provenance))",
                person: user.person)
            return (change, waitFor)
        }
    }

    // MARK: - Order

    /// Revocations first, then a topological order of the rest; ties by (delete first, kind rank, id).
    func ordered() -> [Change] {
        let count = changes.count
        // Every change's key is (order class, id). The changes are sorted by key once, so the
        // topological pass below compares integers (ranks), not keys.
        let byKey = sortedByKey()
        var rank = [Int](repeating: 0, count: count)
        for (order, index) in byKey.enumerated() { rank[index] = order }
        // Dependency edges (distinct per change), then dependants per change in one flat array.
        var indegree = [Int](repeating: 0, count: count)
        var edges: [(from: Int, to: Int)] = []
        edges.reserveCapacity(count)
        var outdegree = [Int](repeating: 0, count: count + 1)
        var positionByID: [String: Int]?
        var recorded = 0
        for index in 0..<count {
            let first = edges.count
            if hasRecordedDependencies[index] {
                while recorded < recordedEdges.count, recordedEdges[recorded].to == index {
                    let dependency = recordedEdges[recorded].from
                    edges.append((dependency, index))
                    outdegree[dependency] += 1
                    recorded += 1
                }
                indegree[index] = edges.count - first
                continue
            }
            let dependsOn = changes[index].dependsOn
            if dependsOn.isEmpty { continue }
            // Only changes added without recorded positions (adoptions, re-creations, a few hub
            // changes) look their dependencies up by id; the table is built on first need.
            if positionByID == nil {
                positionByID = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            }
            for id in dependsOn {
                guard let dependency = positionByID![id] else { continue }
                if edges[first...].contains(where: { $0.from == dependency }) { continue }
                edges.append((dependency, index))
                outdegree[dependency] += 1
            }
            indegree[index] = edges.count - first
        }
        // Usually every dependency ranks before its dependant (namespaces before their contents,
        // Roles before bindings, personal objects before hub users): then the key order is itself
        // the smallest topological order.
        if edges.allSatisfy({ rank[$0.from] < rank[$0.to] }) { return byKey.map { changes[$0] } }
        var start = [Int](repeating: 0, count: count + 1)
        for index in 0..<count { start[index + 1] = start[index] + outdegree[index] }
        var fill = start
        var dependants = [Int](repeating: 0, count: edges.count)
        for edge in edges {
            dependants[fill[edge.from]] = edge.to
            fill[edge.from] += 1
        }
        // The smallest topological order by rank (what a heap of all ready changes gives), with
        // the heap holding only the changes that became ready after the scan passed their rank:
        // the next change is the smaller of the heap's top and the first ready rank not yet passed.
        var passed = [Bool](repeating: false, count: count)
        var heap = Heap<Int>()
        var next = 0
        var result: [Change] = []
        result.reserveCapacity(count)
        while result.count < count {
            while next < count, indegree[byKey[next]] != 0 {
                passed[next] = true
                next += 1
            }
            let chosen: Int
            if let top = heap.min, next == count || top < next {
                chosen = heap.pop()!
            } else {
                precondition(next < count, "dependency cycle among planned changes")
                chosen = next
                next += 1
            }
            let index = byKey[chosen]
            result.append(changes[index])
            for slot in start[index]..<start[index + 1] {
                let dependant = dependants[slot]
                indegree[dependant] -= 1
                if indegree[dependant] == 0, passed[rank[dependant]] { heap.push(rank[dependant]) }
            }
        }
        return result
    }

    /// Positions of all changes in (order class, id) order. Changes are bucketed by class first;
    /// within a class they were found in namespace order, which is nearly id order, so each
    /// bucket's sort mostly finds runs already in order. Ids are unique (checked here).
    func sortedByKey() -> [Int] {
        var buckets: [Int: [Int]] = [:]
        for (index, orderClass) in orderClasses.enumerated() { buckets[orderClass, default: []].append(index) }
        let classes = buckets.keys.sorted()
        let ids = self.ids
        func sortBucket(_ orderClass: Int) -> [Int] {
            var bucket = buckets[orderClass]!
            bucket.sort { ids[$0] < ids[$1] }
            for offset in bucket.indices.dropFirst() where ids[bucket[offset - 1]] == ids[bucket[offset]] {
                preconditionFailure("duplicate change id \(ids[bucket[offset]])")
            }
            return bucket
        }
        // Large buckets are sorted in parallel, each on its own.
        let sorted = Parallel.map(classes.count, minimumChunk: changes.count >= 4 * Parallel.minimumChunk ? 1 : .max) {
            sortBucket(classes[$0])
        }
        var byKey: [Int] = []
        byKey.reserveCapacity(changes.count)
        for bucket in sorted { byKey += bucket }
        return byKey
    }
}

/// A minimal binary min-heap.
struct Heap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[child] < items[parent] {
                items.swapAt(child, parent)
                child = parent
            } else {
                break
            }
        }
    }

    /// The smallest element, without removing it.
    var min: Element? { items.first }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
