import Foundation
import HubTarget
import RBACModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Target semantics (observe / apply with a registry) against the real test JupyterHub.
@Suite("HubTarget against a real JupyterHub")
struct HubTargetTests {
    @Test("create, update and delete cycle through apply and observe")
    func cycle() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("cyc")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let (ann, ben, cat) = (prefix + "ann", prefix + "ben", prefix + "cat")

            let create = [
                hubChange(.createUser(name: ann, admin: false), person: personID(1)),
                hubChange(.createUser(name: ben, admin: true), person: personID(2)),
                hubChange(.createUser(name: cat, admin: false), person: personID(3)),
            ]
            let before = client.statistics.snapshot
            let outcomes = try await target.apply(create, dryRun: false)
            let used = client.statistics.snapshot.since(before)
            #expect(outcomes.map(\.status) == [.succeeded, .succeeded, .succeeded], "\(outcomes)")
            #expect(outcomes.map(\.changeID) == create.map(\.id))
            // Bulk: one POST per admin flag (plus the group-management probe only when groups change).
            #expect(used.requestsByMethod["POST"] == 2)
            #expect(await registry.users == [ann: personID(1), ben: personID(2), cat: personID(3)])

            var observed = try await target.observe()
            #expect(observed.users[ann] == HubObservedUser(name: ann, admin: false, serverActive: false))
            #expect(observed.users[ben]?.admin == true)
            #expect(observed.managedUsers[cat] == personID(3))

            // Update: admin flags flip.
            let update = [
                hubChange(.setAdmin(name: ben, admin: false), person: personID(2)),
                hubChange(.setAdmin(name: ann, admin: true), person: personID(1)),
            ]
            let updated = try await target.apply(update, dryRun: false)
            #expect(updated.allSatisfy { $0.status == .succeeded }, "\(updated)")
            observed = try await target.observe()
            #expect(observed.users[ben]?.admin == false)
            #expect(observed.users[ann]?.admin == true)

            // Delete: revocation removes the users and forgets them.
            let delete = [hubChange(.deleteUser(name: ann), person: personID(1)), hubChange(.deleteUser(name: cat), person: personID(3))]
            let deleted = try await target.apply(delete, dryRun: false)
            #expect(deleted.allSatisfy { $0.status == .succeeded }, "\(deleted)")
            observed = try await target.observe()
            #expect(observed.users[ann] == nil && observed.users[cat] == nil)
            #expect(observed.users[ben] != nil)
            #expect(await registry.users == [ben: personID(2)])

            // Applying the same creation again is idempotent for the managed user left.
            let again = try await target.apply([hubChange(.createUser(name: ben, admin: false), person: personID(2))], dryRun: false)
            #expect(again.map(\.status) == [.succeeded])
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("admin granted and revoked")
    func admin() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("adm")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let name = prefix + "dana"
            _ = try await target.apply([hubChange(.createUser(name: name, admin: false), person: personID(4))], dryRun: false)
            let grant = try await target.apply([hubChange(.setAdmin(name: name, admin: true), person: personID(4))], dryRun: false)
            #expect(grant.first?.status == .succeeded)
            #expect(try await client.user(named: name)?.admin == true)
            let revoke = try await target.apply([hubChange(.setAdmin(name: name, admin: false), person: personID(4))], dryRun: false)
            #expect(revoke.first?.status == .succeeded)
            #expect(revoke.first?.message.contains("revoked admin") == true)
            #expect(try await client.user(named: name)?.admin == false)
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("groups are mirrored: created, members added and removed, deleted")
    func groupsMirrored() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("mir")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let members = (0..<3).map { prefix + "p\($0)" }
            let group = prefix + "data-science"
            let createUsers = members.enumerated().map { hubChange(.createUser(name: $1, admin: false), person: personID(10 + $0)) }
            let createGroup = hubChange(.createGroup(name: group))
            let add = hubChange(
                .addGroupMembers(group: group, users: members), dependsOn: [createGroup.id] + createUsers.map(\.id))
            let outcomes = try await target.apply(createUsers + [createGroup, add], dryRun: false)
            #expect(outcomes.allSatisfy { $0.status == .succeeded }, "\(outcomes)")
            #expect(await registry.groups == [group])
            var observed = try await target.observe()
            #expect(observed.groups[group] == Set(members))
            #expect(observed.managedGroups.contains(group))

            let remove = try await target.apply(
                [hubChange(.removeGroupMembers(group: group, users: [members[0]]))], dryRun: false)
            #expect(remove.first?.status == .succeeded)
            observed = try await target.observe()
            #expect(observed.groups[group] == Set(members.dropFirst()))

            let delete = try await target.apply([hubChange(.deleteGroup(name: group))], dryRun: false)
            #expect(delete.first?.status == .succeeded)
            observed = try await target.observe()
            #expect(observed.groups[group] == nil)
            #expect(await registry.groups.isEmpty)
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("users and groups not in the registry are untouched")
    func unmanagedUntouched() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("own")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let stranger = prefix + "stranger"
            let strangerAdmin = prefix + "boss"
            let strangerGroup = prefix + "theirs"
            _ = await client.createUsers([stranger], admin: false)
            _ = await client.createUsers([strangerAdmin], admin: true)
            try await client.createGroup(strangerGroup)
            try await client.addGroupMembers(strangerGroup, users: [stranger])

            let changes = [
                hubChange(.deleteUser(name: stranger), person: personID(20)),
                hubChange(.setAdmin(name: strangerAdmin, admin: false), person: personID(21)),
                hubChange(.createUser(name: stranger, admin: true), person: personID(20)),
                hubChange(.removeGroupMembers(group: strangerGroup, users: [stranger])),
                hubChange(.deleteGroup(name: strangerGroup)),
                hubChange(.createGroup(name: strangerGroup)),
            ]
            let outcomes = try await target.apply(changes, dryRun: false)
            #expect(outcomes.count == changes.count)
            #expect(outcomes.allSatisfy { $0.status == .failed }, "\(outcomes)")
            #expect(outcomes.allSatisfy { $0.message.contains("refused") }, "\(outcomes.map(\.message))")

            // Nothing changed on the hub, nothing was recorded.
            let user = try #require(try await client.user(named: stranger))
            #expect(user.admin == false)
            #expect(try await client.user(named: strangerAdmin)?.admin == true)
            #expect(try await client.group(named: strangerGroup)?.users == [stranger])
            #expect(await registry.users.isEmpty)
            #expect(await registry.groups.isEmpty)

            // With adoption, the existing user is taken over (recorded, admin flag set).
            let adopting = HubTarget(
                client: client, registry: registry, options: HubTargetOptions(adoptUsers: true, adoptGroups: true))
            let adopted = try await adopting.apply(
                [
                    hubChange(.createUser(name: stranger, admin: true), person: personID(20)),
                    hubChange(.createGroup(name: strangerGroup)),
                ], dryRun: false)
            #expect(adopted.map(\.status) == [.succeeded, .succeeded], "\(adopted)")
            #expect(try await client.user(named: stranger)?.admin == true)
            #expect(await registry.adoptedUsers == [stranger])
            #expect(await registry.adoptedGroups == [strangerGroup])
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("adopting creates record existing users and groups, which can then be revoked")
    func adoptActions() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("adopt")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(
                client: client, registry: registry, options: HubTargetOptions(adoptUsers: true, adoptGroups: true))
            let name = prefix + "old"
            let group = prefix + "oldgroup"
            _ = await client.createUsers([name], admin: false)
            try await client.createGroup(group)
            let adopt = try await target.apply(
                [
                    hubChange(.createUser(name: name, admin: true), person: personID(80)),
                    hubChange(.createGroup(name: group)),
                ], dryRun: false)
            #expect(adopt.map(\.status) == [.succeeded, .succeeded], "\(adopt)")
            #expect(await registry.adoptedUsers == [name])
            #expect(await registry.users[name] == personID(80))
            #expect(await registry.adoptedGroups == [group])
            let adopted = try await client.user(named: name)
            #expect(adopted?.admin == true)
            let revoke = try await target.apply(
                [hubChange(.deleteUser(name: name), person: personID(80)), hubChange(.deleteGroup(name: group))], dryRun: false)
            #expect(revoke.map(\.status) == [.succeeded, .succeeded], "\(revoke)")
            let gone = try await client.user(named: name)
            #expect(gone == nil)
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("a revoked user cannot log in afterwards, and its server is stopped first")
    func revokedUserCannotLogIn() async throws {
        try await withHubClient { client, env in
            let prefix = testPrefix("login")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let name = prefix + "erin"
            let password = try env.userPassword()

            // Not a user yet: the hub admits only existing users.
            #expect(try await attemptLogin(baseURL: env.baseURL, username: name, password: password) == .refused(status: 403))

            let created = try await target.apply([hubChange(.createUser(name: name, admin: false), person: personID(30))], dryRun: false)
            #expect(created.first?.status == .succeeded)
            let login = try await attemptLogin(baseURL: env.baseURL, username: name, password: password)
            guard case .loggedIn(let location) = login else {
                Issue.record("an existing user could not log in: \(login)")
                await cleanUp(client, prefix: prefix)
                return
            }
            #expect(location.contains("/hub/"))
            // The wrong password is refused (the authenticator really checks it).
            #expect(
                try await attemptLogin(baseURL: env.baseURL, username: name, password: password + "x") == .refused(status: 403))

            try await client.startServer(user: name)
            #expect(try await target.observe().users[name]?.serverActive == true)

            let revoked = try await target.apply([hubChange(.deleteUser(name: name), person: personID(30))], dryRun: false)
            #expect(revoked.first?.status == .succeeded, "\(revoked)")
            #expect(revoked.first?.message.contains("stopped") == true)
            #expect(try await client.user(named: name) == nil)
            #expect(await registry.users[name] == nil)

            #expect(try await attemptLogin(baseURL: env.baseURL, username: name, password: password) == .refused(status: 403))
            // Still gone after the failed login: the hub did not re-create the user.
            #expect(try await client.user(named: name) == nil)
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("bad names fail per change; the rest of the batch is created")
    func badNamesPerChange() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("bn")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let changes = [
                hubChange(.createUser(name: prefix + "good1", admin: false), person: personID(40)),
                hubChange(.createUser(name: prefix + "bad/slash", admin: false), person: personID(41)),
                hubChange(.createUser(name: prefix + "Upper", admin: false), person: personID(42)),
                hubChange(.createUser(name: prefix + "good2", admin: false), person: personID(43)),
            ]
            let outcomes = try await target.apply(changes, dryRun: false)
            #expect(outcomes.map(\.status) == [.succeeded, .failed, .failed, .succeeded], "\(outcomes)")
            #expect(outcomes[1].httpStatus == 400)
            #expect(outcomes[1].message.contains("Invalid username"))
            #expect(outcomes[2].message.contains("would store"))
            #expect(await registry.users.keys.sorted() == [prefix + "good1", prefix + "good2"])
            #expect(try await client.user(named: prefix + "upper") == nil, "nothing was sent for the mixed-case name")
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("dry run writes nothing and says what it would do")
    func dryRun() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("dry")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let before = client.statistics.snapshot
            let createGroup = hubChange(.createGroup(name: prefix + "g"))
            let outcomes = try await target.apply(
                [
                    hubChange(.createUser(name: prefix + "u", admin: true), person: personID(50)),
                    createGroup,
                    hubChange(.addGroupMembers(group: prefix + "g", users: [prefix + "u"]), dependsOn: [createGroup.id]),
                    hubChange(.deleteUser(name: prefix + "other"), person: personID(51)),
                ], dryRun: true)
            #expect(outcomes.map(\.status) == [.skipped, .skipped, .skipped, .failed], "\(outcomes)")
            #expect(outcomes[0].message.hasPrefix("would create"))
            #expect(outcomes[2].message.hasPrefix("would add"))
            #expect(outcomes[3].message.contains("refused"))
            let used = client.statistics.snapshot.since(before)
            // Only the harmless managed-groups probe.
            #expect(used.requestsByMethod.filter { $0.key != "POST" }.isEmpty)
            #expect((used.requestsByMethod["POST"] ?? 0) <= 1)
            #expect(try await client.user(named: prefix + "u") == nil)
            #expect(await registry.users.isEmpty)
        }
    }

    @Test("a change whose dependency did not succeed is skipped")
    func dependencies() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("dep")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry)
            let bad = hubChange(.createUser(name: prefix + "no/pe", admin: false), person: personID(60))
            let dependent = hubChange(.setAdmin(name: prefix + "no/pe", admin: true), person: personID(60), dependsOn: [bad.id])
            let external = hubChange(.createUser(name: prefix + "later", admin: false), person: personID(61), dependsOn: ["kube/create/Namespace/x"])
            let outcomes = try await target.apply([bad, dependent, external], dryRun: false)
            #expect(outcomes.map(\.status) == [.failed, .skipped, .skipped], "\(outcomes)")
            // The same change goes through once the namespace change is reported completed.
            let done = try await target.apply([external], dryRun: false, completed: ["kube/create/Namespace/x"])
            #expect(done.map(\.status) == [.succeeded])
            await cleanUp(client, prefix: prefix)
        }
    }

    @Test("group sync refuses to run when the hub is declared to manage groups")
    func declaredManagedGroups() async throws {
        try await withHubClient { client, _ in
            let prefix = testPrefix("mg")
            let registry = InMemoryHubRegistry()
            let target = HubTarget(client: client, registry: registry, options: HubTargetOptions(hubManagesGroups: true))
            await #expect(throws: HubTargetError.self) { _ = try await target.observe() }
            do {
                _ = try await target.apply([hubChange(.createGroup(name: prefix + "g"))], dryRun: false)
                Issue.record("apply ran")
            } catch let error as HubTargetError {
                #expect("\(error)".contains("manage_groups"))
            }
            #expect(try await client.group(named: prefix + "g") == nil)
            // Without group sync, the declaration does not matter.
            let usersOnly = HubTarget(
                client: client, registry: registry, options: HubTargetOptions(syncGroups: false, hubManagesGroups: true))
            _ = try await usersOnly.observe()
            let refused = try await usersOnly.apply([hubChange(.createGroup(name: prefix + "g"))], dryRun: false)
            #expect(refused.map(\.status) == [.failed])
        }
    }

    @Test("configuration check: API facts detected, the rest listed")
    func configurationCheck() async throws {
        try await withHubClient { client, _ in
            let target = HubTarget(client: client, registry: InMemoryHubRegistry())
            let checks = await target.checkConfiguration()
            let byID = Dictionary(checks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(byID["hub.version"]?.status == .ok)
            #expect(byID["hub.token"]?.status == .ok)
            #expect(byID["hub.token.admin"]?.status == .ok)
            #expect(byID["hub.token.scopes"]?.status == .ok, "\(byID["hub.token.scopes"]?.detail ?? "")")
            #expect(byID["hub.info"]?.detail.contains("authenticator") == true)
            // JupyterHub 6.1 cannot reveal manage_groups through the API.
            #expect(byID["hub.groups.managed"]?.status == .manual)
            for id in [
                "hub.config.allow_existing_users", "hub.config.allow_all", "hub.config.allowed_groups",
                "hub.config.delete_pvc", "hub.config.user_namespaces",
            ] {
                #expect(byID[id]?.status == .manual, "\(id) listed")
            }
        }
    }
}

/// Target behaviour when the hub is down or silent: typed errors, no outcome claims success.
@Suite("HubTarget without a working hub")
struct HubTargetFailureTests {
    func changes(_ prefix: String) -> [Change] {
        [
            hubChange(.deleteUser(name: prefix + "a"), person: personID(70)),
            hubChange(.createUser(name: prefix + "b", admin: false), person: personID(71)),
            hubChange(.createUser(name: prefix + "c", admin: true), person: personID(72)),
            hubChange(.setAdmin(name: prefix + "a", admin: false), person: personID(70)),
        ]
    }

    @Test("hub down: observe throws unreachable, apply claims nothing")
    func hubDown() async throws {
        let port = try closedPort()
        let configuration = HubClientConfiguration(
            apiURL: URL(string: "http://127.0.0.1:\(port)/hub/api")!, token: HubToken("tok"),
            connectTimeout: .seconds(2), requestTimeout: .seconds(4))
        try await withClient(configuration) { client in
            let registry = InMemoryHubRegistry(users: ["x-a": personID(70)])
            let target = HubTarget(client: client, registry: registry, options: HubTargetOptions(syncGroups: false))
            do {
                _ = try await target.observe()
                Issue.record("observed a closed port")
            } catch let error as HubError {
                guard case .unreachable = error else {
                    Issue.record("expected unreachable, got \(error)")
                    return
                }
            }
            let started = ContinuousClock.now
            let outcomes = try await target.apply(changes("x-"), dryRun: false)
            #expect(outcomes.count == 4)
            #expect(!outcomes.contains { $0.status == .succeeded }, "\(outcomes)")
            #expect(outcomes.first?.status == .failed)
            #expect(ContinuousClock.now - started < .seconds(90))
            // Nothing reached the hub, so nothing new stays recorded; the managed user stays managed.
            #expect(await registry.users == ["x-a": personID(70)])
        }
    }

    @Test("hub silent: typed timeout within the deadline, apply claims nothing")
    func hubSilent() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let configuration = HubClientConfiguration(
            apiURL: URL(string: "http://127.0.0.1:\(listener.port)/hub/api")!, token: HubToken("tok"),
            connectTimeout: .seconds(2), requestTimeout: .seconds(2))
        try await withClient(configuration) { client in
            let registry = InMemoryHubRegistry(users: ["y-a": personID(70)])
            let target = HubTarget(client: client, registry: registry, options: HubTargetOptions(syncGroups: false))
            let started = ContinuousClock.now
            do {
                _ = try await target.observe()
                Issue.record("observed a silent server")
            } catch let error as HubError {
                guard case .timeout = error else {
                    Issue.record("expected timeout, got \(error)")
                    return
                }
            }
            #expect(ContinuousClock.now - started < .seconds(60))  // generous: tests run in parallel on 2 cores and blocking subprocesses starve the pool
            let outcomes = try await target.apply(changes("y-"), dryRun: false)
            #expect(!outcomes.contains { $0.status == .succeeded }, "\(outcomes)")
            #expect(outcomes.filter { $0.status == .failed }.count == 1, "the first failure halts the run")
            #expect(outcomes.dropFirst().allSatisfy { $0.status == .skipped })
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }
}

/// A hub of its own with `Authenticator.manage_groups = True`, started by the test environment's
/// script on another port.
@Suite("HubTarget and a hub whose authenticator manages groups")
struct ManagedGroupsHubTests {
    @Test("JupyterHub 6.1 does not reveal manage_groups through the API; the declaration refuses")
    func managedGroupsHub() async throws {
        _ = try HubTestEnvironment.load()  // the shared hub's environment (venv) must be there too
        try await withSpecialHub(manageGroups: true) { env in
            try await withClient(try env.configuration()) { client in
                // 6.1 accepts group calls even with manage_groups (the authenticator then rewrites
                // memberships at login), so the probe cannot tell...
                let disabled = try await client.groupAPIDisabledByAuthenticator()
                #expect(disabled == false)
                let target = HubTarget(client: client, registry: InMemoryHubRegistry())
                let checks = await target.checkConfiguration()
                #expect(checks.first { $0.id == "hub.groups.managed" }?.status == .manual)
                // ...and the operator's declaration is what makes sync refuse.
                let declared = HubTarget(
                    client: client, registry: InMemoryHubRegistry(), options: HubTargetOptions(hubManagesGroups: true))
                await #expect(throws: HubTargetError.self) { _ = try await declared.observe() }
                await #expect(throws: HubTargetError.self) {
                    _ = try await declared.apply([hubChange(.createGroup(name: "mg-x"))], dryRun: false)
                }
                let group = try await client.group(named: "mg-x")
                #expect(group == nil)
            }
        }
    }
}

/// Starts a private hub with `scripts/testenv/jupyterhub.sh start DIR [--manage-groups]`, runs
/// `body`, and stops it by PID (the script's `stop`).
func withSpecialHub(manageGroups: Bool, _ body: (HubTestEnvironment) async throws -> Void) async throws {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let script = repo.appendingPathComponent("scripts/testenv/jupyterhub.sh").path
    try #require(FileManager.default.isExecutableFile(atPath: script), "missing \(script)")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("accesssync-hubtest-\(UUID().uuidString)").path
    let started = try await runScript(script, ["start", dir] + (manageGroups ? ["--manage-groups"] : []))
    do {
        try #require(started.status == 0, "the special hub did not start: \(started.output)")
        var values: [String: String] = [:]
        let envFile = try String(contentsOfFile: dir + "/env.sh", encoding: .utf8)
        for line in envFile.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            var value = String(assignment[assignment.index(after: eq)...])
            if value.hasPrefix("'") && value.hasSuffix("'") { value = String(value.dropFirst().dropLast()) }
            values[String(assignment[..<eq])] = value
        }
        let url = try #require(values["ACCESSSYNC_TEST_HUB_URL"])
        let env = HubTestEnvironment(
            apiURL: try #require(URL(string: url)), baseURL: String(url.dropLast("/hub/api".count)),
            tokenFile: try #require(values["ACCESSSYNC_TEST_HUB_TOKEN_FILE"]),
            userPasswordFile: try #require(values["ACCESSSYNC_TEST_HUB_USER_PASSWORD_FILE"]))
        try await body(env)
    } catch {
        _ = try? await runScript(script, ["stop", dir])
        throw error
    }
    _ = try await runScript(script, ["stop", dir])
}

/// Runs a bash script without blocking a cooperative thread: output goes to a temporary file and
/// the exit is polled with `waitpid(WNOHANG)`. (Foundation's `Process` never reported the exit of
/// the script inside the test process on Linux, leaving a zombie and a hung test.)
func runScript(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("accesssync-script-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = (["/bin/bash", script] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = argv.withUnsafeBufferPointer { buffer in
        posix_spawn(&pid, "/bin/bash", &actions, nil, buffer.baseAddress!, environ)
    }
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var status: Int32 = 0
    while true {
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { break }
        if result < 0 && errno != EINTR { throw POSIXError(.ECHILD) }
        try await Task.sleep(for: .milliseconds(100))
    }
    let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    return (exitCode, output)
}
