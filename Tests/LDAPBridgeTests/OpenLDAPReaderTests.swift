import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

@Suite("OpenLDAP: reading people and groups")
struct OpenLDAPReaderTests {
    /// rfc2307bis / groupOfNames: nesting, a cycle, member DNs differing in case, spacing and
    /// escaping, a dangling member, an out-of-scope member, awkward values.
    @Test func groupOfNamesWithNestingCyclesAndAwkwardDNs() async throws {
        try await Fixture.with("bis") { fx in
            let alice = try await fx.addPerson(
                "alice", cn: ["Alice Smith", "Alice S."],
                extra: [("mail", ["alice@example.org", "a.smith@example.org"]), ("displayName", ["Alice Ångström"])])
            let doe = try await fx.addPerson("jdoe", rdn: "cn=Doe\\, John", cn: ["Doe, John"])
            let spacey = try await fx.addPerson(
                "spacey", cn: [" Leading Space", "Trailing Space "], extra: [("displayName", [" Both Ends "])])
            let plain = try await fx.addPerson("plain", posix: false)  // no uidNumber/gidNumber/mail/displayName
            let zoe = try await fx.addPerson("zangstrom", rdn: "cn=Zoë Ångström", cn: ["Zoë Ångström"])
            try await fx.admin.add(
                dn: "ou=partners,\(fx.base)", attributes: [("objectClass", [b("organizationalUnit")]), ("ou", [b("partners")])])
            let outside = try await fx.addPerson("partner", parent: "ou=partners,\(fx.base)")

            let upperAlice = alice.uppercased()
            let spacedDoe = doe.replacingOccurrences(of: ",", with: ", ").replacingOccurrences(of: "\\, ", with: "\\,")
            let hexDoe = doe.replacingOccurrences(of: "\\,", with: "\\2C")
            let child = try await fx.addGroupOfNames("child", members: [upperAlice, hexDoe])
            let parent = try await fx.addGroupOfNames("parent", members: [child.uppercased(), spacey])
            let cycleA = "cn=cycle-a,\(fx.groups)"
            let cycleB = "cn=cycle-b,\(fx.groups)"
            try await fx.addGroupOfNames("cycle-a", members: [cycleB, plain])
            try await fx.addGroupOfNames("cycle-b", members: [cycleA, zoe])
            let ghost = "uid=ghost,\(fx.people)"
            let odd = try await fx.addGroupOfNames("odd", members: [ghost, outside, spacedDoe])

            let read = try await DirectoryReader.readWithReport(config: try fx.config(), now: Date(), logger: TestEnv.logger)
            let snapshot = read.snapshot
            #expect(snapshot.people.count == 5)  // the partner is outside ou=people
            #expect(snapshot.groups.count == 5)

            let aliceID = PersonID(try await fx.entryUUID(alice))
            let doeID = PersonID(try await fx.entryUUID(doe))
            let spaceyID = PersonID(try await fx.entryUUID(spacey))
            let alicePerson = try #require(snapshot.people[aliceID])
            #expect(alicePerson.uid == "alice")
            #expect(alicePerson.displayName == "Alice Ångström")
            #expect(["alice@example.org", "a.smith@example.org"].contains(alicePerson.mail ?? ""))
            #expect(alicePerson.uidNumber != nil && alicePerson.gidNumber == 100)
            #expect(!alicePerson.disabled)
            let plainPerson = try #require(snapshot.people.values.first { $0.uid == "plain" })
            #expect(plainPerson.uidNumber == nil && plainPerson.mail == nil)
            #expect(plainPerson.displayName == "plain person")  // falls back to cn
            #expect(snapshot.people[spaceyID]?.displayName == " Both Ends ")
            #expect(snapshot.people.values.contains { $0.dn == (try? DistinguishedName(zoe)) && $0.uid == "zangstrom" })

            let childGroup = try #require(snapshot.groups[try DistinguishedName(child)])
            #expect(childGroup.name == "child")
            #expect(childGroup.memberPeople == [aliceID, doeID])
            #expect(childGroup.unresolvedMembers.isEmpty)
            let parentGroup = try #require(snapshot.groups[try DistinguishedName(parent)])
            #expect(parentGroup.memberGroups == [try DistinguishedName(child)])
            #expect(parentGroup.memberPeople == [spaceyID])

            let oddGroup = try #require(snapshot.groups[try DistinguishedName(odd)])
            #expect(oddGroup.memberPeople == [doeID])
            #expect(Set(oddGroup.unresolvedMembers) == [ghost, outside])
            #expect(read.report.unresolvedMembers == 2)

            let expansion = MembershipExpansion.expand(snapshot)
            #expect(expansion.people[try DistinguishedName(parent)] == [aliceID, doeID, spaceyID])
            #expect(expansion.cycles.count == 1)
            #expect(Set(expansion.cycles.first ?? []) == [try DistinguishedName(cycleA), try DistinguishedName(cycleB)])

            // Strict: the same directory fails the read.
            var strict = try fx.config()
            strict.unresolvedMembers = .fail
            let error = await expectLDAPError(.unresolvedMember) {
                try await DirectoryReader.read(config: strict, now: Date(), logger: TestEnv.logger)
            }
            #expect(error?.description.contains("2 group member(s)") == true)
        }
    }

    /// RFC 2307 posixGroup / memberUid, including uids differing only by case.
    @Test func posixGroupsResolveMemberUids() async throws {
        try await Fixture.with("posix") { fx in
            let casey = try await fx.addPerson("casey")
            let upper = try await fx.addPerson("Casey", rdn: "cn=Casey Upper")
            let kwalsh = try await fx.addPerson("KWALSH")
            let team = try await fx.addPosixGroup("team", gid: 5000, memberUids: ["casey", "Casey", "kwalsh", "ghost"])
            let empty = try await fx.addPosixGroup("empty", gid: 5001, memberUids: [])
            let snapshot = try await DirectoryReader.read(
                config: try fx.config(schema: .rfc2307), now: Date(), logger: TestEnv.logger)
            let group = try #require(snapshot.groups[try DistinguishedName(team)])
            #expect(
                group.memberPeople == [
                    PersonID(try await fx.entryUUID(casey)), PersonID(try await fx.entryUUID(upper)),
                    PersonID(try await fx.entryUUID(kwalsh)),
                ])
            #expect(group.unresolvedMembers == ["ghost"])
            #expect(group.memberGroups.isEmpty)
            #expect(snapshot.groups[try DistinguishedName(empty)]?.memberPeople.isEmpty == true)
        }
    }

    @Test func disabledConditionsIncludingAServerEvaluatedFilter() async throws {
        try await Fixture.with("disabled") { fx in
            let locked = try await fx.addPerson("locked")
            try await fx.admin.modify(dn: locked, [LDAPModification(.replace, "pwdAccountLockedTime", strings: ["000001010000Z"])])
            let expired = try await fx.addPerson("expired", extra: [("shadowExpire", ["20000"])])
            let future = try await fx.addPerson("future", extra: [("shadowExpire", ["99999"])])
            let leaver = try await fx.addPerson("leaver", extra: [("description", ["left the company"])])
            let active = try await fx.addPerson("active")
            try await fx.addGroupOfNames("all", members: [locked, expired, future, leaver, active])

            var config = try fx.config()
            config.disabled = DisabledTest(
                DisabledTest.openLDAPDefault.conditions + [.filter("(description=left the company)")])
            let day: Double = 86_400
            func disabledUIDs(at now: Date) async throws -> Set<String> {
                let snapshot = try await DirectoryReader.read(config: config, now: now, logger: TestEnv.logger)
                return Set(snapshot.people.values.filter(\.disabled).map(\.uid))
            }
            #expect(try await disabledUIDs(at: Date(timeIntervalSince1970: 20_000 * day + 10)) == ["locked", "expired", "leaver"])
            #expect(try await disabledUIDs(at: Date(timeIntervalSince1970: 19_999 * day)) == ["locked", "leaver"])
        }
    }

    /// 1,200 people read with a page size of 100: every page arrives, nothing is lost.
    @Test func manyPages() async throws {
        try await Fixture.with("pages") { fx in
            var dns: [String] = []
            for index in 0..<1_200 {
                dns.append(try await fx.addPerson(String(format: "bulk%05d", index), posix: index % 2 == 0))
            }
            try await fx.addGroupOfNames("everyone", members: dns)
            var config = try fx.config()
            config.pageSize = 100
            let read = try await DirectoryReader.readWithReport(config: config, now: Date(), logger: TestEnv.logger)
            #expect(read.snapshot.people.count == 1_200)
            #expect(Set(read.snapshot.people.values.map(\.uid)).count == 1_200)
            #expect(read.report.pages >= 13)  // 12 full pages of people (+1 empty/last) and one of groups
            let everyone = try #require(read.snapshot.groups.values.first { $0.name == "everyone" })
            #expect(everyone.memberPeople.count == 1_200)
        }
    }

    /// The account with the server's default size limit (500) gets page 1 and then rc=4: the
    /// read fails rather than returning 500 people as if the rest had left.
    @Test func sizeLimitFailsTheWholeRead() async throws {
        try await Fixture.with("sizelimit") { fx in
            var dns: [String] = []
            for index in 0..<520 { dns.append(try await fx.addPerson(String(format: "lim%04d", index), posix: false)) }
            try await fx.addGroupOfNames("big", members: dns)
            let error = await expectLDAPError(.sizeLimitExceeded) {
                try await DirectoryReader.read(config: try fx.config(.limited), now: Date(), logger: TestEnv.logger)
            }
            #expect(error?.resultCode == 4)
            #expect(error?.isRetriable == false)
            // The sync account (unlimited) reads all of them.
            let snapshot = try await DirectoryReader.read(config: try fx.config(.sync), now: Date(), logger: TestEnv.logger)
            #expect(snapshot.people.count == 520)
        }
    }

    /// The account that may read groups but not `member`/`memberUid` is detected, in every schema.
    @Test(arguments: [DirectorySchema.rfc2307bis, .rfc2307])
    func unreadableMembershipFailsTheRead(schema: DirectorySchema) async throws {
        try await Fixture.with("nomember") { fx in
            let alice = try await fx.addPerson("alice")
            if schema.kind == .rfc2307 {
                try await fx.addPosixGroup("team", gid: 7000, memberUids: ["alice"])
                try await fx.addPosixGroup("empty", gid: 7001, memberUids: [])
            } else {
                try await fx.addGroupOfNames("team", members: [alice])
            }
            let error = await expectLDAPError(.memberAttributeUnreadable) {
                try await DirectoryReader.read(config: try fx.config(.nomember, schema: schema), now: Date(), logger: TestEnv.logger)
            }
            #expect(error?.description.contains(schema.memberAttribute) == true)
            // With the schema-class check off, the compare probe still catches it.
            var config = try fx.config(.nomember, schema: schema)
            config.memberReadCheck.requireMembersForRequiringClasses = false
            config.memberReadCheck.rejectAllGroupsEmpty = false
            _ = await expectLDAPError(.memberAttributeUnreadable) {
                try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            }
            // The sync account reads the same groups fine, including a genuinely empty posixGroup.
            let snapshot = try await DirectoryReader.read(config: try fx.config(.sync, schema: schema), now: Date(), logger: TestEnv.logger)
            #expect(snapshot.groups.values.first { $0.name == "team" }?.memberPeople.count == 1)
        }
    }

    @Test func everyGroupEmptyIsRejectedUnlessAllowed() async throws {
        try await Fixture.with("allempty") { fx in
            try await fx.addPerson("alice")
            try await fx.addPosixGroup("a", gid: 7100, memberUids: [])
            try await fx.addPosixGroup("b", gid: 7101, memberUids: [])
            var config = try fx.config(schema: .rfc2307)
            _ = await expectLDAPError(.memberAttributeUnreadable) {
                try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            }
            config.memberReadCheck.rejectAllGroupsEmpty = false
            let snapshot = try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            #expect(snapshot.groups.count == 2)
        }
    }

    @Test func missingIdentifierAndDuplicateLoginsAreHandled() async throws {
        try await Fixture.with("ident") { fx in
            try await fx.addPerson("alice")
            try await fx.addGroupOfNames("g", members: ["uid=alice,\(fx.people)"])
            var config = try fx.config()
            config.schema.identifierAttribute = "employeeNumber"  // not present on the entries
            _ = await expectLDAPError(.invalidEntry) {
                try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            }
        }
    }

    @Test func missingSearchBaseIsNoSuchObject() async throws {
        var config = try TestEnv.openLDAP(.sync)
        config.people = .init(base: "ou=\(TestEnv.uniqueName("absent"))")
        let error = await expectLDAPError(.noSuchObject) {
            try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
        }
        #expect(error?.resultCode == 32)
    }

    @Test func scopeAndExtraFiltersApply() async throws {
        try await Fixture.with("scope") { fx in
            try await fx.addPerson("top")
            try await fx.admin.add(
                dn: "ou=sub,\(fx.people)", attributes: [("objectClass", [b("organizationalUnit")]), ("ou", [b("sub")])])
            try await fx.addPerson("nested", parent: "ou=sub,\(fx.people)")
            try await fx.addPerson("svc-bot")
            try await fx.addGroupOfNames("g", members: ["uid=top,\(fx.people)"])
            var config = try fx.config()
            config.people = .init(base: "ou=people", scope: .oneLevel, filter: "(!(uid=svc-*))")
            let snapshot = try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            #expect(Set(snapshot.people.values.map(\.uid)) == ["top"])
            config.people = .init(base: "ou=people", scope: .subtree)
            let all = try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            #expect(Set(all.people.values.map(\.uid)) == ["top", "nested", "svc-bot"])
        }
    }
}
