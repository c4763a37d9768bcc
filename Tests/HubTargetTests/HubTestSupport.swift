import AsyncHTTPClient
import Foundation
import HubTarget
import RBACModel
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The shared test hub, from the environment written by `scripts/testenv/jupyterhub.sh env`.
struct HubTestEnvironment: Sendable {
    /// The API root, `http://127.0.0.1:PORT/hub/api`.
    var apiURL: URL
    /// The hub's base URL (where `/hub/login` lives).
    var baseURL: String
    var tokenFile: String
    var userPasswordFile: String

    struct Missing: Error, CustomStringConvertible {
        var variable: String
        var description: String {
            "\(variable) is not set: the JupyterHub integration tests need the test hub. Run scripts/test.sh, "
                + "or start it with scripts/testenv/jupyterhub.sh start and source .testenv/env.sh."
        }
    }

    static func load() throws -> HubTestEnvironment {
        let env = ProcessInfo.processInfo.environment
        func value(_ name: String) throws -> String {
            guard let v = env[name], !v.isEmpty else { throw Missing(variable: name) }
            return v
        }
        var url = try value("ACCESSSYNC_TEST_HUB_URL")
        while url.hasSuffix("/") { url.removeLast() }
        let api: String
        let base: String
        if url.hasSuffix("/hub/api") {
            api = url
            base = String(url.dropLast("/hub/api".count))
        } else if url.hasSuffix("/hub") {
            api = url + "/api"
            base = String(url.dropLast("/hub".count))
        } else {
            api = url + "/hub/api"
            base = url
        }
        return HubTestEnvironment(
            apiURL: URL(string: api)!, baseURL: base, tokenFile: try value("ACCESSSYNC_TEST_HUB_TOKEN_FILE"),
            userPasswordFile: try value("ACCESSSYNC_TEST_HUB_USER_PASSWORD_FILE"))
    }

    func configuration(
        requestTimeout: Duration = .seconds(60), pageSize: Int = 200, bulkCreateLimit: Int = 100
    ) throws -> HubClientConfiguration {
        HubClientConfiguration(
            apiURL: apiURL, token: try HubToken(contentsOfFile: tokenFile), requestTimeout: requestTimeout,
            pageSize: pageSize, bulkCreateLimit: bulkCreateLimit, serverStopTimeout: .seconds(60))
    }

    func userPassword() throws -> String {
        try String(contentsOfFile: userPasswordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A random lowercase prefix so tests sharing one hub never touch each other's names.
func testPrefix(_ label: String) -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
    let random = String((0..<6).map { _ in alphabet.randomElement()! })
    return "t\(random)-\(label)-"
}

/// Runs `body` with a client on the shared test hub and always shuts the client down.
func withHubClient<T>(
    _ configure: (inout HubClientConfiguration) -> Void = { _ in },
    _ body: (HubClient, HubTestEnvironment) async throws -> T
) async throws -> T {
    let env = try HubTestEnvironment.load()
    var configuration = try env.configuration()
    configure(&configuration)
    let client = try HubClient(configuration: configuration)
    do {
        let result = try await body(client, env)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Runs `body` with a client for `configuration` and always shuts the client down.
func withClient<T>(_ configuration: HubClientConfiguration, _ body: (HubClient) async throws -> T) async throws -> T {
    let client = try HubClient(configuration: configuration)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Deletes test users and groups by prefix (best effort, stops servers first).
func cleanUp(_ client: HubClient, prefix: String) async {
    if let users = try? await client.listUsers() {
        for user in users where user.name.hasPrefix(prefix) {
            if user.hasActiveServer { _ = try? await client.stopAllServersAndWait(user: user.name) }
            try? await client.deleteUser(user.name)
        }
    }
    if let groups = try? await client.listGroups() {
        for group in groups where group.name.hasPrefix(prefix) {
            try? await client.deleteGroup(group.name)
        }
    }
}

/// A provenance naming a person (what the planner attaches to hub user changes).
func provenance(_ person: PersonID) -> [Provenance] {
    [Provenance(person: person, groupPath: ["hub-users"], rule: .grant("hub-access"))]
}

func personID(_ n: Int) -> PersonID {
    PersonID(String(format: "00000000-0000-4000-8000-%012d", n))
}

func hubChange(_ action: HubAction, person: PersonID? = nil, dependsOn: [String] = []) -> Change {
    let removes: Bool
    switch action {
    case .deleteUser, .removeGroupMembers, .deleteGroup: removes = true
    case .setAdmin(_, let admin): removes = !admin
    default: removes = false
    }
    return Change(
        id: "hub/\(action.verb)/\(action.objectName)/\(UUID().uuidString.prefix(8))", target: .hub(action),
        removesAccess: removes, peopleLosingAccess: removes && person != nil ? [person!] : [],
        dependsOn: dependsOn, provenance: person.map(provenance) ?? [Provenance(rule: .system("test"))],
        reason: "test")
}

// MARK: - Login through the hub's form

enum LoginResult: Equatable {
    /// 302 to the hub: logged in.
    case loggedIn(location: String)
    /// The form answered with an error (403 "Invalid username or password", or 200 with an error).
    case refused(status: Int)
}

/// Logs in through `/hub/login` like a browser: GET the form for its `_xsrf` cookie and field,
/// then POST username, password and `_xsrf` with the cookie.
func attemptLogin(baseURL: String, username: String, password: String) async throws -> LoginResult {
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
    configuration.timeout = .init(connect: .seconds(5), read: .seconds(120))
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
        let result = try await login(http, baseURL: baseURL, username: username, password: password)
        try await http.shutdown()
        return result
    } catch {
        try? await http.shutdown()
        throw error
    }
}

private func login(_ http: HTTPClient, baseURL: String, username: String, password: String) async throws
    -> LoginResult
{
    let formRequest = HTTPClientRequest(url: baseURL + "/hub/login")
    let form = try await http.execute(formRequest, timeout: .seconds(120))
    let page = String(decoding: try await form.body.collect(upTo: 1 << 20).readableBytesView, as: UTF8.self)
    #expect(form.status.code == 200, "the login form answers \(form.status.code)")
    var cookies: [String] = []
    for header in form.headers["set-cookie"] {
        if let pair = header.split(separator: ";").first { cookies.append(String(pair)) }
    }
    let xsrfCookie = cookies.first { $0.hasPrefix("_xsrf=") }
    let xsrfField = hiddenField("_xsrf", in: page)
    try #require(xsrfCookie != nil, "the login form sets an _xsrf cookie")
    try #require(xsrfField != nil, "the login form has an _xsrf field")

    func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
    var post = HTTPClientRequest(url: baseURL + "/hub/login")
    post.method = .POST
    post.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
    post.headers.add(name: "Cookie", value: cookies.joined(separator: "; "))
    let body = "_xsrf=\(encode(xsrfField!))&username=\(encode(username))&password=\(encode(password))"
    post.body = .bytes(Array(body.utf8))
    let answer = try await http.execute(post, timeout: .seconds(120))
    let text = String(decoding: try await answer.body.collect(upTo: 1 << 20).readableBytesView, as: UTF8.self)
    let status = Int(answer.status.code)
    if status == 302 || status == 303 {
        let location = answer.headers.first(name: "location") ?? ""
        let setsLoginCookie = answer.headers["set-cookie"].contains { $0.hasPrefix("jupyterhub-session-id") }
            || answer.headers["set-cookie"].contains { $0.hasPrefix("jupyterhub-hub-login") }
        #expect(setsLoginCookie, "a successful login sets the hub's login cookie")
        return .loggedIn(location: location)
    }
    #expect(status != 200 || text.contains("Invalid username or password"), "a 200 answer carries an error")
    return .refused(status: status)
}

private func hiddenField(_ name: String, in page: String) -> String? {
    // <input type="hidden" name="_xsrf" value="..."/>
    guard let nameRange = page.range(of: "name=\"\(name)\"") else { return nil }
    let tail = page[nameRange.upperBound...]
    guard let valueRange = tail.range(of: "value=\"") else { return nil }
    let rest = tail[valueRange.upperBound...]
    guard let end = rest.firstIndex(of: "\"") else { return nil }
    return String(rest[..<end]).replacingOccurrences(of: "&#x27;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
}

// MARK: - Servers that fail

/// A TCP port on 127.0.0.1 where nothing listens (bound, then closed).
func closedPort() throws -> Int {
    let listener = try SilentListener()
    let port = listener.port
    listener.close()
    return port
}

/// A socket that listens on 127.0.0.1 and never accepts or answers: connections complete in the
/// kernel's backlog and requests wait forever.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private var closed = false

    init() throws {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            _ = posixClose(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        if !closed {
            _ = posixClose(fd)
            closed = true
        }
    }

    deinit { close() }
}

private func posixClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
        Glibc.close(fd)
    #else
        Darwin.close(fd)
    #endif
}
