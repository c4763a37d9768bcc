import AccessSyncCore
import Foundation
import HubTarget
import KubeTarget
import LDAPBridge
import Logging
import PolicyStore
import RBACModel

// Helpers for the operator command tests (add-user, explain, report unmanaged, identity). They only
// add to SyncWorld; its existing behaviour is unchanged.
extension SyncWorld {
    /// The world's configuration with `ldap.writer` bound as the directory administrator (the sync's
    /// own account is read-only).
    var writerConfiguration: Configuration {
        var configuration = self.configuration
        configuration.ldap.writer.bindDN = environment["ACCESSSYNC_TEST_LDAP_ADMIN_DN"]
        configuration.ldap.writer.bindPassword = .file(environment["ACCESSSYNC_TEST_LDAP_ADMIN_PASSWORD_FILE"])
        return configuration
    }

    var quietLogger: Logger {
        var logger = Logger(label: "accesssync.it.operator")
        logger.logLevel = .critical
        return logger
    }

    var actor: String { "it-\(tag)" }

    /// Adds `dn` to (or removes it from) a group's `member` values.
    func changeMembership(group: String, add: [String] = [], remove: [String] = []) async throws {
        let connection = try await adminLDAP()
        var modifications: [LDAPModification] = []
        if !remove.isEmpty { modifications.append(LDAPModification(.delete, "member", remove.map { Array($0.utf8) })) }
        if !add.isEmpty { modifications.append(LDAPModification(.add, "member", add.map { Array($0.utf8) })) }
        do {
            try await connection.modify(dn: groupDN(group), modifications)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// Adds a person entry `uid=<tag><name>` (a new entryUUID, whatever existed before).
    func addPersonEntry(_ name: String, uidNumber: Int) async throws {
        let connection = try await adminLDAP()
        func values(_ strings: String...) -> [[UInt8]] { strings.map { Array($0.utf8) } }
        do {
            try await connection.add(
                dn: personDN(name),
                attributes: [
                    ("objectClass", values("inetOrgPerson", "posixAccount")), ("uid", values(uid(name))),
                    ("cn", values(name.capitalized)), ("sn", values(name.capitalized)),
                    ("mail", values("\(name)@example.org")), ("uidNumber", values(String(uidNumber))),
                    ("gidNumber", values("70000")), ("homeDirectory", values("/home/\(uid(name))")),
                ])
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    func deleteEntry(_ dn: String) async throws {
        let connection = try await adminLDAP()
        do {
            try await connection.delete(dn: dn)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    func replaceAttribute(_ dn: String, _ attribute: String, _ value: String) async throws {
        let connection = try await adminLDAP()
        do {
            try await connection.modify(dn: dn, [LDAPModification(.replace, attribute, strings: [value])])
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// The entryUUID of an entry.
    func entryUUID(_ dn: String) async throws -> String? {
        let connection = try await adminLDAP()
        let entries: [LDAPEntry]
        do {
            entries = try await connection.search(base: dn, scope: .base, attributes: ["entryUUID"], pageSize: nil)
        } catch let error as LDAPError where error.code == .noSuchObject {
            await connection.close()
            return nil
        }
        await connection.close()
        return entries.first?.string("entryUUID")?.lowercased()
    }

    /// Renames an entry in place (LDAP modrdn, keeping its entryUUID) with the OpenLDAP client,
    /// since LDAPConnection has no modrdn operation.
    func renameEntry(_ dn: String, newRDN: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ldapmodrdn")
        process.arguments = [
            "-x", "-ZZ", "-H", environment["ACCESSSYNC_TEST_LDAP_URI"], "-D", environment["ACCESSSYNC_TEST_LDAP_ADMIN_DN"],
            "-y", environment["ACCESSSYNC_TEST_LDAP_ADMIN_PASSWORD_FILE"], "-r", dn, newRDN,
        ]
        var variables = ProcessInfo.processInfo.environment
        variables["LDAPTLS_CACERT"] = environment["ACCESSSYNC_TEST_LDAP_CA"]
        process.environment = variables
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw IntegrationSetupError("ldapmodrdn \(dn) \(newRDN) failed (\(process.terminationStatus)): \(text)")
        }
    }

    /// A client for the world's API server (to make objects by hand, as a cluster admin would).
    func kubeClient() throws -> KubeClient {
        try KubeClient(configuration: try KubeClientConfiguration.fromKubeconfig(path: kubeconfigPath, context: nil))
    }

    func hubClient() throws -> HubClient {
        try HubClient(configuration: try configuration.hub.clientConfiguration())
    }

    /// Audit rows (action, object name, os user) written outside runs, in order.
    /// The operator commands' audit rows other than intents (outcomes, policy edits), in order.
    func operatorAuditRows() async throws -> [(action: String, name: String, osUser: String)] {
        let connection = try await PGConnection.connect(pgOptions)
        let result = try await connection.query(
            "SELECT action, object_name, os_user FROM accesssync.audit_log WHERE run_id IS NULL AND os_user = $1 "
                + "AND outcome <> 'intent' ORDER BY id",
            [actor])
        await connection.close()
        return result.rows.map { ($0[0] ?? "", $0[1] ?? "", $0[2] ?? "") }
    }

    /// Every operator audit row: action, object, outcome, whether it links an intent (`intent_id`), message.
    func operatorAuditTrail() async throws -> [(action: String, name: String, outcome: String, linked: Bool, message: String)] {
        let connection = try await PGConnection.connect(pgOptions)
        let result = try await connection.query(
            "SELECT action, object_name, outcome, (intent_id IS NOT NULL)::text, coalesce(message, '') "
                + "FROM accesssync.audit_log WHERE run_id IS NULL AND os_user = $1 ORDER BY id",
            [actor])
        await connection.close()
        return result.rows.map { ($0[0] ?? "", $0[1] ?? "", $0[2] ?? "", $0[3] == "true", $0[4] ?? "") }
    }
}
