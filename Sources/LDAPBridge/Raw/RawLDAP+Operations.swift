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

/// One attribute of an entry being visited (`RawLDAP.searchVisiting`): views into libldap's
/// buffers, valid only during the visit.
struct RawAttributeView {
    /// The attribute description as returned (`cn`, `member;range=0-1499`).
    let name: UnsafeRawBufferPointer
    fileprivate let values: UnsafeMutablePointer<berval>?
    /// The number of values.
    let count: Int

    /// The bytes of value `index` (0 ..< count).
    func value(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "value index out of range")
        return RawLDAP.bytes(values![index])
    }
}

/// An entry being visited: its DN and attributes in the server's order, valid only during the visit.
struct RawEntryView {
    let dn: UnsafeRawBufferPointer
    let attributes: UnsafeBufferPointer<RawAttributeView>
}

extension LDAPEntry {
    /// Copies a visited entry into Swift values.
    init(_ view: RawEntryView) {
        var attributes: [LDAPAttribute] = []
        attributes.reserveCapacity(view.attributes.count)
        for attribute in view.attributes {
            var values: [[UInt8]] = []
            values.reserveCapacity(attribute.count)
            for index in 0..<attribute.count { values.append(Array(attribute.value(index))) }
            attributes.append(
                LDAPAttribute(name: String(decoding: attribute.name, as: UTF8.self), values: values))
        }
        self.init(dn: String(decoding: view.dn, as: UTF8.self), attributes: attributes)
    }
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

    /// Runs a (paged) search to completion, handing each page's entries to `onPage` as soon as the
    /// page is complete (an unpaged search is one page).
    ///
    /// Any result code other than success — size limit (4), time limit (3), a referral (10), a
    /// lost connection — throws, so the caller never sees a partial result as complete.
    /// Continuation references are skipped (never chased) and reported in the summary.
    /// `onEntry`, when given, sees each entry synchronously as it is decoded (while the server may
    /// still be sending), and entries are then not collected into pages.
    func search(
        _ request: RawSearchRequest, onEntry: ((LDAPEntry) throws -> Void)? = nil,
        onPage: ([LDAPEntry]) throws -> Void
    ) throws -> LDAPSearchSummary {
        var page: [LDAPEntry] = []
        return try searchVisiting(
            request,
            visit: { view in
                let entry = LDAPEntry(view)
                if let onEntry { try onEntry(entry) } else { page.append(entry) }
            },
            pageDone: {
                try onPage(page)
                page = []
                page.reserveCapacity(request.pageSize ?? 0)
            })
    }

    /// Runs a (paged) search to completion like `search`, but shows each entry to `visit` in place:
    /// the view points into libldap's message and is valid only during the call (copy what you
    /// keep). `pageDone` runs after each page's final result was checked. Nothing is allocated per
    /// entry or value here besides libldap's own value arrays.
    func searchVisiting(
        _ request: RawSearchRequest, visit: (RawEntryView) throws -> Void, pageDone: () throws -> Void
    ) throws -> LDAPSearchSummary {
        try RawLDAP.requireNoNUL(request.base, what: "search base")
        try RawLDAP.requireNoNUL(request.filter, what: "search filter")
        for attribute in request.attributes { try RawLDAP.requireNoNUL(attribute, what: "attribute name") }
        let ld = try handle()
        let what = "search \(request.base) \(request.filter)"

        var attributePointers: [UnsafeMutablePointer<CChar>?] = request.attributes.map { strdup($0) }
        attributePointers.append(nil)
        defer { for pointer in attributePointers { free(pointer) } }

        var summary = LDAPSearchSummary()
        var scratch: [RawAttributeView] = []
        scratch.reserveCapacity(16)
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

            var pageFinished = false
            while !pageFinished {
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
                    do {
                        try visitEntry(ld, message, scratch: &scratch, visit)
                    } catch {
                        _ = ldap_abandon_ext(ld, messageID, nil, nil)
                        throw error
                    }
                    summary.entries += 1
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
                    pageFinished = true
                    try pageDone()
                default:
                    ldap_msgfree(message)
                    _ = ldap_abandon_ext(ld, messageID, nil, nil)
                    throw LDAPError(.protocolError, "\(what): unexpected message type \(type)")
                }
            }
        } while request.pageSize != nil && cookie.bv_len > 0
        return summary
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

    /// Decodes one entry in place and shows it to `visit`: the DN and every attribute's name and
    /// values as views into the message's BER buffer (libldap's per-attribute value arrays are
    /// freed after the visit). A decoding error fails the entry (and so the search).
    private func visitEntry(
        _ ld: OpaquePointer, _ message: OpaquePointer, scratch: inout [RawAttributeView],
        _ visit: (RawEntryView) throws -> Void
    ) throws {
        var ber: OpaquePointer?
        var dnValue = berval(bv_len: 0, bv_val: nil)
        let rc = ldap_get_dn_ber(ld, message, &ber, &dnValue)
        defer { if let ber { ber_free(ber, 0) } }
        guard rc == LDAP_SUCCESS else { throw error(rc, "decoding a search entry") }
        scratch.removeAll(keepingCapacity: true)
        defer {
            for attribute in scratch { if let values = attribute.values { ber_memfree(values) } }
            scratch.removeAll(keepingCapacity: true)
        }
        while true {
            var name = berval(bv_len: 0, bv_val: nil)
            var values: UnsafeMutablePointer<berval>?
            let attributeRC = ldap_get_attribute_ber(ld, message, ber, &name, &values)
            guard attributeRC == LDAP_SUCCESS else {
                if let values { ber_memfree(values) }
                throw error(attributeRC, "decoding an attribute of a search entry")
            }
            guard name.bv_val != nil else {
                // The end of the entry's attributes.
                if let values { ber_memfree(values) }
                break
            }
            var count = 0
            if let values { while values[count].bv_val != nil { count += 1 } }
            scratch.append(RawAttributeView(name: RawLDAP.bytes(name), values: values, count: count))
        }
        try scratch.withUnsafeBufferPointer { attributes in
            try visit(RawEntryView(dn: RawLDAP.bytes(dnValue), attributes: attributes))
        }
    }

    /// A view of a berval's bytes (empty for a NULL value).
    fileprivate static func bytes(_ value: berval) -> UnsafeRawBufferPointer {
        guard let pointer = value.bv_val else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: Int(value.bv_len))
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
