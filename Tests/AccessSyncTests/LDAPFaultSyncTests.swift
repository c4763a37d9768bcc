import AccessSyncCore
import Foundation
import LDAPBridge
import RBACModel
import Testing

/// Issue 8 item 7, "LDAP ... timing out, size-limited": the sync engine against real slapd faults.
/// Each run has a pending revocation, so "nothing written" is a real claim, not an empty plan.
@Suite("sync under LDAP faults", .serialized)
struct LDAPFaultSyncTests {
    /// A world after a good first sync, with bob removed from jupyter-users (a pending revocation).
    static func worldWithPendingRevocation(_ world: SyncWorld) async throws {
        let first = try await world.run(.sync)
        #expect(first.exitStatus == .ok, "\(first.report.summary)")
        try await world.changeMembership(group: "jupyter-users", remove: [world.personDN("bob")])
        let plan = try await world.run(.plan)
        #expect(plan.report.changes.changes.contains { $0.removesAccess }, "no pending revocation to hold back")
    }

    /// Checks that the last run wrote nothing anywhere and is recorded as failed with `reason`.
    static func expectNothingWritten(
        _ world: SyncWorld, writesBefore: Int, auditBefore: [String?], reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(world.clusterWrites == writesBefore, "the API server saw writes", sourceLocation: sourceLocation)
        #expect(try await world.hubUser("bob") != nil, "bob's hub user was deleted", sourceLocation: sourceLocation)
        let audit = try await world.column("SELECT count(*) FROM accesssync.audit_log")
        #expect(audit == auditBefore, "audit rows were written", sourceLocation: sourceLocation)
        let runs = try await world.column("SELECT status || ': ' || coalesce(error, '') FROM accesssync.sync_runs ORDER BY id")
        #expect(runs.count == 2, "\(runs)", sourceLocation: sourceLocation)
        let last = runs.last.flatMap { $0 } ?? ""
        #expect(last.hasPrefix("failed: "), "\(last)", sourceLocation: sourceLocation)
        #expect(last.contains(reason), "\(last)", sourceLocation: sourceLocation)
    }

    @Test("size-limited bind (slapd's default 500 for cn=limited, 520 people): the run fails, no API or hub writes, no audit rows")
    func sizeLimitedBindWritesNothing() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            try await Self.worldWithPendingRevocation(world)
            try await world.addBulkPeople(520)
            let writesBefore = world.clusterWrites
            let auditBefore = try await world.column("SELECT count(*) FROM accesssync.audit_log")
            world.configuration.ldap.bindDN = world.environment["ACCESSSYNC_TEST_LDAP_LIMITED_DN"]
            world.configuration.ldap.bindPassword = .file(world.environment["ACCESSSYNC_TEST_LDAP_LIMITED_PASSWORD_FILE"])
            do {
                let result = try await world.run(.sync, allowDeletes: 100)
                Issue.record("sync succeeded with a size-limited bind: \(result.report.summary)")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .ldapUnavailable, "\(error)")
                #expect(error.message.lowercased().contains("size limit"), "\(error.message)")
            }
            try await Self.expectNothingWritten(
                world, writesBefore: writesBefore, auditBefore: auditBefore, reason: "the directory could not be read completely")
            let error = try await world.column("SELECT error FROM accesssync.sync_runs ORDER BY id DESC LIMIT 1")
            #expect(error.first??.lowercased().contains("size limit") == true, "\(error)")

            // The unlimited sync account reads all 523 and the revocation goes through.
            world.configuration.ldap.bindDN = world.environment["ACCESSSYNC_TEST_LDAP_SYNC_DN"]
            world.configuration.ldap.bindPassword = .file(world.environment["ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE"])
            let good = try await world.run(.sync, allowDeletes: 100)
            #expect(good.exitStatus == .ok, "\(good.report.summary)")
            #expect(try await world.hubUser("bob") == nil)
        }
    }

    /// "Suddenly missing most members" at its worst: a bind whose ACL hides `member`, so every group
    /// comes back empty. Read naively, that revokes everyone; the read fails instead.
    @Test("a bind that cannot read group members (every group looks empty): the run fails, nothing revoked or written")
    func bindThatCannotReadMembersWritesNothing() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            try await Self.worldWithPendingRevocation(world)
            let writesBefore = world.clusterWrites
            let auditBefore = try await world.column("SELECT count(*) FROM accesssync.audit_log")
            world.configuration.ldap.bindDN = world.environment["ACCESSSYNC_TEST_LDAP_NOMEMBER_DN"]
            world.configuration.ldap.bindPassword = .file(world.environment["ACCESSSYNC_TEST_LDAP_NOMEMBER_PASSWORD_FILE"])
            do {
                let result = try await world.run(.sync, allowDeletes: 100)
                Issue.record("sync succeeded with a bind that cannot read member: \(result.report.summary)")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .ldapUnavailable, "\(error)")
                #expect(error.message.contains("member"), "\(error.message)")
            }
            try await Self.expectNothingWritten(
                world, writesBefore: writesBefore, auditBefore: auditBefore, reason: "the directory could not be read completely")
            #expect(try await world.hubUser("alice") != nil)
        }
    }

    @Test("a directory that accepts connections and never answers: the run times out and fails, nothing written")
    func hungDirectoryTimesOut() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol"]) { world in
            try await Self.worldWithPendingRevocation(world)
            let endpoint = try SilentEndpoint.start()
            defer { endpoint.stop() }
            let writesBefore = world.clusterWrites
            let auditBefore = try await world.column("SELECT count(*) FROM accesssync.audit_log")
            world.configuration.ldap.uri = "ldap://127.0.0.1:\(endpoint.port)"
            world.configuration.ldap.networkTimeoutSeconds = 2
            world.configuration.ldap.operationTimeoutSeconds = 2
            let started = ContinuousClock.now
            do {
                let result = try await world.run(.sync, allowDeletes: 100)
                Issue.record("sync succeeded against a silent directory: \(result.report.summary)")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .ldapUnavailable, "\(error)")
            }
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(endpoint.acceptedConnections() >= 1, "the client never connected to the silent endpoint")
            try await Self.expectNothingWritten(
                world, writesBefore: writesBefore, auditBefore: auditBefore, reason: "the directory could not be read completely")
        }
    }
}

extension SyncWorld {
    /// Adds `count` people to the world's ou=people (in no group: they get no access).
    func addBulkPeople(_ count: Int) async throws {
        let connection = try await adminLDAP()
        func values(_ strings: String...) -> [[UInt8]] { strings.map { Array($0.utf8) } }
        do {
            for index in 0..<count {
                let name = String(format: "bulk%04d", index)
                try await connection.add(
                    dn: personDN(name),
                    attributes: [
                        ("objectClass", values("inetOrgPerson")), ("uid", values(uid(name))), ("cn", values(name)),
                        ("sn", values(name)),
                    ])
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }
}

/// A TCP endpoint that accepts connections and never answers: a hung directory server (a python
/// child process; the port is chosen by the kernel).
final class SilentEndpoint: @unchecked Sendable {
    let process: Process
    let port: Int
    let countFile: URL

    private init(process: Process, port: Int, countFile: URL) {
        self.process = process
        self.port = port
        self.countFile = countFile
    }

    static func start() throws -> SilentEndpoint {
        let countFile = FileManager.default.temporaryDirectory.appendingPathComponent("silent-\(UUID().uuidString)")
        let script = """
            import socket, sys
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            print(s.getsockname()[1], flush=True)
            held = []
            while True:
                c, _ = s.accept()
                held.append(c)
                open(sys.argv[1], "w").write(str(len(held)))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, countFile.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            throw IntegrationSetupError("the silent endpoint did not report its port")
        }
        return SilentEndpoint(process: process, port: port, countFile: countFile)
    }

    func acceptedConnections() -> Int {
        (try? String(contentsOf: countFile, encoding: .utf8)).flatMap { Int($0) } ?? 0
    }

    func stop() {
        // SIGKILL: the test runner's blocked signals are inherited, so SIGTERM may never arrive.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: countFile)
    }
}
