import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

/// OpenLDAP client conventions (LDAPURI, LDAPBASE, LDAPTLS_CACERT) are read by libldap once per
/// process, so they are tested in a fresh child test process that has them set.
@Suite("OpenLDAP client conventions")
struct ClientConventionsTests {
    static let childMarker = "ACCESSSYNC_LDAP_CONVENTIONS_CHILD"

    @Test func environmentConventionsAreHonoured() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnv.uniqueName("conventions"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = dir.appendingPathComponent("result").path
        let log = dir.appendingPathComponent("child.log").path
        let status = try await runSubprocess(
            [CommandLine.arguments[0], "--testing-library", "swift-testing", "--filter", "childUsesLibldapDefaults"],
            outputFile: log,
            environment: [
                Self.childMarker: result,
                "LDAPURI": try TestEnv.require("ACCESSSYNC_TEST_LDAP_URI"),
                "LDAPBASE": try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE"),
                "LDAPTLS_CACERT": try TestEnv.require("ACCESSSYNC_TEST_LDAP_CA"),
            ])
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 0, "child test process failed:\n\(output.suffix(3000))")
        // The child writes this file only when its test ran to the end (an empty filter match exits 0 too).
        #expect((try? String(contentsOfFile: result, encoding: .utf8)) == "ok", "\(output.suffix(3000))")
    }

    /// Runs only inside the child process started above (it needs LDAPURI etc. set before libldap
    /// initialises); in the main test process it is disabled, and the test above runs it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childMarker] != nil, "started by environmentConventionsAreHonoured"))
    func childUsesLibldapDefaults() async throws {
        let environment = ProcessInfo.processInfo.environment
        var config = LDAPConfiguration(
            bindDN: try TestEnv.require("ACCESSSYNC_TEST_LDAP_SYNC_DN"),
            password: .file(try TestEnv.require("ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE")))
        #expect(config.uri == nil && config.baseDN == nil && config.tls.caFile == nil)
        // URI from LDAPURI, base from LDAPBASE, CA from LDAPTLS_CACERT (StartTLS with verification).
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        #expect(connection.uri == environment["LDAPURI"])
        #expect(connection.defaultBase == environment["LDAPBASE"])
        let read = try await DirectoryReader.read(connection: connection, config: config, now: Date(), logger: TestEnv.logger)
        #expect(!read.snapshot.people.isEmpty)
        await connection.close()
        // Explicit configuration overrides the conventions: a wrong CA fails although LDAPTLS_CACERT is right.
        config.tls.caFile = try TestEnv.require("ACCESSSYNC_TEST_LDAP_WRONG_CA")
        _ = await expectLDAPError(.tlsFailed) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
        // And an explicit URI wins over LDAPURI.
        config.tls.caFile = nil
        config.uri = try TestEnv.require("ACCESSSYNC_TEST_LDAPS_URI")
        let ldaps = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        #expect(ldaps.uri.hasPrefix("ldaps://"))
        await ldaps.close()
        try "ok".write(toFile: environment[Self.childMarker]!, atomically: true, encoding: .utf8)
    }
}
