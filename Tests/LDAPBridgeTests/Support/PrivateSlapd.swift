import Foundation
import Testing

@testable import LDAPBridge

/// A slapd of the test's own, started with `scripts/testenv/slapd.sh start DIR --org none`, for
/// tests that kill or freeze the server. Stopped (by PID, through the script) by `stop()`.
struct PrivateSlapd {
    let directory: String
    let environment: [String: String]
    let pid: Int32

    static var repositoryRoot: URL {
        // Tests/LDAPBridgeTests/Support/PrivateSlapd.swift → repository root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Starts a private slapd, runs `body`, and stops it (also when `body` throws).
    static func with(_ body: (PrivateSlapd) async throws -> Void) async throws {
        let slapd = try await start()
        do {
            try await body(slapd)
        } catch {
            await slapd.stop()
            throw error
        }
        await slapd.stop()
    }

    static func start() async throws -> PrivateSlapd {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("accesssync-ldap-test-\(UUID().uuidString.prefix(8))").path
        try await run(["start", directory, "--org", "none"])
        let text = try String(contentsOfFile: directory + "/env.sh", encoding: .utf8)
        var environment: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            var value = String(assignment[assignment.index(after: equals)...])
            if value.hasPrefix("'"), value.hasSuffix("'") { value = String(value.dropFirst().dropLast()) }
            environment[String(assignment[..<equals])] = value
        }
        guard let pidText = environment["ACCESSSYNC_TEST_SLAPD_PID"], let pid = Int32(pidText) else {
            throw MissingTestEnvironment(variable: "ACCESSSYNC_TEST_SLAPD_PID in \(directory)/env.sh")
        }
        return PrivateSlapd(directory: directory, environment: environment, pid: pid)
    }

    func stop() async {
        kill(pid, SIGCONT)
        try? await PrivateSlapd.run(["stop", directory])
    }

    private static func run(_ arguments: [String]) async throws {
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("accesssync-slapd-sh-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let script = repositoryRoot.appendingPathComponent("scripts/testenv/slapd.sh").path
        let status = try await runSubprocess([script] + arguments, outputFile: log)
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw SubprocessFailed(command: "slapd.sh \(arguments.joined(separator: " "))", output: output)
        }
    }

    func config(admin: Bool = false) throws -> LDAPConfiguration {
        func value(_ key: String) throws -> String {
            guard let value = environment[key] else { throw MissingTestEnvironment(variable: "\(key) in \(directory)") }
            return value
        }
        let account = admin ? "ADMIN" : "SYNC"
        return LDAPConfiguration(
            uri: try value("ACCESSSYNC_TEST_LDAP_URI"), baseDN: try value("ACCESSSYNC_TEST_LDAP_BASE"),
            bindDN: try value("ACCESSSYNC_TEST_LDAP_\(account)_DN"),
            password: .file(try value("ACCESSSYNC_TEST_LDAP_\(account)_PASSWORD_FILE")),
            tls: .init(caFile: try value("ACCESSSYNC_TEST_LDAP_CA")),
            timeouts: .init(network: .seconds(3), operation: .seconds(30)), people: .init(base: "ou=people"),
            groups: .init(base: "ou=groups"))
    }

    /// Loads `count` people and one group holding all of them.
    func load(people count: Int, padding: Int = 0) async throws {
        let admin = try await LDAPConnection.connect(try config(admin: true), logger: TestEnv.logger)
        let base = try config().baseDN!
        for ou in ["people", "groups"] {
            try await admin.add(dn: "ou=\(ou),\(base)", attributes: [("objectClass", [b("organizationalUnit")]), ("ou", [b(ou)])])
        }
        var members: [[UInt8]] = []
        for index in 0..<count {
            let uid = String(format: "p%05d", index)
            let dn = "uid=\(uid),ou=people,\(base)"
            try await admin.add(
                dn: dn,
                attributes: [
                    ("objectClass", [b("inetOrgPerson")]), ("uid", [b(uid)]), ("cn", [b(uid)]), ("sn", [b("P")]),
                ] + (padding > 0 ? [("description", [[UInt8](repeating: 0x78, count: padding)])] : []))
            members.append(b(dn))
        }
        try await admin.add(
            dn: "cn=all,ou=groups,\(base)",
            attributes: [("objectClass", [b("groupOfNames")]), ("cn", [b("all")]), ("member", members)])
        await admin.close()
    }
}
