import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import NIOSSL
public import RBACModel

/// How often and how long a request is retried.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts per request including the first (at least 1).
    public var maxAttempts: Int
    /// First backoff; doubles per attempt, with jitter, up to `maxBackoff`.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// A longer `Retry-After` is cut to this.
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int = 8, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(10),
        maxRetryAfter: Duration = .seconds(30)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxRetryAfter = maxRetryAfter
    }

    /// Backoff before attempt `attempt + 1` (attempt counts from 1), with "equal jitter": half fixed, half random.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let factor = pow(2.0, Double(min(attempt - 1, 30)))
        let base = min(initialBackoff.seconds * factor, maxBackoff.seconds)
        return .milliseconds(Int64((base / 2 + Double.random(in: 0...(base / 2))) * 1000))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Request-rate and connection settings.
public struct KubeClientOptions: Sendable, Hashable {
    /// Average requests per second over the whole client (token bucket); nil for no limit.
    public var requestsPerSecond: Double?
    public var burst: Int
    public var retry: RetryPolicy
    /// Per attempt, from sending to the last byte of the response.
    public var requestTimeout: Duration
    public var connectTimeout: Duration
    /// HTTP/1.1 connections kept per host; match the apply concurrency.
    public var maxConnections: Int
    /// Largest response body accepted.
    public var maxResponseBytes: Int

    public init(
        requestsPerSecond: Double? = 100, burst: Int = 200, retry: RetryPolicy = RetryPolicy(),
        requestTimeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(10), maxConnections: Int = 16,
        maxResponseBytes: Int = 256 << 20
    ) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.maxConnections = maxConnections
        self.maxResponseBytes = maxResponseBytes
    }
}

/// Counts of HTTP requests sent (every attempt counts).
public struct KubeRequestCounts: Sendable, Hashable, Codable, CustomStringConvertible {
    public var total = 0
    public var byMethod: [String: Int] = [:]
    /// POST, PUT, PATCH and DELETE without `dryRun`.
    public var writes = 0
    public var dryRunWrites = 0
    /// Attempts after the first of the same request.
    public var retries = 0
    /// Attempts that ended without a response (connection refused, dropped, timed out).
    public var transportErrors = 0
    /// Responses by status code.
    public var byStatus: [Int: Int] = [:]

    public init() {}

    public var description: String {
        let methods = byMethod.keys.sorted().map { "\($0)=\(byMethod[$0]!)" }.joined(separator: " ")
        return "requests=\(total) \(methods) writes=\(writes) dryRunWrites=\(dryRunWrites) retries=\(retries) transportErrors=\(transportErrors)"
    }
}

/// One HTTP request to the API server.
public struct KubeRequest: Sendable, Hashable {
    public var method: String
    /// Absolute path, e.g. `/api/v1/namespaces`.
    public var path: String
    public var query: [(String, String)]
    public var body: JSONValue?
    public var contentType: String

    public init(
        method: String, path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        contentType: String = "application/json"
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.contentType = contentType
    }

    public var isDryRun: Bool { query.contains { $0.0 == "dryRun" } }
    public var isWrite: Bool { ["POST", "PUT", "PATCH", "DELETE"].contains(method) }

    public static func == (lhs: KubeRequest, rhs: KubeRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.query.map(\.0) == rhs.query.map(\.0)
            && lhs.query.map(\.1) == rhs.query.map(\.1) && lhs.body == rhs.body && lhs.contentType == rhs.contentType
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(path)
        hasher.combine(body)
    }
}

/// A response (any status) after retries.
public struct KubeResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// HTTP attempts the request took.
    public var attempts: Int
    public var retryAfterHeader: String?

    public var isSuccess: Bool { (200..<300).contains(status) }

    public func json() throws(KubeClientError) -> JSONValue {
        do {
            return try JSONParser.parse(body)
        } catch {
            throw KubeClientError(.invalidResponse, "response is not JSON: \(error)")
        }
    }
}

/// A Kubernetes API client over AsyncHTTPClient: TLS from the configuration, credentials refreshed as
/// they rotate, a client-wide request rate, and retries of 429/5xx/connection errors with backoff.
///
/// Thread-safe. Call `shutdown()` when done.
public final class KubeClient: Sendable {
    public let configuration: KubeClientConfiguration
    public let options: KubeClientOptions
    private let http: HTTPClient
    private let baseURL: String
    private let baseTLS: TLSConfiguration
    private let credentials: CredentialProvider
    private let limiter: RateLimiter
    private let counters = Counters()
    private let logger: Logger

    /// - Parameter environment: passed to credential plugins.
    public init(
        configuration: KubeClientConfiguration, options: KubeClientOptions = KubeClientOptions(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "accesssync.kube")
    ) throws(KubeClientError) {
        self.configuration = configuration
        self.options = options
        self.logger = logger
        guard let components = URLComponents(string: configuration.server), let scheme = components.scheme,
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty
        else {
            throw KubeClientError(.configuration, "server \(configuration.server) is not an http(s) URL")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let pem = configuration.certificateAuthorityPEM {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pem))
            } catch {
                throw KubeClientError(.configuration, "the certificate authority is not valid PEM")
            }
        }
        if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }
        if let certificate = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
            try Self.addClientIdentity(to: &tls, certificate: certificate, key: key)
        }
        self.baseTLS = tls
        var httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(options.connectTimeout.nanoseconds), read: .nanoseconds(options.requestTimeout.nanoseconds)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, options.maxConnections)),
            decompression: .disabled
        )
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        var base = configuration.server.hasSuffix("/") ? String(configuration.server.dropLast()) : configuration.server
        if let serverName = configuration.tlsServerName, scheme == "https" {
            // Connect to the configured host but send SNI and verify the certificate for `serverName`.
            httpConfiguration.dnsOverride = [serverName: host]
            var rewritten = components
            rewritten.host = serverName
            base = rewritten.string ?? base
            if base.hasSuffix("/") { base.removeLast() }
        }
        self.baseURL = base
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        self.credentials = CredentialProvider(configuration: configuration, environment: environment)
        self.limiter = RateLimiter(rate: options.requestsPerSecond, burst: options.burst)
    }

    static func addClientIdentity(to tls: inout TLSConfiguration, certificate: [UInt8], key: [UInt8]) throws(KubeClientError) {
        do {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
        } catch {
            throw KubeClientError(.configuration, "the client certificate is not valid PEM")
        }
        do {
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
        } catch {
            throw KubeClientError(.configuration, "the client key is not a valid PEM private key")
        }
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Requests sent so far.
    public var requestCounts: KubeRequestCounts { counters.snapshot() }

    public func resetRequestCounts() { counters.reset() }

    /// Times the credential source was read (token file, plugin run).
    public var credentialLoads: Int { get async { await credentials.loads } }

    // MARK: - Sending

    /// Sends a request, retrying 429/500/502/503/504 and connection errors (honouring `Retry-After`,
    /// otherwise exponential backoff with jitter) and a 401 once after refreshing credentials.
    ///
    /// - Returns: the last response, whatever its status.
    /// - Throws: `KubeClientError` when no response arrived after the last attempt, or the request
    ///   cannot be built; `CancellationError`.
    public func send(_ request: KubeRequest) async throws -> KubeResponse {
        var attempt = 0
        var refreshedAfter401 = false
        while true {
            attempt += 1
            try Task.checkCancellation()
            try await limiter.acquire()
            let credential: Credential
            do {
                credential = try await credentials.credential()
            }
            counters.record(request, isRetry: attempt > 1)
            do {
                var response = try await perform(request, credential: credential)
                response.attempts = attempt
                counters.record(status: response.status)
                if response.status == 401, !refreshedAfter401, isRefreshable {
                    refreshedAfter401 = true
                    await credentials.invalidate()
                    logger.debug("kube.retry", metadata: ["http.method": "\(request.method)", "http.path": "\(request.path)", "http.status": "401"])
                    continue
                }
                guard [429, 500, 502, 503, 504].contains(response.status), attempt < options.retry.maxAttempts else {
                    return response
                }
                let delay = retryDelay(response: response, attempt: attempt)
                logger.debug(
                    "kube.retry",
                    metadata: [
                        "http.method": "\(request.method)", "http.path": "\(request.path)", "http.status": "\(response.status)",
                        "retry.delay_ms": "\(Int(delay.seconds * 1000))",
                    ])
                try await Task.sleep(for: delay)
            } catch let error as CancellationError {
                throw error
            } catch let error as KubeClientError {
                throw error
            } catch {
                counters.recordTransportError()
                let retriable = Self.isRetriableTransportError(error)
                guard retriable, attempt < options.retry.maxAttempts else {
                    throw KubeClientError(
                        .transport, "\(request.method) \(request.path): no response after \(attempt) attempt(s): \(Self.describe(error))")
                }
                let delay = options.retry.backoff(afterAttempt: attempt)
                logger.debug(
                    "kube.retry",
                    metadata: [
                        "http.method": "\(request.method)", "http.path": "\(request.path)", "error": "\(Self.describe(error))",
                        "retry.delay_ms": "\(Int(delay.seconds * 1000))",
                    ])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Sends a request whose success carries a JSON body; any other status throws its `KubeAPIError`.
    public func sendJSON(_ request: KubeRequest) async throws -> JSONValue {
        let response = try await send(request)
        guard response.isSuccess else { throw apiError(response, request) }
        return try response.json()
    }

    public func apiError(_ response: KubeResponse, _ request: KubeRequest) -> KubeAPIError {
        KubeAPIError.decode(
            code: response.status, body: response.body, retryAfterHeader: response.retryAfterHeader,
            method: request.method, path: request.path)
    }

    private var isRefreshable: Bool {
        switch configuration.credentials {
        case .tokenFile, .exec: true
        case .none, .token: false
        }
    }

    private func retryDelay(response: KubeResponse, attempt: Int) -> Duration {
        var seconds: Int?
        if let header = response.retryAfterHeader { seconds = Int(header.trimmingCharacters(in: .whitespaces)) }
        if seconds == nil, [429, 503].contains(response.status) {
            seconds = KubeAPIError.decode(
                code: response.status, body: response.body, retryAfterHeader: nil, method: "", path: ""
            ).retryAfterSeconds
        }
        if let seconds, seconds >= 0 {
            let wait = min(Duration.seconds(seconds), options.retry.maxRetryAfter)
            // A little jitter so that a crowd told to come back in 1 s does not return in lockstep.
            return wait + .milliseconds(Int64.random(in: 0...max(1, Int64(wait.seconds * 100))))
        }
        return options.retry.backoff(afterAttempt: attempt)
    }

    static func isRetriableTransportError(_ error: any Error) -> Bool {
        if error is NIOSSLError { return false }
        if let http = error as? HTTPClientError {
            return ![HTTPClientError.invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .cancelled].contains(http)
        }
        return true
    }

    static func describe(_ error: any Error) -> String {
        if let http = error as? HTTPClientError { return "\(http)" }
        if let ssl = error as? NIOSSLError { return "TLS: \(ssl)" }
        return String(describing: type(of: error)) + ": \(error)"
    }

    private func perform(_ request: KubeRequest, credential: Credential) async throws -> KubeResponse {
        var url = baseURL + request.path
        if !request.query.isEmpty {
            url += "?" + request.query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var http = HTTPClientRequest(url: url)
        http.method = .RAW(value: request.method)
        http.headers.add(name: "Accept", value: "application/json")
        http.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let token = credential.bearerToken { http.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let certificate = credential.clientCertificatePEM, let key = credential.clientKeyPEM {
            var tls = baseTLS
            try Self.addClientIdentity(to: &tls, certificate: certificate, key: key)
            http.tlsConfiguration = tls
        }
        if let body = request.body {
            let text = body.serialized()
            http.headers.add(name: "Content-Type", value: request.contentType)
            http.body = .bytes(ByteBuffer(string: text))
        }
        let response = try await self.http.execute(http, timeout: .nanoseconds(options.requestTimeout.nanoseconds), logger: nil)
        let buffer = try await response.body.collect(upTo: options.maxResponseBytes)
        return KubeResponse(
            status: Int(response.status.code), body: Array(buffer.readableBytesView), attempts: 1,
            retryAfterHeader: response.headers.first(name: "Retry-After"))
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

/// Lock-protected request counters.
final class Counters: @unchecked Sendable {
    private let lock = NSLock()
    private var counts = KubeRequestCounts()

    func record(_ request: KubeRequest, isRetry: Bool) {
        lock.withLock {
            counts.total += 1
            counts.byMethod[request.method, default: 0] += 1
            if request.isWrite {
                if request.isDryRun { counts.dryRunWrites += 1 } else { counts.writes += 1 }
            }
            if isRetry { counts.retries += 1 }
        }
    }

    func record(status: Int) { lock.withLock { counts.byStatus[status, default: 0] += 1 } }

    func recordTransportError() { lock.withLock { counts.transportErrors += 1 } }

    func snapshot() -> KubeRequestCounts { lock.withLock { counts } }

    func reset() { lock.withLock { counts = KubeRequestCounts() } }
}
