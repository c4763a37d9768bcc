import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

/// Against the Samba AD DC of the test environment (scripts/testenv/samba.sh), compared with the
/// manifest the generator wrote (scripts/testenv/gen-ad.py).
@Suite("Samba AD: reading users and groups")
struct SambaADTests {
    struct Manifest {
        let peopleBase: String
        let groupsBase: String
        /// sAMAccountName → disabled
        let users: [String: Bool]
        /// group cn → direct member DNs
        let groups: [String: [String]]
        let effective: [String: Set<String>]

        static func load() throws -> Manifest {
            let path = try TestEnv.require("ACCESSSYNC_TEST_SAMBA_MANIFEST")
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let users = try #require(json["users"] as? [[String: Any]])
            let groups = try #require(json["groups"] as? [[String: Any]])
            let logical = try #require(json["logical_groups"] as? [String: [String: Any]])
            return Manifest(
                peopleBase: try #require(json["people_base"] as? String),
                groupsBase: try #require(json["groups_base"] as? String),
                users: Dictionary(
                    uniqueKeysWithValues: users.map { ($0["sAMAccountName"] as! String, $0["disabled"] as! Bool) }),
                groups: Dictionary(
                    uniqueKeysWithValues: groups.map { ($0["cn"] as! String, $0["members"] as! [String]) }),
                effective: logical.mapValues { Set(($0["effective_users"] as? [String]) ?? []) })
        }
    }

    func scopedConfig(_ manifest: Manifest) throws -> LDAPConfiguration {
        var config = try TestEnv.samba()
        config.people = .init(base: manifest.peopleBase)
        config.groups = .init(base: manifest.groupsBase)
        config.unresolvedMembers = .fail
        return config
    }

    @Test func readsUsersGroupsNestingAndDisabledAccounts() async throws {
        let manifest = try Manifest.load()
        let now = Date()
        let read = try await DirectoryReader.readWithReport(
            config: try scopedConfig(manifest), now: now, logger: TestEnv.logger)
        let snapshot = read.snapshot
        #expect(snapshot.people.count == manifest.users.count)
        #expect(Set(snapshot.people.values.map(\.uid)) == Set(manifest.users.keys))
        for person in snapshot.people.values {
            #expect(person.disabled == manifest.users[person.uid], "\(person.uid)")
            // Canonical UUID text from the binary objectGUID.
            #expect(person.id.rawValue.count == 36)
            #expect(person.id.rawValue.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        }
        #expect(Set(snapshot.people.keys).count == snapshot.people.count)

        // Each group's direct members, resolved to people and nested groups.
        #expect(Set(snapshot.groups.values.map(\.name)) == Set(manifest.groups.keys))
        let personByDN = Dictionary(uniqueKeysWithValues: snapshot.people.values.map { ($0.dn, $0.id) })
        for group in snapshot.groups.values {
            let expected = try #require(manifest.groups[group.name])
            var people: Set<PersonID> = []
            var groups: Set<DistinguishedName> = []
            for member in expected {
                let dn = try DistinguishedName(member)
                if let id = personByDN[dn] { people.insert(id) } else { groups.insert(dn) }
            }
            #expect(group.memberPeople == people, "\(group.name)")
            #expect(group.memberGroups == groups, "\(group.name)")
            #expect(group.unresolvedMembers.isEmpty)
        }

        // Transitive membership equals the generator's, and the cycle is found.
        let expansion = MembershipExpansion.expand(snapshot)
        let uidByID = Dictionary(uniqueKeysWithValues: snapshot.people.values.map { ($0.id, $0.uid) })
        for group in snapshot.groups.values {
            let effective = Set((expansion.people[group.dn] ?? []).compactMap { uidByID[$0] })
            #expect(effective == manifest.effective[group.name], "\(group.name)")
        }
        #expect(expansion.cycles.count == 1)
    }

    /// The server's own transitive evaluation (LDAP_MATCHING_RULE_IN_CHAIN) agrees with the tool's.
    @Test func nestedMembershipMatchesTheInChainRule() async throws {
        let manifest = try Manifest.load()
        let config = try scopedConfig(manifest)
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        let read = try await DirectoryReader.read(connection: connection, config: config, now: Date(), logger: TestEnv.logger)
        let expansion = MembershipExpansion.expand(read.snapshot)
        let users = try #require(read.snapshot.groups(named: "jupyter-users").first)
        let chained = try await connection.search(
            base: manifest.peopleBase,
            filter: "(memberOf:1.2.840.113556.1.4.1941:=\(users.dn.original))", attributes: ["sAMAccountName"])
        let fromServer = Set(chained.compactMap { $0.string("sAMAccountName") })
        let uidByID = Dictionary(uniqueKeysWithValues: read.snapshot.people.values.map { ($0.id, $0.uid) })
        let ours = Set((expansion.people[users.dn] ?? []).compactMap { uidByID[$0] })
        #expect(!ours.isEmpty)
        #expect(ours == fromServer)
        await connection.close()
    }

    /// From the domain root, Samba returns continuation references (to CN=Configuration, …):
    /// they are skipped, not chased, and the read completes — including the many empty built-in
    /// groups, which the member-read checks must not mistake for hidden membership.
    @Test func continuationReferencesAreSkipped() async throws {
        var config = try TestEnv.samba()
        config.people = .init(base: nil)
        config.groups = .init(base: nil)
        let read = try await DirectoryReader.readWithReport(config: config, now: Date(), logger: TestEnv.logger)
        #expect(!read.report.skippedReferences.isEmpty)
        #expect(read.report.skippedReferences.allSatisfy { $0.lowercased().hasPrefix("ldap") })
        #expect(read.snapshot.people.values.contains { $0.uid == "Administrator" })
        #expect(read.snapshot.groups.values.contains { $0.name == "Domain Admins" })
        let manifest = try Manifest.load()
        #expect(read.snapshot.people.count > manifest.users.count)
    }

    @Test func startTLSOnPort389() async throws {
        var config = try TestEnv.samba()
        config.uri = try TestEnv.require("ACCESSSYNC_TEST_SAMBA_STARTTLS_URI")
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        let root = try await connection.search(
            base: try TestEnv.require("ACCESSSYNC_TEST_SAMBA_BASE"), scope: .base, attributes: ["objectGUID"], pageSize: nil)
        #expect(root.first?.values("objectGUID").first?.count == 16)
        await connection.close()
    }

    @Test func wrongCAAndWrongPasswordFailClearly() async throws {
        var config = try TestEnv.samba()
        config.tls.caFile = try TestEnv.require("ACCESSSYNC_TEST_SAMBA_WRONG_CA")
        let tls = await expectLDAPError(.tlsFailed) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
        #expect(tls?.description.contains("ca_file") == true)

        config = try TestEnv.samba()
        setenv("ACCESSSYNC_LDAP_TEST_SAMBA_WRONG_PW", "Wrong-Passw0rd!", 1)
        config.password = .environment("ACCESSSYNC_LDAP_TEST_SAMBA_WRONG_PW")
        let bind = await expectLDAPError(.invalidCredentials) {
            try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
        }
        #expect(bind?.resultCode == 49)
        #expect(bind?.description.contains("Wrong-Passw0rd!") == false)
    }

    /// objectGUID read through the bridge equals the GUID Samba reports in its text form.
    @Test func objectGUIDMatchesTheServersTextForm() async throws {
        let config = try TestEnv.samba()
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        let base = try TestEnv.require("ACCESSSYNC_TEST_SAMBA_BASE")
        let admin = try #require(
            try await connection.search(
                base: base, filter: "(sAMAccountName=Administrator)", attributes: ["objectGUID"], pageSize: nil
            ).first)
        let guid = try ObjectGUID.string(fromBytes: admin.values("objectGUID")[0])
        // AD accepts the GUID as a DN: <GUID=text> finds the same entry only if the text is right.
        let byGUID = try await connection.search(base: "<GUID=\(guid)>", scope: .base, attributes: ["sAMAccountName"], pageSize: nil)
        #expect(byGUID.first?.string("sAMAccountName") == "Administrator")
        // And the binary filter form of the same GUID matches it too.
        let escaped = try ObjectGUID.bytes(fromString: guid).map { String(format: "\\%02x", $0) }.joined()
        let byFilter = try await connection.search(
            base: base, filter: "(objectGUID=\(escaped))", attributes: ["sAMAccountName"], pageSize: nil)
        #expect(byFilter.first?.string("sAMAccountName") == "Administrator")
        await connection.close()
    }
}
