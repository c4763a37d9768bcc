import Testing

@testable import RBACModel

/// The one-pass normalisation of common DNs must agree with the full RFC 4514 parser everywhere
/// it answers, and `rdns` (parsed from the normalised form) with parsing the original.
@Suite("distinguished names: fast path")
struct DistinguishedNameFastPathTests {
    static let pieces = [
        "uid", "UID", "cn", "Cn", "ou", "dc", "2.5.4.3", "x-attr", "o", "=", ",", " ", "  ", "\t", "+", "\\", "\\2c", "\\ ",
        "\"", "#", "#04", ";", "<", ">", "é", "Ö", "\u{0}", "alice", "Alice Smith", "People", "example", "ORG", "a-b.c",
        "x_y", "1", "",
    ]

    @Test func fastPathAgreesWithTheParser() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var answered = 0
        var corpus = [
            "uid=alice,ou=people,dc=example,dc=org", "UID=Alice, OU=people ,DC=Example,  dc=ORG",
            "cn=Alice Smith ,ou=People", "cn=a  b,dc=x", "cn=a,", "=a", "cn=", "cn=#04", "cn= #x", "cn=a;b",
            "cn=a\tb\t,dc=x", "", " ", "cn=a+sn=b,dc=x", "2.5.4.3=Bob", "cn=x=y",
        ]
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<(1 + next(9)) { text += Self.pieces[next(Self.pieces.count)] }
            corpus.append(text)
            // Mostly well-formed: type=value pairs joined by commas, with noise.
            var dn: [String] = []
            for _ in 0..<(1 + next(4)) {
                dn.append(Self.pieces[next(8)] + (next(4) == 0 ? " " : "") + "=" + (next(4) == 0 ? " " : "")
                    + Self.pieces[next(Self.pieces.count)] + Self.pieces[20 + next(Self.pieces.count - 20)])
            }
            corpus.append(dn.joined(separator: next(3) == 0 ? " , " : ","))
        }
        for text in corpus {
            let full = Result { () throws(DistinguishedNameError) in try DistinguishedName.fullyNormalized(text) }
            if let fast = DistinguishedName.simpleNormalized(text) {
                answered += 1
                #expect(fast == (try? full.get()), "\(text.debugDescription)")
            }
            if let name = try? DistinguishedName(text) {
                #expect(name.normalized == (try? full.get()), "\(text.debugDescription)")
                #expect(name.rdns == (try? DistinguishedName.parse(text)), "\(text.debugDescription)")
            } else {
                #expect(throws: DistinguishedNameError.self) { try DistinguishedName.fullyNormalized(text) }
            }
        }
        #expect(answered > 1_000)
    }
}
