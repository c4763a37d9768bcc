import Foundation
import RBACModel
import Testing

/// Properties over seeded random directories of several sizes.
@Suite struct PropertyTests {
    static let cases: [(seed: UInt64, people: Int, groups: Int)] = [
        (1, 20, 5), (2, 60, 12), (3, 150, 25), (4, 400, 40), (5, 1000, 80),
    ]
    let now = Fixture.now
    let settings = Fixture.settings

    func plan(_ seed: UInt64, _ people: Int, _ groups: Int, variant: Int = 0) -> (DirectorySnapshot, DesiredState) {
        var generator = DirectoryGenerator(seed: seed, people: people, groups: groups)
        let directory = generator.snapshot()
        let policy = DirectoryGenerator.policy(groups: groups, people: people, now: now, variant: variant)
        return (directory, Planner.plan(directory: directory, policy: policy, settings: settings, now: now))
    }

    @Test(arguments: cases.map(\.seed))
    func planningIsDeterministic(seed: UInt64) throws {
        let spec = try #require(Self.cases.first { $0.seed == seed })
        let (_, first) = plan(spec.seed, spec.people, spec.groups)
        let (_, second) = plan(spec.seed, spec.people, spec.groups)
        #expect(first == second)
        let diffA = Differ.diff(desired: first, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        let diffB = Differ.diff(desired: second, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        #expect(diffA == diffB)
        #expect(Guard.planHash(diffA) == Guard.planHash(diffB))
    }

    @Test(arguments: cases.map(\.seed))
    func applyingTheDiffConverges(seed: UInt64) throws {
        let spec = try #require(Self.cases.first { $0.seed == seed })
        let (_, first) = plan(spec.seed, spec.people, spec.groups, variant: 0)
        var set = Differ.diff(desired: first, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now)
        var (cluster, hub) = ChangeSimulator.apply(set.changes, to: ObservedCluster(), hub: HubObservedState())
        var again = Differ.diff(desired: first, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(again.changes.isEmpty, "\(again.changes.prefix(5).map(\.id))")

        // A different policy over the same directory: changes both ways, then converges again.
        let (_, second) = plan(spec.seed, spec.people, spec.groups, variant: 2)
        set = Differ.diff(desired: second, observed: cluster, hub: hub, settings: settings, now: now)
        checkOrdering(set)
        (cluster, hub) = ChangeSimulator.apply(set.changes, to: cluster, hub: hub)
        again = Differ.diff(desired: second, observed: cluster, hub: hub, settings: settings, now: now)
        #expect(again.changes.isEmpty, "\(again.changes.prefix(5).map(\.id))")
        // And back (returning people un-retire).
        set = Differ.diff(desired: first, observed: cluster, hub: hub, settings: settings, now: now.addingTimeInterval(60))
        checkOrdering(set)
        (cluster, hub) = ChangeSimulator.apply(set.changes, to: cluster, hub: hub)
        again = Differ.diff(desired: first, observed: cluster, hub: hub, settings: settings, now: now.addingTimeInterval(120))
        #expect(again.changes.isEmpty, "\(again.changes.prefix(5).map(\.id))")
    }

    func checkOrdering(_ set: ChangeSet) {
        var position: [String: Int] = [:]
        for (index, change) in set.changes.enumerated() {
            #expect(position[change.id] == nil, "duplicate id \(change.id)")
            position[change.id] = index
        }
        // Revocations before everything else.
        if let firstAddition = set.changes.firstIndex(where: { !$0.removesAccess }) {
            let late = set.changes[firstAddition...].filter { $0.removesAccess }.map(\.id)
            #expect(late.isEmpty, "revocations after an addition: \(late.prefix(5))")
        }
        // Dependencies exist and precede their dependants.
        for (index, change) in set.changes.enumerated() {
            for dependency in change.dependsOn {
                guard let before = position[dependency] else {
                    Issue.record("\(change.id) depends on \(dependency), which is not in the change set")
                    continue
                }
                #expect(before < index, "\(dependency) must precede \(change.id)")
            }
        }
        // Namespace creations precede anything created inside them.
        for (index, change) in set.changes.enumerated() {
            guard case .kube(.create(let object)) = change.target, let namespace = object.ref.namespace else { continue }
            if let nsIndex = position["kube/create/Namespace/\(namespace)"] { #expect(nsIndex < index) }
        }
    }

    @Test(arguments: cases.map(\.seed))
    func dependenciesAndRevocationOrder(seed: UInt64) throws {
        let spec = try #require(Self.cases.first { $0.seed == seed })
        let (_, desired) = plan(spec.seed, spec.people, spec.groups)
        checkOrdering(Differ.diff(desired: desired, observed: ObservedCluster(), hub: HubObservedState(), settings: settings, now: now))
    }

    @Test(arguments: cases.map(\.seed))
    func everySubjectIsJustifiedByProvenance(seed: UInt64) throws {
        let spec = try #require(Self.cases.first { $0.seed == seed })
        let (directory, desired) = plan(spec.seed, spec.people, spec.groups)
        var subjects = 0
        for object in desired.objects.values {
            #expect(!object.provenance.isEmpty, "\(object.ref) has no provenance")
            guard case .roleBinding(_, let bindingSubjects) = object.spec else { continue }
            for subject in bindingSubjects {
                subjects += 1
                switch subject.kind {
                case .serviceAccount:
                    #expect(object.provenance.contains { if case .system = $0.rule { true } else { false } })
                case .group:
                    #expect(object.provenance.contains { $0.person == nil && !$0.groupPath.isEmpty })
                case .user:
                    let person = try #require(desired.subjectOwners[subject.name])
                    let justified = object.provenance.filter { $0.person == person }
                    #expect(!justified.isEmpty, "\(subject.name) in \(object.ref) without provenance")
                    // Each group path really leads from the granted group down to the person.
                    for item in justified where !item.groupPath.isEmpty {
                        let last = try #require(directory.groups.values.first { $0.name == item.groupPath.last })
                        #expect(last.memberPeople.contains(person))
                    }
                }
            }
        }
        #expect(subjects > 0)
        for user in desired.hub.users.values { #expect(!user.provenance.isEmpty && user.provenance.allSatisfy { $0.person == user.person }) }
    }

    @Test(arguments: cases.map(\.seed))
    func nothingForDisabledPeople(seed: UInt64) throws {
        let spec = try #require(Self.cases.first { $0.seed == seed })
        let (directory, desired) = plan(spec.seed, spec.people, spec.groups)
        let disabled = Set(directory.people.values.filter(\.disabled).map(\.id))
        #expect(!disabled.isEmpty)
        let disabledSubjects = Set(desired.subjectOwners.filter { disabled.contains($0.value) }.keys)
        for object in desired.objects.values {
            if let owner = object.owner { #expect(!disabled.contains(owner)) }
            if case .roleBinding(_, let subjects) = object.spec {
                #expect(subjects.allSatisfy { !($0.kind == .user && disabledSubjects.contains($0.name)) })
            }
        }
        #expect(desired.hub.users.values.allSatisfy { !disabled.contains($0.person) })
        for id in disabled { #expect(desired.entitlements[id].map { !$0.hasAnyAccess } ?? true) }
    }

    @Test func namesNeverDependOnOthers() throws {
        // Removing everyone else from the directory does not change a person's names.
        var generator = DirectoryGenerator(seed: 11, people: 200, groups: 10)
        let directory = generator.snapshot()
        let computer = try NameComputer(settings.naming)
        for person in directory.people.values {
            guard let all = try? computer.names(for: person) else { continue }
            let alone = DirectorySnapshot(people: [person], groups: [Fixture.group("solo", people: [person])])
            let state = Planner.plan(
                directory: alone, policy: Fixture.policy(grants: [Fixture.hubGrant("solo")]), settings: settings, now: now)
            if let entitlement = state.entitlements[person.id], entitlement.hubAccess {
                #expect(entitlement.namespace == all.namespace && entitlement.hubUsername == all.hubUsername)
            }
        }
    }
}
