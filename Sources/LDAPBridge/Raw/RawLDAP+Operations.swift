internal import CLDAP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A search as the raw layer runs it.
struct RawSearchRequest {
    var base: String
    var scope: LDAPScope
    var filter: String
    /// Attributes to return; empty asks for all user attributes.
    var attributes: [String]
    /// RFC 2696 page size; `nil` sends no paging control.
    var pageSize: Int?
    /// Time limit sent to the server (seconds); `nil` or 0: the server's own limit.
    var timeLimitSeconds: Int?
    /// How long to wait for each response message before abandoning the search.
    var responseTimeout: Duration?
}

extension LDAPScope {
    var cValue: Int32 {
        switch self {
        case .base: cldap_scope_base
        case .oneLevel: cldap_scope_one
        case .subtree: cldap_scope_sub
        case .children: cldap_scope_children
        }
    }
}

extension RawLDAP {
    // MARK: Search

    /// Runs a (paged) search to completion, handing each entry to `transform` as it arrives.
    ///
    /// Any result code other than success — size limit (4), time limit (3), a referral (10), a
    /// lost connection — throws, so the caller never sees a partial result as complete.
    /// Continuation references are skipped (never chased) and reported in the summary.
    func search<T>(_ request: RawSearchRequest, transform: (LDAPEntry) throws -> T?) throws -> (
        [T], LDAPSearchSummary
    ) {
        try RawLDAP.requireNoNUL(request.base, what: "search base")
        try RawLDAP.requireNoNUL(request.filter, what: "search filter")
        for attribute in request.attributes { try RawLDAP.requireNoNUL(attribute, what: "attribute name") }
        let ld = try handle()
        let what = "search \(request.base) \(request.filter)"

        var attributePointers: [UnsafeMutablePointer<CChar>?] = request.attributes.map { strdup($0) }
        attributePointers.append(nil)
        defer { for pointer in attributePointers { free(pointer) } }

        var results: [T] = []
        var summary = LDAPSearchSummary()
        var cookie = berval(bv_len: 0, bv_val: nil)
        defer { if cookie.bv_val != nil { ber_memfree(cookie.bv_val) } }
        let timeLimitMicros = (request.timeLimitSeconds ?? 0) > 0 ? request.timeLimitSeconds! * 1_000_000 : -1
        let responseMicros = request.responseTimeout.map { $0.microseconds } ?? -1

        repeat {
            var pageControl: UnsafeMutablePointer<LDAPControl>?
            if let pageSize = request.pageSize {
                let rc = ldap_create_page_control(ld, ber_int_t(pageSize), &cookie, 0, &pageControl)
                guard rc == LDAP_SUCCESS else { throw error(rc, "\(what): creating the paged-results control") }
            }
            defer { if let pageControl { ldap_control_free(pageControl) } }
            var serverControls: [UnsafeMutablePointer<LDAPControl>?] = [pageControl, nil]

            var messageID: Int32 = 0
            let rc = attributePointers.withUnsafeMutableBufferPointer { attrs in
                serverControls.withUnsafeMutableBufferPointer { controls in
                    cldap_search_ext(
                        ld, request.base, request.scope.cValue, request.filter,
                        request.attributes.isEmpty ? nil : attrs.baseAddress,
                        pageControl == nil ? nil : controls.baseAddress, timeLimitMicros, 0, &messageID)
                }
            }
            guard rc == LDAP_SUCCESS else { throw error(rc, what) }
            summary.pages += 1

            var pageDone = false
            while !pageDone {
                var message: OpaquePointer?
                let type = cldap_result(ld, messageID, LDAP_MSG_ONE, responseMicros, &message)
                if type == 0 {
                    _ = ldap_abandon_ext(ld, messageID, nil, nil)
                    throw LDAPError(
                        .timeout, "\(what): no response within \(request.responseTimeout.map { "\($0)" } ?? "the timeout")",
                        resultCode: LDAP_TIMEOUT)
                }
                guard type > 0, let message else {
                    let code = handleResultCode()
                    throw error(code == LDAP_SUCCESS ? LDAP_SERVER_DOWN : code, what)
                }
                switch type {
                case cldap_res_search_entry:
                    defer { ldap_msgfree(message) }
                    let entry: LDAPEntry
                    do {
                        entry = try parseEntry(ld, message)
                    } catch {
                        _ = ldap_abandon_ext(ld, messageID, nil, nil)
                        throw error
                    }
                    summary.entries += 1
                    do {
                        if let value = try transform(entry) { results.append(value) }
                    } catch {
                        _ = ldap_abandon_ext(ld, messageID, nil, nil)
                        throw error
                    }
                case cldap_res_search_reference:
                    defer { ldap_msgfree(message) }
                    var references: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
                    if ldap_parse_reference(ld, message, &references, nil, 0) == LDAP_SUCCESS, let references {
                        var index = 0
                        while let url = references[index] {
                            summary.skippedReferences.append(String(cString: url))
                            index += 1
                        }
                        ber_memvfree(UnsafeMutableRawPointer(references).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
                    } else {
                        summary.skippedReferences.append("(unparseable reference)")
                    }
                case cldap_res_search_result:
                    try finishPage(ld, message, what: what, paged: request.pageSize != nil, cookie: &cookie)
                    pageDone = true
                default:
                    ldap_msgfree(message)
                    _ = ldap_abandon_ext(ld, messageID, nil, nil)
                    throw LDAPError(.protocolError, "\(what): unexpected message type \(type)")
                }
            }
        } while request.pageSize != nil && cookie.bv_len > 0
        return (results, summary)
    }

    /// Parses a searchResultDone: checks its result code, then takes the next paging cookie.
    /// Frees `message`.
    private func finishPage(
        _ ld: OpaquePointer, _ message: OpaquePointer, what: String, paged: Bool, cookie: inout berval
    ) throws(LDAPError) {
        var resultCode: Int32 = 0
        var matched: UnsafeMutablePointer<CChar>?
        var text: UnsafeMutablePointer<CChar>?
        var referrals: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var controls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        let rc = ldap_parse_result(ld, message, &resultCode, &matched, &text, &referrals, &controls, 1)
        defer {
            if let matched { ldap_memfree(matched) }
            if let text { ldap_memfree(text) }
            if let referrals {
                ber_memvfree(UnsafeMutableRawPointer(referrals).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
            }
            if let controls { ldap_controls_free(controls) }
        }
        guard rc == LDAP_SUCCESS else { throw error(rc, "\(what): reading the result") }
        let serverText = text.map { String(cString: $0) }
        guard resultCode == LDAP_SUCCESS else {
            var error = self.error(resultCode, what, serverMessage: serverText ?? "")
            if resultCode == LDAP_REFERRAL, let referrals, let first = referrals[0] {
                error.message += " (referral to \(String(cString: first)) not chased)"
            }
            throw error
        }
        if cookie.bv_val != nil {
            ber_memfree(cookie.bv_val)
            cookie = berval(bv_len: 0, bv_val: nil)
        }
        guard paged, let controls,
            let control = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls, nil)
        else {
            // No paging response: the server did not page; a success code means the result is whole.
            return
        }
        var estimate: ber_int_t = 0
        var next = berval(bv_len: 0, bv_val: nil)
        let parseRC = ldap_parse_pageresponse_control(ld, control, &estimate, &next)
        guard parseRC == LDAP_SUCCESS else { throw error(parseRC, "\(what): reading the paged-results response") }
        cookie = next
    }

    /// Copies one entry out of libldap's message into Swift values.
    private func parseEntry(_ ld: OpaquePointer, _ message: OpaquePointer) throws(LDAPError) -> LDAPEntry {
        var ber: OpaquePointer?
        var dnValue = berval(bv_len: 0, bv_val: nil)
        let rc = ldap_get_dn_ber(ld, message, &ber, &dnValue)
        defer { if let ber { ber_free(ber, 0) } }
        guard rc == LDAP_SUCCESS else { throw error(rc, "decoding a search entry") }
        let dn = RawLDAP.string(dnValue)
        var attributes: [LDAPAttribute] = []
        attributes.reserveCapacity(8)
        while true {
            var name = berval(bv_len: 0, bv_val: nil)
            var values: UnsafeMutablePointer<berval>?
            let attributeRC = ldap_get_attribute_ber(ld, message, ber, &name, &values)
            guard attributeRC == LDAP_SUCCESS, name.bv_val != nil else {
                if let values { ber_memfree(values) }
                break
            }
            var bytes: [[UInt8]] = []
            if let values {
                var index = 0
                while let pointer = values[index].bv_val {
                    let length = Int(values[index].bv_len)
                    bytes.append(
                        pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                            Array(UnsafeBufferPointer(start: $0, count: length))
                        })
                    index += 1
                }
                ber_memfree(values)
            }
            attributes.append(LDAPAttribute(name: RawLDAP.string(name), values: bytes))
        }
        return LDAPEntry(dn: dn, attributes: attributes)
    }

    /// Runs `body` with a berval over a copy of `bytes` (an empty value is a zero-length berval).
    static func withBerval<R>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<berval>) -> R) -> R {
        var copy = bytes
        defer { for index in copy.indices { copy[index] = 0 } }
        return copy.withUnsafeMutableBytes { raw in
            var bv = berval(
                bv_len: ber_len_t(raw.count), bv_val: raw.baseAddress?.assumingMemoryBound(to: CChar.self))
            return body(&bv)
        }
    }

    static func string(_ value: berval) -> String {
        guard let pointer = value.bv_val else { return "" }
        let length = Int(value.bv_len)
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    // MARK: Writes

    /// Runs `body` with a NULL-terminated `LDAPMod *[]` built from `modifications` (berval values).
    private func withMods(
        _ modifications: [(op: Int32, attribute: String, values: [[UInt8]])],
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<LDAPMod>?>) -> Int32
    ) -> Int32 {
        var allocations: [UnsafeMutableRawPointer] = []
        defer { for allocation in allocations { free(allocation) } }
        func alloc<P>(_ type: P.Type, _ count: Int) -> UnsafeMutablePointer<P> {
            let raw = malloc(max(count, 1) * MemoryLayout<P>.stride)!
            allocations.append(raw)
            return raw.bindMemory(to: P.self, capacity: max(count, 1))
        }
        let modArray = alloc(UnsafeMutablePointer<LDAPMod>?.self, modifications.count + 1)
        for (index, modification) in modifications.enumerated() {
            let valueArray = alloc(UnsafeMutablePointer<berval>?.self, modification.values.count + 1)
            for (valueIndex, value) in modification.values.enumerated() {
                let buffer = alloc(CChar.self, value.count)
                value.withUnsafeBytes { bytes in
                    if let base = bytes.baseAddress { memcpy(buffer, base, value.count) }
                }
                let bv = alloc(berval.self, 1)
                bv.initialize(to: berval(bv_len: ber_len_t(value.count), bv_val: buffer))
                valueArray[valueIndex] = bv
            }
            valueArray[modification.values.count] = nil
            let type = strdup(modification.attribute)!
            allocations.append(UnsafeMutableRawPointer(type))
            let mod = alloc(LDAPMod.self, 1)
            cldap_mod_init(mod, modification.op, type, modification.values.isEmpty ? nil : valueArray)
            modArray[index] = mod
        }
        modArray[modifications.count] = nil
        return body(modArray)
    }

    /// Applies all modifications atomically (one LDAP modify operation).
    func modify(dn: String, _ modifications: [LDAPModification]) throws(LDAPError) {
        try RawLDAP.requireNoNUL(dn, what: "DN")
        for modification in modifications { try RawLDAP.requireNoNUL(modification.attribute, what: "attribute name") }
        let ld = try handle()
        let mods = modifications.map { modification -> (op: Int32, attribute: String, values: [[UInt8]]) in
            let op: Int32 =
                switch modification.operation {
                case .add: LDAP_MOD_ADD
                case .delete: LDAP_MOD_DELETE
                case .replace: LDAP_MOD_REPLACE
                }
            return (op, modification.attribute, modification.values)
        }
        let rc = withMods(mods) { array in ldap_modify_ext_s(ld, dn, array, nil, nil) }
        guard rc == LDAP_SUCCESS else { throw error(rc, "modify \(dn)") }
    }

    /// Adds an entry.
    func add(dn: String, _ attributes: [(String, [[UInt8]])]) throws(LDAPError) {
        try RawLDAP.requireNoNUL(dn, what: "DN")
        for (name, _) in attributes { try RawLDAP.requireNoNUL(name, what: "attribute name") }
        let ld = try handle()
        let mods = attributes.map { (op: LDAP_MOD_ADD, attribute: $0.0, values: $0.1) }
        let rc = withMods(mods) { array in ldap_add_ext_s(ld, dn, array, nil, nil) }
        guard rc == LDAP_SUCCESS else { throw error(rc, "add \(dn)") }
    }

    /// Deletes an entry.
    func delete(dn: String) throws(LDAPError) {
        try RawLDAP.requireNoNUL(dn, what: "DN")
        let rc = ldap_delete_ext_s(try handle(), dn, nil, nil)
        guard rc == LDAP_SUCCESS else { throw error(rc, "delete \(dn)") }
    }

    /// LDAP compare: true when the entry holds the value.
    func compare(dn: String, attribute: String, value: [UInt8]) throws(LDAPError) -> Bool {
        try RawLDAP.requireNoNUL(dn, what: "DN")
        try RawLDAP.requireNoNUL(attribute, what: "attribute name")
        let ld = try handle()
        let rc: Int32 = RawLDAP.withBerval(value) { bv in ldap_compare_ext_s(ld, dn, attribute, bv, nil, nil) }
        switch rc {
        case LDAP_COMPARE_TRUE: return true
        case LDAP_COMPARE_FALSE: return false
        default: throw error(rc, "compare \(attribute) of \(dn)")
        }
    }
}
