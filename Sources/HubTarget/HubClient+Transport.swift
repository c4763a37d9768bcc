import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL

extension HubClient {
    enum Method: String {
        case GET, POST, PATCH, DELETE

        func set(on request: inout HTTPClientRequest) {
            switch self {
            case .GET: request.method = .GET
            case .POST: request.method = .POST
            case .PATCH: request.method = .PATCH
            case .DELETE: request.method = .DELETE
            }
        }
    }

    struct Response {
        var status: Int
        var body: ByteBuffer
    }

    /// Most bytes accepted in one answer (a page of 200 users is ~100 KB).
    static let maxResponseBytes = 32 * 1024 * 1024

    /// Percent-encodes one path segment: everything but unreserved characters is escaped, so a
    /// name with `/`, `?`, `#`, `%` or spaces cannot change the path.
    static func pathSegment(_ name: String) -> String {
        var allowed = CharacterSet()
        allowed.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
    }

    /// Sends a request and returns status and body when the status is one of `expect`.
    ///
    /// - Throws: a typed `HubError` for transport failures and for any other status (decoded from
    ///   the hub's `{"status", "message"}` body when there is one).
    func send(
        _ method: Method, _ path: String, query: [(String, String)] = [], body: (any Encodable)?,
        accept: String = "application/json", expect: Set<Int> = [200]
    ) async throws(HubError) -> Response {
        var url = apiRoot + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(Self.pathSegment($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        method.set(on: &request)
        request.headers.add(name: "Authorization", value: "token \(configuration.token.value)")
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "accesssync")
        if let body {
            let data: Data
            do {
                data = try JSONEncoder().encode(body)
            } catch {
                throw .invalidResponse("cannot encode the request body: \(error)")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(Array(data))
        }
        let what = "\(method.rawValue) \(path)"
        let started = ContinuousClock.now
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: TimeAmount(configuration.requestTimeout))
            bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch {
            let mapped = Self.mapTransportError(error, what: what, timeout: configuration.requestTimeout)
            statistics.record(method: method.rawValue, duration: ContinuousClock.now - started, failed: true)
            logger.debug(
                "hub request failed",
                metadata: ["hub.method": "\(method.rawValue)", "hub.path": "\(path)", "error": "\(mapped)"])
            throw mapped
        }
        let status = Int(response.status.code)
        let elapsed = ContinuousClock.now - started
        statistics.record(method: method.rawValue, duration: elapsed, failed: !expect.contains(status))
        logger.trace(
            "hub request",
            metadata: ["hub.method": "\(method.rawValue)", "hub.path": "\(path)", "hub.status": "\(status)"])
        guard expect.contains(status) else {
            throw Self.decodeError(status: status, body: bytes, reason: response.status.reasonPhrase, what: what)
        }
        return Response(status: status, body: bytes)
    }

    /// Sends a request and decodes the JSON answer.
    func requestJSON<T: Decodable>(
        _ method: Method, _ path: String, query: [(String, String)] = [], body: (any Encodable)? = nil,
        accept: String = "application/json", expect: Set<Int> = [200]
    ) async throws(HubError) -> T {
        let response = try await send(method, path, query: query, body: body, accept: accept, expect: expect)
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
        } catch {
            throw .invalidResponse("\(method.rawValue) \(path): cannot decode the answer as \(T.self): \(error)")
        }
    }

    /// Reads every page of a paginated list, following `_pagination.next` (its offset and limit
    /// only, so the token is only ever sent to the configured API root).
    ///
    /// The hub pages by offset in id order: an entry created meanwhile lands at the end, but one
    /// deleted meanwhile on an earlier page shifts the rest, and a plain offset walk would skip an
    /// entry. So each page after the first starts one entry early and must repeat the entry read
    /// last; when it does not, the walk re-anchors on the last entry it has already seen (read
    /// again from before the boundary) and goes on from there. A partial list is never returned.
    func listAll<Item: Decodable & HubNamed>(_ path: String) async throws(HubError) -> [Item] {
        let attempts = 5
        for attempt in 1...attempts {
            var items: [Item] = []
            var seen = Set<String>()
            // Index, in the hub's current list, of the next entry not yet read, and the name of the
            // entry just before it (nil at the start).
            var offset = 0
            var anchor: String?
            var limit = max(2, configuration.pageSize)
            var lost = false
            var reanchors = 0
            while true {
                let overlap = anchor == nil ? 0 : 1
                let page: Paginated<Item> = try await requestJSON(
                    .GET, path, query: [("offset", String(offset - overlap)), ("limit", String(limit))],
                    accept: Self.paginationMediaType)
                var pageItems = page.items[...]
                if overlap == 1 {
                    guard let first = pageItems.first, first.name == anchor else {
                        // Something before the boundary was deleted: find where the seen prefix ends now.
                        reanchors += 1
                        if reanchors > 20 {
                            lost = true
                            break
                        }
                        let start = max(0, offset - limit)
                        let back: Paginated<Item> = try await requestJSON(
                            .GET, path, query: [("offset", String(start)), ("limit", String(limit))],
                            accept: Self.paginationMediaType)
                        if let last = back.items.lastIndex(where: { seen.contains($0.name) }) {
                            offset = start + last + 1
                            anchor = back.items[last].name
                        } else if start == 0 {
                            offset = 0
                            anchor = nil
                        } else {
                            lost = true
                            break
                        }
                        continue
                    }
                    pageItems = pageItems.dropFirst()
                }
                for item in pageItems where seen.insert(item.name).inserted { items.append(item) }
                guard let next = page.pagination.next else { break }
                guard next.offset > offset - overlap else {
                    throw .invalidResponse("GET \(path): pagination does not advance (offset \(next.offset))")
                }
                offset = next.offset
                anchor = page.items.last?.name
                limit = max(2, next.limit)
            }
            if !lost { return items }
            logger.debug("hub list changed too much while paging; reading again", metadata: ["hub.path": "\(path)", "attempt": "\(attempt)"])
        }
        throw .invalidResponse(
            "GET \(path): the list kept changing while it was read (\(attempts) attempts); refusing a partial list")
    }

    static func decodeError(status: Int, body: ByteBuffer, reason: String, what: String) -> HubError {
        struct HubMessage: Decodable {
            var message: String?
        }
        var message = reason
        if let decoded = try? JSONDecoder().decode(HubMessage.self, from: Data(body.readableBytesView)),
            let text = decoded.message, !text.isEmpty
        {
            message = text
        }
        let full = "\(what): \(message)"
        // JupyterHub answers a missing or wrong token with 403 "Missing or invalid credentials."
        if status == 401 || (status == 403 && message.lowercased().contains("invalid credentials")) {
            return .unauthorized(full)
        }
        if status == 400 || status == 404 || status == 409 {
            // Keep the hub's own message (it names the bad user or group) without our prefix
            // for 400s, so callers can show it per name.
            return HubError.fromStatus(status, message: status == 400 ? message : full)
        }
        return HubError.fromStatus(status, message: full)
    }

    static func mapTransportError(_ error: any Error, what: String, timeout: Duration) -> HubError {
        if let error = error as? HubError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout:
                return .timeout("\(what): no answer within \(timeout)")
            case .connectTimeout, .socksHandshakeTimeout, .tlsHandshakeTimeout:
                return .unreachable("\(what): could not connect (\(error))")
            case .remoteConnectionClosed:
                return .unreachable("\(what): the hub closed the connection")
            case .cancelled:
                return .timeout("\(what): cancelled")
            default:
                return .unreachable("\(what): \(error)")
            }
        }
        if error is CancellationError { return .timeout("\(what): cancelled") }
        if error is NIOSSLError || error is BoringSSLError {
            return .unreachable("\(what): TLS failure (\(error))")
        }
        return .unreachable("\(what): \(error)")
    }
}

/// Counts of requests sent by a ``HubClient`` and the time they took.
public final class HubRequestStatistics: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var failures = 0
    private var total: Duration = .zero

    init() {}

    func record(method: String, duration: Duration, failed: Bool) {
        lock.lock()
        defer { lock.unlock() }
        counts[method, default: 0] += 1
        total += duration
        if failed { failures += 1 }
    }

    /// A copy of the counters.
    public var snapshot: Snapshot {
        lock.lock()
        defer { lock.unlock() }
        return Snapshot(requestsByMethod: counts, failedRequests: failures, timeInRequests: total)
    }

    public struct Snapshot: Sendable, Hashable {
        public var requestsByMethod: [String: Int]
        public var failedRequests: Int
        /// Sum of request durations (requests may overlap).
        public var timeInRequests: Duration
        public var requests: Int { requestsByMethod.values.reduce(0, +) }

        /// Requests made since `earlier`.
        public func since(_ earlier: Snapshot) -> Snapshot {
            var byMethod = requestsByMethod
            for (method, count) in earlier.requestsByMethod { byMethod[method, default: 0] -= count }
            return Snapshot(
                requestsByMethod: byMethod.filter { $0.value != 0 }, failedRequests: failedRequests - earlier.failedRequests,
                timeInRequests: timeInRequests - earlier.timeInRequests)
        }
    }
}
