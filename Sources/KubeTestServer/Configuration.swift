// Public configuration, fault rules and request-log entries.

/// Settings of one server instance.
public struct KubeTestServerConfiguration: Sendable {
    /// TLS certificate and key files (PEM). `nil` serves plain HTTP.
    public struct TLS: Sendable {
        public var certificatePath: String
        public var privateKeyPath: String
        /// The CA that signed the certificate (for kubeconfigs); the certificate itself when self-signed.
        public var caPath: String

        public init(certificatePath: String, privateKeyPath: String, caPath: String? = nil) {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
            self.caPath = caPath ?? certificatePath
        }
    }

    public var host: String = "127.0.0.1"
    /// 0 picks a free port.
    public var port: Int = 0
    public var tls: TLS?
    /// Bearer token → user. Empty disables authentication: every request is an admin.
    public var tokens: [String: UserInfo] = [:]
    /// Added to every response.
    public var latency: Duration = .zero
    /// Lifetime of `continue` tokens (the real server's compaction window is about 5 minutes).
    public var continueTokenLifetime: Duration = .seconds(300)
    /// When set, a deleted namespace finalizes by itself after this delay; otherwise it stays Terminating
    /// until `finalizeNamespace(_:)` is called.
    public var namespaceFinalizationDelay: Duration?
    /// Namespaces present at start.
    public var initialNamespaces: [String] = ["default", "kube-system", "kube-public", "kube-node-lease"]
    /// Also grant permissions from stored RoleBindings/ClusterRoleBindings whose subjects name the user or
    /// one of its groups (as the real RBAC authorizer does).
    public var authorizeFromStoredRBAC = false
    /// Keep at most this many request-log entries in memory.
    public var requestLogLimit = 100_000
    /// Also append each request-log entry as a JSON line to this file.
    public var requestLogPath: String?
    /// Reported by `/version`.
    public var gitVersion = "v1.36.0"

    public init() {}
}

/// What an injected fault does to a matching request.
public enum FaultAction: Sendable, Hashable {
    /// The API Priority and Fairness 429: plain text "Too many requests, please try again later." + Retry-After.
    case tooManyRequests(retryAfterSeconds: Int = 1)
    /// 503 Status with `Retry-After` (1 by default, `nil` to omit it).
    case serviceUnavailable(retryAfterSeconds: Int? = 1)
    /// 500 InternalError Status.
    case internalError
    /// 504 Timeout Status.
    case gatewayTimeout
    /// Close the connection without a response; the request is not processed.
    case dropConnection
    /// Process the request (writes are committed), then close the connection without a response.
    case commitThenDrop
    /// Delay the response; the request is processed normally.
    case delay(Duration)
}

/// A fault injected into requests that match.
public struct FaultRule: Sendable, Hashable {
    /// HTTP method to match (`nil`: any).
    public var method: String?
    /// Glob on the request path, `*` matches any run of characters (`nil`: any).
    public var pathPattern: String?
    public var action: FaultAction
    /// Applies to the next N matching requests only (`nil`: until removed).
    public var count: Int?

    public init(method: String? = nil, path pathPattern: String? = nil, action: FaultAction, count: Int? = nil) {
        self.method = method
        self.pathPattern = pathPattern
        self.action = action
        self.count = count
    }

    func matches(method: String, path: String) -> Bool {
        if let m = self.method, m.uppercased() != method { return false }
        if let p = pathPattern, !Glob.matches(pattern: p, p: path) { return false }
        return true
    }
}

enum Glob {
    static func matches(pattern: String, p text: String) -> Bool {
        let pat = Array(pattern.utf8)
        let s = Array(text.utf8)
        var pi = 0
        var si = 0
        var star = -1
        var mark = 0
        while si < s.count {
            if pi < pat.count, pat[pi] != UInt8(ascii: "*"), pat[pi] == s[si] {
                pi += 1
                si += 1
            } else if pi < pat.count, pat[pi] == UInt8(ascii: "*") {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < pat.count, pat[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == pat.count
    }
}

/// One served request, as tests see it.
public struct RequestLogEntry: Sendable, Hashable {
    public var method: String
    public var path: String
    /// The raw query string (without `?`), empty when none.
    public var query: String
    public var contentType: String?
    /// HTTP status; 0 when the connection was dropped without a response.
    public var status: Int
    /// Authenticated user name, `nil` when authentication failed.
    public var user: String?
    /// Bearer token used, `nil` when none.
    public var token: String?
    public var userAgent: String?
    /// Whether `dryRun=All` was set.
    public var dryRun: Bool
    /// Sequence number, from 1.
    public var sequence: Int

    /// POST, PUT, PATCH or DELETE that was not a dry run (reviews are not writes).
    public var isWrite: Bool {
        ["POST", "PUT", "PATCH", "DELETE"].contains(method) && !dryRun && !path.hasSuffix("accessreviews")
    }

    /// The value of one query parameter.
    public func queryValue(_ name: String) -> String? {
        for part in query.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.first.map(String.init) == name {
                return kv.count > 1 ? (String(kv[1]).removingPercentEncodingLossy) : ""
            }
        }
        return nil
    }

    var json: JSONValue {
        var o = JSONObject()
        o["seq"] = .int(sequence)
        o["method"] = .string(method)
        o["path"] = .string(path)
        o["query"] = .string(query)
        o["contentType"] = contentType.map(JSONValue.string) ?? .null
        o["status"] = .int(status)
        o["user"] = user.map(JSONValue.string) ?? .null
        o["userAgent"] = userAgent.map(JSONValue.string) ?? .null
        o["dryRun"] = .bool(dryRun)
        return .object(o)
    }
}

extension String {
    /// Percent-decoding that also turns `+` into a space (query strings); invalid escapes stay as they are.
    var removingPercentEncodingLossy: String {
        var out: [UInt8] = []
        let b = Array(utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let h = UInt8(String(decoding: b[i + 1...i + 2], as: UTF8.self), radix: 16) {
                out.append(h)
                i += 3
            } else if b[i] == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                i += 1
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
