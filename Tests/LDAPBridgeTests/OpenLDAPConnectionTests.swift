import Foundation
import Testing

@testable import LDAPBridge
import RBACModel

@Suite("OpenLDAP: connecting, TLS, binding")
struct OpenLDAPConnectionTests {
    @Test func startTLSWithTheTestCABinds() async throws {
        let connection = try await LDAPConnection.connect(try TestEnv.openLDAP(.sync), logger: TestEnv.logger)
        let base = try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE")
        let entries = try await connection.search(base: base, scope: .base, attributes: ["entryUUID"], pageSize: nil)
        #expect(entries.count == 1)
        #expect(entries.first?.string("entryUUID")?.count == 36)
        await connection.close()
        await #expect(throws: LDAPError.self) {
            _ = try await connection.search(base: base, scope: .base, pageSize: nil)
        }
    }

    @Test func ldapsWithTheTestCABinds() async throws {
        let connection = try await LDAPConnection.connect(try TestEnv.openLDAP(.sync, ldaps: true), logger: TestEnv.logger)
        #expect(connection.uri.hasPrefix("ldaps://"))
        let entries = try await connection.search(
            base: try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE"), scope: .base, pageSize: nil)
        #expect(entries.count == 1)
        await connection.close()
    }

    /// A CA that did not sign the server certificate: a readable TLS error, for ldaps and StartTLS.
    @Test(arguments: [false, true])
    func wrongCAFailsWithAReadableMessage(ldaps: Bool) async throws {
        // An unrelated CA made by the test environment (scripts/testenv/slapd.sh: tls/wrong-ca.pem).
        let pem = try TestEnv.require("ACCESSSYNC_TEST_LDAP_WRONG_CA")
        var config = try TestEnv.openLDAP(.sync, ldaps: ldaps)
        config.tls.caFile = pem
        let error = await expectLDAPError(.tlsFailed) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
        let text = error?.description ?? ""
        #expect(text.contains(config.uri!))
        #expect(text.contains("ca_file"))
        #expect(text.contains(pem))
        #expect(!text.contains("unknown error code"))
    }

    /// A client certificate from the test CA is presented (slapd asks with TLSVerifyClient=try).
    @Test func clientCertificateIsAccepted() async throws {
        var config = try TestEnv.openLDAP(.sync, ldaps: true)
        config.tls.certificateFile = try TestEnv.require("ACCESSSYNC_TEST_LDAP_CLIENT_CERT")
        config.tls.keyFile = try TestEnv.require("ACCESSSYNC_TEST_LDAP_CLIENT_KEY")
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        let entries = try await connection.search(
            base: try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE"), scope: .base, pageSize: nil)
        #expect(entries.count == 1)
        await connection.close()
        // A key file that does not exist fails clearly, before any bind.
        config.tls.keyFile = "/nonexistent/\(UUID().uuidString).key"
        _ = await expectLDAPError(.tlsFailed) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
    }

    @Test func tlsVerificationIsOnByDefault() {
        #expect(LDAPConfiguration().tls.verify == .demand)
        #expect(LDAPConfiguration().tls.startTLS)
    }

    @Test func wrongPasswordIsInvalidCredentialsWithoutThePassword() async throws {
        let secret = "not-the-password-\(UUID().uuidString)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnv.uniqueName("pw"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("pw")
        try Data(secret.utf8).write(to: file)
        var config = try TestEnv.openLDAP(.sync)
        config.password = .file(file.path)
        let error = await expectLDAPError(.invalidCredentials) {
            try await LDAPConnection.connect(config, logger: TestEnv.logger)
        }
        #expect(error?.resultCode == 49)
        #expect(error?.isRetriable == false)
        #expect(error.map { !$0.description.contains(secret) } ?? false)
        #expect(error?.description.contains(config.bindDN!) == true)
        // The reader fails the same way, without a snapshot.
        _ = await expectLDAPError(.invalidCredentials) {
            try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
        }
    }

    @Test func passwordFromAnEnvironmentVariable() async throws {
        var config = try TestEnv.openLDAP(.sync)
        let file = try TestEnv.require("ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE")
        var password = try String(contentsOfFile: file, encoding: .utf8)
        if password.hasSuffix("\n") { password.removeLast() }
        let name = "ACCESSSYNC_LDAP_TEST_PW_\(UUID().uuidString.prefix(8))"
        setenv(name, password, 1)
        defer { unsetenv(name) }
        config.password = .environment(name)
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        await connection.close()
        config.password = .environment("\(name)_UNSET")
        let error = await expectLDAPError(.passwordUnavailable) {
            try await LDAPConnection.connect(config, logger: TestEnv.logger)
        }
        #expect(error?.description.contains("\(name)_UNSET") == true)
    }

    @Test func emptyPasswordIsRefusedInsteadOfAnUnauthenticatedBind() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnv.uniqueName("pw"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("empty")
        try Data("\n".utf8).write(to: file)
        var config = try TestEnv.openLDAP(.sync)
        config.password = .file(file.path)
        _ = await expectLDAPError(.passwordUnavailable) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
    }

    @Test func unreachableServerIsConnectFailedAndRetriable() async throws {
        var config = try TestEnv.openLDAP(.sync)
        // A port that was free a moment ago; nothing listens there.
        config.uri = "ldap://127.0.0.1:\(try freePort())"
        let error = await expectLDAPError(.connectFailed) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
        #expect(error?.isRetriable == true)
        config.uri = "ldaps://127.0.0.1:\(try freePort())"
        _ = await expectLDAPError(.connectFailed) { try await LDAPConnection.connect(config, logger: TestEnv.logger) }
    }

    @Test func plainLDAPWithoutStartTLSWhenExplicitlyConfigured() async throws {
        var config = try TestEnv.openLDAP(.sync)
        config.tls.startTLS = false
        let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        let entries = try await connection.search(
            base: try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE"), scope: .base, pageSize: nil)
        #expect(entries.count == 1)
        await connection.close()
    }

    @Test func nulBytesNeverReachLibldap() async throws {
        let connection = try await LDAPConnection.connect(try TestEnv.openLDAP(.sync), logger: TestEnv.logger)
        let base = try TestEnv.require("ACCESSSYNC_TEST_LDAP_BASE")
        // "(uid=x\0)(uid=*" would be cut at the NUL by a C string, leaving "(uid=x".
        _ = await expectLDAPError(.invalidInput) {
            try await connection.search(base: base, filter: "(uid=x\u{0})(uid=*", pageSize: nil)
        }
        _ = await expectLDAPError(.invalidInput) {
            try await connection.search(base: "ou=x\u{0},\(base)", pageSize: nil)
        }
        await connection.close()
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw MissingTestEnvironment(variable: "a free port") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
