import Foundation

/// Applies a change set to observed state the way a faithful executor would, without I/O.
///
/// It defines what each action means, so executors, `plan` previews and tests agree:
/// - `create`: the object exists with the desired labels, annotations and spec (namespaces also get
///   the server's `kubernetes.io/metadata.name` label and phase Active).
/// - `update`: labels and annotations we manage are replaced (keys desired, plus `accesssync.io/`
///   keys, which disappear when not desired — server-side apply semantics for our field manager);
///   other keys are kept; the spec becomes the desired spec.
/// - `delete`: the object is gone; a namespace takes its contents with it.
/// - `retire`: the namespace gets `accesssync.io/retired-at` (RFC 3339, UTC) and its
///   `accesssync-quota` ResourceQuota gets `pods: 0` (created with our labels if missing).
/// - `adopt`: the object carries the desired labels, annotations (including `accesssync.io/adopted`)
///   and spec and becomes owned.
/// - Hub: users and groups are created, deleted, flagged and filled; created and adopted users are
///   recorded in the registry with `Change.person`, created and adopted groups as managed.
public enum ChangeSimulator {
    public static func apply(
        _ changes: [Change], to observed: ObservedCluster, hub: HubObservedState?
    ) -> (cluster: ObservedCluster, hub: HubObservedState?) {
        var cluster = observed
        var hub = hub
        var counter = 0
        for change in changes {
            switch change.target {
            case .kube(let action):
                counter += 1
                apply(action, to: &cluster, serial: counter)
            case .hub(let action):
                if hub != nil { apply(action, person: change.person, to: &hub!) }
            }
        }
        return (cluster, hub)
    }

    static func isManagedKey(_ key: String) -> Bool {
        key.hasPrefix(ManagedKeys.prefix) || key == ManagedKeys.managedBy
    }

    static func merge(_ current: [String: String], _ desired: [String: String]) -> [String: String] {
        var result = current.filter { !isManagedKey($0.key) && desired[$0.key] == nil }
        for (key, value) in desired { result[key] = value }
        return result
    }

    static func store(_ object: ObservedObject, in cluster: inout ObservedCluster) {
        cluster.owned[object.ref] = object
        cluster.unownedAtDesiredNames[object.ref] = nil
        if object.ref.kind == .namespace { cluster.allNamespaces[object.ref.name] = object }
    }

    static func nextVersion(_ version: String) -> String { String((Int(version) ?? 0) + 1) }

    static func apply(_ action: KubeAction, to cluster: inout ObservedCluster, serial: Int) {
        switch action {
        case .create(let desired):
            var labels = desired.labels
            if desired.ref.kind == .namespace { labels["kubernetes.io/metadata.name"] = desired.ref.name }
            store(
                ObservedObject(
                    ref: desired.ref, uid: "sim-\(serial)-\(desired.ref.name)", resourceVersion: "1", labels: labels,
                    annotations: desired.annotations, spec: desired.spec,
                    phase: desired.ref.kind == .namespace ? "Active" : nil),
                in: &cluster)
        case .update(let from, let desired):
            var object = cluster.owned[desired.ref] ?? from
            object.labels = merge(object.labels, desired.labels)
            object.annotations = merge(object.annotations, desired.annotations)
            object.spec = desired.spec
            object.resourceVersion = nextVersion(object.resourceVersion)
            store(object, in: &cluster)
        case .adopt(let from, let desired):
            var object = from
            object.labels = merge(object.labels, desired.labels)
            object.annotations = merge(object.annotations, desired.annotations)
            object.spec = desired.spec
            object.resourceVersion = nextVersion(object.resourceVersion)
            store(object, in: &cluster)
        case .delete(let observed):
            cluster.owned[observed.ref] = nil
            if observed.ref.kind == .namespace {
                cluster.allNamespaces[observed.ref.name] = nil
                for ref in cluster.owned.keys where ref.namespace == observed.ref.name { cluster.owned[ref] = nil }
                for ref in cluster.unownedAtDesiredNames.keys where ref.namespace == observed.ref.name {
                    cluster.unownedAtDesiredNames[ref] = nil
                }
            }
        case .retire(let observed, let at):
            var namespace = cluster.owned[observed.ref] ?? observed
            namespace.annotations[ManagedKeys.retiredAt] = Timestamp.format(at)
            namespace.resourceVersion = nextVersion(namespace.resourceVersion)
            store(namespace, in: &cluster)
            let quotaRef = ObjectRef(kind: .resourceQuota, namespace: observed.ref.name, name: ManagedNames.resourceQuota)
            var quota = cluster.owned[quotaRef] ?? ObservedObject(
                ref: quotaRef, uid: "sim-\(serial)-quota", resourceVersion: "0",
                labels: [
                    ManagedKeys.managedBy: ManagedKeys.managedByValue,
                    ManagedKeys.instance: observed.labels[ManagedKeys.instance] ?? "",
                ],
                spec: .resourceQuota(hard: [:]))
            var hard: [String: Quantity] = [:]
            if case .resourceQuota(let current) = quota.spec { hard = current }
            hard["pods"] = try? Quantity("0")
            quota.spec = .resourceQuota(hard: hard)
            quota.resourceVersion = nextVersion(quota.resourceVersion)
            store(quota, in: &cluster)
        }
    }

    static func apply(_ action: HubAction, person: PersonID?, to hub: inout HubObservedState) {
        switch action {
        case .createUser(let name, let admin):
            hub.users[name] = HubObservedUser(name: name, admin: admin)
            if let person { hub.managedUsers[name] = person }
        case .adoptUser(let name, let admin):
            hub.users[name]?.admin = admin
            if let person { hub.managedUsers[name] = person }
        case .deleteUser(let name):
            hub.users[name] = nil
            hub.managedUsers[name] = nil
            for group in hub.groups.keys { hub.groups[group]!.remove(name) }
        case .setAdmin(let name, let admin):
            hub.users[name]?.admin = admin
        case .createGroup(let name):
            hub.groups[name] = []
            hub.managedGroups.insert(name)
        case .adoptGroup(let name):
            hub.managedGroups.insert(name)
        case .deleteGroup(let name):
            hub.groups[name] = nil
            hub.managedGroups.remove(name)
        case .addGroupMembers(let group, let users):
            hub.groups[group, default: []].formUnion(users)
        case .removeGroupMembers(let group, let users):
            hub.groups[group]?.subtract(users)
        }
    }
}
