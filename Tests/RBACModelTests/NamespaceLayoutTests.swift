import Foundation
import Testing

@testable import RBACModel

/// The planner hands the differ its objects already laid out by namespace; the differ must produce
/// exactly what it produces from `objects` alone, and must not use a layout that no longer matches.
@Suite struct NamespaceLayoutTests {
    let now = Fixture.now
    let settings = Fixture.settings

    func object(_ kind: ObjectKind, _ namespace: String?, _ name: String) -> DesiredObject {
        DesiredObject(
            ref: ObjectRef(kind: kind, namespace: namespace, name: name), labels: [:], annotations: [:],
            spec: kind == .namespace ? .namespace : .serviceAccount, provenance: [])
    }

    @Test(arguments: PropertyTests.cases.map(\.seed))
    func plannerLayoutGivesTheSameDiffs(seed: UInt64) throws {
        let spec = try #require(PropertyTests.cases.first { $0.seed == seed })
        var generator = DirectoryGenerator(seed: spec.seed, people: spec.people, groups: spec.groups)
        let directory = generator.snapshot()
        func plan(_ variant: Int) -> DesiredState {
            let policy = DirectoryGenerator.policy(groups: spec.groups, people: spec.people, now: now, variant: variant)
            return Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        }
        /// The same state with the layout dropped (assigning `objects` clears it).
        func withoutLayout(_ state: DesiredState) -> DesiredState {
            var copy = state
            copy.objects = state.objects
            return copy
        }
        let first = plan(0)
        let second = plan(2)
        let layout = try #require(first.layout.layout, "the planner hands over its layout")
        #expect(layout.groups.map { $0[0].ref.name } == first.objects.keys.filter { $0.kind == .namespace }.map(\.name).sorted())
        #expect(layout.groups.reduce(0) { $0 + $1.count } == first.objects.count)
        #expect(withoutLayout(first).layout.layout == nil)
        #expect(withoutLayout(first) == first)

        func bothWays(_ desired: DesiredState, _ cluster: ObservedCluster, _ hub: HubObservedState) -> ChangeSet {
            let planned = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
            let derived = Differ.diff(desired: withoutLayout(desired), observed: cluster, hub: hub, settings: settings, now: now)
            #expect(planned == derived)
            return planned
        }
        let initial = bothWays(first, ObservedCluster(), HubObservedState())
        #expect(!initial.changes.isEmpty)
        let (cluster, hub) = ChangeSimulator.apply(initial.changes, to: ObservedCluster(), hub: HubObservedState())
        // A policy change (namespaces added and retired), then back.
        let update = bothWays(second, cluster, hub!)
        let (changed, changedHub) = ChangeSimulator.apply(update.changes, to: cluster, hub: hub)
        _ = bothWays(first, changed, changedHub!)
    }

    @Test func changedObjectsDropTheLayout() throws {
        var generator = DirectoryGenerator(seed: 3, people: 150, groups: 25)
        let directory = generator.snapshot()
        let policy = DirectoryGenerator.policy(groups: 25, people: 150, now: now)
        var state = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        #expect(state.layout.layout != nil)
        // An object added through the public property must be diffed (the stale layout lacks it).
        let namespace = try #require(state.objects.keys.first { $0.kind == .namespace })
        let extra = object(.serviceAccount, namespace.name, "added-later")
        state.objects[extra.ref] = extra
        #expect(state.layout.layout == nil)
        let set = Differ.diff(desired: state, observed: ObservedCluster(), hub: nil, settings: settings, now: now)
        #expect(set.changes.contains { $0.id == Differ.changeID("create", extra.ref) })
    }

    @Test func plannerGroupsAreCheckedBeforeUse() {
        let good = [[object(.namespace, nil, "b"), object(.serviceAccount, "b", "x")], [object(.namespace, nil, "a")]]
        let sorted = NamespaceLayout.SortedGroups(good)
        #expect(sorted?.names == ["a", "b"])
        #expect(NamespaceLayout.combining([sorted], indexedCount: 3)?.groups.map(\.count) == [1, 2])
        // Not the indexed objects (a duplicate ref was dropped by the index).
        #expect(NamespaceLayout.combining([sorted], indexedCount: 2) == nil)
        // A child in another namespace, a group without its Namespace first, a namespace twice.
        #expect(NamespaceLayout.SortedGroups([[object(.namespace, nil, "a"), object(.serviceAccount, "b", "x")]]) == nil)
        #expect(NamespaceLayout.SortedGroups([[object(.serviceAccount, "a", "x"), object(.namespace, nil, "a")]]) == nil)
        #expect(NamespaceLayout.SortedGroups([[object(.namespace, nil, "a")], [object(.namespace, nil, "a")]]) == nil)
        let other = NamespaceLayout.SortedGroups([[object(.namespace, nil, "b")]])
        #expect(NamespaceLayout.combining([sorted, other], indexedCount: 4) == nil)
        #expect(NamespaceLayout.combining([sorted, nil], indexedCount: 3) == nil)
    }
}
