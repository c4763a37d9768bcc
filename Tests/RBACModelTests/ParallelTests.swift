import Foundation
import Testing

@testable import RBACModel

/// The planner and differ use both processors for large inputs; their output must not depend on it.
@Suite struct ParallelTests {
    let now = Fixture.now
    let settings = Fixture.settings

    @Test func mapKeepsOrderAndEveryElement() {
        for count in [0, 1, Parallel.minimumChunk - 1, 2 * Parallel.minimumChunk + 17, 10_000] {
            let mapped = Parallel.map(count) { $0 * 3 + 1 }
            #expect(mapped == (0..<count).map { $0 * 3 + 1 })
        }
        let few = Parallel.map(5, minimumChunk: 1) { "item \($0)" }
        #expect(few == (0..<5).map { "item \($0)" })
    }

    @Test func bothRunsBothAndReturnsTheirResults() {
        var written = 0
        let (first, second) = Parallel.both({ () -> Int in
            written = 42
            return (1...1000).reduce(0, +)
        }, { "second" })
        #expect(first == 500_500)
        #expect(second == "second")
        #expect(written == 42)
    }

    /// A directory large enough for the planner's parallel paths plans (and diffs) exactly as on
    /// one thread.
    @Test func parallelPlanEqualsSequential() {
        var generator = DirectoryGenerator(seed: 11, people: 6000, groups: 300)
        let directory = generator.snapshot()
        let policy = DirectoryGenerator.policy(groups: 300, people: 6000, now: now)
        let parallel = Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        let sequential = Parallel.$sequential.withValue(true) {
            Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        }
        #expect(parallel.entitlements.values.filter(\.hasAnyAccess).count > 2 * Parallel.minimumChunk)
        #expect(parallel.objects.count == sequential.objects.count)
        #expect(parallel == sequential)

        // And its diff (namespaces in parallel runs, the order's sort in two halves).
        let diff = Differ.diff(desired: parallel, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        let oneThread = Parallel.$sequential.withValue(true) {
            Differ.diff(desired: sequential, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        }
        #expect(diff.changes.count > 4 * Parallel.minimumChunk)
        #expect(diff.changes.map(\.id) == oneThread.changes.map(\.id))
        #expect(diff == oneThread)
    }

    /// Every diff of a sequence of states (first sync, policy change, change back, conflicts) is the
    /// same when the desired namespaces are diffed in parallel runs as in one pass.
    @Test(arguments: PropertyTests.cases.map(\.seed))
    func parallelDiffEqualsOnePass(seed: UInt64) throws {
        let spec = try #require(PropertyTests.cases.first { $0.seed == seed })
        var generator = DirectoryGenerator(seed: spec.seed, people: spec.people, groups: spec.groups)
        let directory = generator.snapshot()
        func plan(_ variant: Int) -> DesiredState {
            let policy = DirectoryGenerator.policy(groups: spec.groups, people: spec.people, now: now, variant: variant)
            return Planner.plan(directory: directory, policy: policy, settings: settings, now: now)
        }
        func diff(_ desired: DesiredState, _ cluster: ObservedCluster, _ hub: HubObservedState, at time: Date) -> ChangeSet {
            let onePass = Differ.diff(
                desired: desired, observed: cluster, hub: hub, settings: settings, now: time, parallelFrom: .max, parts: 1)
            for parts in [2, 3, 7] {
                let parallel = Differ.diff(
                    desired: desired, observed: cluster, hub: hub, settings: settings, now: time, parallelFrom: 1,
                    parts: parts)
                #expect(parallel.changes.map(\.id) == onePass.changes.map(\.id), "parts \(parts)")
                #expect(parallel.conflicts == onePass.conflicts, "parts \(parts)")
                #expect(parallel == onePass, "parts \(parts)")
            }
            return onePass
        }
        let first = plan(0)
        let second = plan(2)
        var set = diff(first, ObservedCluster(), HubObservedState(), at: now)
        #expect(!set.changes.isEmpty)
        var (cluster, hub) = ChangeSimulator.apply(set.changes, to: ObservedCluster(), hub: HubObservedState())
        set = diff(second, cluster, hub!, at: now)
        (cluster, hub) = ChangeSimulator.apply(set.changes, to: cluster, hub: hub)
        _ = diff(first, cluster, hub!, at: now.addingTimeInterval(60))

        // Conflicts spread over the namespaces: an unowned namespace at a desired name, one
        // terminating, one whose owner differs.
        let desiredNamespaces = first.objects.keys.filter { $0.kind == .namespace }.sorted()
        guard desiredNamespaces.count >= 6 else { return }
        var owned = cluster.owned
        var all = Array(cluster.allNamespaces.values)
        let unowned = desiredNamespaces[1]
        let terminating = desiredNamespaces[desiredNamespaces.count / 2]
        let mismatched = desiredNamespaces.last { first.objects[$0]?.owner != nil && $0 != terminating && $0 != unowned }
        owned[unowned] = nil
        all.removeAll { $0.ref.name == unowned.name }
        all.append(ObservedObject(ref: unowned, uid: "u-unowned", resourceVersion: "1", spec: .namespace))
        owned[terminating]?.deletionTimestamp = now
        if let mismatched { owned[mismatched]?.annotations[ManagedKeys.ownerID] = "someone-else" }
        let conflicted = ObservedCluster(owned: Array(owned.values), allNamespaces: all)
        set = diff(first, conflicted, hub!, at: now.addingTimeInterval(120))
        #expect(!set.conflicts.isEmpty)
    }
}
