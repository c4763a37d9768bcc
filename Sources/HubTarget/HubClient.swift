import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOSSL

/// A client for JupyterHub's REST API, over one shared AsyncHTTPClient `HTTPClient`.
///
/// Every request carries `Authorization: token T`; the token never appears in errors or logs.
/// Lists are read with the pagination media type and every page is followed, so a hub with more
/// than 200 users is read completely. Call ``shutdown()`` once when done.
///
/// Thread-safety: all stored state is immutable or internally locked; share one instance.
public final class HubClient: Sendable {
    public let configuration: HubClientConfiguration
    /// Requests sent and time spent, for summaries and benchmarks.
    public let statistics: HubRequestStatistics
    let http: HTTPClient
    let logger: Logger
    let apiRoot: String

    static let paginationMediaType = "application/jupyterhub-pagination+json"

    /// Creates the client and its HTTP connection pool.
    ///
    /// - Throws: `HubError.configuration` when the URL is not http(s) or the CA file is unreadable.
    public init(configuration: HubClientConfiguration, logger: Logger = HubClient.silentLogger) throws(HubError) {
        guard let scheme = configuration.apiURL.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw .configuration("the hub API URL must start with http:// or https://")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw .configuration("cannot read CA certificates from \(caFile): \(error)")
            }
            if certificates.isEmpty { throw .configuration("no PEM certificate found in \(caFile)") }
            tls.trustRoots = .certificates(certificates)
        }
        if !configuration.verifyCertificates {
            tls.certificateVerification = .none
        }
        var httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: TimeAmount(configuration.connectTimeout), read: TimeAmount(configuration.requestTimeout)
            )
        )
        httpConfiguration.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        self.configuration = configuration
        self.logger = logger
        self.statistics = HubRequestStatistics()
        var root = configuration.apiURL.absoluteString
        while root.hasSuffix("/") { root.removeLast() }
        self.apiRoot = root
    }

    /// Closes the connection pool. Call exactly once, after the last request.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// A logger that discards everything (the default when the caller passes none).
    public static let silentLogger = Logger(label: "accesssync.hub", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: - Hub information

    /// `GET /` on the API root: the hub version (no authentication needed).
    public func version() async throws(HubError) -> String {
        struct Root: Decodable { var version: String }
        let root: Root = try await requestJSON(.GET, "/")
        return root.version
    }

    /// `GET /user`: who the token belongs to, its roles and its expanded scopes.
    public func tokenIdentity() async throws(HubError) -> HubTokenIdentity {
        try await requestJSON(.GET, "/user")
    }

    // MARK: - Users

    /// All users, following `_pagination.next` until the last page.
    ///
    /// - Throws: `HubError.invalidResponse` when the total changes while paging (someone created
    ///   or deleted users meanwhile) twice in a row: a partial list is never returned.
    public func listUsers() async throws(HubError) -> [HubUser] {
        try await listAll("/users")
    }

    /// All groups with their members, following pagination.
    public func listGroups() async throws(HubError) -> [HubGroup] {
        try await listAll("/groups")
    }

    /// One user, or nil when the hub has no such user.
    public func user(named name: String) async throws(HubError) -> HubUser? {
        do {
            return try await requestJSON(.GET, "/users/" + Self.pathSegment(name)) as HubUser
        } catch .notFound {
            return nil
        }
    }

    /// Creates users with the bulk endpoint (`POST /users {"usernames": [...], "admin": ...}`).
    ///
    /// The hub lowercases and validates the names and refuses the whole request (400) when one is
    /// invalid; a refused batch is split in halves until each bad name is isolated, so every
    /// invalid name is reported with the hub's message and every valid one is still created.
    /// Names are sent in batches of `configuration.bulkCreateLimit`. When the hub cannot be
    /// reached, the remaining names are reported as failed without further requests.
    public func createUsers(_ names: [String], admin: Bool) async -> HubBulkCreateResult {
        var seen = Set<String>()
        let unique = names.filter { seen.insert($0).inserted }
        var result = HubBulkCreateResult()
        var start = 0
        let size = max(1, configuration.bulkCreateLimit)
        while start < unique.count {
            let batch = Array(unique[start..<min(start + size, unique.count)])
            start += size
            if let fatal = await createBatch(batch, admin: admin, into: &result) {
                for name in unique[min(start, unique.count)...] { result.failed[name] = fatal }
                break
            }
        }
        return result
    }

    /// Returns an error that makes further batches pointless (hub down, token refused).
    private func createBatch(_ batch: [String], admin: Bool, into result: inout HubBulkCreateResult) async
        -> HubError?
    {
        struct Body: Encodable {
            var usernames: [String]
            var admin: Bool
        }
        do {
            let created: [HubUser] = try await requestJSON(
                .POST, "/users", body: Body(usernames: batch, admin: admin), expect: [201])
            result.created += created
            let createdNames = Set(created.map(\.name))
            for name in batch where !createdNames.contains(name) && !createdNames.contains(name.lowercased()) {
                result.alreadyExisting.append(name)
            }
            return nil
        } catch .conflict {
            // "All N users already exist".
            result.alreadyExisting += batch
            return nil
        } catch .badRequest(let message) {
            if batch.count == 1 {
                result.invalid[batch[0]] = message
                return nil
            }
            let middle = batch.count / 2
            if let fatal = await createBatch(Array(batch[..<middle]), admin: admin, into: &result) {
                for name in batch { if result.failed[name] == nil { result.failed[name] = fatal } }
                return fatal
            }
            return await createBatch(Array(batch[middle...]), admin: admin, into: &result)
        } catch {
            for name in batch { result.failed[name] = error }
            switch error {
            case .unreachable, .timeout, .unauthorized, .forbidden, .configuration: return error
            default: return nil
            }
        }
    }

    /// Sets or clears a user's admin flag (`PATCH /users/{name} {"admin": ...}`).
    @discardableResult
    public func setAdmin(_ name: String, admin: Bool) async throws(HubError) -> HubUser {
        struct Body: Encodable { var admin: Bool }
        return try await requestJSON(.PATCH, "/users/" + Self.pathSegment(name), body: Body(admin: admin))
    }

    /// What a stop request achieved.
    public enum StopResult: Sendable, Hashable {
        /// The server stopped (204).
        case stopped
        /// The hub accepted the stop and is still stopping the server (202).
        case pending
        /// There was no running server to stop.
        case notRunning
    }

    /// Starts a user's default server (`POST /users/{name}/server`). Returns true when it is
    /// running (201), false when the spawn is still pending (202). AccessSync itself never starts
    /// servers; operators and tests do.
    @discardableResult
    public func startServer(user name: String) async throws(HubError) -> Bool {
        let response = try await send(.POST, "/users/\(Self.pathSegment(name))/server", body: nil, expect: [201, 202])
        return response.status == 201
    }

    /// Asks the hub to stop one of a user's servers (`DELETE /users/{name}/server`, or
    /// `/servers/{server}` for a named server).
    public func stopServer(user name: String, serverName: String = "") async throws(HubError) -> StopResult {
        let path =
            serverName.isEmpty
            ? "/users/\(Self.pathSegment(name))/server"
            : "/users/\(Self.pathSegment(name))/servers/\(Self.pathSegment(serverName))"
        do {
            let response = try await send(.DELETE, path, body: nil, expect: [202, 204])
            return response.status == 202 ? .pending : .stopped
        } catch .badRequest(let message) where message.contains("is not running") {
            return .notRunning
        }
    }

    /// Stops every active server of a user and polls until the hub reports none.
    ///
    /// A 202 answer means the stop is pending: the user is polled every `pollInterval` until
    /// `serverStopTimeout`.
    /// - Returns: false when the user does not exist (nothing to stop).
    /// - Throws: `HubError.timeout` when a server is still active at the deadline.
    @discardableResult
    public func stopAllServersAndWait(user name: String) async throws(HubError) -> Bool {
        let deadline = ContinuousClock.now + configuration.serverStopTimeout
        while true {
            guard let user = try await user(named: name) else { return false }
            let active = user.activeServerNames
            if active.isEmpty { return true }
            for server in active {
                let pending = server.isEmpty ? (user.pending ?? user.servers?[""]?.pending) : user.servers?[server]?.pending
                // A stop already under way is waited for; a pending spawn is interrupted by the stop.
                if pending != "stop" {
                    _ = try await stopServer(user: name, serverName: server)
                }
            }
            if ContinuousClock.now >= deadline {
                throw .timeout(
                    "the server of user \(name) was still active \(configuration.serverStopTimeout) after the stop request")
            }
            do {
                try await Task.sleep(for: configuration.pollInterval)
            } catch {
                throw .timeout("cancelled while waiting for the server of user \(name) to stop")
            }
        }
    }

    /// Deletes a user (`DELETE /users/{name}`). The hub also stops a running server and deletes
    /// the user's spawners (KubeSpawner then deletes the PVC unless `delete_pvc = False`).
    public func deleteUser(_ name: String) async throws(HubError) {
        _ = try await send(.DELETE, "/users/" + Self.pathSegment(name), body: nil, expect: [204])
    }

    // MARK: - Groups

    /// One group with its members, or nil when there is no such group.
    public func group(named name: String) async throws(HubError) -> HubGroup? {
        do {
            return try await requestJSON(.GET, "/groups/" + Self.pathSegment(name)) as HubGroup
        } catch .notFound {
            return nil
        }
    }

    /// Creates an empty group (`POST /groups/{name}`). 409 when it exists.
    public func createGroup(_ name: String) async throws(HubError) {
        _ = try await send(.POST, "/groups/" + Self.pathSegment(name), body: nil, expect: [201])
    }

    /// Deletes a group (`DELETE /groups/{name}`); its members stay users.
    public func deleteGroup(_ name: String) async throws(HubError) {
        _ = try await send(.DELETE, "/groups/" + Self.pathSegment(name), body: nil, expect: [204])
    }

    /// Adds users to a group (`POST /groups/{name}/users`); 400 when one of them is not a user.
    @discardableResult
    public func addGroupMembers(_ group: String, users: [String]) async throws(HubError) -> HubGroup {
        struct Body: Encodable { var users: [String] }
        return try await requestJSON(
            .POST, "/groups/\(Self.pathSegment(group))/users", body: Body(users: users))
    }

    /// Removes users from a group (`DELETE /groups/{name}/users`).
    @discardableResult
    public func removeGroupMembers(_ group: String, users: [String]) async throws(HubError) -> HubGroup {
        struct Body: Encodable { var users: [String] }
        return try await requestJSON(
            .DELETE, "/groups/\(Self.pathSegment(group))/users", body: Body(users: users))
    }

    /// Makes a group's members exactly `members` (reads the group, then adds and removes the
    /// difference). Returns the group as the hub reports it afterwards.
    @discardableResult
    public func setGroupMembers(_ group: String, members: Set<String>) async throws(HubError) -> HubGroup {
        guard let current = try await self.group(named: group) else {
            throw .notFound("no such group: \(group)")
        }
        var result = current
        let existing = Set(current.users)
        let toRemove = existing.subtracting(members).sorted()
        let toAdd = members.subtracting(existing).sorted()
        if !toRemove.isEmpty { result = try await removeGroupMembers(group, users: toRemove) }
        if !toAdd.isEmpty { result = try await addGroupMembers(group, users: toAdd) }
        return result
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
