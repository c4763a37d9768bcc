import AccessSyncCore
import Foundation
import Logging
import RBACModel
import Testing

// Control-flow tests of the sync spine with in-memory ports: what the engine does with reads that
// fail, a blocked plan, a lost lock and an audit store that stops accepting rows. The real
// adapters are exercised against real servers in their own modules' tests.

private actor Recorder {
    var applied: [[String]] = []
    var audit: [(phase: AuditEvent.Phase, id: String)] = []
    var finished: [(RunStatus, RunSummary)] = []
    var failAuditAfter: Int?
    var lockChecks = 0
    var loseLockAtCheck: Int?

    func recordApply(_ ids: [String]) { applied.append(ids) }
    func recordAudit(_ events: [AuditEvent]) throws {
        if let limit = failAuditAfter, audit.count + events.count > limit {
            throw TestFailure(message: "audit store unavailable")
        }
        audit += events.map { ($0.phase, $0.change.id) }
    }
    func recordFinish(_ status: RunStatus, _ summary: RunSummary) { finished.append((status, summary)) }
    func setFailAuditAfter(_ n: Int?) { failAuditAfter = n }
    func setLoseLock(_ n: Int?) { loseLockAtCheck = n }
    func check() throws {
        lockChecks += 1
        if let n = loseLockAtCheck, lockChecks >= n { throw TestFailure(message: "lock lost") }
    }
}

private struct TestFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

private struct FixedDirectory: DirectorySource {
    var snapshot: DirectorySnapshot?
    func readDirectory(now: Date) async throws -> DirectorySnapshot {
        guard let snapshot else { throw TestFailure(message: "size limit exceeded (rc 4)") }
        return snapshot
    }
}

private struct FixedPolicy: PolicyProvider {
    var policy: Policy
    func loadPolicy() async throws -> Policy { policy }
}

private struct MemoryCluster: ClusterTarget {
    var observed: ObservedCluster
    let recorder: Recorder
    func observe() async throws -> ObservedCluster { observed }
    func apply(_ changes: [Change], dryRun: Bool) async -> [ChangeOutcome] {
        await recorder.recordApply(changes.map(\.id))
        return changes.map { ChangeOutcome(changeID: $0.id, status: .succeeded) }
    }
}

private struct MemoryStore: RunStore {
    let recorder: Recorder
    struct Lock: WriterLock {
        let recorder: Recorder
        func check() async throws { try await recorder.check() }
        func release() async {}
    }
    func acquireWriterLock() async throws -> any WriterLock { Lock(recorder: recorder) }
    func beginRun(mode: String, actor: String) async throws -> Int64 { 1 }
    func finishRun(id: Int64, status: RunStatus, summary: RunSummary) async throws {
        await recorder.recordFinish(status, summary)
    }
    func lastGoodBaseline() async throws -> RunBaseline? { nil }
    func isApproved(planHash: String) async throws -> Bool { false }
    func markApprovalUsed(planHash: String, runID: Int64) async throws {}
    func appendAudit(_ events: [AuditEvent], runID: Int64, actor: String) async throws {
        try await recorder.recordAudit(events)
    }
    func auditHeadHash() async throws -> String? { "head" }
}

private let now = Date(timeIntervalSince1970: 1_790_000_000)

private func organisation(people count: Int) throws -> (DirectorySnapshot, Policy) {
    var people: [Person] = []
    for index in 0..<count {
        people.append(
            Person(
                id: PersonID(String(format: "00000000-0000-0000-0000-%012d", index)), uid: "user\(index)",
                dn: try DistinguishedName("uid=user\(index),ou=people,dc=example,dc=org")))
    }
    let group = Group(
        name: "jupyter-users", dn: try DistinguishedName("cn=jupyter-users,ou=groups,dc=example,dc=org"),
        memberPeople: Set(people.map(\.id)))
    let source = PolicySource.file(path: "test.yaml", line: 1)
    let policy = Policy(
        tiers: [Tier(name: "standard", rank: 1, quota: ["pods": try Quantity("10")], source: source)],
        roleTemplates: [RoleTemplate(name: "notebook-user", body: .rules([PolicyRule(apiGroups: [""], resources: ["pods"], verbs: ["get", "list"])]), source: source)],
        grants: [Grant(id: "hub", group: "jupyter-users", hubAccess: true, tier: "standard", source: source)],
        defaultTier: "standard", personalRoleTemplate: "notebook-user")
    return (DirectorySnapshot(people: people, groups: [group]), policy)
}

private func engine(directory: DirectorySnapshot?, policy: Policy, observed: ObservedCluster = ObservedCluster(), recorder: Recorder)
    -> SyncEngine
{
    SyncEngine(
        directory: FixedDirectory(snapshot: directory), policy: FixedPolicy(policy: policy),
        cluster: MemoryCluster(observed: observed, recorder: recorder), hub: nil, store: MemoryStore(recorder: recorder),
        settings: PlanSettings(instance: "test"), logger: Logger(label: "test"))
}

@Suite struct SyncEngineTests {
    @Test func failedDirectoryReadWritesNothingAndRecordsFailure() async throws {
        let recorder = Recorder()
        let (_, policy) = try organisation(people: 3)
        await #expect(throws: SyncError.self) {
            _ = try await engine(directory: nil, policy: policy, recorder: recorder)
                .run(SyncOptions(mode: .sync, now: now, actor: "tester"))
        }
        #expect(await recorder.applied.isEmpty)
        #expect(await recorder.audit.isEmpty)
        let finished = await recorder.finished
        #expect(finished.count == 1)
        #expect(finished.first?.0 == .failed)
        #expect(finished.first?.1.error?.contains("size limit") == true)
    }

    @Test func planModeComputesChangesWithoutWriting() async throws {
        let recorder = Recorder()
        let (directory, policy) = try organisation(people: 3)
        let report = try await engine(directory: directory, policy: policy, recorder: recorder)
            .run(SyncOptions(mode: .plan, now: now, actor: "tester"))
        #expect(!report.changes.changes.isEmpty)
        #expect(report.verdict?.planHash.count == 64)
        #expect(await recorder.applied.isEmpty)
        #expect(await recorder.finished.isEmpty)
    }

    @Test func syncAuditsIntentBeforeOutcomeAndAppliesDependenciesFirst() async throws {
        let recorder = Recorder()
        let (directory, policy) = try organisation(people: 2)
        let report = try await engine(directory: directory, policy: policy, recorder: recorder)
            .run(SyncOptions(mode: .sync, now: now, actor: "tester"))
        #expect(report.status == .succeeded)
        let audit = await recorder.audit
        for change in report.changes.changes {
            let intent = audit.firstIndex { $0.phase == .intent && $0.id == change.id }
            let outcome = audit.firstIndex { $0.phase == .outcome && $0.id == change.id }
            #expect(intent != nil && outcome != nil && intent! < outcome!, "\(change.id)")
        }
        // Every change's dependencies were applied in an earlier call.
        let waves = await recorder.applied
        var position: [String: Int] = [:]
        for (index, wave) in waves.enumerated() { for id in wave { position[id] = index } }
        for change in report.changes.changes {
            for dependency in change.dependsOn where position[dependency] != nil {
                #expect(position[dependency]! < position[change.id]!, "\(dependency) before \(change.id)")
            }
        }
    }

    @Test func auditFailureStopsApplying() async throws {
        let recorder = Recorder()
        await recorder.setFailAuditAfter(0)
        let (directory, policy) = try organisation(people: 2)
        await #expect(throws: SyncError.self) {
            _ = try await engine(directory: directory, policy: policy, recorder: recorder)
                .run(SyncOptions(mode: .sync, now: now, actor: "tester"))
        }
        #expect(await recorder.applied.isEmpty)
        #expect(await recorder.finished.first?.0 == .interrupted)
    }

    @Test func lostLockStopsBeforeTheNextWave() async throws {
        let recorder = Recorder()
        await recorder.setLoseLock(2)
        let (directory, policy) = try organisation(people: 2)
        await #expect(throws: SyncError.self) {
            _ = try await engine(directory: directory, policy: policy, recorder: recorder)
                .run(SyncOptions(mode: .sync, now: now, actor: "tester"))
        }
        #expect(await recorder.applied.count == 1)
        #expect(await recorder.finished.first?.0 == .interrupted)
    }

    @Test func scheduleRunsRevocationsFirst() {
        let removal = Change(id: "r", target: .hub(.deleteUser(name: "gone")), removesAccess: true, provenance: [], reason: "leaver")
        let addition = Change(id: "a", target: .hub(.createUser(name: "new", admin: false)), removesAccess: false, provenance: [], reason: "joiner")
        let dependent = Change(id: "d", target: .hub(.setAdmin(name: "new", admin: true)), removesAccess: false, dependsOn: ["a"], provenance: [], reason: "admin")
        let waves = ApplySchedule.waves([addition, dependent, removal])
        #expect(waves.map { $0.map(\.id) } == [["r"], ["a"], ["d"]])
    }
}
