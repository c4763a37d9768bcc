import Foundation
import LDAPBridge
import Testing

/// The error of a parse that must fail.
func ldifError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> LDIFError? {
    do {
        _ = try LDIFReader.parse(text, file: "t.ldif")
        Issue.record("expected the LDIF to be rejected", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite("LDIF reader")
struct LDIFReaderTests {
    @Test func readsSlapcatStyleRecords() throws {
        let text = """
            version: 1

            # people
            dn: uid=alice,ou=people,dc=example,dc=org
            objectClass: inetOrgPerson
            objectClass: posixAccount
            uid: alice
            cn: Alice Example
            entryUUID: 6f1c2a4e-4b7d-5d0e-9c1a-acce55a11c0d


            dn: cn=team,ou=groups,dc=example,dc=org
            objectClass: groupOfNames
            member: uid=alice,ou=people,dc=example,dc=org
            cn: team
            member: uid=bob,ou=people,dc=example,dc=org

            """
        let records = try LDIFReader.parse(text, file: "t.ldif")
        #expect(records.count == 2)
        #expect(records[0].dn == "uid=alice,ou=people,dc=example,dc=org")
        #expect(records[0].line == 4)
        #expect(records[0].strings("objectclass") == ["inetOrgPerson", "posixAccount"])
        #expect(records[0].hasObjectClass("INETORGPERSON"))
        #expect(records[0].string("entryUUID") == "6f1c2a4e-4b7d-5d0e-9c1a-acce55a11c0d")
        #expect(records[1].line == 12)
        // Values of one attribute are merged even when not adjacent, in file order.
        #expect(records[1].strings("member") == [
            "uid=alice,ou=people,dc=example,dc=org", "uid=bob,ou=people,dc=example,dc=org",
        ])
        #expect(records[1].attributes.map(\.name) == ["objectClass", "member", "cn"])
    }

    @Test func unfoldsContinuationLines() throws {
        // ldapsearch folds at 76 columns: the continuation's single leading space is dropped.
        let text = "dn: cn=a-very-long-group-name,ou=gro\n ups,dc=example,dc=org\ndescription: first part\n  second part\ncn: a\n"
        let records = try LDIFReader.parse(text, file: "t.ldif")
        #expect(records[0].dn == "cn=a-very-long-group-name,ou=groups,dc=example,dc=org")
        #expect(records[0].string("description") == "first part second part")
        #expect(records[0].string("cn") == "a")
    }

    @Test func decodesBase64ValuesAndDNs() throws {
        let unicodeDN = "cn=Łukasz Żółw,ou=people,dc=example,dc=org"
        let text = """
            dn:: \(Data(unicodeDN.utf8).base64EncodedString())
            cn:: \(Data("Łukasz Żółw".utf8).base64EncodedString())
            sn:: \(Data(" padded ".utf8).base64EncodedString())
            objectGUID:: \(Data([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0xFF]).base64EncodedString())
            empty:
            """
        let record = try #require(try LDIFReader.parse(text, file: "t.ldif").first)
        #expect(record.dn == unicodeDN)
        #expect(record.string("cn") == "Łukasz Żółw")
        #expect(record.string("sn") == " padded ")  // base64 keeps the spaces a plain value would lose
        #expect(record.values("objectGUID").first?.bytes.count == 16)
        #expect(record.values("objectGUID").first?.bytes.last == 0xFF)
        #expect(record.values("objectGUID").first?.string == nil)  // binary, not UTF-8
        #expect(record.string("empty") == "")
    }

    @Test func foldedBase64Value() throws {
        let value = String(repeating: "Ünïcödé ", count: 12)
        let encoded = Data(value.utf8).base64EncodedString()
        let folded = stride(from: 0, to: encoded.count, by: 60).map { start -> String in
            let from = encoded.index(encoded.startIndex, offsetBy: start)
            let to = encoded.index(from, offsetBy: min(60, encoded.count - start))
            return String(encoded[from..<to])
        }.joined(separator: "\n ")
        let records = try LDIFReader.parse("dn: cn=x\ndescription:: \(folded)\n", file: "t.ldif")
        #expect(records[0].string("description") == value)
    }

    @Test func crlfAndCommentsAndManyBlankLines() throws {
        let text = "# extended LDIF\r\n#\r\n# folded comment\r\n  continues here\r\ndn: cn=a\r\ncn: a\r\n\r\n\r\n\r\n# between\r\ndn: cn=b\r\n# inside a record\r\ncn: b\r\n"
        let records = try LDIFReader.parse(text, file: "t.ldif")
        #expect(records.map(\.dn) == ["cn=a", "cn=b"])
        #expect(records.map(\.line) == [5, 11])
        #expect(records[1].string("cn") == "b")
    }

    @Test func acceptsLdapsearchTrailerWithSuccess() throws {
        let text = """
            # extended LDIF
            #
            # LDAPv3
            # base <dc=example,dc=org> with scope subtree

            # alice, people, example.org
            dn: uid=alice,ou=people,dc=example,dc=org
            uid: alice

            # search result
            search: 2
            result: 0 Success

            # numResponses: 2
            # numEntries: 1
            """
        let records = try LDIFReader.parse(text, file: "t.ldif")
        #expect(records.map(\.dn) == ["uid=alice,ou=people,dc=example,dc=org"])
    }

    @Test func rejectsAnIncompleteSearch() {
        let error = ldifError("dn: cn=a\ncn: a\n\nsearch: 2\nresult: 4 Size limit exceeded\n")
        #expect(error?.line == 5)
        #expect(error?.message.contains("did not complete (result: 4 Size limit exceeded)") == true)
    }

    @Test func rejectsURLValues() {
        let error = ldifError("dn: cn=a\njpegPhoto:< file:///tmp/photo.jpg\n")
        #expect(error?.line == 2)
        #expect(error?.message.contains("URL values ('jpegPhoto:<') are not supported") == true)
        #expect(error?.description.hasPrefix("t.ldif:2: ") == true)
    }

    @Test func rejectsChangeRecords() {
        let error = ldifError("dn: cn=a\nchangetype: modify\nreplace: cn\ncn: b\n")
        #expect(error?.line == 2)
        #expect(error?.message.contains("change records") == true)
        #expect(ldifError("dn: cn=a\ncontrol: 1.2.3 true\n")?.line == 2)
    }

    @Test func reportsTheLineOfMalformedInput() {
        #expect(ldifError(" leading continuation\ndn: cn=a\n")?.line == 1)
        #expect(ldifError("dn: cn=a\ncn: a\nnot an attribute line\n")?.line == 3)
        #expect(ldifError("dn: cn=a\ncn:: ***notbase64***\n")?.message.contains("invalid base64 value for 'cn'") == true)
        #expect(ldifError("dn: cn=a\ncn: a\n\ncn: no dn here\n")?.message.contains("expected a 'dn:' line") == true)
        #expect(ldifError("dn: cn=a\ndn: cn=b\n")?.line == 2)
        #expect(ldifError("dn: cn=a\n: novalue\n")?.message.contains("invalid attribute description") == true)
        #expect(ldifError("version: 2\n\ndn: cn=a\n")?.message.contains("unsupported LDIF version '2'") == true)
        // Line numbers count physical lines, folded lines included.
        #expect(ldifError("dn: cn=a\ndescription: x\n y\n z\nbroken\n")?.line == 5)
        #expect(ldifError("dn:: \(Data([0xFF, 0xFE]).base64EncodedString())\n")?.message.contains("not valid UTF-8") == true)
    }

    @Test func invalidUTF8InAPlainValue() throws {
        var data = Data("dn: cn=a\ncn: ".utf8)
        data.append(contentsOf: [0xC3, 0x28])
        data.append(Data("\n".utf8))
        do {
            _ = try LDIFReader.parse(data, file: "t.ldif")
            Issue.record("invalid UTF-8 must be rejected")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("not valid UTF-8"))
        }
    }

    @Test func emptyInputHasNoRecords() throws {
        #expect(try LDIFReader.parse("", file: "t.ldif").isEmpty)
        #expect(try LDIFReader.parse("version: 1\n\n# nothing\n", file: "t.ldif").isEmpty)
    }

    @Test func missingAndUnreadableFiles() throws {
        let missing = "/nonexistent/\(UUID().uuidString).ldif"
        do {
            _ = try LDIFReader.read(path: missing)
            Issue.record("a missing file must fail")
        } catch {
            #expect(error.line == nil)
            #expect(error.description == "\(missing): LDIF file does not exist")
        }
        do {
            _ = try LDIFReader.read(path: FileManager.default.temporaryDirectory.path)
            Issue.record("a directory must fail")
        } catch {
            #expect(error.message.contains("is a directory"))
        }
    }

    @Test func readsTheBundledSampleOrganisation() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let records = try LDIFReader.read(path: root.appendingPathComponent("examples/sample-org.ldif").path)
        #expect(records.count == 117)
        #expect(records.allSatisfy { !$0.strings("objectClass").isEmpty })
        // The Unicode DN is base64 in the file.
        #expect(records.contains { $0.dn.hasPrefix("cn=Łukasz Żółw") })
    }
}
