import Dispatch
import Foundation
public import Logging

/// A bound connection to an LDAP server.
///
/// Threading: libldap allows one operation at a time per session handle and keeps its error state
/// on the handle, so every operation of a connection runs on the connection's own serial dispatch
/// queue — one at a time, and off Swift's cooperative thread pool because libldap's calls block.
/// That confinement is why the class is `@unchecked Sendable`: calls from many tasks are safe, they
/// queue up. Use several connections for parallel reads.
public final class LDAPConnection: @unchecked Sendable {
    private let raw: RawLDAP
    private let queue: DispatchQueue
    /// The server URI (no credentials).
    public let uri: String
    /// The base DN from the configuration, else libldap's default (`LDAPBASE` / `ldap.conf`).
    public let defaultBase: String?
    /// The operation timeout applied to searches.
    let responseTimeout: Duration
    let searchTimeLimitSeconds: Int?

    private init(raw: RawLDAP, queue: DispatchQueue, defaultBase: String?, timeouts: LDAPConfiguration.Timeouts) {
        self.raw = raw
        self.queue = queue
        self.uri = raw.uri
        self.defaultBase = defaultBase
        self.responseTimeout = timeouts.operation
        self.searchTimeLimitSeconds = timeouts.searchTimeLimitSeconds
    }

    /// Opens a connection, establishes TLS as configured, and binds.
    ///
    /// - Throws: `LDAPError` — `.connectFailed`, `.tlsFailed` (with a readable reason),
    ///   `.invalidCredentials`, `.passwordUnavailable`, `.invalidConfiguration`.
    public static func connect(_ configuration: LDAPConfiguration, logger: Logger) async throws -> LDAPConnection {
        let password = try configuration.password.map { try $0.load() }
        if configuration.bindDN != nil, password == nil {
            throw LDAPError(.invalidConfiguration, "a bind DN is set but no password source (file or environment variable)")
        }
        let queue = DispatchQueue(label: "accesssync.ldap.connection")
        let connection: LDAPConnection = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let raw = try openAndBind(configuration, password: password)
                    let base = configuration.baseDN ?? RawLDAP.defaultBase()
                    continuation.resume(
                        returning: LDAPConnection(raw: raw, queue: queue, defaultBase: base, timeouts: configuration.timeouts))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        logger.debug(
            "ldap.connected",
            metadata: ["ldap.uri": "\(connection.uri)", "ldap.bind_dn": "\(configuration.bindDN ?? "anonymous")"])
        return connection
    }

    /// Runs on the connection queue: initialise, configure, StartTLS, bind.
    private static func openAndBind(_ configuration: LDAPConfiguration, password: [UInt8]?) throws(LDAPError) -> RawLDAP {
        guard let uri = configuration.uri ?? RawLDAP.defaultURI() else {
            throw LDAPError(.invalidConfiguration, "no LDAP URI: set uri in the configuration, or LDAPURI / URI in ldap.conf")
        }
        let raw = try RawLDAP(uri: uri)
        try raw.configure(tls: configuration.tls, timeouts: configuration.timeouts)
        let lower = uri.lowercased()
        let isLDAPS = lower.hasPrefix("ldaps://")
        let usesStartTLS = lower.hasPrefix("ldap://") && configuration.tls.startTLS
        if usesStartTLS {
            do {
                try raw.startTLS()
            } catch {
                throw describeTLSFailure(error, raw: raw, configuration: configuration, phase: "StartTLS")
            }
        }
        if configuration.bindDN != nil, password?.isEmpty ?? true {
            // An empty password is an unauthenticated bind (RFC 4513 §5.1.2): it "succeeds" anonymously.
            throw LDAPError(.passwordUnavailable, "the bind password for \(configuration.bindDN!) is empty")
        }
        do {
            try raw.simpleBind(dn: configuration.bindDN, password: password ?? [])
        } catch {
            if isLDAPS, error.resultCode == -1 || error.resultCode == -11 {
                throw describeTLSFailure(error, raw: raw, configuration: configuration, phase: "TLS handshake")
            }
            if error.resultCode == -1 || error.resultCode == -11 {
                throw LDAPError(
                    .connectFailed, "cannot reach \(uri)", resultCode: error.resultCode, serverMessage: error.serverMessage)
            }
            if error.code == .invalidCredentials {
                throw LDAPError(
                    .invalidCredentials,
                    "bind as \(configuration.bindDN ?? "anonymous") to \(uri) was rejected: wrong DN or password",
                    resultCode: error.resultCode, serverMessage: error.serverMessage)
            }
            throw error
        }
        return raw
    }

    /// Turns libldap's "(unknown error code)" TLS failures into a sentence an operator can act on.
    private static func describeTLSFailure(
        _ error: LDAPError, raw: RawLDAP, configuration: LDAPConfiguration, phase: String
    ) -> LDAPError {
        let uri = raw.uri
        if let (host, port) = raw.hostAndPort(),
            !RawLDAP.tcpReachable(host: host, port: port, timeout: configuration.timeouts.network)
        {
            return LDAPError(.connectFailed, "cannot reach \(host):\(port) (\(uri))", resultCode: error.resultCode)
        }
        if error.resultCode == -5 {  // LDAP_TIMEOUT: LDAP_OPT_TIMEOUT (the operation timeout) expired
            // The server accepted the connection and then said nothing (hung, or not an LDAP server).
            return LDAPError(
                .timeout,
                "\(phase) with \(uri): no answer within \(configuration.timeouts.operation) (the server accepts "
                    + "connections but does not respond; ldap.operationTimeoutSeconds)",
                resultCode: error.resultCode)
        }
        if phase == "StartTLS", let rc = error.resultCode, rc > 0 {
            return LDAPError(
                .tlsFailed, "the server at \(uri) refused StartTLS", resultCode: rc, serverMessage: error.serverMessage)
        }
        var hint = configuration.tls.caFile.map { "check ca_file (\($0)) — is it the CA that signed the server certificate?" }
            ?? RawLDAP.defaultCACertFile().map {
                "check ca_file — none is configured, so LDAPTLS_CACERT / ldap.conf TLS_CACERT (\($0)) is used"
            }
            ?? "check ca_file — none is configured (nor LDAPTLS_CACERT / ldap.conf TLS_CACERT), so only the system trust store is used"
        hint += "; the certificate must name the host in the URI (connect to 127.0.0.1 with an IP SAN, not localhost)"
        var reason = "certificate verification or handshake failed"
        if let detail = raw.diagnosticMessage(), !detail.isEmpty, detail != "(unknown error code)" {
            reason = detail
        }
        return LDAPError(
            .tlsFailed, "\(phase) with \(uri) failed: \(reason) — \(hint)", resultCode: error.resultCode)
    }

    /// Runs `body` on the connection's queue (one operation at a time, off the cooperative pool).
    private func run<T: Sendable>(_ body: @escaping @Sendable (RawLDAP) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: try body(self.raw))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    // MARK: Operations

    /// Searches, paging with RFC 2696 when `pageSize` is set, and transforms the entries.
    ///
    /// Each completed page is handed to a global dispatch queue for `transform` while the
    /// connection receives the next page, so `transform` may run concurrently for different pages
    /// (it must be `@Sendable` and should be pure). Results keep the server's order. Entries for
    /// which `transform` returns nil are dropped; the first error `transform` throws fails the
    /// search once the server's part has finished.
    ///
    /// - Throws: `LDAPError` for any non-success result (size or time limit, referral, lost
    ///   connection): a search either completes or throws.
    public func search<T: Sendable>(
        base: String, scope: LDAPScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = [],
        pageSize: Int? = 500, transform: @escaping @Sendable (LDAPEntry) throws -> T?
    ) async throws -> (results: [T], summary: LDAPSearchSummary) {
        let request = RawSearchRequest(
            base: base, scope: scope, filter: filter, attributes: attributes, pageSize: pageSize,
            timeLimitSeconds: searchTimeLimitSeconds, responseTimeout: responseTimeout)
        return try await run { raw in
            // Pages are converted on other threads while the next page is being received.
            let pipeline = ConversionPipeline<[LDAPEntry], T>(concurrent: true) { entries in
                var converted: [T] = []
                converted.reserveCapacity(entries.count)
                for entry in entries {
                    if let value = try transform(entry) { converted.append(value) }
                }
                return converted
            }
            let summary: LDAPSearchSummary
            do {
                summary = try raw.search(request) { page in pipeline.submit(page) }
            } catch {
                _ = try? pipeline.finish()
                throw error
            }
            return (try pipeline.finish(), summary)
        }
    }

    /// Searches with a decoder that reads each entry in place, on the connection's thread, into a
    /// page of its own format (no `LDAPEntry`); each completed page is then converted — on a
    /// global dispatch queue while the next page is received when `concurrent`, else right there.
    /// Returns the results page by page (not concatenated, to spare copying them), in the
    /// server's order; errors as for `search(…transform:)`. With `assemble`, each converted page
    /// is instead handed to `assemble`, in order, on one serial queue (while later pages are still
    /// being received), and no pages are returned; the search returns after the last `assemble`.
    func search<Decoder: EntryPageDecoder>(
        base: String, scope: LDAPScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = [],
        pageSize: Int? = 500, decoder: Decoder, concurrent: Bool = true,
        assemble: (@Sendable ([Decoder.Output]) -> Void)? = nil
    ) async throws -> (pages: [[Decoder.Output]], summary: LDAPSearchSummary) {
        let request = RawSearchRequest(
            base: base, scope: scope, filter: filter, attributes: attributes, pageSize: pageSize,
            timeLimitSeconds: searchTimeLimitSeconds, responseTimeout: responseTimeout)
        return try await run { raw in
            let pipeline = ConversionPipeline<Decoder.Page, Decoder.Output>(concurrent: concurrent, assemble: assemble) {
                page in try decoder.convert(page)
            }
            var page = decoder.makePage(capacity: pageSize ?? 0)
            let summary: LDAPSearchSummary
            do {
                summary = try raw.searchVisiting(
                    request, visit: { entry in try decoder.decode(entry, into: &page) },
                    pageDone: {
                        pipeline.submit(page)
                        page = decoder.makePage(capacity: pageSize ?? 0)
                    })
            } catch {
                _ = try? pipeline.finishPages()
                throw error
            }
            return (try pipeline.finishPages(), summary)
        }
    }

    /// Like `search(…transform:)` but runs `transform` on the connection's thread for each entry as
    /// it is decoded, while the server may still be sending (no pipelining). Tests use it to act
    /// at a precise point of a search.
    func searchInline<T: Sendable>(
        base: String, scope: LDAPScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = [],
        pageSize: Int? = 500, transform: @escaping @Sendable (LDAPEntry) throws -> T?
    ) async throws -> (results: [T], summary: LDAPSearchSummary) {
        let request = RawSearchRequest(
            base: base, scope: scope, filter: filter, attributes: attributes, pageSize: pageSize,
            timeLimitSeconds: searchTimeLimitSeconds, responseTimeout: responseTimeout)
        return try await run { raw in
            var results: [T] = []
            let summary = try raw.search(
                request, onEntry: { entry in if let value = try transform(entry) { results.append(value) } },
                onPage: { _ in })
            return (results, summary)
        }
    }

    /// Searches and returns the entries.
    public func search(
        base: String, scope: LDAPScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = [],
        pageSize: Int? = 500
    ) async throws -> [LDAPEntry] {
        try await search(
            base: base, scope: scope, filter: filter, attributes: attributes, pageSize: pageSize,
            transform: { $0 }
        ).results
    }

    /// Applies the modifications to one entry atomically.
    public func modify(dn: String, _ modifications: [LDAPModification]) async throws {
        try await run { raw in try raw.modify(dn: dn, modifications) }
    }

    /// Adds an entry with the given attributes (values as bytes).
    public func add(dn: String, attributes: [(String, [[UInt8]])]) async throws {
        let copy = attributes.map { LDAPAttribute(name: $0.0, values: $0.1) }
        try await run { raw in try raw.add(dn: dn, copy.map { ($0.name, $0.values) }) }
    }

    /// Deletes an entry.
    public func delete(dn: String) async throws {
        try await run { raw in try raw.delete(dn: dn) }
    }

    /// LDAP compare: whether the entry holds `value` in `attribute`.
    public func compare(dn: String, attribute: String, value: [UInt8]) async throws -> Bool {
        try await run { raw in try raw.compare(dn: dn, attribute: attribute, value: value) }
    }

    /// Unbinds and releases the handle. Later operations fail with `.serverDown`.
    public func close() async {
        _ = try? await run { raw in raw.close() }
    }
}

extension LDAPConfiguration.PasswordSource {
    /// Reads the password bytes. A single trailing newline (`\n` or `\r\n`) is dropped.
    func load() throws(LDAPError) -> [UInt8] {
        switch self {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LDAPError(.passwordUnavailable, "cannot read the bind password file \(path)")
            }
            var bytes = [UInt8](data)
            if bytes.last == 0x0A { bytes.removeLast() }
            if bytes.last == 0x0D { bytes.removeLast() }
            return bytes
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw LDAPError(.passwordUnavailable, "the environment variable \(name) holding the bind password is not set")
            }
            return Array(value.utf8)
        }
    }
}

/// Reads entries in place into pages of its own format, and converts whole pages (see
/// `LDAPConnection.search(…decoder:)`). `decode` runs on the connection's thread while the server
/// may still be sending, so it should only copy what it needs; `convert` may run on another thread.
protocol EntryPageDecoder: Sendable {
    associatedtype Page: Sendable
    associatedtype Output: Sendable
    func makePage(capacity: Int) -> Page
    func decode(_ entry: RawEntryView, into page: inout Page) throws
    func convert(_ page: Page) throws -> [Output]
}

/// Converts search pages — concurrently on global queues, or inline — keeping page order; the
/// first error wins. Optionally hands the converted pages, in order, to an assembler on a serial
/// queue (a page after a failed one is never assembled).
private final class ConversionPipeline<Page: Sendable, T: Sendable>: @unchecked Sendable {
    private let convert: @Sendable (Page) throws -> [T]
    private let assemble: (@Sendable ([T]) -> Void)?
    private let concurrent: Bool
    private let lock = NSLock()
    private let group = DispatchGroup()
    private let assemblyQueue = DispatchQueue(label: "accesssync.ldap.assembly")
    private var pages: [[T]] = []
    private var converted: [Bool] = []
    private var nextToAssemble = 0
    private var firstError: (any Error)?

    init(concurrent: Bool, assemble: (@Sendable ([T]) -> Void)? = nil, convert: @escaping @Sendable (Page) throws -> [T]) {
        self.concurrent = concurrent
        self.assemble = assemble
        self.convert = convert
    }

    /// Under the lock: stores a converted page, and queues every page that is now next in order
    /// for assembly (dropping it here).
    private func store(_ results: [T], at index: Int) {
        pages[index] = results
        converted[index] = true
        guard let assemble else { return }
        while nextToAssemble < pages.count, converted[nextToAssemble] {
            let page = pages[nextToAssemble]
            pages[nextToAssemble] = []
            assemblyQueue.async(group: group) { assemble(page) }
            nextToAssemble += 1
        }
    }

    func submit(_ page: Page) {
        let index = lock.withLock {
            pages.append([])
            converted.append(false)
            return pages.count - 1
        }
        let convert = self.convert
        let work: @Sendable () -> Void = {
            do {
                let results = try convert(page)
                self.lock.withLock { self.store(results, at: index) }
            } catch {
                self.lock.withLock { if self.firstError == nil { self.firstError = error } }
            }
        }
        guard concurrent else { return work() }
        group.enter()
        DispatchQueue.global().async {
            defer { self.group.leave() }
            work()
        }
    }

    /// Waits for every submitted page; returns the pages' results in order or throws the first error.
    func finishPages() throws -> [[T]] {
        group.wait()
        return try lock.withLock {
            if let firstError { throw firstError }
            defer { pages = [] }
            return pages
        }
    }

    /// Waits for every submitted page; returns the results in order or throws the first error.
    func finish() throws -> [T] {
        group.wait()
        return try lock.withLock {
            if let firstError { throw firstError }
            if pages.count == 1 { return pages[0] }
            var all: [T] = []
            all.reserveCapacity(pages.reduce(0) { $0 + $1.count })
            for page in pages { all += page }
            pages = []
            return all
        }
    }
}
