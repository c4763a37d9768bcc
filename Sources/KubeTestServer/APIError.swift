// Status failures as the API server writes them.
// Models k8s.io/apimachinery/pkg/api/errors/errors.go (NewNotFound, NewAlreadyExists, NewConflict, NewForbidden,
// NewInvalid, NewBadRequest, NewApplyConflict, NewResourceExpired) and
// k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager conflict messages.

/// A failed request: rendered as a `Status` object, or as plain text for the API Priority and Fairness 429.
struct APIError: Error, Sendable {
    struct Cause: Sendable, Equatable {
        var reason: String
        var message: String
        var field: String?
    }

    var code: Int
    var reason: String
    var message: String
    var name: String?
    var group: String?
    var kind: String?
    var causes: [Cause] = []
    var retryAfterSeconds: Int?
    /// When set, the body is this plain text instead of a Status object.
    var plainText: String?

    var status: JSONValue {
        var o = JSONObject()
        o["kind"] = "Status"
        o["apiVersion"] = "v1"
        o["metadata"] = .object(JSONObject())
        o["status"] = "Failure"
        o["message"] = .string(message)
        o["reason"] = .string(reason)
        var details = JSONObject()
        if let name, !name.isEmpty { details["name"] = .string(name) }
        if let group, !group.isEmpty { details["group"] = .string(group) }
        if let kind, !kind.isEmpty { details["kind"] = .string(kind) }
        if !causes.isEmpty {
            details["causes"] = .array(
                causes.map { c in
                    var co = JSONObject()
                    co["reason"] = .string(c.reason)
                    co["message"] = .string(c.message)
                    if let f = c.field { co["field"] = .string(f) }
                    return .object(co)
                })
        }
        if let retryAfterSeconds { details["retryAfterSeconds"] = .int(retryAfterSeconds) }
        if !details.isEmpty { o["details"] = .object(details) }
        o["code"] = .int(code)
        return .object(o)
    }

    // MARK: Constructors named after apimachinery's.

    static func notFound(_ type: ResourceType, _ name: String) -> APIError {
        APIError(
            code: 404, reason: "NotFound", message: "\(type.groupResource) \(goQuote(name)) not found", name: name,
            group: type.group, kind: type.plural)
    }

    static func namespaceNotFound(_ name: String) -> APIError {
        APIError(
            code: 404, reason: "NotFound", message: "namespaces \(goQuote(name)) not found", name: name, group: "",
            kind: "namespaces")
    }

    static func notFoundPath() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
    }

    static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
        APIError(
            code: 409, reason: "AlreadyExists", message: "\(type.groupResource) \(goQuote(name)) already exists",
            name: name, group: type.group, kind: type.plural)
    }

    static func conflict(_ type: ResourceType, _ name: String, _ detail: String) -> APIError {
        APIError(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(type.groupResource) \(goQuote(name)): \(detail)", name: name,
            group: type.group, kind: type.plural)
    }

    static func staleUpdate(_ type: ResourceType, _ name: String) -> APIError {
        conflict(
            type, name,
            "the object has been modified; please apply your changes to the latest version and try again")
    }

    static func forbidden(_ type: ResourceType?, _ name: String, _ detail: String) -> APIError {
        let message: String
        if let type {
            message =
                name.isEmpty
                ? "\(type.groupResource) is forbidden: \(detail)"
                : "\(type.groupResource) \(goQuote(name)) is forbidden: \(detail)"
        } else {
            message = "forbidden: \(detail)"
        }
        return APIError(
            code: 403, reason: "Forbidden", message: message, name: name, group: type?.group, kind: type?.plural)
    }

    static func invalid(_ type: ResourceType, _ name: String, _ errors: [FieldError]) -> APIError {
        let aggregate: String
        if errors.count == 1 {
            aggregate = errors[0].message
        } else {
            aggregate = "[" + errors.map(\.message).joined(separator: ", ") + "]"
        }
        return APIError(
            code: 422, reason: "Invalid", message: "\(type.groupKind) \(goQuote(name)) is invalid: \(aggregate)",
            name: name, group: type.group, kind: type.kind,
            causes: errors.map { Cause(reason: $0.type.rawValue, message: $0.body, field: $0.field) })
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static func unsupportedMediaType(_ contentType: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    }

    static func methodNotAllowed() -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
    }

    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    static func expired() -> APIError {
        APIError(
            code: 410, reason: "Expired",
            message:
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue parameter from the most recent list."
        )
    }

    /// SSA conflicts, from fieldmanager's `NewConflictError`.
    static func applyConflict(_ conflicts: [(manager: String, path: String)]) -> APIError {
        let causes = conflicts.map { Cause(reason: "FieldManagerConflict", message: "conflict with \($0.manager)", field: $0.path) }
        let message: String
        if conflicts.count == 1 {
            message = "Apply failed with 1 conflict: conflict with \(conflicts[0].manager): \(conflicts[0].path)"
        } else {
            var byManager: [String: [String]] = [:]
            for c in conflicts { byManager[c.manager, default: []].append(c.path) }
            var lines: [String] = []
            for manager in byManager.keys.sorted() {
                lines.append("conflicts with \(manager):")
                for p in byManager[manager]! { lines.append("- \(p)") }
            }
            message = "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
        }
        return APIError(code: 409, reason: "Conflict", message: message, causes: causes)
    }

    /// The plain-text 429 that API Priority and Fairness writes.
    static func tooManyRequestsPlain(retryAfter: Int) -> APIError {
        APIError(
            code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.",
            retryAfterSeconds: retryAfter, plainText: "Too many requests, please try again later.\n")
    }

    static func internalError(_ detail: String) -> APIError {
        APIError(
            code: 500, reason: "InternalError", message: "Internal error occurred: \(detail)",
            causes: [Cause(reason: "UnexpectedServerResponse", message: detail, field: nil)])
    }

    static func serviceUnavailable(retryAfter: Int?) -> APIError {
        APIError(
            code: 503, reason: "ServiceUnavailable", message: "the server is currently unable to handle the request",
            retryAfterSeconds: retryAfter)
    }

    static func gatewayTimeout() -> APIError {
        APIError(
            code: 504, reason: "Timeout",
            message: "Timeout: request did not complete within requested timeout - context deadline exceeded",
            retryAfterSeconds: 0)
    }
}
