import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

@Suite("OpenLDAP: writing people and memberships")
struct OpenLDAPWriterTests {
    func writer(_ fx: Fixture, schema: DirectorySchema = .rfc2307bis, range: ClosedRange<Int> = 20_000...20_999)
        -> DirectoryWriter
    {
        var config = try! fx.config(.admin, schema: schema)
        config.memberReadCheck = .disabled
        return DirectoryWriter(connection: fx.admin, config: config, options: .init(uidNumberRange: range))
    }

    @Test func addPersonAllocatesAUIDNumberAndReadsBack() async throws {
        try await Fixture.with("add") { fx in
            try await fx.addPerson("existing", extra: [])  // random uidNumber far outside the range
            let w = writer(fx)
            let anna = try await w.addPerson(
                .init(uid: "anna.lopez", surname: "López", givenName: "Anna", displayName: "Anna María López", mail: "anna@example.org"))
            #expect(anna.uid == "anna.lopez")
            #expect(anna.uidNumber == 20_000)
            #expect(anna.displayName == "Anna María López")
            #expect(anna.id.rawValue == (try await fx.entryUUID(anna.dn.original)).lowercased())
            let bob = try await w.addPerson(.init(uid: "bob", surname: "B"))
            #expect(bob.uidNumber == 20_001)
            // Taken login name (uid matching is case-insensitive).
            _ = await expectLDAPError(.alreadyExists) { try await w.addPerson(.init(uid: "BOB", surname: "B")) }
            let snapshot = try await DirectoryReader.read(config: try fx.config(), now: Date(), logger: TestEnv.logger)
            #expect(Set(snapshot.people.values.map(\.uid)) == ["existing", "anna.lopez", "bob"])
        }
    }

    /// A number already used by someone added by hand is skipped, not handed out twice.
    @Test func allocationSkipsNumbersInUse() async throws {
        try await Fixture.with("skip") { fx in
            let w = writer(fx, range: 21_000...21_009)
            #expect(try await w.allocateUIDNumber() == 21_000)
            try await fx.addPerson("manual", extra: [])
            try await fx.admin.modify(
                dn: "uid=manual,\(fx.people)", [LDAPModification(.replace, "uidNumber", strings: ["21001"])])
            #expect(try await w.allocateUIDNumber() == 21_002)
        }
    }

    @Test func rangeExhaustionIsAnError() async throws {
        try await Fixture.with("exhaust") { fx async throws in
            let w = writer(fx, range: 22_000...22_001)
            #expect(try await w.allocateUIDNumber() == 22_000)
            #expect(try await w.allocateUIDNumber() == 22_001)
            _ = await expectLDAPError(.uidNumberExhausted) { try await w.allocateUIDNumber() }
        }
    }

    /// Two writers on two connections add people at the same time: every uidNumber is unique.
    @Test func concurrentWritersNeverShareAUIDNumber() async throws {
        try await Fixture.with("race") { fx in
            let config = try fx.config(.admin)
            let second = try await LDAPConnection.connect(config, logger: TestEnv.logger)
            let third = try await LDAPConnection.connect(config, logger: TestEnv.logger)
            let writers = [
                writer(fx, range: 23_000...23_999),
                DirectoryWriter(connection: second, config: config, options: .init(uidNumberRange: 23_000...23_999)),
                DirectoryWriter(connection: third, config: config, options: .init(uidNumberRange: 23_000...23_999)),
            ]
            let perWriter = 12
            let people = try await withThrowingTaskGroup(of: [Person].self) { group in
                for (index, w) in writers.enumerated() {
                    group.addTask {
                        var added: [Person] = []
                        for n in 0..<perWriter {
                            added.append(try await w.addPerson(.init(uid: "w\(index)-\(n)", surname: "Race")))
                        }
                        return added
                    }
                }
                var all: [Person] = []
                for try await batch in group { all += batch }
                return all
            }
            await second.close()
            await third.close()
            let numbers = people.compactMap(\.uidNumber)
            #expect(numbers.count == writers.count * perWriter)
            #expect(Set(numbers).count == numbers.count, "duplicate uidNumbers: \(numbers.sorted())")
            #expect(numbers.allSatisfy { (23_000...23_999).contains($0) })
            // And what the directory holds agrees.
            let snapshot = try await DirectoryReader.read(config: try fx.config(), now: Date(), logger: TestEnv.logger)
            let stored = snapshot.people.values.compactMap(\.uidNumber)
            #expect(Set(stored).count == writers.count * perWriter)
        }
    }

    /// Hostile login names end up as literal values at the DN they name, never elsewhere, and
    /// filters built from them match exactly one entry.
    @Test func injectionAttemptsStayLiteral() async throws {
        try await Fixture.with("inject") { fx in
            let w = writer(fx, range: 24_000...24_999)
            _ = try await w.addPerson(.init(uid: "alice", surname: "A"))
            _ = try await w.addPerson(.init(uid: "bob", surname: "B"))
            // A filter injection finds nothing rather than everyone.
            #expect(try await w.findPerson(uid: "*)(uid=*") == nil)
            #expect(try await w.findPerson(uid: "*") == nil)
            #expect(try await w.findGroup(name: "*") == nil)

            let star = try await w.addPerson(.init(uid: "*)(uid=*", surname: "Star"))
            #expect(star.uid == "*)(uid=*")
            #expect(star.dn.isWithin(try DistinguishedName(fx.people)))
            #expect(try await w.findPerson(uid: "*)(uid=*")?.id == star.id)

            let comma = try await w.addPerson(.init(uid: "a,ou=admins", surname: "Comma"))
            #expect(comma.dn.rdns.count == (try DistinguishedName(fx.people)).rdns.count + 1)
            #expect(comma.dn.leafValue == "a,ou=admins")
            #expect(comma.dn.isWithin(try DistinguishedName(fx.people)))

            let hash = try await w.addPerson(.init(uid: "#hash", surname: "Hash"))
            #expect(hash.uid == "#hash")
            #expect(hash.dn == (try DistinguishedName("uid=\\#hash,\(fx.people)")))  // the server writes uid=\23hash

            for bad in ["nul\u{0}admin", " lead", "trail ", "new\nline"] {
                _ = await expectLDAPError(.invalidInput) { try await w.addPerson(.init(uid: bad, surname: "X")) }
            }
            _ = await expectLDAPError(.invalidInput) {
                try await w.addPerson(.init(uid: "ok", surname: "X\u{0}Y"))
            }
            // No stray entries: exactly the five people above exist, and no ou=admins appeared.
            let snapshot = try await DirectoryReader.read(config: try fx.config(), now: Date(), logger: TestEnv.logger)
            #expect(Set(snapshot.people.values.map(\.uid)) == ["alice", "bob", "*)(uid=*", "a,ou=admins", "#hash"])
            let all = try await fx.admin.search(base: fx.base, attributes: ["1.1"], pageSize: nil)
            #expect(!all.contains { $0.dn.lowercased().hasPrefix("ou=admins") })
        }
    }

    @Test(arguments: [DirectorySchema.rfc2307bis, .rfc2307])
    func addAndRemoveMembership(schema: DirectorySchema) async throws {
        try await Fixture.with("member") { fx in
            let w = writer(fx, schema: schema, range: 25_000...25_999)
            let alice = try await w.addPerson(.init(uid: "alice", surname: "A"))
            let bob = try await w.addPerson(.init(uid: "bob", surname: "B"))
            if schema.kind == .rfc2307 {
                try await fx.addPosixGroup("team", gid: 9000, memberUids: [])
            } else {
                try await fx.addGroupOfNames("team", members: [bob.dn.original])
            }
            #expect(try await w.addMember(uid: "alice", toGroup: "team"))
            #expect(try await w.addMember(uid: "ALICE", toGroup: "team") == false)  // already a member
            var readConfig = try fx.config(schema: schema)
            readConfig.memberReadCheck.rejectAllGroupsEmpty = false
            var snapshot = try await DirectoryReader.read(config: readConfig, now: Date(), logger: TestEnv.logger)
            var team = try #require(snapshot.groups.values.first { $0.name == "team" })
            #expect(team.memberPeople.contains(alice.id))

            #expect(try await w.removeMember(uid: "alice", fromGroup: "team"))
            #expect(try await w.removeMember(uid: "alice", fromGroup: "team") == false)
            snapshot = try await DirectoryReader.read(config: readConfig, now: Date(), logger: TestEnv.logger)
            team = try #require(snapshot.groups.values.first { $0.name == "team" })
            #expect(!team.memberPeople.contains(alice.id))

            _ = await expectLDAPError(.notFound) { try await w.addMember(uid: "alice", toGroup: "*") }
            _ = await expectLDAPError(.notFound) { try await w.addMember(uid: "*", toGroup: "team") }
            if schema.kind == .rfc2307bis {
                // groupOfNames MUST have a member: removing the last one is refused with a clear error.
                let error = await expectLDAPError(.objectClassViolation) {
                    try await w.removeMember(uid: "bob", fromGroup: "team")
                }
                #expect(error?.description.contains("last member") == true)
            } else {
                #expect(try await w.removeMember(uid: "bob", fromGroup: "team") == false)
            }
        }
    }

    @Test func disablePersonPerConfiguredTest() async throws {
        try await Fixture.with("disable") { fx in
            let w = writer(fx, range: 26_000...26_999)
            _ = try await w.addPerson(.init(uid: "locked", surname: "L"))
            _ = try await w.addPerson(.init(uid: "expired", surname: "E"))
            _ = try await w.addPerson(.init(uid: "active", surname: "A"))
            try await w.disablePerson(uid: "locked")  // default: pwdAccountLockedTime
            var shadow = w.options
            shadow.disableWith = .shadowExpired
            try await DirectoryWriter(connection: fx.admin, config: w.config, options: shadow).disablePerson(uid: "expired")
            _ = await expectLDAPError(.notFound) { try await w.disablePerson(uid: "nobody") }
            var filterOnly = w.config
            filterOnly.disabled = DisabledTest([.filter("(description=gone)")])
            _ = await expectLDAPError(.unsupported) {
                try await DirectoryWriter(connection: fx.admin, config: filterOnly).disablePerson(uid: "active")
            }
            let snapshot = try await DirectoryReader.read(config: try fx.config(), now: Date(), logger: TestEnv.logger)
            #expect(Set(snapshot.people.values.filter(\.disabled).map(\.uid)) == ["locked", "expired"])
        }
    }
}
