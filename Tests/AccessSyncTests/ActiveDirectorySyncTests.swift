import AccessSyncCore
import Foundation
import RBACModel
import Testing

/// `sync` reading a real Samba AD DC (activeDirectory schema: sAMAccountName, objectGUID,
/// userAccountControl/accountExpires, nested groups) into the test API server.
@Suite("sync from Active Directory")
struct ActiveDirectorySyncTests {
    struct Manifest: Decodable {
        struct User: Decodable {
            var sAMAccountName: String
            var disabled: Bool
        }
        struct Group: Decodable {
            var effective_users: [String]
        }
        var users: [User]
        var logical_groups: [String: Group]
        var people_base: String
        var groups_base: String
    }

    @Test("nested members get access, disabled accounts get nothing, the second run changes nothing")
    func syncFromSamba() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let uri = environment["ACCESSSYNC_TEST_SAMBA_URI"], let manifestPath = environment["ACCESSSYNC_TEST_SAMBA_MANIFEST"]
        else {
            throw IntegrationSetupError(
                "ACCESSSYNC_TEST_SAMBA_URI / ACCESSSYNC_TEST_SAMBA_MANIFEST are not set: run scripts/test.sh "
                    + "(or scripts/testenv/up.sh --with-samba and source .testenv/env.sh)")
        }
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        try await withSyncWorld(people: ["placeholder"]) { world in
            var ldap = Configuration.LDAP()
            ldap.uri = uri
            ldap.baseDN = environment["ACCESSSYNC_TEST_SAMBA_BASE"]
            ldap.bindDN = environment["ACCESSSYNC_TEST_SAMBA_BIND_DN"]
            ldap.bindPassword = .file(environment["ACCESSSYNC_TEST_SAMBA_PASSWORD_FILE"] ?? "")
            ldap.tls.caFile = environment["ACCESSSYNC_TEST_SAMBA_CA"]
            ldap.schema = .activeDirectory
            ldap.people = .init(base: manifest.people_base)
            ldap.groups = .init(base: manifest.groups_base)
            world.configuration.ldap = ldap
            world.configuration.hub.url = nil  // the shared hub is not needed here

            let first = try await world.run(.sync)
            #expect(first.exitStatus == .ok, "\(first.report.outcomes.filter { $0.status != .succeeded })")
            let disabled = Set(manifest.users.filter(\.disabled).map { $0.sAMAccountName.lowercased() })
            let granted = Set(
                ["jupyter-users", "jupyter-admins"].flatMap { manifest.logical_groups[$0]?.effective_users ?? [] }
                    .map { $0.lowercased() })
            let withAccess = Set(first.report.desired.entitlements.values.filter(\.hubAccess).map { $0.uid.lowercased() })
            #expect(!withAccess.isEmpty)
            #expect(withAccess.isDisjoint(with: disabled), "disabled accounts got access: \(withAccess.intersection(disabled))")
            #expect(withAccess.isSubset(of: granted), "access beyond the groups: \(withAccess.subtracting(granted))")
            // Nested membership: the members of jupyter-interns (nested in jupyter-users) who are enabled.
            let interns = Set((manifest.logical_groups["jupyter-interns"]?.effective_users ?? []).map { $0.lowercased() })
                .subtracting(disabled)
            #expect(!interns.isEmpty)
            #expect(interns.isSubset(of: withAccess), "nested members without access: \(interns.subtracting(withAccess))")
            for entitlement in first.report.desired.entitlements.values where entitlement.hubAccess {
                if let namespace = entitlement.namespace {
                    #expect(world.cluster.object("namespaces", name: namespace) != nil, "\(namespace) missing")
                }
            }
            let second = try await world.run(.sync)
            #expect(second.report.changes.changes.isEmpty, "\(second.report.changes.changes.map(\.id))")
        }
    }
}
