import RBACModel
import Testing

@Suite("distinguished names")
struct DistinguishedNameTests {
    @Test func normalisedFormIgnoresCaseSpacingAndEscapes() throws {
        let forms = [
            "uid=alice,ou=People,dc=example,dc=org",
            "UID=Alice, OU=people ,DC=Example,  dc=ORG",
            "\tuid =alice,ou= people,dc=example,dc=org",
            "uid=\\61lice,ou=people,dc=example,dc=org",
        ]
        let names = try forms.map { try DistinguishedName($0) }
        for name in names {
            #expect(name.normalized == "uid=alice,ou=people,dc=example,dc=org", "\(name.original)")
            #expect(name == names[0])
        }
        #expect(names[1].original == forms[1])
    }

    @Test func valuesNeedingEscapesKeepThemInTheNormalisedForm() throws {
        let cases: [(String, String)] = [
            ("CN=Smith\\, John,OU=Staff", "cn=smith\\, john,ou=staff"),
            ("cn=\\#hash,o=x", "cn=\\#hash,o=x"),
            ("cn=\\ lead\\ ,o=x", "cn=\\ lead\\ ,o=x"),
            ("cn=a\\+b\\=c\\;d\\<e\\>f\\\"g\\\\h,o=x", "cn=a\\+b\\=c\\;d\\<e\\>f\\\"g\\\\h,o=x"),
            ("cn=nul\\00byte,o=x", "cn=nul\\00byte,o=x"),
            ("CN=ÉMILE Zoë,O=Ünïcode", "cn=émile zoë,o=ünïcode"),
            ("cn=\\C3\\89mile,o=x", "cn=émile,o=x"),
            ("OU=B+CN=A,DC=X", "cn=a+ou=b,dc=x"),
            ("cn=#04024869,o=x", "cn=\\#04024869,o=x"),
        ]
        for (text, normalized) in cases {
            #expect(try DistinguishedName(text).normalized == normalized, "\(text)")
        }
        #expect(try DistinguishedName("OU=B+CN=A,DC=X") == DistinguishedName("cn=a + ou=b, dc=x"))
    }

    @Test func malformedNamesAreRejectedWithTheReason() {
        for (text, reason) in [
            ("uid", "missing '='"), ("=alice,o=x", "empty attribute type"), ("cn=a\\", "dangling escape"),
            ("cn=a\"b,o=x", "unescaped '\"'"), ("cn=\\ff\\fe,o=x", "not valid UTF-8"),
        ] {
            #expect(throws: DistinguishedNameError.self, "\(text)") { try DistinguishedName(text) }
            do {
                _ = try DistinguishedName(text)
            } catch {
                #expect(error.description.contains(reason), "\(text): \(error)")
            }
        }
    }
}
