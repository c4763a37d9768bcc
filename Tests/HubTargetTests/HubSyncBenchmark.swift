import Foundation
import HubTarget
import RBACModel
import Testing

/// Sync of 2,000 users and 50 groups into an empty hub, then a no-op pass (Benchmarks/HubSync.md).
///
/// At benchmark scale only with `ACCESSSYNC_HUB_BENCHMARK=1` (Benchmarks/hub-sync.sh sets it and
/// records the figures); otherwise a test-scale run of the same code.
@Suite("Hub sync benchmark")
struct HubSyncBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["ACCESSSYNC_HUB_BENCHMARK"] == "1"

    /// Benchmark scale with ACCESSSYNC_HUB_BENCHMARK=1 (Benchmarks/hub-sync.sh); test scale otherwise
    /// (beyond one page of 200 users, so paging is exercised), checking behaviour only.
    @Test("users and groups into an empty hub, then a no-op pass (2,000 + 50 at benchmark scale)")
    func syncTwoThousandUsers() async throws {
        let userCount =
            Int(ProcessInfo.processInfo.environment["ACCESSSYNC_HUB_BENCHMARK_USERS"] ?? "") ?? (Self.enabled ? 2000 : 250)
        let groupCount =
            Int(ProcessInfo.processInfo.environment["ACCESSSYNC_HUB_BENCHMARK_GROUPS"] ?? "") ?? (Self.enabled ? 50 : 5)
        let desired = Self.desiredState(users: userCount, groups: groupCount)
        try await withSpecialHub(manageGroups: false) { env in
            try await withClient(try env.configuration(requestTimeout: .seconds(120))) { client in
                let registry = InMemoryHubRegistry()
                let target = HubTarget(client: client, registry: registry)
                var report: [String] = []

                // Pass 1: empty hub.
                let first = try await Self.syncPass(target: target, desired: desired)
                report.append(first.line(label: "initial sync (\(userCount) users, \(groupCount) groups)"))
                #expect(first.failed == 0, "\(first.failures)")
                #expect(first.changes > 0)

                // Pass 2: nothing to do.
                let second = try await Self.syncPass(target: target, desired: desired)
                report.append(second.line(label: "no-op sync"))
                #expect(second.changes == 0)
                #expect(second.requests.requestsByMethod.keys.allSatisfy { $0 == "GET" || $0 == "POST" })
                #expect((second.requests.requestsByMethod["POST"] ?? 0) <= 1, "only the managed-groups probe")

                let observed = try await target.observe()
                #expect(observed.users.count == userCount)
                #expect(observed.groups.count == groupCount)
                for line in report { print("BENCHMARK hub: \(line)") }
                if let path = ProcessInfo.processInfo.environment["ACCESSSYNC_HUB_BENCHMARK_OUT"] {
                    try (report.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
                }
            }
        }
    }

    struct PassResult {
        var observeTime: Duration
        var applyTime: Duration
        var changes: Int
        var failed: Int
        var failures: [String]
        var requests: HubRequestStatistics.Snapshot

        func line(label: String) -> String {
            let methods = requests.requestsByMethod.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                .joined(separator: ", ")
            return "\(label): \(changes) changes, \(requests.requests) requests (\(methods)); "
                + "observe \(HubSyncBenchmark.seconds(observeTime)), apply \(HubSyncBenchmark.seconds(applyTime)), total \(HubSyncBenchmark.seconds(observeTime + applyTime))"
        }
    }

    static func seconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        return String(format: "%.2f s", Double(s) + Double(atto) / 1e18)
    }

    /// observe → diff → apply, as `accesssync sync` does for the hub.
    static func syncPass(target: HubTarget, desired: HubDesiredState) async throws -> PassResult {
        let before = target.client.statistics.snapshot
        let t0 = ContinuousClock.now
        let observed = try await target.observe()
        let t1 = ContinuousClock.now
        let changes = hubChanges(desired: desired, observed: observed)
        let outcomes = try await target.apply(changes, dryRun: false)
        let t2 = ContinuousClock.now
        let failures = outcomes.filter { $0.status != .succeeded }
        return PassResult(
            observeTime: t1 - t0, applyTime: t2 - t1, changes: changes.count, failed: failures.count,
            failures: failures.prefix(5).map { "\($0.changeID): \($0.message)" },
            requests: target.client.statistics.snapshot.since(before))
    }

    /// A synthetic organisation: users in 1–3 groups each, every 20th user an admin.
    static func desiredState(users: Int, groups: Int) -> HubDesiredState {
        let names = (0..<users).map { String(format: "bench-u%05d", $0) }
        let hubUsers = names.enumerated().map { index, name in
            HubUserDesired(name: name, admin: index % 20 == 0, person: personID(100_000 + index), provenance: [])
        }
        var members: [Int: Set<String>] = [:]
        for (index, name) in names.enumerated() {
            for k in 0..<(1 + index % 3) { members[(index * 7 + k * 13) % groups, default: []].insert(name) }
        }
        let hubGroups = (0..<groups).map {
            HubGroupDesired(name: String(format: "bench-g%02d", $0), members: members[$0] ?? [], provenance: [])
        }
        return HubDesiredState(users: hubUsers, groups: hubGroups)
    }

    /// The hub part of a diff (the real one is RBACModel's differ): creates, admin flags, groups.
    static func hubChanges(desired: HubDesiredState, observed: HubObservedState) -> [Change] {
        var changes: [Change] = []
        func change(_ action: HubAction, person: PersonID?, dependsOn: [String] = []) -> Change {
            Change(
                id: "hub/\(action.verb)/\(action.objectName)", target: .hub(action), removesAccess: false,
                dependsOn: dependsOn, provenance: [Provenance(person: person, rule: .grant("bench"))], reason: "benchmark")
        }
        var createdUsers: [String: String] = [:]
        for user in desired.users.values.sorted(by: { $0.name < $1.name }) {
            if let existing = observed.users[user.name] {
                if existing.admin != user.admin, observed.managedUsers[user.name] != nil {
                    changes.append(change(.setAdmin(name: user.name, admin: user.admin), person: user.person))
                }
            } else {
                let c = change(.createUser(name: user.name, admin: user.admin), person: user.person)
                createdUsers[user.name] = c.id
                changes.append(c)
            }
        }
        for group in desired.groups.values.sorted(by: { $0.name < $1.name }) {
            var dependsOn: [String] = []
            if observed.groups[group.name] == nil {
                let c = change(.createGroup(name: group.name), person: nil)
                dependsOn.append(c.id)
                changes.append(c)
            }
            let current = observed.groups[group.name] ?? []
            let toAdd = group.members.subtracting(current).sorted()
            let toRemove = current.subtracting(group.members).sorted()
            if !toAdd.isEmpty {
                changes.append(
                    change(
                        .addGroupMembers(group: group.name, users: toAdd), person: nil,
                        dependsOn: dependsOn + toAdd.compactMap { createdUsers[$0] }))
            }
            if !toRemove.isEmpty {
                changes.append(change(.removeGroupMembers(group: group.name, users: toRemove), person: nil))
            }
        }
        return changes
    }
}
