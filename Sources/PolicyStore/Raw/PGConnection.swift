internal import CLibPQ
import Foundation
import Dispatch

/// How to reach PostgreSQL. Everything is handed to libpq as separate keywords
/// (`PQconnectdbParams` with `expand_dbname`), so libpq's usual defaults apply: `PGHOST`, `PGPORT`,
/// `PGUSER`, `PGDATABASE`, `PGPASSFILE`/`~/.pgpass`, `PGSSLMODE`, `PGSERVICE` and service files.
public struct PostgresConnectionOptions: Sendable, Hashable {
    /// A conninfo string (`host=db dbname=policy sslmode=verify-full`) or a URI
    /// (`postgresql://db/policy?sslmode=verify-full`). Empty: only libpq's defaults.
    /// Prefer a password file over a password inside this string.
    public var conninfo: String
    /// A file whose content (trailing newline removed) is the password, sent as the separate
    /// `password` keyword. Never logged.
    public var passwordFile: String?
    /// The name of an environment variable holding the password (when not `PGPASSWORD`, which
    /// libpq reads itself). Used when `passwordFile` is nil. Never logged.
    public var passwordEnvironment: String?
    /// A pgpass-format file (libpq's `passfile` keyword), instead of `PGPASSFILE`/`~/.pgpass`.
    public var passfile: String?
    /// Overrides the database of `conninfo` (used by tests and `CREATE DATABASE` helpers).
    public var database: String?
    /// Sent as `fallback_application_name` (the conninfo or `PGAPPNAME` can still override it).
    public var applicationName: String
    /// Seconds; libpq's `connect_timeout` when set.
    public var connectTimeoutSeconds: Int?

    public init(
        conninfo: String = "", passwordFile: String? = nil, passfile: String? = nil, database: String? = nil,
        applicationName: String = "accesssync", connectTimeoutSeconds: Int? = 10
    ) {
        self.conninfo = conninfo
        self.passwordFile = passwordFile
        self.passfile = passfile
        self.database = database
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// The conninfo with any password replaced by `***`, for logs.
    public var redactedConninfo: String { PostgresError.scrubPatterns(conninfo) }
}

/// One PostgreSQL connection (a libpq `PGconn`).
///
/// Threading: libpq allows one thread at a time per `PGconn`. Every libpq call for this connection
/// runs on the connection's own serial `DispatchQueue`, so blocking network I/O never occupies a
/// Swift concurrency thread and calls never overlap. The class is `@unchecked Sendable` on that
/// basis. Callers must still use a connection from one task at a time (a transaction started by one
/// task is visible to any other task using the same connection).
public final class PGConnection: @unchecked Sendable {
    private let queue: DispatchQueue
    /// Accessed only on `queue`.
    private var handle: OpaquePointer?
    /// Thread-safe cancel object (`PQcancel` may be called from any thread).
    private let cancelHandle: OpaquePointer?
    private let cancelLock = NSLock()
    private let secrets: [String]
    /// The server process serving this connection (`pg_backend_pid()`).
    public let backendPID: Int32
    /// Savepoint depth of `withTransaction`; touched only by the task that owns the connection.
    private var transactionDepth = 0

    private init(queue: DispatchQueue, handle: OpaquePointer, secrets: [String]) {
        self.queue = queue
        self.handle = handle
        self.secrets = secrets
        self.backendPID = PQbackendPID(handle)
        self.cancelHandle = PQgetCancel(handle)
    }

    deinit {
        if let handle { PQfinish(handle) }
        if let cancelHandle { PQfreeCancel(cancelHandle) }
    }

    /// Opens a connection.
    ///
    /// After connecting, the session is set to `TimeZone=UTC`, `DateStyle=ISO` and
    /// `client_min_messages=warning`; notices are discarded.
    /// - Throws: `PostgresError` with `code == .connectionFailed`, its message scrubbed of passwords.
    public static func connect(_ options: PostgresConnectionOptions) async throws -> PGConnection {
        var password: String? = nil
        if let file = options.passwordFile {
            do {
                var text = try String(contentsOfFile: file, encoding: .utf8)
                while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
                password = text
            } catch {
                throw PostgresError(code: .connectionFailed, message: "cannot read password file \(file)")
            }
        } else if let name = options.passwordEnvironment {
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw PostgresError(
                    code: .connectionFailed, message: "the environment variable \(name) (the database password) is not set")
            }
            password = value
        }
        var secrets: [String] = []
        if let password, !password.isEmpty { secrets.append(password) }
        secrets.append(contentsOf: conninfoSecrets(options.conninfo))

        var keywords: [String] = []
        var values: [String] = []
        if !options.conninfo.isEmpty {
            keywords.append("dbname")
            values.append(options.conninfo)
        }
        if let database = options.database {
            keywords.append("dbname")
            values.append(database)
        }
        if let passfile = options.passfile {
            keywords.append("passfile")
            values.append(passfile)
        }
        if let password {
            keywords.append("password")
            values.append(password)
        }
        if let timeout = options.connectTimeoutSeconds {
            keywords.append("connect_timeout")
            values.append(String(timeout))
        }
        keywords.append("fallback_application_name")
        values.append(options.applicationName)
        let finalKeywords = keywords
        let finalValues = values
        let finalSecrets = secrets

        let queue = DispatchQueue(label: "accesssync.pg.connection")
        let connection: PGConnection = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let handle = withCStringArray(finalKeywords) { keywordPointers in
                    withCStringArray(finalValues) { valuePointers in
                        PQconnectdbParams(keywordPointers, valuePointers, 1)
                    }
                }
                guard let handle else {
                    continuation.resume(throwing: PostgresError(code: .connectionFailed, message: "out of memory"))
                    return
                }
                guard PQstatus(handle) == CONNECTION_OK else {
                    let message = String(cString: PQerrorMessage(handle))
                    PQfinish(handle)
                    continuation.resume(
                        throwing: PostgresError(
                            code: .connectionFailed, sqlState: nil,
                            message: PostgresError.scrub(trimmed(message), secrets: finalSecrets)))
                    return
                }
                PQsetNoticeProcessor(handle, { _, _ in }, nil)
                continuation.resume(returning: PGConnection(queue: queue, handle: handle, secrets: finalSecrets))
            }
        }
        try await connection.query(
            "SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false), "
                + "set_config('client_min_messages', 'warning', false)")
        return connection
    }

    /// Passwords found inside a conninfo string or URI (to scrub them from messages).
    private static func conninfoSecrets(_ conninfo: String) -> [String] {
        guard !conninfo.isEmpty else { return [] }
        var found: [String] = []
        var errorMessage: UnsafeMutablePointer<CChar>? = nil
        if let options = PQconninfoParse(conninfo, &errorMessage) {
            var cursor = options
            while let keyword = cursor.pointee.keyword {
                if String(cString: keyword) == "password", let value = cursor.pointee.val {
                    found.append(String(cString: value))
                }
                cursor = cursor.advanced(by: 1)
            }
            PQconninfoFree(options)
        }
        if let errorMessage { PQfreemem(errorMessage) }
        return found.filter { !$0.isEmpty }
    }

    /// Runs `body` on the connection's queue with the live handle.
    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                queue.async {
                    guard let handle = self.handle else {
                        continuation.resume(throwing: PostgresError(code: .closed, message: "connection is closed"))
                        return
                    }
                    continuation.resume(with: Result { try body(handle) })
                }
            }
        } onCancel: {
            self.cancelCurrentCommand()
        }
    }

    /// Asks the server to cancel the command in progress (thread-safe; used on task cancellation).
    public func cancelCurrentCommand() {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        guard let cancelHandle else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancelHandle, &buffer, 256)
    }

    /// Runs one parameterized statement (`PQexecParams`, text format) and copies the result.
    ///
    /// Parameters are sent separately from the SQL text; write `$1`, `$2`... in `sql`.
    /// - Throws: `PostgresError` (`.server` with SQLSTATE, or `.connectionLost`).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PGParam] = []) async throws -> PGResult {
        let texts = parameters.map { $0.pgText }
        return try await onQueue { handle in
            let result = withOptionalCStringArray(texts) { pointers in
                PQexecParams(handle, sql, Int32(texts.count), nil, pointers, nil, nil, 0)
            }
            return try self.consume(result, handle: handle)
        }
    }

    /// Runs `COPY ... FROM STDIN` (text format): `produce` writes the rows into a `PGCopySink` on the
    /// connection's thread, and the sink sends them to the server in large chunks while `produce` goes
    /// on, so the server stores rows while the client is still computing the next ones.
    ///
    /// When `produce` throws, the COPY is aborted (nothing of it is stored) and the error rethrown.
    /// - Returns: what `produce` returned and the number of rows the server stored.
    public func copyIn<T: Sendable>(
        _ sql: String, _ produce: @escaping @Sendable (inout PGCopySink) throws -> T
    ) async throws -> (value: T, rows: Int) {
        try await onQueue { handle in
            guard let start = PQexec(handle, sql) else { throw self.connectionError(handle) }
            guard PQresultStatus(start) == PGRES_COPY_IN else {
                _ = try self.consume(start, handle: handle)
                throw PostgresError(code: .client, message: "the statement did not start COPY FROM STDIN")
            }
            PQclear(start)
            var sink = PGCopySink { bytes in
                let sent = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
                }
                if sent != 1 { throw self.connectionError(handle) }
            }
            let value: T
            do {
                value = try produce(&sink)
                try sink.flush()
            } catch {
                _ = PQputCopyEnd(handle, "aborted by the client")
                while let result = PQgetResult(handle) { PQclear(result) }
                throw error
            }
            guard PQputCopyEnd(handle, nil) == 1 else { throw self.connectionError(handle) }
            var stored = 0
            var failure: (any Error)?
            while let result = PQgetResult(handle) {
                do {
                    let copied = try self.consume(result, handle: handle)
                    stored += copied.affectedRows
                } catch {
                    if failure == nil { failure = error }
                }
            }
            if let failure { throw failure }
            return (value, stored)
        }
    }

    /// Runs a script of several statements with the simple query protocol (`PQexec`).
    ///
    /// Only for trusted, static SQL shipped with the binary (migrations); it takes no parameters.
    func executeScript(_ sql: String) async throws {
        try await onQueue { handle in
            let result = PQexec(handle, sql)
            _ = try self.consume(result, handle: handle)
        }
    }

    /// Copies a `PGresult` into Swift values and frees it, or turns it into an error.
    private func consume(_ result: OpaquePointer?, handle: OpaquePointer) throws -> PGResult {
        guard let result else { throw connectionError(handle) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            let columnCount = Int(PQnfields(result))
            let rowCount = Int(PQntuples(result))
            var columns: [String] = []
            columns.reserveCapacity(columnCount)
            for column in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(column)))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values: [String?] = []
                values.reserveCapacity(columnCount)
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                        values.append(nil)
                    } else {
                        let pointer = PQgetvalue(result, Int32(row), Int32(column))!
                        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                        values.append(
                            pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                            })
                    }
                }
                rows.append(values)
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return PGResult(columns: columns, rows: rows, affectedRows: affected)
        default:
            if PQstatus(handle) == CONNECTION_BAD { throw connectionError(handle, result: result) }
            throw serverError(result, handle: handle)
        }
    }

    private func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return PostgresError.scrub(String(cString: pointer), secrets: secrets)
    }

    private func serverError(_ result: OpaquePointer, handle: OpaquePointer) -> PostgresError {
        let primary = field(result, "M")
        let message = primary ?? PostgresError.scrub(trimmed(String(cString: PQresultErrorMessage(result))), secrets: secrets)
        return PostgresError(
            code: .server, sqlState: field(result, "C"), message: message.isEmpty ? "unknown error" : message,
            detail: field(result, "D"), hint: field(result, "H"))
    }

    private func connectionError(_ handle: OpaquePointer, result: OpaquePointer? = nil) -> PostgresError {
        var message = trimmed(String(cString: PQerrorMessage(handle)))
        if message.isEmpty, let result { message = trimmed(String(cString: PQresultErrorMessage(result))) }
        let state = result.flatMap { field($0, "C") }
        let lost = PQstatus(handle) == CONNECTION_BAD
        return PostgresError(
            code: lost ? .connectionLost : .client, sqlState: state ?? (lost ? "08006" : nil),
            message: PostgresError.scrub(message.isEmpty ? "no result from server" : message, secrets: secrets))
    }

    /// Whether libpq still considers the connection usable (no round trip; a dropped connection is
    /// noticed only by the next command).
    public func isConnected() async -> Bool {
        (try? await onQueue { handle in PQstatus(handle) == CONNECTION_OK }) ?? false
    }

    /// Whether a transaction block is open on this connection (including a failed one).
    public func inTransaction() async -> Bool {
        (try? await onQueue { handle in
            let status = PQtransactionStatus(handle)
            return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
        }) ?? false
    }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` when `body` returns, `ROLLBACK` when it
    /// throws (the error is rethrown). Nested calls use savepoints.
    @discardableResult
    public func withTransaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted, _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        let depth = transactionDepth
        if depth == 0 {
            try await query("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        } else {
            try await query("SAVEPOINT accesssync_sp_\(depth)")
        }
        transactionDepth = depth + 1
        do {
            let value = try await body(self)
            transactionDepth = depth
            if depth == 0 {
                try await query("COMMIT")
            } else {
                try await query("RELEASE SAVEPOINT accesssync_sp_\(depth)")
            }
            return value
        } catch {
            transactionDepth = depth
            if depth == 0 {
                _ = try? await query("ROLLBACK")
            } else {
                _ = try? await query("ROLLBACK TO SAVEPOINT accesssync_sp_\(depth)")
            }
            throw error
        }
    }

    /// Closes the connection (idempotent). Later calls throw `.closed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                if let handle = self.handle {
                    PQfinish(handle)
                    self.handle = nil
                }
                continuation.resume()
            }
        }
    }
}

private func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

/// Calls `body` with a C array of C strings (valid only during the call).
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
    if pointers.isEmpty { return body(nil) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Rows for `COPY ... FROM STDIN` in PostgreSQL's text format, sent in chunks as they fill.
///
/// Write each row's fields in column order with `field`, then `endRow()`. Values are escaped (`\\`,
/// tab, newline, carriage return); `nil` is SQL NULL.
public struct PGCopySink {
    /// Bytes buffered before they are sent.
    static let chunkSize = 1 << 19
    private var buffer: [UInt8] = []
    private var rowStarted = false
    private let send: ([UInt8]) throws -> Void

    init(send: @escaping ([UInt8]) throws -> Void) {
        self.send = send
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    /// Appends one field of the current row.
    public mutating func field(_ value: String?) throws {
        if rowStarted { buffer.append(0x09) }
        rowStarted = true
        guard var text = value else {
            buffer.append(0x5C)
            buffer.append(UInt8(ascii: "N"))
            return
        }
        text.withUTF8 { bytes in
            var clean = bytes.startIndex
            for index in bytes.indices {
                let escaped: UInt8
                switch bytes[index] {
                case 0x5C: escaped = 0x5C
                case 0x09: escaped = UInt8(ascii: "t")
                case 0x0A: escaped = UInt8(ascii: "n")
                case 0x0D: escaped = UInt8(ascii: "r")
                default: continue
                }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<index]))
                buffer.append(0x5C)
                buffer.append(escaped)
                clean = index + 1
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean...]))
        }
    }

    /// Ends the current row; sends the buffer when it is full.
    public mutating func endRow() throws {
        buffer.append(0x0A)
        rowStarted = false
        if buffer.count >= Self.chunkSize { try flush() }
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try send(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
