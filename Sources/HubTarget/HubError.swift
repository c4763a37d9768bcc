public import Foundation

/// A failure talking to JupyterHub.
///
/// Messages carry the hub's own JSON `message` where there is one, the method and path of the
/// request, and never the API token.
public enum HubError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// The hub could not be reached (connection refused, DNS, TLS handshake).
    case unreachable(String)
    /// No answer within the configured timeout.
    case timeout(String)
    /// 401: the token is missing, wrong or expired.
    case unauthorized(String)
    /// 403: the token lacks a scope (or the hub refuses the operation, e.g. managed groups).
    case forbidden(String)
    /// 404: the user, group or endpoint does not exist.
    case notFound(String)
    /// 400: the hub rejected the request; the hub's message.
    case badRequest(String)
    /// 409: the object already exists.
    case conflict(String)
    /// Any other non-success status (5xx and unexpected codes).
    case server(status: Int, message: String)
    /// The hub answered something that is not the JSON it documents.
    case invalidResponse(String)
    /// Local configuration problem (token file unreadable, CA file invalid, bad URL).
    case configuration(String)

    /// True when the same request may succeed if tried again later.
    public var isRetriable: Bool {
        switch self {
        case .unreachable, .timeout: true
        case .server(let status, _): status >= 500 || status == 429
        case .unauthorized, .forbidden, .notFound, .badRequest, .conflict, .invalidResponse, .configuration: false
        }
    }

    /// The HTTP status the hub answered with, when it answered.
    public var httpStatus: Int? {
        switch self {
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .badRequest: 400
        case .conflict: 409
        case .server(let status, _): status
        case .unreachable, .timeout, .invalidResponse, .configuration: nil
        }
    }

    /// The message without the case name.
    public var message: String {
        switch self {
        case .unreachable(let m), .timeout(let m), .unauthorized(let m), .forbidden(let m), .notFound(let m),
            .badRequest(let m), .conflict(let m), .invalidResponse(let m), .configuration(let m):
            m
        case .server(_, let m): m
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let m): "JupyterHub unreachable: \(m)"
        case .timeout(let m): "JupyterHub timed out: \(m)"
        case .unauthorized(let m): "JupyterHub refused the token (401): \(m)"
        case .forbidden(let m): "JupyterHub forbids this (403): \(m)"
        case .notFound(let m): "JupyterHub: not found (404): \(m)"
        case .badRequest(let m): "JupyterHub rejected the request (400): \(m)"
        case .conflict(let m): "JupyterHub: already exists (409): \(m)"
        case .server(let status, let m): "JupyterHub error (\(status)): \(m)"
        case .invalidResponse(let m): "JupyterHub sent an unexpected response: \(m)"
        case .configuration(let m): "JupyterHub client configuration: \(m)"
        }
    }

    public var errorDescription: String? { description }

    /// Maps a non-success HTTP status and the hub's message to a typed error.
    static func fromStatus(_ status: Int, message: String) -> HubError {
        switch status {
        case 400: .badRequest(message)
        case 401: .unauthorized(message)
        case 403: .forbidden(message)
        case 404: .notFound(message)
        case 409: .conflict(message)
        default: .server(status: status, message: message)
        }
    }
}
