import Foundation
import Synchronization
import Testing

@testable import LDAPBridge
import RBACModel

/// Tests that kill or freeze their own slapd: each starts a private instance.
@Suite("OpenLDAP: server killed or frozen mid-read")
struct ServerFailureTests {
    /// slapd is killed (SIGKILL) while the client is on page 3 of a paged search: the search
    /// throws `serverDown` (retriable) and no partial result escapes.
    @Test func serverKilledMidSearch() async throws {
        try await PrivateSlapd.with { slapd in
            try await slapd.load(people: 300)
            let connection = try await LDAPConnection.connect(try slapd.config(), logger: TestEnv.logger)
            let seen = Counter()
            let pid = slapd.pid
            let error = await expectLDAPError(.serverDown) {
                try await connection.searchInline(
                    base: "ou=people,\(try slapd.config().baseDN!)", filter: "(objectClass=inetOrgPerson)",
                    attributes: ["uid"], pageSize: 20
                ) { entry in
                    if seen.value.add(1, ordering: .relaxed).newValue == 50 { kill(pid, SIGKILL) }
                    return entry.dn
                }
            }
            #expect(error?.isRetriable == true)
            #expect(seen.value.load(ordering: .relaxed) < 300)
            await connection.close()
        }
    }

    /// The reader on a connection whose server died fails with a typed error, not a snapshot.
    @Test func readerFailsWhenTheServerIsGone() async throws {
        try await PrivateSlapd.with { slapd in
            try await slapd.load(people: 30)
            let config = try slapd.config()
            let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
            let before = try await DirectoryReader.read(connection: connection, config: config, now: Date(), logger: TestEnv.logger)
            #expect(before.snapshot.people.count == 30)
            kill(slapd.pid, SIGKILL)
            try await Task.sleep(for: .milliseconds(200))
            let error = await expectLDAPError(.serverDown) {
                try await DirectoryReader.read(connection: connection, config: config, now: Date(), logger: TestEnv.logger)
            }
            #expect(error?.isRetriable == true)
            // A new connection cannot be made either.
            _ = await expectLDAPError(.connectFailed) {
                try await DirectoryReader.read(config: config, now: Date(), logger: TestEnv.logger)
            }
            await connection.close()
        }
    }

    /// The server's time limit (rc 3): the client stalls while the server is still sending
    /// entries, so the server runs past the 1-second limit sent with the search.
    @Test func serverTimeLimitFailsTheSearch() async throws {
        try await PrivateSlapd.with { slapd in
            try await slapd.load(people: 1_500, padding: 8_000)
            var config = try slapd.config()
            config.timeouts.searchTimeLimitSeconds = 1
            let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
            let error = await expectLDAPError(.timeLimitExceeded) {
                try await connection.searchInline(
                    base: "ou=people,\(config.baseDN!)", filter: "(objectClass=inetOrgPerson)", attributes: ["uid", "description"],
                    pageSize: nil
                ) { entry in
                    if entry.string("uid") == "p00000" { Thread.sleep(forTimeInterval: 2.5) }
                    return entry.dn
                }
            }
            #expect(error?.resultCode == 3)
            #expect(error?.isRetriable == false)
            await connection.close()
        }
    }

    /// A frozen server (SIGSTOP) makes the client give up after the operation timeout.
    @Test func frozenServerTimesOut() async throws {
        try await PrivateSlapd.with { slapd in
            try await slapd.load(people: 10)
            var config = try slapd.config()
            config.timeouts.operation = .seconds(1)
            let connection = try await LDAPConnection.connect(config, logger: TestEnv.logger)
            kill(slapd.pid, SIGSTOP)
            let started = ContinuousClock.now
            let error = await expectLDAPError(.timeout) {
                try await DirectoryReader.read(connection: connection, config: config, now: Date(), logger: TestEnv.logger)
            }
            kill(slapd.pid, SIGCONT)
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(10))
            #expect(error?.isRetriable == true)
            await connection.close()
        }
    }

    /// A server that accepts connections and never answers (hung, or not an LDAP server): connecting
    /// gives up after the operation timeout with a timeout error that says so, not a TLS diagnosis.
    @Test func silentServerTimesOutWithAClearError() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(listener, 16) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        // The kernel completes the TCP handshake from the backlog; nothing ever reads or writes.
        var config = try TestEnv.openLDAP()
        config.uri = "ldap://127.0.0.1:\(port)"
        config.timeouts.network = .seconds(1)
        config.timeouts.operation = .seconds(1)
        let started = ContinuousClock.now
        let error = await expectLDAPError(.timeout) {
            _ = try await LDAPConnection.connect(config, logger: TestEnv.logger)
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error?.message.contains("no answer within") == true, "\(String(describing: error))")
        #expect(error?.message.contains("certificate") == false, "\(String(describing: error))")
        #expect(error?.isRetriable == true)
    }
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
