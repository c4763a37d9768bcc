import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

/// The in-place decoders (`PersonDecoder`, `GroupDecoder`) and the byte table used to resolve
/// members, without a server (the ranged path is otherwise only exercised against Samba AD).
@Suite("Entry decoding (no server)")
struct EntryDecodingTests {
    private func attribute(_ name: String, _ values: [String]) -> LDAPAttribute {
        LDAPAttribute(name: name, values: values.map { Array($0.utf8) })
    }

    @Test func plainMemberAttributeIsCompleteAndFirstOccurrenceWins() throws {
        let decoder = GroupDecoder(schema: .rfc2307bis)
        let record = try decoder.record(
            LDAPEntry(
                dn: "cn=g,ou=groups,dc=example,dc=org",
                attributes: [
                    attribute("objectClass", ["top", "groupOfNames"]), attribute("CN", ["G"]),
                    attribute("Member", ["uid=a,dc=x", "uid=b,dc=x"]), attribute("member", ["uid=c,dc=x"]),
                ]))
        #expect(record.name == "G")
        #expect(record.objectClasses == ["top", "groupofnames"])
        #expect(record.memberAttributePresent)
        #expect(record.pendingRetrieval == nil)
        #expect(record.members.arrays == [Array("uid=a,dc=x".utf8), Array("uid=b,dc=x".utf8)])
    }

    @Test func absentMemberAttributeAndNameFromTheRDN() throws {
        let record = try GroupDecoder(schema: .rfc2307bis).record(
            LDAPEntry(dn: "cn=Empty,ou=groups,dc=example,dc=org", attributes: [attribute("objectClass", ["groupOfNames"])]))
        #expect(!record.memberAttributePresent)
        #expect(record.members.isEmpty)
        #expect(record.name == "empty")  // the normalised leaf value, as before
    }

    @Test func rangedMemberAttributeGoesThroughRangedRetrieval() throws {
        let decoder = GroupDecoder(schema: .activeDirectory)
        let partial = try decoder.record(
            LDAPEntry(
                dn: "CN=Big,CN=Users,DC=ad,DC=test",
                attributes: [
                    attribute("sAMAccountName", ["big"]), attribute("member;range=0-1", ["CN=a", "CN=b"]),
                ]))
        #expect(partial.memberAttributePresent)
        #expect(partial.members.isEmpty)
        #expect(partial.pendingRetrieval?.nextStart == 2)
        #expect(partial.pendingRetrieval?.values == [Array("CN=a".utf8), Array("CN=b".utf8)])

        let last = try decoder.record(
            LDAPEntry(dn: "CN=Small,CN=Users,DC=ad,DC=test", attributes: [attribute("member;range=0-*", ["CN=a"])]))
        #expect(last.pendingRetrieval == nil)
        #expect(last.members.arrays == [Array("CN=a".utf8)])

        // Two ranged chunks in one answer are a protocol error, as RangedRetrieval says.
        #expect(throws: LDAPError.self) {
            try decoder.record(
                LDAPEntry(
                    dn: "CN=Odd,CN=Users,DC=ad,DC=test",
                    attributes: [attribute("member;range=0-0", ["CN=a"]), attribute("member;range=1-1", ["CN=b"])]))
        }
    }

    @Test func personDecoderMapsTheSchemaAttributes() throws {
        let entry = LDAPEntry(
            dn: "uid=Ann,ou=people,dc=example,dc=org",
            attributes: [
                attribute("entryUUID", ["5D3F0C3E-0000-4000-8000-000000000001"]), attribute("UID", ["other", "ann"]),
                attribute("cn", ["Ann Example"]), attribute("mail", ["ann@example.org"]),
                attribute("uidNumber", [" 1001 "]), attribute("gidNumber", ["1000"]), attribute("shadowExpire", ["1"]),
            ])
        let record = try PersonRecord(entry: entry, schema: .rfc2307bis, disabled: .openLDAPDefault, nowSeconds: 86_400 * 10)
        let person = try #require(record.person)
        #expect(person.id == PersonID("5d3f0c3e-0000-4000-8000-000000000001"))
        #expect(person.uid == "ann")  // the value naming the entry wins
        #expect(person.displayName == "Ann Example")
        #expect(person.mail == "ann@example.org")
        #expect(person.uidNumber == 1001)
        #expect(person.gidNumber == 1000)
        #expect(person.disabled)

        let noLogin = try PersonRecord(
            entry: LDAPEntry(dn: "cn=x,dc=org", attributes: [attribute("entryUUID", ["u"])]), schema: .rfc2307bis,
            disabled: .openLDAPDefault, nowSeconds: 0)
        #expect(noLogin.person == nil)
        #expect(noLogin.skipReason == "no uid")
        #expect(throws: LDAPError.self) {
            try PersonRecord(
                entry: LDAPEntry(dn: "cn=x,dc=org", attributes: [attribute("uid", ["x"])]), schema: .rfc2307bis,
                disabled: .openLDAPDefault, nowSeconds: 0)
        }
    }

    @Test func integersParseLikeIntOfTrimmedText() {
        func parse(_ text: String) -> Int? { Array(text.utf8).withUnsafeBufferPointer { parseInteger($0, as: Int.self) } }
        for text in ["0", "42", "007", " 42", "42 ", "+5", "-5", "", "x", "4 2", "99999999999999999999", "\u{A0}7"] {
            #expect(parse(text) == Int(text.trimmingWhitespace()), "\(text)")
        }
    }

    @Test func byteKeyTableFindsEveryKeyAcrossGrowth() {
        let table = ByteKeyTable(capacity: 4)
        let keys = (0..<5_000).map { "uid=user\($0),ou=people,dc=example,dc=org" } + ["", "a", "12345678"]
        for (index, key) in keys.enumerated() { table.set(table.entry(key), first: Int32(index)) }
        #expect(table.count == keys.count)
        for (index, key) in keys.enumerated() {
            let handle = Array(key.utf8).withUnsafeBufferPointer { table.find($0) }
            #expect(handle.map { table.first($0) } == Int32(index))
        }
        #expect(Array("uid=user5000,ou=people,dc=example,dc=org".utf8).withUnsafeBufferPointer { table.find($0) } == nil)
        // Inserting an existing key returns its entry.
        let again = table.entry(keys[17])
        #expect(table.first(again) == 17)
        #expect(table.count == keys.count)
    }
}
