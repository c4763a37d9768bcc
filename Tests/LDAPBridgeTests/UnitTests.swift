import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

@Suite("LDAP value handling (no server)")
struct UnitTests {
    @Test func filterEscapingNeutralisesInjection() {
        #expect(LDAPFilter.escape("*)(uid=*") == "\\2a\\29\\28uid=\\2a")
        #expect(LDAPFilter.escape("a\\b") == "a\\5cb")
        #expect(LDAPFilter.escape("nul\u{0}byte") == "nul\\00byte")
        #expect(LDAPFilter.escape("Zoë Ångström") == "Zoë Ångström")
        #expect(LDAPFilter.equals("uid", "*") == "(uid=\\2a)")
        #expect(LDAPFilter.and(["(objectClass=person)", nil, "", "uid=x"]) == "(&(objectClass=person)(uid=x))")
        #expect(LDAPFilter.and(["(objectClass=person)"]) == "(objectClass=person)")
    }

    @Test func dnEscapingOfHostileLoginNames() throws {
        #expect(DistinguishedName.escape("a,ou=admins") == "a\\,ou\\=admins")
        #expect(DistinguishedName.escape("#hash") == "\\#hash")
        #expect(DistinguishedName.escape(" lead") == "\\ lead")
        let dn = try DistinguishedName("uid=\(DistinguishedName.escape("a,ou=admins")),ou=people,dc=example,dc=org")
        #expect(dn.rdns.count == 4)
        #expect(dn.leafValue == "a,ou=admins")
    }

    @Test func objectGUIDUsesMixedEndianLayout() throws {
        let bytes: [UInt8] = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        ]
        #expect(try ObjectGUID.string(fromBytes: bytes) == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(try ObjectGUID.bytes(fromString: "00112233-4455-6677-8899-AABBCCDDEEFF") == bytes)
        // A Samba Administrator GUID as ldapsearch printed it (objectGUID:: +/DjI7pJhkuOvXFfoMPVrg==).
        let administrator = [UInt8](Data(base64Encoded: "+/DjI7pJhkuOvXFfoMPVrg==")!)
        #expect(try ObjectGUID.string(fromBytes: administrator) == "23e3f0fb-49ba-4b86-8ebd-715fa0c3d5ae")
        #expect(throws: LDAPError.self) { try ObjectGUID.string(fromBytes: [1, 2, 3]) }
    }

    @Test func rangedAttributeNamesParse() throws {
        #expect(try RangedAttribute.parse("member") == nil)
        #expect(try RangedAttribute.parse("member;binary") == nil)
        #expect(
            try RangedAttribute.parse("member;range=0-1499") == RangedAttribute(attribute: "member", start: 0, end: 1499))
        #expect(
            try RangedAttribute.parse("member;Range=1500-*") == RangedAttribute(attribute: "member", start: 1500, end: nil))
        #expect(
            try RangedAttribute.parse("member;binary;range=3-4")
                == RangedAttribute(attribute: "member", otherOptions: ["binary"], start: 3, end: 4))
        for bad in [
            "member;range=", "member;range=5", "member;range=a-b", "member;range=9-3", "member;range=-1-5",
            "member;range=0-1;range=2-3", ";range=0-1",
        ] {
            #expect(throws: LDAPError.self, "\(bad)") { try RangedAttribute.parse(bad) }
        }
        #expect(RangedAttribute.request("member", from: 1500) == "member;range=1500-*")
    }

    /// Simulates a server holding `total` values with a MaxValRange of `chunk`.
    private func serve(_ total: Int, chunk: Int, request: String) throws -> [LDAPAttribute] {
        let range = try #require(try RangedAttribute.parse(request))
        let start = range.start
        if total == 0 { return [] }
        if start >= total { return [LDAPAttribute(name: "member;range=\(start)-*", values: [])] }
        let end = min(start + chunk - 1, total - 1)
        let values = (start...end).map { Array("cn=m\($0),dc=x".utf8) }
        let last = end == total - 1
        if start == 0 && last { return [LDAPAttribute(name: "member", values: values)] }
        return [LDAPAttribute(name: "member;range=\(start)-\(last ? "*" : String(end))", values: values)]
    }

    @Test(arguments: [(0, 1500), (1, 1500), (1499, 1500), (1500, 1500), (1501, 1500), (4000, 1500), (7, 3)])
    func rangedRetrievalCollectsEveryChunk(total: Int, chunk: Int) throws {
        let initial = try serve(total, chunk: chunk, request: "member;range=0-*")
        var retrieval = try RangedRetrieval(attribute: "member", initial: initial)
        var requests = 0
        while let next = retrieval.nextRequest {
            requests += 1
            try #require(requests < 10_000)
            try retrieval.absorb(try serve(total, chunk: chunk, request: next))
        }
        #expect(retrieval.values.count == total)
        #expect(Set(retrieval.values).count == total)
        #expect(requests == max(0, (total - 1) / chunk))
    }

    @Test func rangedRetrievalWithoutRangeIsComplete() throws {
        let whole = try RangedRetrieval(
            attribute: "member", initial: [LDAPAttribute(name: "member", values: [[1], [2]])])
        #expect(whole.isComplete)
        #expect(whole.values == [[1], [2]])
        let absent = try RangedRetrieval(attribute: "member", initial: [])
        #expect(absent.isComplete && absent.values.isEmpty)
    }

    @Test func rangedRetrievalRejectsGapsAndShortChunks() throws {
        var retrieval = try RangedRetrieval(
            attribute: "member", initial: [LDAPAttribute(name: "member;range=0-1", values: [[0], [1]])])
        #expect(retrieval.nextRequest == "member;range=2-*")
        // The server answers from the wrong offset: a gap would lose members silently.
        #expect(throws: LDAPError.self) {
            var copy = retrieval
            try copy.absorb([LDAPAttribute(name: "member;range=5-*", values: [[5]])])
        }
        // A chunk that claims more values than it carries.
        #expect(throws: LDAPError.self) {
            var copy = retrieval
            try copy.absorb([LDAPAttribute(name: "member;range=2-9", values: [[2]])])
        }
        // The follow-up answers with no ranged attribute at all: the previous chunk was the end.
        try retrieval.absorb([])
        #expect(retrieval.isComplete && retrieval.values.count == 2)
        #expect(throws: LDAPError.self) { try retrieval.absorb([]) }
        // An initial short chunk is rejected too.
        #expect(throws: LDAPError.self) {
            try RangedRetrieval(attribute: "member", initial: [LDAPAttribute(name: "member;range=0-9", values: [[0]])])
        }
    }

    private func entry(_ attributes: [String: [String]]) -> LDAPEntry {
        LDAPEntry(
            dn: "uid=x,dc=example,dc=org",
            attributes: attributes.map { LDAPAttribute(name: $0.key, values: $0.value.map { Array($0.utf8) }) })
    }

    @Test func openLDAPDisabledConditions() {
        let test = DisabledTest.openLDAPDefault
        let day = 86_400.0
        let now = 20_000 * day + 3600  // during day 20000 since 1970
        #expect(!test.matches(entry([:]), nowSeconds: now))
        #expect(test.matches(entry(["pwdAccountLockedTime": ["000001010000Z"]]), nowSeconds: now))
        #expect(test.matches(entry(["shadowExpire": ["1"]]), nowSeconds: now))
        #expect(test.matches(entry(["shadowExpire": ["20000"]]), nowSeconds: now))
        #expect(!test.matches(entry(["shadowExpire": ["20001"]]), nowSeconds: now))
        #expect(!test.matches(entry(["shadowExpire": ["20000"]]), nowSeconds: 19_999 * day))
        #expect(!test.matches(entry(["shadowExpire": ["-1"]]), nowSeconds: now))
        #expect(!test.matches(entry(["shadowExpire": ["0"]]), nowSeconds: now))
        #expect(test.matches(entry(["nsAccountLock": ["TRUE"]]), nowSeconds: now))
        #expect(!test.matches(entry(["nsAccountLock": ["false"]]), nowSeconds: now))
    }

    @Test func activeDirectoryDisabledConditions() {
        let test = DisabledTest([.activeDirectoryAccountControl])
        let now = 1_800_000_000.0
        let nowFT = ActiveDirectoryTime.fileTime(unixSeconds: now)
        #expect(
            !test.matches(
                entry(["userAccountControl": ["512"], "accountExpires": ["9223372036854775807"]]), nowSeconds: now))
        #expect(test.matches(entry(["userAccountControl": ["514"]]), nowSeconds: now))
        #expect(test.matches(entry(["userAccountControl": ["66050"]]), nowSeconds: now))  // 0x10202
        #expect(!test.matches(entry(["userAccountControl": ["66048"]]), nowSeconds: now))  // 0x10200
        #expect(!test.matches(entry(["accountExpires": ["0"]]), nowSeconds: now))
        #expect(test.matches(entry(["accountExpires": [String(nowFT - 1)]]), nowSeconds: now))
        #expect(!test.matches(entry(["accountExpires": [String(nowFT + 10_000_000)]]), nowSeconds: now))
        // 1601-01-01 + 11644473600 s is the Unix epoch.
        #expect(ActiveDirectoryTime.fileTime(unixSeconds: 0) == 116_444_736_000_000_000)
    }

    @Test func searchBasesResolveAgainstTheBaseDN() throws {
        let config = LDAPConfiguration(baseDN: "dc=example,dc=org")
        #expect(try config.resolve(base: "ou=people", defaultBase: nil) == "ou=people,dc=example,dc=org")
        #expect(
            try config.resolve(base: "ou=people,DC=Example, dc=org", defaultBase: nil) == "ou=people,DC=Example, dc=org")
        #expect(try config.resolve(base: nil, defaultBase: nil) == "dc=example,dc=org")
        let noBase = LDAPConfiguration()
        #expect(try noBase.resolve(base: "ou=people", defaultBase: "dc=x") == "ou=people,dc=x")
        #expect(throws: LDAPError.self) { try noBase.resolve(base: nil, defaultBase: nil) }
    }

    @Test func errorsClassifyAndDescribe() {
        let limit = LDAPError(
            LDAPError.code(forResult: 4), "search ou=people failed", resultCode: 4, serverMessage: "Size limit exceeded")
        #expect(limit.code == .sizeLimitExceeded)
        #expect(!limit.isRetriable)
        #expect(limit.description == "search ou=people failed (LDAP rc=4): Size limit exceeded")
        #expect(LDAPError.code(forResult: 3) == .timeLimitExceeded)
        #expect(LDAPError.code(forResult: 49) == .invalidCredentials)
        #expect(LDAPError(LDAPError.code(forResult: -1), "x").isRetriable)
        #expect(LDAPError(.timeout, "x").isRetriable)
        #expect(!LDAPError(.invalidCredentials, "x").isRetriable)
    }

    @Test func passwordSourcesStripOneNewline() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ldap-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("pw")
        try Data("s3cret\n".utf8).write(to: file)
        #expect(try LDAPConfiguration.PasswordSource.file(file.path).load() == Array("s3cret".utf8))
        #expect(throws: LDAPError.self) {
            try LDAPConfiguration.PasswordSource.file(dir.appendingPathComponent("none").path).load()
        }
        #expect(throws: LDAPError.self) {
            try LDAPConfiguration.PasswordSource.environment("ACCESSSYNC_SURELY_UNSET_\(UUID().uuidString.prefix(8))").load()
        }
    }

    @Test func loginValidationRejectsControlCharactersAndSpaces() {
        for bad in ["", "nul\u{0}byte", "line\nbreak", " lead", "trail "] {
            #expect(throws: LDAPError.self, "\(bad.debugDescription)") { try DirectoryWriter.validateLogin(bad) }
        }
        for good in ["*)(uid=*", "a,ou=admins", "#hash", "o'neil", "Zoë"] {
            #expect(throws: Never.self) { try DirectoryWriter.validateLogin(good) }
        }
    }
}
