public import Foundation
import RBACModel

/// An error response from the Kubernetes API server, decoded from its `Status` body.
///
/// Carries the API's reason, message and `details.causes` so reports can name the field at fault.
/// Never contains request bodies, headers or credentials.
public struct KubeAPIError: Error, Hashable, Sendable, Codable, CustomStringConvertible, LocalizedError {
    /// One entry of `details.causes`.
    public struct Cause: Hashable, Sendable, Codable, CustomStringConvertible {
        public var reason: String?
        public var message: String?
        public var field: String?

        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }

        public var description: String {
            [field, reason, message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        }
    }

    /// HTTP status code.
    public var code: Int
    /// `Status.reason` (`AlreadyExists`, `Conflict`, `Invalid`, ...); empty when the body was not a Status.
    public var reason: String
    public var message: String
    public var causes: [Cause]
    /// `details.name` and `details.kind` when present.
    public var detailsName: String?
    public var detailsKind: String?
    /// `Retry-After` in seconds, from the header or `details.retryAfterSeconds`.
    public var retryAfterSeconds: Int?
    /// Request method and path (never the query's credentials: requests carry none there).
    public var method: String
    public var path: String

    public init(
        code: Int, reason: String, message: String, causes: [Cause] = [], detailsName: String? = nil,
        detailsKind: String? = nil, retryAfterSeconds: Int? = nil, method: String = "", path: String = ""
    ) {
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes
        self.detailsName = detailsName
        self.detailsKind = detailsKind
        self.retryAfterSeconds = retryAfterSeconds
        self.method = method
        self.path = path
    }

    /// Decodes an error response. A body that is not a `Status` (the plain-text 429 of API Priority and
    /// Fairness, a proxy's HTML page) becomes an error with a reason derived from the code.
    public static func decode(
        code: Int, body: [UInt8], retryAfterHeader: String?, method: String, path: String
    ) -> KubeAPIError {
        var retryAfter = retryAfterHeader.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if let json = try? JSONParser.parse(body), json["kind"]?.stringValue == "Status" {
            let details = json["details"]
            let causes = (details?["causes"]?.arrayValue ?? []).map {
                Cause(reason: $0["reason"]?.stringValue, message: $0["message"]?.stringValue, field: $0["field"]?.stringValue)
            }
            if retryAfter == nil, let seconds = details?["retryAfterSeconds"]?.intValue { retryAfter = Int(seconds) }
            return KubeAPIError(
                code: json["code"]?.intValue.map(Int.init) ?? code,
                reason: json["reason"]?.stringValue ?? defaultReason(code),
                message: json["message"]?.stringValue ?? "",
                causes: causes,
                detailsName: details?["name"]?.stringValue,
                detailsKind: details?["kind"]?.stringValue,
                retryAfterSeconds: retryAfter,
                method: method, path: path
            )
        }
        var text = String(decoding: body.prefix(512), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.contains("<") { text = "" }  // an HTML page says nothing useful
        return KubeAPIError(
            code: code, reason: defaultReason(code), message: text, retryAfterSeconds: retryAfter,
            method: method, path: path)
    }

    static func defaultReason(_ code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 409: "Conflict"
        case 410: "Expired"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: "Unknown"
        }
    }

    /// 429, 500, 502, 503 and 504 are worth retrying after a pause.
    public var isRetriable: Bool { [429, 500, 502, 503, 504].contains(code) }
    public var isNotFound: Bool { code == 404 }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
    /// A 409 that is not AlreadyExists: a stale resourceVersion, a failed precondition, a field conflict.
    public var isConflict: Bool { code == 409 && reason != "AlreadyExists" }
    public var isExpired: Bool { code == 410 }
    /// 403 because the namespace is being deleted.
    public var isNamespaceTerminating: Bool {
        code == 403 && causes.contains { $0.reason == "NamespaceTerminating" }
    }

    public var description: String {
        var text = "\(method) \(path): \(code) \(reason)"
        if !message.isEmpty { text += ": \(message)" }
        let causeText = causes.map(\.description).filter { !$0.isEmpty }
        // The message usually already lists the causes; add them only when it does not.
        let missing = causeText.filter { !message.contains($0) }
        if !missing.isEmpty { text += " (" + missing.joined(separator: "; ") + ")" }
        return text
    }

    public var errorDescription: String? { description }
}

/// A failure before or outside an API response: configuration, credentials, transport.
public struct KubeClientError: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    public enum Code: String, Hashable, Sendable {
        /// Unreadable or inconsistent kubeconfig or in-cluster files.
        case configuration
        /// A credential plugin failed or a token file is unreadable.
        case credentials
        /// The connection failed or was dropped.
        case transport
        /// The response was not what the API promises (undecodable JSON, missing fields).
        case invalidResponse
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
    public var errorDescription: String? { description }
}
