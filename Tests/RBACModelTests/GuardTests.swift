import Foundation
import RBACModel
import Testing

@Suite struct GuardTests {
    let settings = Fixture.settings
    let now = Fixture.now

    /// `count` people with hub access through one group; returns the plan and its converged state.
    func converged(count: Int, granted: Int? = nil) -> (DirectorySnapshot, DesiredState, ObservedCluster, HubObservedState) {
        let people = (0..<count).map { Fixture.person(String(format: "p%04d", $0)) }
        let directory = DirectorySnapshot(people: people, groups: [Fixture.group("jupyter", people: Array(people.prefix(granted ?? count)))])
        let desired = Planner.plan(directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("jupyter")]), settings: settings, now: now)
        let set = Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        let (cluster, hub) = ChangeSimulator.apply(set.changes, to: ObservedCluster(), hub: HubObservedState())
        return (directory, desired, cluster, hub!)
    }

    func evaluate(
        _ set: ChangeSet, _ desired: DesiredState, _ directory: DirectorySnapshot, _ cluster: ObservedCluster, _ hub: HubObservedState,
        baseline: RunBaseline? = nil, thresholds: GuardThresholds = GuardThresholds(), approved: Set<String> = [],
        allowedDeletions: Int? = nil
    ) -> GuardVerdict {
        Guard.evaluate(
            changes: set, desired: desired, observedOwnedCounts: Guard.ownedCounts(observed: cluster, hub: hub), baseline: baseline,
            currentBaseline: Guard.baseline(directory: directory, desired: desired), thresholds: thresholds,
            protectedNamespaces: settings.protectedNamespaces, approvedPlanHashes: approved, allowedDeletions: allowedDeletions)
    }

    @Test func fewLeaversPass() {
        let (_, _, cluster, hub) = converged(count: 100)
        let (directory, desired, _, _) = converged(count: 100, granted: 98)
        let set = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        let verdict = evaluate(set, desired, directory, cluster, hub)
        #expect(verdict.peopleLosingAccess.count == 2)
        #expect(verdict.deletionsByKind == ["HubUser": 2, "RoleBinding": 2])
        #expect(!verdict.blocked, "\(verdict.findings)")
    }

    @Test func manyLeaversBlockUntilThisExactPlanIsApproved() throws {
        let (_, _, cluster, hub) = converged(count: 100)
        let (directory, desired, _, _) = converged(count: 100, granted: 60)
        let set = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        let verdict = evaluate(set, desired, directory, cluster, hub)
        #expect(verdict.blocked)
        let finding = try #require(verdict.findings.first { $0.code == "people-losing-access" })
        #expect(finding.blocking && finding.message.hasPrefix("40 people lose access (40% of 100"))
        #expect(verdict.findings.contains { $0.code == "deletions" && $0.blocking })
        // Approving exactly this plan unblocks it; the hash is stable across runs (a later "now").
        let later = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now.addingTimeInterval(600))
        #expect(Guard.planHash(later) == verdict.planHash)
        #expect(!evaluate(later, desired, directory, cluster, hub, approved: [verdict.planHash]).blocked)
        #expect(verdict.planHash.count == 64 && verdict.planHash.allSatisfy(\.isHexDigit))
        // A different plan is not covered by the approval.
        let (_, other, _, _) = converged(count: 100, granted: 59)
        let otherSet = Differ.diff(desired: other, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(Guard.planHash(otherSet) != verdict.planHash)
        #expect(evaluate(otherSet, other, directory, cluster, hub, approved: [verdict.planHash]).blocked)
        // --allow-deletes N covers counts up to N.
        #expect(!evaluate(set, desired, directory, cluster, hub, allowedDeletions: 40).blocked)
        #expect(evaluate(set, desired, directory, cluster, hub, allowedDeletions: 39).blocked)
    }

    @Test func percentLimitsApplyToSmallSitesFromAMinimum() {
        let (_, _, cluster, hub) = converged(count: 10)
        let (directory, desired, _, _) = converged(count: 10, granted: 9)
        let oneLeaver = Differ.diff(desired: desired, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(!evaluate(oneLeaver, desired, directory, cluster, hub).blocked)  // 10% of 10, but only one
        let (_, fewer, _, _) = converged(count: 10, granted: 4)
        let sixLeavers = Differ.diff(desired: fewer, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(evaluate(sixLeavers, fewer, directory, cluster, hub).blocked)
    }

    @Test func directoryShrinkBlocks() {
        let (directory, desired, cluster, hub) = converged(count: 50)
        let lastGood = RunBaseline(people: 80, groups: 1, memberships: 50, peopleWithAccess: 50)
        let verdict = evaluate(ChangeSet(), desired, directory, cluster, hub, baseline: lastGood)
        #expect(verdict.blocked)
        #expect(verdict.findings.contains { $0.code == "directory-shrink" && $0.message.contains("50 people, 37.5% fewer") })
        let steady = RunBaseline(people: 52, groups: 1, memberships: 50, peopleWithAccess: 50)
        #expect(!evaluate(ChangeSet(), desired, directory, cluster, hub, baseline: steady).blocked)
    }

    @Test func smallShrinkBelowTheAbsoluteFloorDoesNotBlock() {
        // 4 of 54 people gone is 7.4% > 5%, but fewer than `percentAppliesFrom` (5): one team's leavers.
        let (directory, desired, cluster, hub) = converged(count: 50)
        let lastGood = RunBaseline(people: 54, groups: 1, memberships: 50, peopleWithAccess: 50)
        var thresholds = GuardThresholds()
        thresholds.maxDirectoryShrinkPercent = 5
        let verdict = Guard.evaluate(
            changes: ChangeSet(), desired: desired, observedOwnedCounts: Guard.ownedCounts(observed: cluster, hub: hub),
            baseline: lastGood, currentBaseline: Guard.baseline(directory: directory, desired: desired),
            thresholds: thresholds, protectedNamespaces: [], approvedPlanHashes: [], allowedDeletions: nil)
        #expect(!verdict.findings.contains { $0.code == "directory-shrink" })
        let bigger = RunBaseline(people: 56, groups: 1, memberships: 50, peopleWithAccess: 50)
        let blocked = Guard.evaluate(
            changes: ChangeSet(), desired: desired, observedOwnedCounts: Guard.ownedCounts(observed: cluster, hub: hub),
            baseline: bigger, currentBaseline: Guard.baseline(directory: directory, desired: desired),
            thresholds: thresholds, protectedNamespaces: [], approvedPlanHashes: [], allowedDeletions: nil)
        #expect(blocked.findings.contains { $0.code == "directory-shrink" })
    }

    @Test func grantNamingMissingGroupBlocks() {
        let directory = DirectorySnapshot(people: [Fixture.person("a")], groups: [])
        let desired = Planner.plan(directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("ghost")]), settings: settings, now: now)
        let verdict = evaluate(ChangeSet(), desired, directory, ObservedCluster(), HubObservedState())
        #expect(verdict.blocked)
        #expect(verdict.findings.contains { $0.code == "grant-missing-group" && $0.message.contains("ghost") })
    }

    @Test func newPrivilegedSubjectsHaveTheirOwnThreshold() {
        let people = (0..<5).map { Fixture.person("adm\($0)") }
        let directory = DirectorySnapshot(people: people, groups: [Fixture.group("owners", people: people)])
        let desired = Planner.plan(
            directory: directory,
            policy: Fixture.policy(grants: [Fixture.projectGrant("owners", namespace: "proj", templates: ["project-admin", "editor"])]),
            settings: settings, now: now)
        let set = Differ.diff(desired: desired, observed: ObservedCluster(), hub: nil, settings: settings, now: now)
        let verdict = evaluate(set, desired, directory, ObservedCluster(), HubObservedState())
        #expect(verdict.findings.contains { $0.code == "new-privileged-bindings" && $0.blocking && $0.message.hasPrefix("5 new subject(s)") })
        var relaxed = GuardThresholds()
        relaxed.maxNewPrivilegedBindings = 5
        #expect(!evaluate(set, desired, directory, ObservedCluster(), HubObservedState(), thresholds: relaxed).blocked)
    }

    @Test func changesInProtectedNamespacesBlock() {
        let object = DesiredObject(
            ref: ObjectRef(kind: .role, namespace: "kube-system", name: "x"), labels: [:], annotations: [:], spec: .role(rules: []),
            provenance: [Provenance(rule: .system("test"))])
        let set = ChangeSet(changes: [
            Change(id: "kube/create/Role/kube-system/x", target: .kube(.create(object)), removesAccess: false, provenance: [], reason: "test")
        ])
        let verdict = evaluate(set, DesiredState(), DirectorySnapshot(), ObservedCluster(), HubObservedState())
        #expect(verdict.blocked)
        #expect(verdict.findings.contains { $0.code == "protected-namespace" })
    }

    @Test func baselineCounts() {
        let a = Fixture.person("a")
        let b = Fixture.person("b")
        let directory = DirectorySnapshot(people: [a, b], groups: [Fixture.group("g", people: [a, b], groups: ["h"]), Fixture.group("h", people: [a])])
        let desired = Planner.plan(directory: directory, policy: Fixture.policy(grants: [Fixture.hubGrant("h")]), settings: settings, now: now)
        #expect(Guard.baseline(directory: directory, desired: desired) == RunBaseline(people: 2, groups: 2, memberships: 4, peopleWithAccess: 1))
    }
}
