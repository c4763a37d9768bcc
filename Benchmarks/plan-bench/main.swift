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
// PLAN_BENCH_INPUT_ONLY=1: stop after building the input (to subtract its cost from counters).
if ProcessInfo.processInfo.environment["PLAN_BENCH_INPUT_ONLY"] == "1" { exit(0) }
var desired: DesiredState!
let plan = seconds { desired = organisation.plan() }
var first: ChangeSet!
let diffEmpty = seconds {
    first = Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: organisation.settings, now: organisation.now)
}
let planRSS = peakRSSMegabytes()
// PLAN_BENCH_FIRST_ONLY=1: stop after plan + diff (for profiling the target phases alone).
if ProcessInfo.processInfo.environment["PLAN_BENCH_FIRST_ONLY"] == "1" {
    print("plan \(String(format: "%.3f", plan)) s, diff (empty) \(String(format: "%.3f", diffEmpty)) s, \(first.changes.count) changes, peak RSS \(String(format: "%.0f", planRSS)) MB")
    exit(0)
}
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

// PLAN_BENCH_DIGEST=1: a digest of everything plan and diff produced (every desired object, the
// hub state, entitlements, diagnostics, and every change of the three diffs with its reason,
// provenance and dependencies), so that an optimisation can show its output is byte-identical.
if ProcessInfo.processInfo.environment["PLAN_BENCH_DIGEST"] == "1" {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    func feed(_ text: String) {
        for byte in text.utf8 {
            digest ^= UInt64(byte)
            digest = digest &* 0x100_0000_01b3
        }
        digest ^= 0x0a
        digest = digest &* 0x100_0000_01b3
    }
    func json<T: Encodable>(_ value: T) -> String { String(decoding: try! encoder.encode(value), as: UTF8.self) }
    func feed(_ state: DesiredState) {
        for ref in state.objects.keys.sorted() { feed(json(state.objects[ref]!)) }
        for name in state.hub.users.keys.sorted() { feed(json(state.hub.users[name]!)) }
        for name in state.hub.groups.keys.sorted() {
            let group = state.hub.groups[name]!
            feed(name + " " + group.members.sorted().joined(separator: ",") + " " + json(group.provenance))
        }
        for id in state.entitlements.keys.sorted() {
            let e = state.entitlements[id]!
            feed([e.person.rawValue, e.uid, e.hubUsername, e.subject, e.namespace ?? "-", "\(e.hubAccess)", "\(e.hubAdmin)",
                  e.tier ?? "-", e.projects.keys.sorted().map { "\($0)=\(e.projects[$0]!.sorted())" }.joined(separator: ";"),
                  e.hubGroups.sorted().joined(separator: ","),
                  e.provenance.keys.sorted().map { "\($0)=\(json(e.provenance[$0]!))" }.joined(separator: ";"),
                  e.withheld.joined(separator: ";")].joined(separator: "|"))
        }
        feed(json(state.diagnostics))
        for subject in state.subjectOwners.keys.sorted() { feed(subject + "=" + state.subjectOwners[subject]!.rawValue) }
    }
    func feed(_ set: ChangeSet) {
        for change in set.changes {
            feed([change.id, json(change.target), "\(change.removesAccess)",
                  change.peopleLosingAccess.map(\.rawValue).sorted().joined(separator: ","),
                  change.dependsOn.joined(separator: ","), json(change.provenance), change.reason,
                  change.person?.rawValue ?? "-"].joined(separator: "|"))
        }
        feed(json(set.conflicts))
    }
    feed(desired)
    feed(first)
    feed(noop)
    feed(churnDesired)
    feed(churn)
    print("digest           " + String(digest, radix: 16))
}
