// The request engine: faults, authentication, routing and the object store, behind one lock.
// NIO handlers call `handle(_:)` synchronously on their event loop; every request runs under `lock`,
// so the store needs no other synchronisation.

import Foundation

/// A request as the engine sees it.
struct HTTPRequestData: Sendable {
    var method: String
    /// The path without the query, still percent-encoded.
    var path: String
    var query: String
    /// Header names lowercased.
    var headers: [String: String]
    var body: [UInt8]
}

/// A response, or an instruction to close the connection instead.
struct HTTPResponseData: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// Close the connection without writing anything.
    var drop = false
    var delay: Duration = .zero

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponseData {
        HTTPResponseData(status: status, headers: [("Content-Type", "application/json")] + headers, body: value.encoded())
    }

    static func error(_ e: APIError) -> HTTPResponseData {
        var headers: [(String, String)] = []
        if let r = e.retryAfterSeconds, e.code == 429 || e.code == 503 || (e.code == 504 && r > 0) {
            headers.append(("Retry-After", String(r)))
        }
        if let text = e.plainText {
            return HTTPResponseData(
                status: e.code, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: Array(text.utf8))
        }
        return .json(e.code, e.status, headers: headers)
    }
}

/// Parsed query parameters (first value wins, as the server's decoder does for scalars).
struct QueryParameters: Sendable {
    var values: [String: [String]] = [:]

    init(_ raw: String) {
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncodingLossy
            let value = kv.count > 1 ? String(kv[1]).removingPercentEncodingLossy : ""
            values[key, default: []].append(value)
        }
    }

    subscript(_ key: String) -> String? { values[key]?.first }
    func all(_ key: String) -> [String] { values[key] ?? [] }
}

final class APIServerCore: @unchecked Sendable {
    let config: KubeTestServerConfiguration
    private let lock = NSLock()

    // Everything below is guarded by `lock`.
    /// `groupResource` → "namespace/name" → stored object (with kind and apiVersion).
    var objects: [String: [String: JSONObject]] = [:]
    var resourceVersion = 1000
    private var requestLog: [RequestLogEntry] = []
    private var sequence = 0
    private var faults: [(id: Int, rule: FaultRule)] = []
    private var nextFaultID = 1
    var continueEpoch = 0
    var maxListPageSize: Int?
    private var logFile: FileHandle?

    init(config: KubeTestServerConfiguration) {
        self.config = config
        if let path = config.requestLogPath {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            logFile = FileHandle(forWritingAtPath: path)
        }
        for ns in config.initialNamespaces {
            var o: JSONObject = ["kind": "Namespace", "apiVersion": "v1", "metadata": ["name": .string(ns)]]
            KindRules.prepareNamespace(&o, old: nil)
            stamp(&o, rv: nextResourceVersion())
            objects[ResourceType.namespaces.groupResource, default: [:]]["/" + ns] = o
        }
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: - Test hooks (public API goes through KubeTestServer)

    var logEntries: [RequestLogEntry] { withLock { requestLog } }
    func clearLog() { withLock { requestLog.removeAll() } }

    func addFault(_ rule: FaultRule) -> Int {
        withLock {
            let id = nextFaultID
            nextFaultID += 1
            faults.append((id, rule))
            return id
        }
    }

    func removeFault(_ id: Int) { withLock { faults.removeAll { $0.id == id } } }
    func clearFaults() { withLock { faults.removeAll() } }
    func expireContinueTokens() { withLock { continueEpoch += 1 } }
    func setMaxListPageSize(_ n: Int?) { withLock { maxListPageSize = n } }

    // MARK: - Helpers

    func nextResourceVersion() -> String {
        resourceVersion += 1
        return String(resourceVersion)
    }

    static func now() -> String {
        Date().formatted(.iso8601)
    }

    /// Sets uid, creationTimestamp and resourceVersion.
    func stamp(_ o: inout JSONObject, rv: String?) {
        var metadata = o["metadata"]?.objectValue ?? JSONObject()
        metadata["uid"] = .string(UUID().uuidString.lowercased())
        metadata["resourceVersion"] = rv.map(JSONValue.string)
        metadata["creationTimestamp"] = .string(Self.now())
        o["metadata"] = .object(reorderedMetadata(metadata))
    }

    /// Metadata keys in the order the server's encoder writes them.
    func reorderedMetadata(_ m: JSONObject) -> JSONObject {
        let order = [
            "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
            "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
            "managedFields",
        ]
        var out = JSONObject()
        for k in order { if let v = m[k] { out[k] = v } }
        for (k, v) in m where out[k] == nil { out[k] = v }
        return out
    }

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }

    func stored(_ type: ResourceType, _ namespace: String, _ name: String) -> JSONObject? {
        objects[type.groupResource]?[Self.key(namespace, name)]
    }

    func store(_ type: ResourceType, _ namespace: String, _ name: String, _ object: JSONObject?) {
        objects[type.groupResource, default: [:]][Self.key(namespace, name)] = object
    }

    // MARK: - Entry point

    func handle(_ request: HTTPRequestData) -> HTTPResponseData {
        lock.lock()
        defer { lock.unlock() }
        sequence += 1
        let token = Self.bearerToken(request.headers["authorization"])
        var entry = RequestLogEntry(
            method: request.method, path: request.path, query: request.query,
            contentType: request.headers["content-type"], status: 0, user: nil, token: token,
            userAgent: request.headers["user-agent"], dryRun: QueryParameters(request.query)["dryRun"] == "All",
            sequence: sequence)

        var delay = config.latency
        var commitThenDrop = false
        var terminal: FaultAction?
        var i = 0
        while i < faults.count {
            let rule = faults[i].rule
            if rule.matches(method: request.method, path: request.path) {
                var consumed = false
                switch rule.action {
                case .delay(let d):
                    delay += d
                    consumed = true
                case .commitThenDrop:
                    if terminal == nil && !commitThenDrop {
                        commitThenDrop = true
                        consumed = true
                    }
                default:
                    if terminal == nil && !commitThenDrop {
                        terminal = rule.action
                        consumed = true
                    }
                }
                if consumed, let c = rule.count {
                    if c <= 1 {
                        faults.remove(at: i)
                        continue
                    }
                    faults[i].rule.count = c - 1
                }
            }
            i += 1
        }

        var response: HTTPResponseData
        if let terminal {
            switch terminal {
            case .tooManyRequests(let s): response = .error(.tooManyRequestsPlain(retryAfter: s))
            case .serviceUnavailable(let s): response = .error(.serviceUnavailable(retryAfter: s))
            case .internalError: response = .error(.internalError("injected fault"))
            case .gatewayTimeout: response = .error(.gatewayTimeout())
            case .dropConnection: response = HTTPResponseData(status: 0, headers: [], body: [], drop: true)
            case .commitThenDrop, .delay: response = .error(.internalError("unreachable"))
            }
        } else {
            response = authenticateAndRoute(request, token: token, entry: &entry)
        }
        if commitThenDrop {
            response = HTTPResponseData(status: 0, headers: [], body: [], drop: true)
        }
        response.delay = delay
        entry.status = response.drop ? 0 : response.status
        record(entry)
        return response
    }

    private func record(_ entry: RequestLogEntry) {
        requestLog.append(entry)
        if requestLog.count > config.requestLogLimit { requestLog.removeFirst(requestLog.count - config.requestLogLimit) }
        if let logFile {
            var line = entry.json.encoded()
            line.append(UInt8(ascii: "\n"))
            logFile.write(Data(line))
        }
    }

    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    private func authenticateAndRoute(
        _ request: HTTPRequestData, token: String?, entry: inout RequestLogEntry
    ) -> HTTPResponseData {
        let path = request.path
        if ["/healthz", "/livez", "/readyz"].contains(path) {
            return HTTPResponseData(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array("ok".utf8))
        }
        let user: UserInfo
        if config.tokens.isEmpty {
            user = .admin()
        } else if let token, let u = config.tokens[token] {
            user = u
        } else {
            return .error(.unauthorized)
        }
        entry.user = user.name
        do {
            return try route(request, user: user)
        } catch {
            return .error(error)
        }
    }

    // MARK: - Routing

    struct Target {
        var type: ResourceType
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    private func route(_ request: HTTPRequestData, user: UserInfo) throws(APIError) -> HTTPResponseData {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map {
            String($0).removingPercentEncodingLossy
        }
        let query = QueryParameters(request.query)
        if let doc = try Discovery.document(for: segments, request: request) {
            return doc
        }
        guard segments.count >= 3 else { throw .notFoundPath() }
        let group: String
        let version: String
        let rest: [String]
        if segments[0] == "api" {
            group = ""
            version = segments[1]
            rest = Array(segments[2...])
        } else if segments[0] == "apis", segments.count >= 4 {
            group = segments[1]
            version = segments[2]
            rest = Array(segments[3...])
        } else {
            throw .notFoundPath()
        }
        let target = try resolve(group: group, version: version, rest: rest)
        return try dispatch(request, target: target, query: query, user: user)
    }

    private func resolve(group: String, version: String, rest: [String]) throws(APIError) -> Target {
        func type(_ plural: String) throws(APIError) -> ResourceType {
            guard let t = ResourceType.find(group: group, plural: plural), t.version == version else {
                throw .notFoundPath()
            }
            return t
        }
        if rest.count >= 3, rest[0] == "namespaces",
            let t = ResourceType.find(group: group, plural: rest[2]), t.namespaced
        {
            guard t.version == version, rest.count <= 5 else { throw .notFoundPath() }
            return Target(
                type: t, namespace: rest[1], name: rest.count > 3 ? rest[3] : nil, subresource: rest.count > 4 ? rest[4] : nil)
        }
        let t = try type(rest[0])
        guard rest.count <= 3 else { throw .notFoundPath() }
        return Target(type: t, namespace: nil, name: rest.count > 1 ? rest[1] : nil, subresource: rest.count > 2 ? rest[2] : nil)
    }

    private func dispatch(
        _ request: HTTPRequestData, target: Target, query: QueryParameters, user: UserInfo
    ) throws(APIError) -> HTTPResponseData {
        let t = target.type
        let ns = target.namespace ?? ""
        let method = request.method
        let verb: String
        switch (method, target.name) {
        case ("GET", nil): verb = (query["watch"] == "true" || query["watch"] == "1") ? "watch" : "list"
        case ("GET", _): verb = "get"
        case ("POST", nil): verb = "create"
        case ("PUT", .some): verb = "update"
        case ("PATCH", .some): verb = "patch"
        case ("DELETE", .some): verb = "delete"
        case ("DELETE", nil): verb = "deletecollection"
        default: throw .methodNotAllowed()
        }
        if t.createOnly && verb != "create" { throw .methodNotAllowed() }
        if let sub = target.subresource {
            guard t == .namespaces, sub == "finalize" || sub == "status", verb == "update" || verb == "get" else {
                throw .notFoundPath()
            }
        }
        if t.namespaced && target.namespace == nil && verb != "list" && verb != "watch" {
            throw .notFoundPath()
        }
        let attributes = RequestAttributes(
            verb: verb, group: t.group, resource: t.plural, subresource: target.subresource ?? "", namespace: ns,
            name: target.name ?? "")
        if !authorize(user, attributes) {
            throw .forbidden(t, target.name ?? "", Authorizer.forbiddenMessage(user: user.name, attributes))
        }
        let context = RequestContext(
            request: request, query: query, user: user, type: t, namespace: ns, name: target.name ?? "")
        switch verb {
        case "get":
            return try get(context)
        case "list", "watch":
            return try list(context, watch: verb == "watch")
        case "create":
            if t == .selfSubjectAccessReviews { return try selfSubjectAccessReview(context) }
            return try create(context)
        case "update":
            if target.subresource == "finalize" { return try finalizeSubresource(context) }
            return try update(context)
        case "patch":
            return try patch(context)
        case "delete":
            return try delete(context)
        default:
            return try deleteCollection(context)
        }
    }

    // MARK: - Authorization

    func rules(for user: UserInfo) -> [PermissionRule] {
        guard config.authorizeFromStoredRBAC else { return user.rules }
        var out = user.rules
        func matches(_ subjects: [JSONValue]) -> Bool {
            subjects.contains { s in
                let kind = s["kind"]?.stringValue
                let name = s["name"]?.stringValue ?? ""
                return (kind == "User" && name == user.name) || (kind == "Group" && user.effectiveGroups.contains(name))
            }
        }
        func ruleList(_ roleRef: JSONValue?, namespace: String) -> [JSONValue] {
            let name = roleRef?["name"]?.stringValue ?? ""
            let role =
                roleRef?["kind"]?.stringValue == "Role"
                ? stored(.roles, namespace, name) : stored(.clusterRoles, "", name)
            return role?["rules"]?.arrayValue ?? []
        }
        func convert(_ rules: [JSONValue], namespaces: [String]?) -> [PermissionRule] {
            rules.map { r in
                PermissionRule(
                    verbs: r["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    apiGroups: r["apiGroups"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    resources: r["resources"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    resourceNames: r["resourceNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    namespaces: namespaces)
            }
        }
        for (key, b) in objects[ResourceType.clusterRoleBindings.groupResource] ?? [:] {
            _ = key
            if matches(b["subjects"]?.arrayValue ?? []) { out += convert(ruleList(b["roleRef"], namespace: ""), namespaces: nil) }
        }
        for (_, b) in objects[ResourceType.roleBindings.groupResource] ?? [:] {
            let ns = b["metadata"]?["namespace"]?.stringValue ?? ""
            if matches(b["subjects"]?.arrayValue ?? []) {
                out += convert(ruleList(b["roleRef"], namespace: ns), namespaces: [ns])
            }
        }
        return out
    }

    func authorize(_ user: UserInfo, _ a: RequestAttributes) -> Bool {
        if user.isSuperuser { return true }
        // The default ClusterRole system:basic-user, bound to system:authenticated, lets everyone review itself
        // (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go).
        if a.verb == "create", a.group == "authorization.k8s.io",
            a.resource == "selfsubjectaccessreviews" || a.resource == "selfsubjectrulesreviews"
        {
            return true
        }
        return rules(for: user).contains { $0.allows(a) }
    }
}

/// One resource request in flight.
struct RequestContext {
    var request: HTTPRequestData
    var query: QueryParameters
    var user: UserInfo
    var type: ResourceType
    var namespace: String
    var name: String

    var dryRun: Bool { query["dryRun"] == "All" }
}
