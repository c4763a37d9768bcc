internal import CLDAP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns one libldap session handle (`LDAP *`). The only type (with its extensions) that calls libldap.
///
/// Threading: libldap keeps the last result code and diagnostic message on the handle, so a handle
/// must run one operation at a time and the error text must be read right after the failing call,
/// on the same thread. `RawLDAP` is therefore **not** thread-safe; `LDAPConnection` confines it to
/// one serial dispatch queue. Every call here blocks.
final class RawLDAP {
    private var ld: OpaquePointer?
    /// The URI the handle was initialised with (never contains a password).
    let uri: String

    /// libldap's default URI from `LDAPURI` / `ldap.conf` (`URI`), if any.
    static func defaultURI() -> String? { globalStringOption(LDAP_OPT_URI) }

    /// libldap's default search base from `LDAPBASE` / `ldap.conf` (`BASE`), if any.
    static func defaultBase() -> String? { globalStringOption(LDAP_OPT_DEFBASE) }

    private static func globalStringOption(_ option: Int32) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard cldap_get_string_option(nil, option, &value) == LDAP_OPT_SUCCESS, let value else { return nil }
        defer { ldap_memfree(value) }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    init(uri: String) throws(LDAPError) {
        try RawLDAP.requireNoNUL(uri, what: "URI")
        var handle: OpaquePointer?
        let rc = ldap_initialize(&handle, uri)
        guard rc == LDAP_SUCCESS, let handle else {
            throw LDAPError(
                .invalidConfiguration, "invalid LDAP URI \"\(uri)\"", resultCode: rc,
                serverMessage: RawLDAP.errorString(rc))
        }
        self.ld = handle
        self.uri = uri
    }

    deinit { close() }

    /// Unbinds and frees the handle; later calls fail with `serverDown`.
    func close() {
        if let ld {
            _ = ldap_unbind_ext_s(ld, nil, nil)
            self.ld = nil
        }
    }

    var isOpen: Bool { ld != nil }

    func handle() throws(LDAPError) -> OpaquePointer {
        guard let ld else { throw LDAPError(.serverDown, "the connection to \(uri) is closed") }
        return ld
    }

    // MARK: Errors

    static func errorString(_ rc: Int32) -> String {
        guard let text = ldap_err2string(rc) else { return "LDAP error \(rc)" }
        return String(cString: text)
    }

    /// The diagnostic message libldap or the server left on the handle for the last operation.
    func diagnosticMessage() -> String? {
        guard let ld else { return nil }
        var value: UnsafeMutablePointer<CChar>?
        guard cldap_get_string_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &value) == LDAP_OPT_SUCCESS, let value else {
            return nil
        }
        defer { ldap_memfree(value) }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// The result code stored on the handle by the last operation.
    func handleResultCode() -> Int32 {
        guard let ld else { return LDAP_SERVER_DOWN }
        var value: Int32 = 0
        guard cldap_get_int_option(ld, LDAP_OPT_RESULT_CODE, &value) == LDAP_OPT_SUCCESS else { return LDAP_OTHER }
        return value
    }

    /// Builds an error for `rc`, reading the handle's diagnostic text immediately.
    func error(_ rc: Int32, _ what: String, serverMessage: String? = nil) -> LDAPError {
        let diagnostic = serverMessage ?? diagnosticMessage()
        let text: String
        if let diagnostic, !diagnostic.isEmpty, diagnostic != "(unknown error code)" {
            text = "\(RawLDAP.errorString(rc)) — \(diagnostic)"
        } else {
            text = RawLDAP.errorString(rc)
        }
        return LDAPError(LDAPError.code(forResult: rc), "\(what) failed", resultCode: rc, serverMessage: text)
    }

    static func requireNoNUL(_ text: String, what: String) throws(LDAPError) {
        if text.utf8.contains(0) {
            throw LDAPError(.invalidInput, "\(what) contains a NUL byte; refusing to pass it to libldap")
        }
    }

    // MARK: Options

    func setIntOption(_ option: Int32, _ value: Int32, _ name: String) throws(LDAPError) {
        let rc = cldap_set_int_option(try handle(), option, value)
        guard rc == LDAP_OPT_SUCCESS else { throw error(rc, "setting \(name)") }
    }

    func setBoolOption(_ option: Int32, _ value: Bool, _ name: String) throws(LDAPError) {
        let rc = cldap_set_bool_option(try handle(), option, value ? 1 : 0)
        guard rc == LDAP_OPT_SUCCESS else { throw error(rc, "setting \(name)") }
    }

    func setStringOption(_ option: Int32, _ value: String, _ name: String) throws(LDAPError) {
        try RawLDAP.requireNoNUL(value, what: name)
        let ld = try handle()
        let rc = cldap_set_string_option(ld, option, value)
        guard rc == LDAP_OPT_SUCCESS else { throw error(rc, "setting \(name)") }
    }

    func setTimeoutOption(_ option: Int32, _ value: Duration, _ name: String) throws(LDAPError) {
        let rc = cldap_set_timeout_option(try handle(), option, value.microseconds)
        guard rc == LDAP_OPT_SUCCESS else { throw error(rc, "setting \(name)") }
    }

    /// Applies the session options every AccessSync connection uses: LDAPv3, no referral chasing,
    /// no automatic restart, timeouts, and the TLS settings (verification on by default).
    func configure(tls: LDAPConfiguration.TLSOptions, timeouts: LDAPConfiguration.Timeouts) throws(LDAPError) {
        try setIntOption(LDAP_OPT_PROTOCOL_VERSION, LDAP_VERSION3, "LDAP_OPT_PROTOCOL_VERSION")
        try setBoolOption(LDAP_OPT_REFERRALS, false, "LDAP_OPT_REFERRALS")
        try setBoolOption(LDAP_OPT_RESTART, false, "LDAP_OPT_RESTART")
        try setTimeoutOption(LDAP_OPT_NETWORK_TIMEOUT, timeouts.network, "LDAP_OPT_NETWORK_TIMEOUT")
        try setTimeoutOption(LDAP_OPT_TIMEOUT, timeouts.operation, "LDAP_OPT_TIMEOUT")
        let requireCert = tls.verify == .demand ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER
        try setIntOption(LDAP_OPT_X_TLS_REQUIRE_CERT, requireCert, "LDAP_OPT_X_TLS_REQUIRE_CERT")
        if let caFile = tls.caFile {
            try setStringOption(LDAP_OPT_X_TLS_CACERTFILE, caFile, "LDAP_OPT_X_TLS_CACERTFILE")
        }
        if let certificateFile = tls.certificateFile {
            try setStringOption(LDAP_OPT_X_TLS_CERTFILE, certificateFile, "LDAP_OPT_X_TLS_CERTFILE")
        }
        if let keyFile = tls.keyFile {
            try setStringOption(LDAP_OPT_X_TLS_KEYFILE, keyFile, "LDAP_OPT_X_TLS_KEYFILE")
        }
        // Per-handle TLS options take effect only in a new per-handle TLS context.
        let rc = cldap_new_tls_context(try handle())
        guard rc == LDAP_OPT_SUCCESS else {
            throw LDAPError(
                .tlsFailed, "creating the TLS context (CA file, client certificate or key unreadable?)",
                resultCode: rc, serverMessage: diagnosticMessage() ?? RawLDAP.errorString(rc))
        }
    }

    // MARK: Session

    func startTLS() throws(LDAPError) {
        let rc = ldap_start_tls_s(try handle(), nil, nil)
        guard rc == LDAP_SUCCESS else { throw error(rc, "StartTLS with \(uri)") }
    }

    /// Simple bind. The password bytes are passed as a berval and never copied into a C string.
    func simpleBind(dn: String?, password: [UInt8]) throws(LDAPError) {
        let ld = try handle()
        if let dn { try RawLDAP.requireNoNUL(dn, what: "bind DN") }
        let rc: Int32 = RawLDAP.withBerval(password) { credential in
            if let dn { return cldap_simple_bind_s(ld, dn, credential) }
            return cldap_simple_bind_s(ld, nil, credential)
        }
        guard rc == LDAP_SUCCESS else { throw error(rc, "bind as \(dn ?? "anonymous") to \(uri)") }
    }

    /// Host and port from the URI, for the reachability probe that tells TCP from TLS failures.
    func hostAndPort() -> (host: String, port: Int)? {
        var description: UnsafeMutablePointer<LDAPURLDesc>?
        guard ldap_url_parse(uri, &description) == LDAP_URL_SUCCESS, let description else { return nil }
        defer { ldap_free_urldesc(description) }
        guard let host = description.pointee.lud_host else { return nil }
        var port = Int(description.pointee.lud_port)
        if port == 0 {
            port = uri.lowercased().hasPrefix("ldaps://") ? 636 : 389
        }
        return (String(cString: host), port)
    }

    /// Whether a plain TCP connection to host:port succeeds within `timeout`.
    static func tcpReachable(host: String, port: Int, timeout: Duration) -> Bool {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(result) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let info = node {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(
                    tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                let ok = connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
                posixClose(fd)
                if ok { return true }
            }
            node = info.pointee.ai_next
        }
        return false
    }
}

extension Duration {
    /// Whole microseconds, for `struct timeval`.
    var microseconds: Int {
        let parts = components
        return Int(parts.seconds) * 1_000_000 + Int(parts.attoseconds / 1_000_000_000_000)
    }
}

private func posixClose(_ fd: Int32) {
    #if canImport(Glibc)
        _ = Glibc.close(fd)
    #elseif canImport(Musl)
        _ = Musl.close(fd)
    #elseif canImport(Darwin)
        _ = Darwin.close(fd)
    #endif
}
