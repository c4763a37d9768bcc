import Foundation
import Logging
import Testing

@testable import LDAPBridge
import RBACModel

/// A required test setting was missing: integration tests fail (never skip) with this message.
struct MissingTestEnvironment: Error, CustomStringConvertible {
    let variable: String
    var description: String {
        "\(variable) is not set: run scripts/test.sh, or start the servers with scripts/testenv/up.sh and "
            + "`source .testenv/env.sh` before `swift test`"
    }
}

enum TestEnv {
    static func require(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingTestEnvironment(variable: name)
        }
        return value
    }

    static func optional(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    static let logger: Logger = {
        var logger = Logger(label: "accesssync.ldap.tests")
        logger.logLevel = .warning
        return logger
    }()

    /// The OpenLDAP accounts the test environment provides.
    enum Account: String {
        case admin = "ADMIN", sync = "SYNC", limited = "LIMITED", nomember = "NOMEMBER"
    }

    /// A configuration for the test slapd (StartTLS over ldap:// with the test CA).
    static func openLDAP(
        _ account: Account = .sync, schema: DirectorySchema = .rfc2307bis, baseDN: String? = nil, ldaps: Bool = false
    ) throws -> LDAPConfiguration {
        let uri = try require(ldaps ? "ACCESSSYNC_TEST_LDAPS_URI" : "ACCESSSYNC_TEST_LDAP_URI")
        return LDAPConfiguration(
            uri: uri, baseDN: try baseDN ?? require("ACCESSSYNC_TEST_LDAP_BASE"),
            bindDN: try require("ACCESSSYNC_TEST_LDAP_\(account.rawValue)_DN"),
            password: .file(try require("ACCESSSYNC_TEST_LDAP_\(account.rawValue)_PASSWORD_FILE")),
            tls: .init(startTLS: true, caFile: try require("ACCESSSYNC_TEST_LDAP_CA")),
            timeouts: .init(network: .seconds(5), operation: .seconds(60)), schema: schema)
    }

    /// A configuration for the test Samba AD DC (ldaps).
    static func samba() throws -> LDAPConfiguration {
        LDAPConfiguration(
            uri: try require("ACCESSSYNC_TEST_SAMBA_URI"), baseDN: try require("ACCESSSYNC_TEST_SAMBA_BASE"),
            bindDN: try require("ACCESSSYNC_TEST_SAMBA_BIND_DN"),
            password: .file(try require("ACCESSSYNC_TEST_SAMBA_PASSWORD_FILE")),
            tls: .init(caFile: try require("ACCESSSYNC_TEST_SAMBA_CA")),
            timeouts: .init(network: .seconds(5), operation: .seconds(60)), schema: .activeDirectory,
            people: .init(base: nil), groups: .init(base: nil))
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// An isolated subtree of the test directory: `ou=<unique>,<base>` with `ou=people` and `ou=groups`,
/// created through the admin account and removed afterwards. Tests running in parallel each get
/// their own, so they never see one another's entries.
struct Fixture {
    let admin: LDAPConnection
    let base: String
    var people: String { "ou=people,\(base)" }
    var groups: String { "ou=groups,\(base)" }

    static func with<R>(_ name: String, _ body: (Fixture) async throws -> R) async throws -> R {
        let admin = try await LDAPConnection.connect(try TestEnv.openLDAP(.admin), logger: TestEnv.logger)
        let root = try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE")
        let unit = TestEnv.uniqueName(name)
        let fixture = Fixture(admin: admin, base: "ou=\(unit),\(root)")
        try await admin.add(dn: fixture.base, attributes: [("objectClass", [b("organizationalUnit")]), ("ou", [b(unit)])])
        for ou in ["people", "groups"] {
            try await admin.add(
                dn: "ou=\(ou),\(fixture.base)", attributes: [("objectClass", [b("organizationalUnit")]), ("ou", [b(ou)])])
        }
        do {
            let result = try await body(fixture)
            await fixture.destroy()
            return result
        } catch {
            await fixture.destroy()
            throw error
        }
    }

    /// Deletes the subtree, deepest entries first (best effort).
    func destroy() async {
        if let entries = try? await admin.search(base: base, attributes: ["1.1"], pageSize: 500) {
            let dns = entries.compactMap { try? DistinguishedName($0.dn) }.sorted { $0.rdns.count > $1.rdns.count }
            for dn in dns { try? await admin.delete(dn: dn.original) }
        }
        await admin.close()
    }

    /// A reader configuration scoped to this fixture.
    func config(
        _ account: TestEnv.Account = .sync, schema: DirectorySchema = .rfc2307bis, ldaps: Bool = false
    ) throws -> LDAPConfiguration {
        var config = try TestEnv.openLDAP(account, schema: schema, baseDN: base, ldaps: ldaps)
        config.people = .init(base: "ou=people")
        config.groups = .init(base: "ou=groups")
        return config
    }

    /// Adds an inetOrgPerson + posixAccount + shadowAccount; returns the DN.
    @discardableResult
    func addPerson(
        _ uid: String, rdn: String? = nil, cn: [String]? = nil, extra: [(String, [String])] = [], posix: Bool = true,
        parent: String? = nil
    ) async throws -> String {
        let dn = "\(rdn ?? "uid=\(DistinguishedName.escape(uid))"),\(parent ?? people)"
        var attributes: [(String, [String])] = [
            ("objectClass", posix ? ["inetOrgPerson", "posixAccount", "shadowAccount"] : ["inetOrgPerson"]),
            ("uid", [uid]), ("cn", cn ?? ["\(uid) person"]), ("sn", ["Person"]),
        ]
        if posix {
            attributes += [
                ("uidNumber", [String(Int.random(in: 100_000...900_000))]), ("gidNumber", ["100"]),
                ("homeDirectory", ["/home/\(uid)"]),
            ]
        }
        attributes += extra
        try await admin.add(dn: dn, attributes: attributes.map { ($0.0, $0.1.map(b)) })
        return dn
    }

    @discardableResult
    func addGroupOfNames(_ cn: String, members: [String], parent: String? = nil) async throws -> String {
        let dn = "cn=\(DistinguishedName.escape(cn)),\(parent ?? groups)"
        try await admin.add(
            dn: dn, attributes: [("objectClass", [b("groupOfNames")]), ("cn", [b(cn)]), ("member", members.map(b))])
        return dn
    }

    @discardableResult
    func addPosixGroup(_ cn: String, gid: Int, memberUids: [String]) async throws -> String {
        let dn = "cn=\(DistinguishedName.escape(cn)),\(groups)"
        var attributes: [(String, [[UInt8]])] = [
            ("objectClass", [b("posixGroup")]), ("cn", [b(cn)]), ("gidNumber", [b(String(gid))]),
        ]
        if !memberUids.isEmpty { attributes.append(("memberUid", memberUids.map(b))) }
        try await admin.add(dn: dn, attributes: attributes)
        return dn
    }

    /// The entryUUID the server assigned to `dn`.
    func entryUUID(_ dn: String) async throws -> String {
        let entries = try await admin.search(base: dn, scope: .base, attributes: ["entryUUID"], pageSize: nil)
        return try #require(entries.first?.string("entryUUID"))
    }
}

func b(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Runs `body` and returns the `LDAPError` it threw; records an issue if it threw something else or nothing.
func expectLDAPError<T>(
    _ code: LDAPError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async -> LDAPError? {
    do {
        _ = try await body()
        Issue.record("expected LDAPError \(code), but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as LDAPError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected LDAPError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
