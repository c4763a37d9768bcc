import Foundation
import PlanFixtures
import RBACModel

// Usage: plan-bench PEOPLE [GROUPS] [GRANTED]
// Prints wall time per phase and the process's peak resident memory (getrusage ru_maxrss).
let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let people = arguments.first ?? 100_000
let groups = arguments.count > 1 ? arguments[1] : 5_000
let granted = arguments.count > 2 ? arguments[2] : 20_000

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
}

var organisation: SyntheticOrganisation!
let build = seconds { organisation = SyntheticOrganisation(people: people, groups: groups, granted: granted) }
let inputRSS = peakRSSMegabytes()
var desired: DesiredState!
let plan = seconds { desired = organisation.plan() }
var first: ChangeSet!
let diffEmpty = seconds {
    first = Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: organisation.settings, now: organisation.now)
}
let planRSS = peakRSSMegabytes()
let (cluster, hub) = ChangeSimulator.apply(first.changes, to: ObservedCluster(), hub: HubObservedState())
let convergedRSS = peakRSSMegabytes()
var noop: ChangeSet!
let diffNoop = seconds { noop = Differ.diff(desired: desired, observed: cluster, hub: hub!, settings: organisation.settings, now: organisation.now) }
let churned = organisation.withChurn(percent: 1)
var churnDesired: DesiredState!
var churn: ChangeSet!
let planChurn = seconds { churnDesired = Planner.plan(directory: churned, policy: organisation.policy, settings: organisation.settings, now: organisation.now) }
let diffChurn = seconds { churn = Differ.diff(desired: churnDesired, observed: cluster, hub: hub!, settings: organisation.settings, now: organisation.now) }
var hash = ""
let guardTime = seconds { hash = Guard.planHash(churn) }

let personalNamespaces = desired.entitlements.values.filter { $0.namespace != nil }.count
print("""
    people=\(people) groups=\(groups) granted=\(desired.entitlements.values.filter(\.hasAnyAccess).count) \
    personal-namespaces=\(personalNamespaces) objects=\(desired.objects.count) hub-users=\(desired.hub.users.count)
    build-input      \(String(format: "%.3f", build)) s   (peak RSS after input \(String(format: "%.0f", inputRSS)) MB)
    plan             \(String(format: "%.3f", plan)) s
    diff (empty)     \(String(format: "%.3f", diffEmpty)) s   \(first.changes.count) changes
    plan+diff        \(String(format: "%.3f", plan + diffEmpty)) s   (peak RSS \(String(format: "%.0f", planRSS)) MB)
    diff (no-op)     \(String(format: "%.3f", diffNoop)) s   \(noop.changes.count) changes (converged state peak RSS \(String(format: "%.0f", convergedRSS)) MB)
    plan (1% churn)  \(String(format: "%.3f", planChurn)) s
    diff (1% churn)  \(String(format: "%.3f", diffChurn)) s   \(churn.changes.count) changes, plan hash \(guardTime < 1 ? String(format: "%.3f", guardTime) : "?") s \(hash.prefix(12))
    peak RSS         \(String(format: "%.0f", peakRSSMegabytes())) MB
    """)
