public import RBACModel

/// A sync restricted to one person (`add-user --sync`, `sync --only-user UID`): the whole directory
/// and policy are read and planned as usual (the guard and the names need them), then only the
/// changes that concern this person are kept.
public struct PersonScope: Sendable, Hashable {
    public var person: PersonID
    public var uid: String
    /// The RBAC User subject and hub username the planner gives this person (nil when the person
    /// has no entitlement; ownership annotations and the hub registry still identify them).
    public var subject: String?
    public var hubUsername: String?

    public init(person: PersonID, uid: String, subject: String? = nil, hubUsername: String? = nil) {
        self.person = person
        self.uid = uid
        self.subject = subject
        self.hubUsername = hubUsername
    }

    /// What the restriction kept and left.
    public struct Result: Sendable, Hashable {
        public var changes: ChangeSet
        /// Changes (or parts of shared changes) for other people that this run did not apply.
        public var changesLeft: Int
        /// Shared changes this person's changes depend on (a project namespace, a hub group), kept.
        public var dependenciesKept: Int
    }

    /// Keeps the changes that concern the person: objects owned by or named for them (their
    /// namespace and its contents), binding subject changes that are theirs (a shared binding is
    /// narrowed to their subject alone), their hub user and admin flag, their hub group memberships
    /// (narrowed to them), plus the changes those depend on.
    public func restrict(_ changeSet: ChangeSet, observedHub: HubObservedState?) -> Result {
        var hubNames: Set<String> = []
        if let hubUsername { hubNames.insert(hubUsername) }
        for (name, owner) in observedHub?.managedUsers ?? [:] where owner == person { hubNames.insert(name) }

        var kept: [String: Change] = [:]
        var narrowed = 0
        for change in changeSet.changes {
            if let scoped = scoped(change, hubNames: hubNames) {
                kept[change.id] = scoped
                if scoped != change { narrowed += 1 }
            }
        }
        // Dependencies (a project namespace before its binding, a hub group before its members).
        let byID = Dictionary(changeSet.changes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var queue = Array(kept.values.flatMap(\.dependsOn))
        var dependencies = 0
        while let id = queue.popLast() {
            guard kept[id] == nil, let change = byID[id] else { continue }
            kept[id] = change
            dependencies += 1
            queue.append(contentsOf: change.dependsOn)
        }
        let ordered = changeSet.changes.compactMap { kept[$0.id] }
        let keptIDs = Set(ordered.map(\.id))
        let conflicts = changeSet.conflicts.filter { conflict in
            conflict.skippedChanges.contains(where: keptIDs.contains)
                || conflict.ref.contains(uid) || hubNames.contains(where: conflict.ref.contains)
        }
        return Result(
            changes: ChangeSet(changes: ordered, conflicts: conflicts),
            changesLeft: changeSet.changes.count - ordered.count + narrowed, dependenciesKept: dependencies)
    }

    /// The change limited to this person, or nil when it is not theirs.
    func scoped(_ change: Change, hubNames: Set<String>) -> Change? {
        switch change.target {
        case .hub(let action):
            switch action {
            case .createUser(let name, _), .deleteUser(let name), .setAdmin(let name, _):
                return hubNames.contains(name) || change.person == person ? change : nil
            case .addGroupMembers(let group, let users):
                return narrowed(change, users: users, hubNames: hubNames) { .hub(.addGroupMembers(group: group, users: $0)) }
            case .removeGroupMembers(let group, let users):
                return narrowed(change, users: users, hubNames: hubNames) {
                    .hub(.removeGroupMembers(group: group, users: $0))
                }
            case .createGroup, .deleteGroup:
                return nil
            }
        case .kube(let action):
            if change.person == person || change.peopleLosingAccess == [person] { return change }
            if owner(of: action) == person { return change }
            if case .update(let from, let to) = action, case .roleBinding(let roleRef, let wanted) = to.spec,
                case .roleBinding(_, let current)? = from.spec, let subject
            {
                // A shared binding: only this person's subject is added or removed.
                let isTheirs = { (s: Subject) in s.kind == .user && s.name == subject }
                let hadIt = current.contains(where: isTheirs)
                let wantsIt = wanted.contains(where: isTheirs)
                guard hadIt != wantsIt else { return nil }
                var subjects = current.filter { !isTheirs($0) }
                if wantsIt { subjects.append(contentsOf: wanted.filter(isTheirs)) }
                subjects.sort()
                if subjects == wanted.sorted() { return change }
                var desired = to
                desired.spec = .roleBinding(roleRef: roleRef, subjects: subjects)
                var narrowedChange = change
                narrowedChange.target = .kube(.update(from: from, to: desired))
                narrowedChange.peopleLosingAccess = change.peopleLosingAccess.intersection([person])
                narrowedChange.removesAccess = !wantsIt
                narrowedChange.provenance = change.provenance.filter { $0.person == nil || $0.person == person }
                if narrowedChange.provenance.isEmpty { narrowedChange.provenance = change.provenance }
                return narrowedChange
            }
            if case .create(let desired) = action, case .roleBinding(_, let subjects) = desired.spec, let subject,
                subjects.count == 1, subjects[0].kind == .user, subjects[0].name == subject
            {
                return change
            }
            if case .delete(let observed) = action, case .roleBinding(_, let subjects)? = observed.spec, let subject,
                subjects.count == 1, subjects[0].kind == .user, subjects[0].name == subject
            {
                return change
            }
            return nil
        }
    }

    func narrowed(
        _ change: Change, users: [String], hubNames: Set<String>, make: ([String]) -> ChangeTarget
    ) -> Change? {
        let theirs = users.filter(hubNames.contains)
        guard !theirs.isEmpty else { return nil }
        if theirs.count == users.count { return change }
        var result = change
        result.target = make(theirs)
        result.peopleLosingAccess = change.peopleLosingAccess.intersection([person])
        return result
    }

    /// The person an object belongs to: the desired owner or the observed owner annotation.
    func owner(of action: KubeAction) -> PersonID? {
        switch action {
        case .create(let desired): return desired.owner
        case .update(let observed, let desired), .adopt(let observed, let desired):
            return desired.owner ?? observed.annotations[ManagedKeys.ownerID].map { PersonID($0) }
        case .delete(let observed), .retire(let observed, _):
            return observed.annotations[ManagedKeys.ownerID].map { PersonID($0) }
        }
    }
}
