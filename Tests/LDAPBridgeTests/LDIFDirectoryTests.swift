import Foundation
import LDAPBridge
import RBACModel
import Testing

private let now = Date(timeIntervalSince1970: 1_751_284_800)  // 2025-06-30T12:00:00Z
private let today = 1_751_284_800 / 86_400

private func snapshot(_ text: String, _ mapping: LDIFDirectoryMapping) throws -> LDIFDirectoryResult {
    try LDIFDirectory.snapshot(from: try LDIFReader.parse(text, file: "org.ldif"), mapping: mapping, now: now, file: "org.ldif")
}

/// A person entry followed by a blank line (8 lines without `extra`).
private func person(_ uid: String, _ id: String, extra: String = "", base: String = "ou=people,dc=example,dc=org") -> String {
    var lines = [
        "dn: uid=\(uid),\(base)", "objectClass: inetOrgPerson", "objectClass: posixAccount", "uid: \(uid)",
        "cn: \(uid) Example", "entryUUID: \(id)", "uidNumber: 1000",
    ]
    if !extra.isEmpty { lines.append(extra) }
    return lines.joined(separator: "\n") + "\n\n"
}

@Suite("LDIF directory mapping")
struct LDIFDirectoryTests {
    static let ids = (0..<8).map { "00000000-0000-4000-8000-00000000000\($0)" }

    @Test func groupOfNamesWithNestingDanglingMembersAndDisabledPeople() throws {
        let ids = Self.ids
        let text = person("alice", ids[0], extra: "displayName: Alice A.\nmail: alice@example.org")
            + person("bob", ids[1], extra: "pwdAccountLockedTime: 000001010000Z")
            + person("carol", ids[2], extra: "shadowExpire: \(today)")
            + person("dave", ids[3], extra: "shadowExpire: \(today + 1)")
            + person("erin", ids[4], base: "ou=partners,dc=example,dc=org")
            + """
            dn: cn=team,ou=groups,dc=example,dc=org
            objectClass: groupOfNames
            cn: team
            member: UID=Alice, OU=People,DC=Example,DC=Org
            member: uid=bob,ou=people,dc=example,dc=org
            member: uid=ghost,ou=people,dc=example,dc=org
            member: uid=erin,ou=partners,dc=example,dc=org
            member: cn=sub,ou=groups,dc=example,dc=org

            dn: cn=sub,ou=groups,dc=example,dc=org
            objectClass: groupOfNames
            cn: sub
            member: uid=carol,ou=people,dc=example,dc=org

            dn: cn=team,ou=elsewhere,dc=example,dc=org
            objectClass: groupOfNames
            cn: team
            member: uid=dave,ou=people,dc=example,dc=org

            """
        let mapping = LDIFDirectoryMapping.preset(
            .rfc2307bis, peopleBase: "ou=people,dc=example,dc=org", groupsBase: "ou=groups,dc=example,dc=org")
        let result = try snapshot(text, mapping)
        let directory = result.snapshot
        #expect(directory.people.count == 4)  // erin is outside the people base
        let alice = try #require(directory.people[PersonID(ids[0])])
        #expect(alice.uid == "alice")
        #expect(alice.displayName == "Alice A.")
        #expect(alice.mail == "alice@example.org")
        #expect(alice.uidNumber == 1000)
        #expect(!alice.disabled)
        #expect(directory.people[PersonID(ids[1])]?.disabled == true)  // pwdAccountLockedTime
        #expect(directory.people[PersonID(ids[2])]?.disabled == true)  // shadowExpire today
        #expect(directory.people[PersonID(ids[3])]?.disabled == false)  // shadowExpire tomorrow
        #expect(directory.groups.count == 2)  // the other "team" is outside the groups base
        let team = try #require(directory.groups(named: "team").first)
        #expect(team.memberPeople == [PersonID(ids[0]), PersonID(ids[1])])  // DN compared normalised
        #expect(team.memberGroups == [try DistinguishedName("cn=sub,ou=groups,dc=example,dc=org")])
        #expect(team.unresolvedMembers == [
            "uid=ghost,ou=people,dc=example,dc=org", "uid=erin,ou=partners,dc=example,dc=org",
        ])
        let expanded = MembershipExpansion.expand(directory)
        #expect(expanded.people[team.dn] == [PersonID(ids[0]), PersonID(ids[1]), PersonID(ids[2])])
    }

    @Test func rfc2307MemberUidResolution() throws {
        let ids = Self.ids
        let text = person("casey", ids[0]) + person("Casey", ids[1], base: "ou=contractors,ou=people,dc=example,dc=org")
            + person("KWALSH", ids[2]) + """
            dn: cn=posix,ou=posix,dc=example,dc=org
            objectClass: posixGroup
            cn: posix
            gidNumber: 5000
            memberUid: casey
            memberUid: Casey
            memberUid: kwalsh
            memberUid: nobody

            dn: cn=notposix,ou=groups,dc=example,dc=org
            objectClass: groupOfNames
            cn: notposix
            member: uid=casey,ou=people,dc=example,dc=org

            """
        let result = try snapshot(text, .preset(.rfc2307))
        #expect(result.snapshot.groups.count == 1)
        let group = try #require(result.snapshot.groups(named: "posix").first)
        // Exact match first (memberUid is case-exact); a unique case-insensitive match otherwise.
        #expect(group.memberPeople == [PersonID(ids[0]), PersonID(ids[1]), PersonID(ids[2])])
        #expect(group.unresolvedMembers == ["nobody"])
    }

    @Test func activeDirectory() throws {
        // objectGUID bytes 33 22 11 00 55 44 77 66 88 99 AA BB CC DD EE FF = {00112233-4455-6677-8899-aabbccddeeff}
        let guid = Data([0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])
        let guid2 = Data(repeating: 0x11, count: 16)
        let guid3 = Data(repeating: 0x22, count: 16)
        let future = (Int64(now.timeIntervalSince1970) + 11_644_473_600 + 86_400) * 10_000_000
        let past = (Int64(now.timeIntervalSince1970) + 11_644_473_600 - 86_400) * 10_000_000
        let text = """
            dn: CN=Alice Smith,CN=Users,DC=example,DC=org
            objectClass: top
            objectClass: person
            objectClass: user
            sAMAccountName: asmith
            objectGUID:: \(guid.base64EncodedString())
            userAccountControl: 512
            accountExpires: 9223372036854775807

            dn: CN=Bob Disabled,CN=Users,DC=example,DC=org
            objectClass: user
            sAMAccountName: bdisabled
            objectGUID:: \(guid2.base64EncodedString())
            userAccountControl: 514
            accountExpires: \(future)

            dn: CN=Carol Expired,CN=Users,DC=example,DC=org
            objectClass: user
            sAMAccountName: cexpired
            objectGUID:: \(guid3.base64EncodedString())
            userAccountControl: 512
            accountExpires: \(past)

            dn: CN=WS01,CN=Computers,DC=example,DC=org
            objectClass: user
            objectClass: computer
            sAMAccountName: WS01$
            objectGUID:: \(Data(repeating: 0x33, count: 16).base64EncodedString())

            dn: CN=Data Science,CN=Users,DC=example,DC=org
            objectClass: group
            sAMAccountName: data-science
            cn: Data Science
            member: CN=Alice Smith,CN=Users,DC=example,DC=org
            member: cn=bob disabled,cn=users,dc=example,dc=org

            """
        let result = try snapshot(text, .preset(.activeDirectory))
        let people = result.snapshot.people
        #expect(people.count == 3)  // the computer account is not a person
        let alice = try #require(people[PersonID("00112233-4455-6677-8899-aabbccddeeff")])
        #expect(alice.uid == "asmith")
        #expect(!alice.disabled)
        #expect(people[PersonID("11111111-1111-1111-1111-111111111111")]?.disabled == true)  // ACCOUNTDISABLE
        #expect(people[PersonID("22222222-2222-2222-2222-222222222222")]?.disabled == true)  // accountExpires passed
        let group = try #require(result.snapshot.groups(named: "data-science").first)
        #expect(group.memberPeople.count == 2)
    }

    @Test func identityNeverFallsBackToTheLoginName() throws {
        let text = """
            dn: uid=alice,ou=people,dc=example,dc=org
            objectClass: inetOrgPerson
            uid: alice

            """
        do {
            _ = try snapshot(text, .preset(.rfc2307bis))
            Issue.record("a person without entryUUID must be rejected")
        } catch let error as LDIFError {
            #expect(error.line == 1)
            #expect(error.message.contains("no entryUUID"))
        }
        let bad = "dn: uid=bob,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: bob\nentryUUID: not-a-uuid\n"
        #expect(throws: LDIFError.self) { try snapshot(bad, .preset(.rfc2307bis)) }
        let shortGUID = "dn: CN=x,DC=example,DC=org\nobjectClass: user\nsAMAccountName: x\nobjectGUID:: AAEC\n"
        #expect(throws: LDIFError.self) { try snapshot(shortGUID, .preset(.activeDirectory)) }
    }

    @Test func duplicatesAreErrors() throws {
        let ids = Self.ids
        do {
            _ = try snapshot(person("alice", ids[0]) + person("alice2", ids[0]), .preset(.rfc2307bis))
            Issue.record("a shared identifier must be rejected")
        } catch let error as LDIFError {
            #expect(error.line == 9)
            #expect(error.message.contains("also used by the entry at line 1"))
        }
        do {
            _ = try snapshot(person("alice", ids[0]) + person("alice", ids[1]), .preset(.rfc2307bis))
            Issue.record("a repeated DN must be rejected")
        } catch let error as LDIFError {
            #expect(error.message.contains("a second entry with this DN (first at line 1)"))
        }
    }

    @Test func peopleWithoutLoginAreSkippedWithAWarning() throws {
        let text = "dn: cn=nologin,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\ncn: nologin\nentryUUID: \(Self.ids[5])\n"
        let result = try snapshot(text, .preset(.rfc2307bis))
        #expect(result.snapshot.people.isEmpty)
        #expect(result.warnings == ["org.ldif:1: cn=nologin,ou=people,dc=example,dc=org: skipped: no uid"])
    }

    @Test func bundledSampleOrganisation() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("examples/sample-org.ldif").path
        let mapping = LDIFDirectoryMapping.preset(
            .rfc2307bis, peopleBase: "ou=people,dc=example,dc=org", groupsBase: "ou=groups,dc=example,dc=org")
        let result = try LDIFDirectory.snapshot(from: try LDIFReader.read(path: path), mapping: mapping, now: now, file: path)
        let directory = result.snapshot
        #expect(directory.people.count >= 50)
        for name in ["jupyter-users", "jupyter-admins", "data-science", "ml-platform", "finance-analytics"] {
            #expect(directory.groups(named: name).count == 1, "\(name)")
        }
        #expect(directory.people.values.contains { $0.disabled })
        // Spacing and case variants of member DNs resolve to the people they name.
        let users = try #require(directory.groups(named: "jupyter-users").first)
        #expect(users.memberPeople.count > 10)
        #expect(directory.people.values.contains { $0.dn.original.hasPrefix("cn=Łukasz") })
    }
}
