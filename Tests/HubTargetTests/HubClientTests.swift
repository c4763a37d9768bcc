import Foundation
import HubTarget
import Testing

/// The hub client against the real test JupyterHub (scripts/testenv/jupyterhub.sh).
@Suite("HubClient against a real JupyterHub")
struct HubClientTests {
    @Test("bulk create, read, set admin, delete")
    func createReadAdminDelete() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("crud")
            let names = [prefix + "alice", prefix + "bob"]
            let result = await client.createUsers(names, admin: false)
            #expect(Set(result.created.map(\.name)) == Set(names))
            #expect(result.invalid.isEmpty && result.failed.isEmpty && result.alreadyExisting.isEmpty)

            let alice = try #require(try await client.user(named: names[0]))
            #expect(alice.admin == false)
            #expect(alice.hasActiveServer == false)

            let granted = try await client.setAdmin(names[0], admin: true)
            #expect(granted.admin)
            #expect(try await client.user(named: names[0])?.admin == true)
            try await client.setAdmin(names[0], admin: false)
            #expect(try await client.user(named: names[0])?.admin == false)

            // Creating again reports the names as existing and changes nothing.
            let again = await client.createUsers(names, admin: true)
            #expect(again.created.isEmpty)
            #expect(Set(again.alreadyExisting) == Set(names))
            #expect(try await client.user(named: names[1])?.admin == false)

            try await client.deleteUser(names[0])
            #expect(try await client.user(named: names[0]) == nil)
            await #expect(throws: HubError.self) { try await client.deleteUser(names[0]) }
            do {
                try await client.deleteUser(names[0])
            } catch let error as HubError {
                #expect(error.httpStatus == 404)
                #expect(!error.isRetriable)
            }
            try await client.deleteUser(names[1])
            let remaining = try await client.listUsers().filter { $0.name.hasPrefix(prefix) }
            #expect(remaining.isEmpty)
        }
    }

    @Test("bulk create in admin mode makes admins")
    func bulkAdmins() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("adm")
            let result = await client.createUsers([prefix + "root"], admin: true)
            #expect(result.created.map(\.admin) == [true])
            let root = try await client.user(named: prefix + "root")
            #expect(root?.admin == true)
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("listing follows pagination past 200 users")
    func pagination() async throws {
        try await withHubClient({ $0.pageSize = 200 }) { client, _ in
            let prefix = testPrefix("page")
            let names = (0..<250).map { prefix + String(format: "u%03d", $0) }
            let result = await client.createUsers(names, admin: false)
            #expect(result.created.count == 250, "created \(result.created.count): \(result.failed)")
            let before = client.statistics.snapshot
            let users = try await client.listUsers()
            let requests = client.statistics.snapshot.since(before)
            let ours = Set(users.map(\.name).filter { $0.hasPrefix(prefix) })
            #expect(ours == Set(names))
            #expect(users.count >= 250)
            // More than 200 users cannot come back in one page (the hub's max limit is 200).
            #expect((requests.requestsByMethod["GET"] ?? 0) >= 2)
            #expect(Set(users.map(\.name)).count == users.count, "no user listed twice")
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("small pages are followed to the end")
    func smallPages() async throws {
        try await withHubClient({ $0.pageSize = 7 }) { client, _ in
            let prefix = testPrefix("small")
            let names = (0..<20).map { prefix + "u\($0)" }
            _ = await client.createUsers(names, admin: false)
            let users = try await client.listUsers()
            #expect(Set(users.map(\.name)).isSuperset(of: names))
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("bad names are reported one by one, good names still created")
    func badNames() async throws {
        try await withHubClient({ $0.bulkCreateLimit = 100 }) { client, _ in
            let prefix = testPrefix("bad")
            let good = [prefix + "one", prefix + "two", prefix + "three", prefix + "four"]
            let bad = [prefix + "sl/ash", " " + prefix + "lead", prefix + "trail ", ".."]
            let requested = [good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3], bad[3]]
            let result = await client.createUsers(requested, admin: false)
            #expect(Set(result.created.map(\.name)) == Set(good))
            #expect(Set(result.invalid.keys) == Set(bad))
            for name in bad {
                #expect(result.invalid[name]?.contains("Invalid username") == true, "\(name): \(result.invalid[name] ?? "-")")
            }
            #expect(result.failed.isEmpty)
            for name in good {
                let user = try await client.user(named: name)
                #expect(user != nil)
            }
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("the bulk endpoint lowercases names")
    func lowercases() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("case")
            let result = await client.createUsers([prefix + "MiXeD"], admin: false)
            #expect(result.created.map(\.name) == [prefix + "mixed"])
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("names with reserved URL characters are encoded in paths")
    func urlEncoding() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("enc")
            let odd = prefix + "a b+c%41?d#e&f=g@h"
            let result = await client.createUsers([odd], admin: false)
            #expect(result.created.map(\.name) == [odd], "\(result.invalid) \(result.failed)")
            let user = try #require(try await client.user(named: odd))
            #expect(user.name == odd)
            #expect(try await client.user(named: prefix + "a b+cA?d#e&f=g@h") == nil, "%41 is not decoded twice")
            try await client.setAdmin(odd, admin: true)
            #expect(try await client.user(named: odd)?.admin == true)
            let group = prefix + "g r/p%2F"
            try await client.createGroup(group)
            try await client.addGroupMembers(group, users: [odd])
            #expect(try await client.group(named: group)?.users == [odd])
            try await client.deleteGroup(group)
            try await client.deleteUser(odd)
            #expect(try await client.user(named: odd) == nil)
        }
    }

    @Test("groups: create, members, set members, delete")
    func groups() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("grp")
            let users = (0..<4).map { prefix + "m\($0)" }
            _ = await client.createUsers(users, admin: false)
            let group = prefix + "team"
            try await client.createGroup(group)
            do {
                try await client.createGroup(group)
                Issue.record("creating an existing group succeeded")
            } catch let error as HubError {
                guard case .conflict = error else {
                    Issue.record("expected conflict, got \(error)")
                    return
                }
            }
            let added = try await client.addGroupMembers(group, users: [users[0], users[1]])
            #expect(Set(added.users) == [users[0], users[1]])
            let set = try await client.setGroupMembers(group, members: [users[1], users[2], users[3]])
            #expect(Set(set.users) == [users[1], users[2], users[3]])
            let listed = try await client.listGroups().first { $0.name == group }
            #expect(Set(listed?.users ?? []) == [users[1], users[2], users[3]])
            let removed = try await client.removeGroupMembers(group, users: [users[2]])
            #expect(Set(removed.users) == [users[1], users[3]])

            // Adding somebody who is not a user: 400 with the hub's message.
            do {
                try await client.addGroupMembers(group, users: [prefix + "ghost"])
                Issue.record("adding a non-user succeeded")
            } catch HubError.badRequest(let message) {
                #expect(message.contains("No such user"))
            }
            try await client.deleteGroup(group)
            #expect(try await client.group(named: group) == nil)
            await #expect(throws: HubError.self) { try await client.deleteGroup(group) }
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("a running server is stopped and waited for")
    func stopServer() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("srv")
            let name = prefix + "runner"
            _ = await client.createUsers([name], admin: false)
            // 6.1 answers 204 for a server that never ran (older hubs: 400 "not running").
            #expect(try await client.stopServer(user: name) != .pending)
            try await client.startServer(user: name)
            #expect(try await client.user(named: name)?.hasActiveServer == true)
            let existed = try await client.stopAllServersAndWait(user: name)
            #expect(existed)
            #expect(try await client.user(named: name)?.hasActiveServer == false)
            #expect(try await client.stopAllServersAndWait(user: prefix + "nobody") == false)
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("token identity and version")
    func identity() async throws {
        try await withHubClient { client, _ in
            let version = try await client.version()
            #expect(version.split(separator: ".").count >= 2)
            let identity = try await client.tokenIdentity()
            #expect(identity.kind == "service")
            #expect(identity.scopes.contains("admin:users"))
        }
    }

    @Test("a wrong token is unauthorized and never shown")
    func wrongToken() async throws {
        let env = try HubTestEnvironment.load()
        let secret = "not-the-token-" + UUID().uuidString
        try await withClient(HubClientConfiguration(apiURL: env.apiURL, token: HubToken(secret))) { client in
            do {
                _ = try await client.listUsers()
                Issue.record("listing with a wrong token succeeded")
            } catch let error as HubError {
                guard case .unauthorized = error else {
                    Issue.record("expected unauthorized, got \(error)")
                    return
                }
                #expect(!error.isRetriable)
                #expect(!"\(error)".contains(secret))
                #expect(!String(reflecting: error).contains(secret))
            }
            #expect(!"\(client.configuration.token)".contains(secret))
            #expect(!String(reflecting: client.configuration).contains(secret))
            let failed = await client.createUsers(["x-\(UUID().uuidString.prefix(6).lowercased())"], admin: false)
            #expect(failed.created.isEmpty)
            #expect(failed.failed.values.allSatisfy { if case .unauthorized = $0 { true } else { false } })
        }
    }
}

/// Failures that need no hub: closed ports, silent servers, token files.
@Suite("HubClient failures")
struct HubClientFailureTests {
    @Test("a closed port is unreachable, quickly")
    func closedPortIsUnreachable() async throws {
        let port = try closedPort()
        let configuration = HubClientConfiguration(
            apiURL: URL(string: "http://127.0.0.1:\(port)/hub/api")!, token: HubToken("secret-token-value"),
            connectTimeout: .seconds(2), requestTimeout: .seconds(5))
        try await withClient(configuration) { client in
            let started = ContinuousClock.now
            do {
                _ = try await client.listUsers()
                Issue.record("listing a closed port succeeded")
            } catch let error as HubError {
                guard case .unreachable = error else {
                    Issue.record("expected unreachable, got \(error)")
                    return
                }
                #expect(error.isRetriable)
                #expect(!"\(error)".contains("secret-token-value"))
            }
            #expect(ContinuousClock.now - started < .seconds(60))  // generous: tests run in parallel on 2 cores and blocking subprocesses starve the pool
        }
    }

    @Test("a server that never answers times out within the deadline")
    func silentServerTimesOut() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let configuration = HubClientConfiguration(
            apiURL: URL(string: "http://127.0.0.1:\(listener.port)/hub/api")!, token: HubToken("secret-token-value"),
            connectTimeout: .seconds(2), requestTimeout: .seconds(2))
        try await withClient(configuration) { client in
            let started = ContinuousClock.now
            do {
                _ = try await client.tokenIdentity()
                Issue.record("a silent server answered")
            } catch let error as HubError {
                guard case .timeout = error else {
                    Issue.record("expected timeout, got \(error)")
                    return
                }
                #expect(error.isRetriable)
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .seconds(1.5) && elapsed < .seconds(60), "took \(elapsed)")
            // Bulk creation stops after the first timeout instead of waiting once per batch.
            let started2 = ContinuousClock.now
            let result = await client.createUsers((0..<300).map { "u\($0)" }, admin: false)
            #expect(result.created.isEmpty)
            #expect(result.failed.count == 300)
            #expect(ContinuousClock.now - started2 < .seconds(8))
        }
    }

    @Test("token files: trimmed, empty or missing files rejected without their content")
    func tokenFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hubtok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good").path
        try "abc123\n".write(toFile: good, atomically: true, encoding: .utf8)
        let token = try HubToken(contentsOfFile: good)
        #expect(token == HubToken("abc123"))
        #expect("\(token)" == "<redacted hub token>")
        let empty = dir.appendingPathComponent("empty").path
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(throws: HubError.self) { try HubToken(contentsOfFile: empty) }
        let two = dir.appendingPathComponent("two").path
        try "secret1 secret2\n".write(toFile: two, atomically: true, encoding: .utf8)
        do {
            _ = try HubToken(contentsOfFile: two)
            Issue.record("two tokens accepted")
        } catch {
            #expect(!"\(error)".contains("secret1"))
        }
        #expect(throws: HubError.self) { try HubToken(contentsOfFile: dir.appendingPathComponent("none").path) }
    }

    @Test("a CA file that holds no certificate is a configuration error")
    func badCAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try "not a certificate\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let client = try HubClient(
                configuration: HubClientConfiguration(
                    apiURL: URL(string: "https://127.0.0.1:1/hub/api")!, token: HubToken("t"), caFile: path))
            Issue.record("a bad CA file was accepted")
            Task { try? await client.shutdown() }
        } catch {
            guard case .configuration = error else {
                Issue.record("expected a configuration error, got \(error)")
                return
            }
        }
    }

    @Test("errors classify retriability and statuses")
    func errorClassification() {
        #expect(HubError.server(status: 503, message: "").isRetriable)
        #expect(!HubError.server(status: 418, message: "").isRetriable)
        #expect(!HubError.badRequest("x").isRetriable)
        #expect(HubError.badRequest("x").httpStatus == 400)
        #expect(HubError.timeout("x").httpStatus == nil)
        #expect(HubError.unauthorized("x").description.contains("401"))
    }
}
