import Benchmark
import PlanFixtures
import RBACModel

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 5)

    for people in [10_000, 100_000] {
        let label = "\(people / 1000)k"
        // Plan + diff of a first run (empty cluster): the whole pipeline's pure part.
        Benchmark("plan+diff \(label) users, 5k groups", configuration: configuration) { benchmark, organisation in
            for _ in benchmark.scaledIterations {
                let desired = organisation.plan()
                let changes = Differ.diff(
                    desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: organisation.settings,
                    now: organisation.now)
                blackHole(changes.changes.count)
            }
        } setup: {
            SyntheticOrganisation(people: people)
        }

        // Plan + diff of a steady-state run against a converged cluster and 1% churn.
        Benchmark("plan+diff \(label) users, converged, 1% churn", configuration: configuration) { benchmark, input in
            for _ in benchmark.scaledIterations {
                let desired = Planner.plan(
                    directory: input.churned, policy: input.organisation.policy, settings: input.organisation.settings,
                    now: input.organisation.now)
                let changes = Differ.diff(
                    desired: desired, observed: input.cluster, hub: input.hub, settings: input.organisation.settings,
                    now: input.organisation.now)
                blackHole(changes.changes.count)
            }
        } setup: {
            let organisation = SyntheticOrganisation(people: people)
            let (cluster, hub) = organisation.converged(organisation.plan())
            return ChurnInput(organisation: organisation, churned: organisation.withChurn(percent: 1), cluster: cluster, hub: hub)
        }
    }
}

struct ChurnInput: Sendable {
    var organisation: SyntheticOrganisation
    var churned: DirectorySnapshot
    var cluster: ObservedCluster
    var hub: HubObservedState
}
