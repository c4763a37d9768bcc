import Foundation
import RBACModel

/// Seeded random directories and policies for property tests.
struct DirectoryGenerator {
    var generator: SeededGenerator
    let peopleCount: Int
    let groupCount: Int

    init(seed: UInt64, people: Int, groups: Int) {
        generator = SeededGenerator(seed: seed)
        peopleCount = people
        groupCount = groups
    }

    static let awkward = ["Ann", "ann.lee", "o_brien", "José", "ΟΔΥΣΣΕΥΣ", "x--y", "9lives", String(repeating: "long", count: 15)]

    static func groupName(_ index: Int) -> String { "g\(index)" }

    mutating func snapshot() -> DirectorySnapshot {
        var people: [Person] = []
        for index in 0..<peopleCount {
            let uid: String
            if Int.random(in: 0..<20, using: &generator) == 0 {
                uid = Self.awkward.randomElement(using: &generator)! + "\(index)"
            } else {
                uid = "user\(index)"
            }
            people.append(
                Person(
                    id: PersonID(String(format: "%08x-0000-4000-8000-%012x", index, index)), uid: uid,
                    dn: try! DistinguishedName("uid=\(uid.replacingOccurrences(of: ",", with: "")),ou=people,dc=example,dc=org"),
                    disabled: Int.random(in: 0..<15, using: &generator) == 0))
        }
        var groups: [Group] = []
        for index in 0..<groupCount {
            let size = Int.random(in: 0...max(1, peopleCount / 4), using: &generator)
            var members = Set<PersonID>()
            for _ in 0..<size { members.insert(people.randomElement(using: &generator)!.id) }
            var nested = Set<DistinguishedName>()
            // Mostly a DAG (children have higher indexes), sometimes a back edge (a cycle).
            if index + 1 < groupCount, Bool.random(using: &generator) {
                nested.insert(Fixture.groupDN(Self.groupName(Int.random(in: (index + 1)..<groupCount, using: &generator))))
            }
            if index > 0, Int.random(in: 0..<10, using: &generator) == 0 {
                nested.insert(Fixture.groupDN(Self.groupName(Int.random(in: 0..<index, using: &generator))))
            }
            groups.append(Group(name: Self.groupName(index), dn: Fixture.groupDN(Self.groupName(index)), memberPeople: members, memberGroups: nested))
        }
        return DirectorySnapshot(people: people, groups: groups)
    }

    /// Grants over the first groups: hub access (with tiers, admins, hub groups), projects, one
    /// expired grant; overrides for a few people.
    static func policy(groups: Int, people: Int = 0, now: Date = Fixture.now, variant: Int = 0) -> Policy {
        var grants: [Grant] = []
        for index in 0..<groups where index % 3 != 2 {
            let name = groupName(index)
            switch (index + variant) % 5 {
            case 0: grants.append(Fixture.hubGrant(name, tier: "small", hubGroup: true))
            case 1: grants.append(Fixture.projectGrant(name, namespace: "proj-\(index)", templates: ["editor", "viewer"], tier: "small"))
            case 2: grants.append(Fixture.hubGrant(name, tier: "large", admin: index % 4 == 0))
            case 3: grants.append(Fixture.projectGrant(name, namespace: "proj-\((index / 2) * 2)", templates: ["viewer"]))
            default: grants.append(Fixture.hubGrant(name, id: "\(name)/old", expires: now.addingTimeInterval(-60)))
            }
        }
        var overrides: [Override] = []
        for index in stride(from: variant % 7, to: people, by: 37) {
            let id = PersonID(String(format: "%08x-0000-4000-8000-%012x", index, index))
            switch index % 4 {
            case 0: overrides.append(Override(id: "o\(index)", person: .id(id), suspended: true, source: Fixture.source))
            case 1: overrides.append(Override(id: "o\(index)", person: .id(id), tier: "large", hubAccess: true, source: Fixture.source))
            case 2: overrides.append(Override(id: "o\(index)", person: .id(id), hubAdmin: true, expires: now.addingTimeInterval(3600), source: Fixture.source))
            default: overrides.append(Override(id: "o\(index)", person: .id(id), project: ProjectGrant(namespace: "solo-\(index)", roleTemplates: ["editor"]), source: Fixture.source))
            }
        }
        return Fixture.policy(grants: grants, overrides: overrides)
    }
}
