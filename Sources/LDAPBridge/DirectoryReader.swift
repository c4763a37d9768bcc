public import Foundation
import Dispatch
public import Logging
public import RBACModel

/// Reads people and groups from the directory into a `DirectorySnapshot` — completely or not at all.
///
/// Any failure (size or time limit, lost connection, a referral, wrong credentials, unreadable
/// membership, a strict unresolved member) throws an `LDAPError`; no partial snapshot is returned.
public enum DirectoryReader {
    /// Connects, binds, reads, and closes.
    ///
    /// - Parameters:
    ///   - config: server, credentials, schema, bases and checks.
    ///   - now: the time used for expiry-based "disabled" tests (`shadowExpire`, `accountExpires`).
    ///   - logger: receives one summary line and warnings about skipped entries.
    /// - Returns: the snapshot.
    /// - Throws: `LDAPError`.
    public static func read(config: LDAPConfiguration, now: Date, logger: Logger) async throws -> DirectorySnapshot {
        try await readWithReport(config: config, now: now, logger: logger).snapshot
    }

    /// Like `read`, also returning what was skipped and counted.
    ///
    /// People and groups are read at the same time over two connections (each connection runs
    /// one operation at a time), so the two searches overlap.
    public static func readWithReport(config: LDAPConfiguration, now: Date, logger: Logger) async throws
        -> DirectoryRead
    {
        async let first = LDAPConnection.connect(config, logger: logger)
        async let second = LDAPConnection.connect(config, logger: logger)
        let connections: [LDAPConnection]
        do {
            connections = [try await first, try await second]
        } catch {
            // Close whichever connection did open.
            if let connection = try? await first { await connection.close() }
            if let connection = try? await second { await connection.close() }
            throw error
        }
        do {
            let result = try await read(
                peopleConnection: connections[0], groupsConnection: connections[1], config: config, now: now,
                logger: logger)
            for connection in connections { await connection.close() }
            return result
        } catch {
            for connection in connections { await connection.close() }
            throw error
        }
    }

    /// Reads over an existing, bound connection (the connection is left open).
    public static func read(
        connection: LDAPConnection, config: LDAPConfiguration, now: Date, logger: Logger
    ) async throws -> DirectoryRead {
        try await read(peopleConnection: connection, groupsConnection: connection, config: config, now: now, logger: logger)
    }

    /// Reads people over one connection and groups over another (they may be the same).
    static func read(
        peopleConnection: LDAPConnection, groupsConnection: LDAPConnection, config: LDAPConfiguration, now: Date,
        logger: Logger
    ) async throws -> DirectoryRead {
        let started = ContinuousClock.now
        let schema = config.schema
        let peopleBase = try config.resolve(base: config.people.base, defaultBase: peopleConnection.defaultBase)
        let groupsBase = try config.resolve(base: config.groups.base, defaultBase: groupsConnection.defaultBase)
        guard config.pageSize > 0 else {
            throw LDAPError(.invalidConfiguration, "pageSize must be positive (got \(config.pageSize))")
        }
        var report = DirectoryRead.Report()

        // People and groups, concurrently.
        async let peopleSearch = searchPeople(peopleConnection, base: peopleBase, config: config, now: now)
        async let groupSearch = searchGroups(groupsConnection, base: groupsBase, config: config)
        let (assembled, peopleSummary, peopleDuration) = try await peopleSearch
        let (groupPages, groupSummary, groupDuration) = try await groupSearch
        var groups = Array(groupPages.joined())
        report.peopleSearchDuration = peopleDuration
        report.groupSearchDuration = groupDuration
        report.peopleEntries = peopleSummary.entries
        report.groupEntries = groupSummary.entries
        report.pages = peopleSummary.pages + groupSummary.pages
        report.skippedReferences = peopleSummary.skippedReferences + groupSummary.skippedReferences

        // Server-evaluated "disabled" filters: a second search per filter.
        var disabledByFilter: Set<DistinguishedName> = []
        for filter in config.disabled.filters {
            let (dns, summary) = try await peopleConnection.search(
                base: peopleBase, scope: config.people.scope,
                filter: LDAPFilter.and([schema.personFilter, config.people.filter, filter]), attributes: ["1.1"],
                pageSize: config.pageSize
            ) { entry in try parseDN(entry.dn) }
            report.pages += summary.pages
            disabledByFilter.formUnion(dns)
        }

        // The people dictionary and the lists for resolving members were assembled page by page
        // while the search ran (see `PeopleAssembler`).
        if let duplicate = assembled.duplicate { throw duplicate }
        var people = assembled.people
        if !disabledByFilter.isEmpty {
            for (index, dn) in assembled.dns.enumerated() where disabledByFilter.contains(dn) {
                people[assembled.ids[index]]?.disabled = true
            }
        }
        let personIDs = assembled.ids
        let personDNs = assembled.dns
        let personUIDs = assembled.uids
        let unusualDNs = assembled.unusual
        let dnTexts = assembled.dnTexts
        report.skippedPeople = assembled.skipped
        for skipped in report.skippedPeople.prefix(20) {
            logger.warning("ldap.person.skipped", metadata: ["ldap.dn": "\(skipped.dn)", "reason": "\(skipped.reason)"])
        }

        // Ranged retrieval continuations (Active Directory).
        let memberAttribute = schema.memberAttribute
        for index in groups.indices {
            guard var retrieval = groups[index].pendingRetrieval else { continue }
            guard schema.rangedRetrieval else {
                throw LDAPError(
                    .unsupported,
                    "group \(groups[index].dn) returned a ranged \(memberAttribute) but ranged retrieval is off in the schema")
            }
            while let request = retrieval.nextRequest {
                let dn = groups[index].dn.original
                let answers = try await groupsConnection.search(
                    base: dn, scope: .base, filter: "(objectClass=*)", attributes: [request], pageSize: nil)
                report.rangedFollowUps += 1
                try retrieval.absorb(answers.first?.attributes ?? [])
            }
            groups[index].members = MemberValues(retrieval.values)
            groups[index].pendingRetrieval = nil
        }

        try await checkMemberReadability(groups, connection: groupsConnection, config: config, logger: logger)

        let resolved = try resolveMembers(
            groups, people: people, personIDs: personIDs, personDNs: personDNs, personUIDs: personUIDs,
            unusualDNs: unusualDNs,
            loginTables: assembled.exactLogins.flatMap { exact in
                assembled.foldedLogins.map { (allASCII: assembled.loginsASCII, exact: exact, folded: $0) }
            },
            dnTexts: dnTexts, config: config)
        report.unresolvedMembers = resolved.unresolved

        var snapshot = DirectorySnapshot()
        snapshot.people = people
        snapshot.groups = resolved.groups
        report.duration = ContinuousClock.now - started
        logger.info(
            "ldap.read",
            metadata: [
                "ldap.uri": "\(peopleConnection.uri)", "ldap.people_base": "\(peopleBase)",
                "ldap.groups_base": "\(groupsBase)", "ldap.people": "\(people.count)",
                "ldap.groups": "\(resolved.groups.count)", "ldap.pages": "\(report.pages)",
                "ldap.skipped_references": "\(report.skippedReferences.count)",
                "ldap.unresolved_members": "\(resolved.unresolved)", "ldap.duration": "\(report.duration)",
            ])
        return DirectoryRead(snapshot: snapshot, report: report)
    }

    private static func searchPeople(
        _ connection: LDAPConnection, base: String, config: LDAPConfiguration, now: Date
    ) async throws -> (PeopleAssembler, LDAPSearchSummary, Duration) {
        let started = ContinuousClock.now
        let schema = config.schema
        var attributes = [
            schema.identifierAttribute, schema.loginAttribute, schema.mailAttribute, schema.uidNumberAttribute,
            schema.gidNumberAttribute,
        ]
        attributes += schema.displayNameAttributes + config.disabled.attributes
        let nowSeconds = now.timeIntervalSince1970
        let disabledTest = config.disabled
        let assembler = PeopleAssembler(
            identifierAttribute: schema.identifierAttribute, loginTables: schema.memberValue == .loginName)
        let (_, summary) = try await connection.search(
            base: base, scope: config.people.scope, filter: LDAPFilter.and([schema.personFilter, config.people.filter]),
            attributes: unique(attributes), pageSize: config.pageSize,
            decoder: PersonDecoder(schema: schema, disabled: disabledTest, nowSeconds: nowSeconds),
            assemble: { records in assembler.add(records) })
        return (assembler, summary, ContinuousClock.now - started)
    }

    private static func searchGroups(
        _ connection: LDAPConnection, base: String, config: LDAPConfiguration
    ) async throws -> ([[GroupRecord]], LDAPSearchSummary, Duration) {
        let started = ContinuousClock.now
        let schema = config.schema
        let (records, summary) = try await connection.search(
            base: base, scope: config.groups.scope, filter: LDAPFilter.and([schema.groupFilter, config.groups.filter]),
            attributes: unique([schema.groupNameAttribute, schema.memberAttribute, "objectClass"]),
            pageSize: config.pageSize, decoder: GroupDecoder(schema: schema))
        return (records, summary, ContinuousClock.now - started)
    }

    /// Resolves member values (DNs or login names) into people and nested groups.
    ///
    /// `personIDs`, `personDNs` and `personUIDs` list the people in the order they were read;
    /// `unusualDNs` the indices of those whose DN text is not ASCII or not in normalised form.
    /// `loginTables`, when given, are the login-name tables already built in that order.
    /// `dnTexts` maps each person's DN text (bytes as returned) to its index in `personIDs`
    /// (`first`); the groups' DN texts are added here (`second`: group index + 1). Values are
    /// looked up by their bytes; where that could differ from comparing Strings (canonically
    /// equivalent non-ASCII text) the String dictionaries decide, as do DN-normalised lookups
    /// for values that differ in case, spacing or escaping.
    static func resolveMembers(
        _ records: [GroupRecord], people: [PersonID: Person], personIDs: [PersonID], personDNs: [DistinguishedName],
        personUIDs: [String], unusualDNs: [Int],
        loginTables: (allASCII: Bool, exact: ByteKeyTable, folded: ByteKeyTable)? = nil, dnTexts: ByteKeyTable,
        config: LDAPConfiguration
    ) throws(LDAPError) -> (groups: [DistinguishedName: Group], unresolved: Int) {
        var groupByDN: [DistinguishedName: DistinguishedName] = [:]
        groupByDN.reserveCapacity(records.count)
        for (index, group) in records.enumerated() {
            if groupByDN.updateValue(group.dn, forKey: group.dn) != nil {
                throw LDAPError(.duplicateIdentifier, "the group \(group.dn) was returned twice")
            }
            dnTexts.set(dnTexts.entry(group.dn.original), second: Int32(index + 1))
        }
        // An ASCII value equals a non-ASCII text as a String only if the text's NFC form is that
        // ASCII text, which then has one byte per Unicode scalar of the text: only values of those
        // lengths need the String lookups of non-ASCII texts.
        var nonASCIIScalarCounts: Set<Int> = []
        for index in unusualDNs where !isASCII(personDNs[index].original) {
            nonASCIIScalarCounts.insert(personDNs[index].original.unicodeScalars.count)
        }
        for group in records where !isASCII(group.dn.original) {
            nonASCIIScalarCounts.insert(group.dn.original.unicodeScalars.count)
        }
        // String-keyed lookups, built only when needed: all DN texts (for a non-ASCII value that
        // is not byte-identical to one), the non-ASCII DN texts (an ASCII value can equal one of
        // those as a String), DN-normalised lookup, and login-name lookups for RFC 2307.
        var personByDNText: [String: PersonID]?
        var groupByDNText: [String: DistinguishedName]?
        var nonASCIIPersonDNText: [String: PersonID]?
        var nonASCIIGroupDNText: [String: DistinguishedName]?
        var personByDN: [DistinguishedName: PersonID]?
        var personByLogin: [String: [PersonID]]?
        var personByLoginFolded: [String: [PersonID]]?
        // RFC 2307 login names by bytes, exact and ASCII-lowercased: first person index and count.
        // Valid for ASCII values when every login name is ASCII (then bytes compare as Strings do).
        let byLogin = config.schema.memberValue == .loginName
        let allLoginsASCII = byLogin && (loginTables?.allASCII ?? personUIDs.allSatisfy(isASCII))
        let exactLogins = loginTables?.exact ?? ByteKeyTable(capacity: allLoginsASCII ? personIDs.count : 0)
        let foldedLogins = loginTables?.folded ?? ByteKeyTable(capacity: allLoginsASCII ? personIDs.count : 0)
        if allLoginsASCII, loginTables == nil {
            // The two tables are independent: one thread each.
            DispatchQueue.concurrentPerform(iterations: 2) { table in
                var lowered: [UInt8] = []
                for index in personUIDs.indices {
                    var uid = personUIDs[index]
                    let entry: Int
                    let target = table == 0 ? exactLogins : foldedLogins
                    if table == 0 {
                        entry = exactLogins.entry(uid)
                    } else {
                        lowered.removeAll(keepingCapacity: true)
                        uid.withUTF8 { bytes in
                            for byte in bytes { lowered.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
                        }
                        entry = lowered.withUnsafeBufferPointer { foldedLogins.entry($0) }
                    }
                    if target.second(entry) == 0 { target.set(entry, first: Int32(index)) }
                    target.set(entry, second: target.second(entry) + 1)
                }
            }
        }

        func personDNText(_ value: String, ascii: Bool) -> PersonID? {
            if ascii {
                guard nonASCIIScalarCounts.contains(value.utf8.count) else { return nil }
                if nonASCIIPersonDNText == nil {
                    var map: [String: PersonID] = [:]
                    for index in unusualDNs where !isASCII(personDNs[index].original) {
                        map[personDNs[index].original] = personIDs[index]
                    }
                    nonASCIIPersonDNText = map
                }
                return nonASCIIPersonDNText![value]
            }
            if personByDNText == nil {
                var map: [String: PersonID] = [:]
                map.reserveCapacity(personIDs.count)
                for (index, dn) in personDNs.enumerated() { map[dn.original] = personIDs[index] }
                personByDNText = map
            }
            return personByDNText![value]
        }

        // DN-normalised lookup of people. For an ASCII normalised form: the person whose DN text
        // is exactly that form (found by its bytes, confirmed by comparing the DNs), else one of
        // the few people whose DN text is not ASCII or not normalised. A non-ASCII form: as before.
        var unusualByDN: [DistinguishedName: PersonID]?
        func personByNormalizedDN(_ dn: DistinguishedName) -> PersonID? {
            guard isASCII(dn.normalized) else {
                if personByDN == nil {
                    personByDN = Dictionary(people.values.map { ($0.dn, $0.id) }, uniquingKeysWith: { first, _ in first })
                }
                return personByDN![dn]
            }
            var text = dn.normalized
            if let entry = text.withUTF8({ dnTexts.find($0) }), dnTexts.first(entry) >= 0 {
                let index = Int(dnTexts.first(entry))
                if personDNs[index] == dn { return personIDs[index] }
            }
            if unusualByDN == nil {
                var map: [DistinguishedName: PersonID] = [:]
                for index in unusualDNs where map[personDNs[index]] == nil { map[personDNs[index]] = personIDs[index] }
                unusualByDN = map
            }
            return unusualByDN![dn]
        }

        func groupDNText(_ value: String, ascii: Bool) -> DistinguishedName? {
            if ascii {
                guard nonASCIIScalarCounts.contains(value.utf8.count) else { return nil }
                if nonASCIIGroupDNText == nil {
                    var map: [String: DistinguishedName] = [:]
                    for group in records where !isASCII(group.dn.original) {
                        map[group.dn.original] = group.dn
                    }
                    nonASCIIGroupDNText = map
                }
                return nonASCIIGroupDNText![value]
            }
            if groupByDNText == nil {
                var map: [String: DistinguishedName] = [:]
                for group in records { map[group.dn.original] = group.dn }
                groupByDNText = map
            }
            return groupByDNText![value]
        }

        // First the values that the byte lookups resolve, on up to two threads (the tables are
        // only read). The other values are left for the loop below, in order: for DN members
        // the byte lookups never add an unresolved value, so only those positions are left; for
        // login names a group with any such value is left whole (the order of unresolved values).
        let memberValue = config.schema.memberValue
        let nonASCIILengths = nonASCIIScalarCounts
        let fast = ResultSlots<(group: Group, remaining: [Int])>(count: records.count)
        let workers = records.count >= 32 ? 2 : 1
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: records.count, by: workers) {
                let record = records[index]
                var group = Group(name: record.name, dn: record.dn)
                group.memberPeople.reserveCapacity(record.members.count)
                var remaining: [Int] = []
                var position = -1
                let complete = record.members.allSatisfy { raw in
                    position += 1
                    switch memberValue {
                    case .dn:
                        guard let entry = dnTexts.find(raw) else {
                            remaining.append(position)
                            return true
                        }
                        if dnTexts.first(entry) >= 0 {
                            group.memberPeople.insert(personIDs[Int(dnTexts.first(entry))])
                            return true
                        }
                        // A group: only if no non-ASCII person DN could equal the value as a String.
                        guard raw.isASCII, !nonASCIILengths.contains(raw.count), dnTexts.second(entry) > 0 else {
                            remaining.append(position)
                            return true
                        }
                        group.memberGroups.insert(records[Int(dnTexts.second(entry)) - 1].dn)
                        return true
                    case .loginName:
                        guard allLoginsASCII, raw.isASCII else { return false }
                        Self.resolveASCIILogin(raw, exact: exactLogins, folded: foldedLogins, personIDs: personIDs, into: &group)
                        return true
                    }
                }
                if complete { fast[index] = (group, remaining) }
            }
        }

        var resolved: [DistinguishedName: Group] = [:]
        resolved.reserveCapacity(records.count)
        var unresolvedTotal = 0
        var unresolvedExamples: [String] = []
        for (index, record) in records.enumerated() {
            var group: Group
            var remaining: [Int]?
            if let done = fast.take(index) {
                group = done.group
                remaining = done.remaining
            } else {
                group = Group(name: record.name, dn: record.dn)
                group.memberPeople.reserveCapacity(record.members.count)
            }
            if remaining?.isEmpty != true {
                var position = -1
                var next = 0
                record.members.forEach { raw in
                    position += 1
                    if let remaining {
                        guard next < remaining.count, remaining[next] == position else { return }
                        next += 1
                    }
                    switch config.schema.memberValue {
                    case .dn:
                        let entry = dnTexts.find(raw)
                        if let found = entry, dnTexts.first(found) >= 0 {
                            group.memberPeople.insert(personIDs[Int(dnTexts.first(found))])
                            return
                        }
                        let ascii = raw.isASCII
                        let value = String(decoding: raw, as: UTF8.self)
                        if let id = personDNText(value, ascii: ascii) {
                            group.memberPeople.insert(id)
                            return
                        }
                        if !ascii, entry == nil, let target = groupDNText(value, ascii: false) {
                            group.memberGroups.insert(target)
                            return
                        }
                        if let found = entry, dnTexts.second(found) > 0 {
                            group.memberGroups.insert(records[Int(dnTexts.second(found)) - 1].dn)
                            return
                        }
                        if ascii, let target = groupDNText(value, ascii: true) {
                            group.memberGroups.insert(target)
                            return
                        }
                        guard let dn = try? DistinguishedName(value) else {
                            group.unresolvedMembers.append(value)
                            return
                        }
                        if let id = personByNormalizedDN(dn) {
                            group.memberPeople.insert(id)
                        } else if let target = groupByDN[dn] {
                            group.memberGroups.insert(target)
                        } else {
                            group.unresolvedMembers.append(value)
                        }
                    case .loginName:
                        if allLoginsASCII, raw.isASCII {
                            Self.resolveASCIILogin(
                                raw, exact: exactLogins, folded: foldedLogins, personIDs: personIDs, into: &group)
                            return
                        }
                        let value = String(decoding: raw, as: UTF8.self)
                        if personByLogin == nil {
                            var exact: [String: [PersonID]] = [:]
                            var folded: [String: [PersonID]] = [:]
                            for person in people.values {
                                exact[person.uid, default: []].append(person.id)
                                folded[person.uid.lowercased(), default: []].append(person.id)
                            }
                            personByLogin = exact
                            personByLoginFolded = folded
                        }
                        // Exact first (uids differing only in case exist), then case-insensitive if unique.
                        if let ids = personByLogin![value], ids.count == 1 {
                            group.memberPeople.insert(ids[0])
                        } else if personByLogin![value] == nil, let ids = personByLoginFolded![value.lowercased()],
                            ids.count == 1
                        {
                            group.memberPeople.insert(ids[0])
                        } else {
                            group.unresolvedMembers.append(value)
                        }
                    }
                }
            }
            if !group.unresolvedMembers.isEmpty {
                unresolvedTotal += group.unresolvedMembers.count
                if unresolvedExamples.count < 5 {
                    unresolvedExamples.append("\(group.unresolvedMembers[0]) in \(group.dn)")
                }
            }
            resolved[group.dn] = group
        }
        if unresolvedTotal > 0, config.unresolvedMembers == .fail {
            throw LDAPError(
                .unresolvedMember,
                "\(unresolvedTotal) group member(s) are neither people nor groups in scope, e.g. "
                    + unresolvedExamples.joined(separator: "; "))
        }
        return (resolved, unresolvedTotal)
    }

    /// Fails the read when the bind evidently cannot read the member attribute (see `MemberReadCheck`).
    /// An ASCII RFC 2307 `memberUid` resolved by its bytes: the exact login first (uids differing
    /// only in case exist), then the case-folded login; either only when one person has it, else
    /// the value is unresolved.
    static func resolveASCIILogin(
        _ raw: UnsafeBufferPointer<UInt8>, exact: ByteKeyTable, folded: ByteKeyTable, personIDs: [PersonID],
        into group: inout Group
    ) {
        if let entry = exact.find(raw) {
            if exact.second(entry) == 1 {
                group.memberPeople.insert(personIDs[Int(exact.first(entry))])
            } else {
                group.unresolvedMembers.append(String(decoding: raw, as: UTF8.self))
            }
            return
        }
        let lowered = raw.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        let entry = lowered.withUnsafeBufferPointer { folded.find($0) }
        if let entry, folded.second(entry) == 1 {
            group.memberPeople.insert(personIDs[Int(folded.first(entry))])
        } else {
            group.unresolvedMembers.append(String(decoding: raw, as: UTF8.self))
        }
    }

    static func checkMemberReadability(
        _ groups: [GroupRecord], connection: LDAPConnection, config: LDAPConfiguration, logger: Logger
    ) async throws {
        let check = config.memberReadCheck
        let attribute = config.schema.memberAttribute
        let bind = config.bindDN ?? "anonymous"
        if check.requireMembersForRequiringClasses, !config.schema.classesRequiringMembers.isEmpty {
            let hidden = groups.filter {
                !$0.memberAttributePresent && !$0.objectClasses.isDisjoint(with: config.schema.classesRequiringMembers)
            }
            if let first = hidden.first {
                throw LDAPError(
                    .memberAttributeUnreadable,
                    "\(hidden.count) group(s), e.g. \(first.dn), came back without \(attribute) although their object "
                        + "class requires it: \(bind) cannot read \(attribute); grant it read access")
            }
        }
        if check.compareProbe, let probe = groups.first(where: { !$0.memberAttributePresent }) {
            // The asserted value must be syntactically valid (a DN for `member`), or the server
            // answers invalidSyntax. The group's own DN is a valid DN that is normally not a member.
            let value = config.schema.memberValue == .dn ? probe.dn.original : "accesssync-read-probe"
            let present: Bool
            do {
                present = try await connection.compare(dn: probe.dn.original, attribute: attribute, value: Array(value.utf8))
            } catch let error as LDAPError where error.resultCode == 16 {
                // noSuchAttribute: the group really has no members, and the bind could see that.
                return try finishEmptyChecks(groups, check: check, attribute: attribute, bind: bind)
            } catch let error as LDAPError where error.resultCode == 50 {
                throw LDAPError(
                    .memberAttributeUnreadable,
                    "\(bind) may not read \(attribute) of \(probe.dn) (compare probe denied): membership is hidden",
                    resultCode: error.resultCode, serverMessage: error.serverMessage)
            }
            // compareTrue proves hidden values. compareFalse means "has values, none equal" on
            // OpenLDAP (an absent attribute answers noSuchAttribute), but Active Directory answers
            // false for an absent attribute too, so there it proves nothing.
            if present || config.schema.kind != .activeDirectory {
                throw LDAPError(
                    .memberAttributeUnreadable,
                    "\(probe.dn) holds \(attribute) values (compare probe) but the search did not return them: "
                        + "\(bind) cannot read \(attribute)")
            }
        }
        try finishEmptyChecks(groups, check: check, attribute: attribute, bind: bind)
    }

    private static func finishEmptyChecks(
        _ groups: [GroupRecord], check: MemberReadCheck, attribute: String, bind: String
    ) throws(LDAPError) {
        if check.rejectAllGroupsEmpty, groups.count >= max(1, check.minimumGroupsForEmptyCheck),
            groups.allSatisfy({ $0.members.isEmpty })
        {
            throw LDAPError(
                .memberAttributeUnreadable,
                "all \(groups.count) groups came back without a single \(attribute) value: \(bind) probably cannot "
                    + "read \(attribute) (set memberReadCheck.rejectAllGroupsEmpty = false if this is real)")
        }
        for canary in check.canaryGroups {
            let canaryDN = try? DistinguishedName(canary)
            let matches = groups.filter {
                (canaryDN != nil && $0.dn == canaryDN!) || $0.name.lowercased() == canary.lowercased()
            }
            guard !matches.isEmpty else {
                throw LDAPError(.memberAttributeUnreadable, "the canary group \(canary) was not found")
            }
            if matches.allSatisfy({ $0.members.isEmpty }) {
                throw LDAPError(
                    .memberAttributeUnreadable,
                    "the canary group \(canary) came back without members: \(bind) probably cannot read \(attribute)")
            }
        }
    }

    static func parseDN(_ text: String) throws(LDAPError) -> DistinguishedName {
        do {
            return try DistinguishedName(text)
        } catch {
            throw LDAPError(.invalidEntry, "the server returned an unparseable DN: \(error.description)")
        }
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen: Set<String> = []
        return names.filter { seen.insert($0.lowercased()).inserted }
    }
}

/// A snapshot and what the reader noticed on the way.
public struct DirectoryRead: Sendable {
    public var snapshot: DirectorySnapshot
    public var report: Report

    public struct Report: Sendable, Hashable {
        public var peopleEntries = 0
        public var groupEntries = 0
        public var pages = 0
        /// Continuation references (searchResultReference) skipped without being chased.
        public var skippedReferences: [String] = []
        /// Person entries left out (no login name), with the reason.
        public var skippedPeople: [SkippedEntry] = []
        public var unresolvedMembers = 0
        public var rangedFollowUps = 0
        /// Whole read, and the two main searches (including converting entries as they arrive).
        public var duration: Duration = .zero
        public var peopleSearchDuration: Duration = .zero
        public var groupSearchDuration: Duration = .zero
    }

    public struct SkippedEntry: Sendable, Hashable {
        public var dn: String
        public var reason: String
    }
}

/// A person entry converted (see `PersonDecoder`).
struct PersonRecord: Sendable {
    var dn: DistinguishedName
    var person: Person?
    var skipReason: String?
    /// The DN text is ASCII and equal to its normalised form (then byte lookups by the text
    /// also serve DN-normalised lookups).
    var plainDN: Bool

    init(dn: DistinguishedName, person: Person?, skipReason: String?, plainDN: Bool) {
        self.dn = dn
        self.person = person
        self.skipReason = skipReason
        self.plainDN = plainDN
    }

    init(entry: LDAPEntry, schema: DirectorySchema, disabled: DisabledTest, nowSeconds: Double) throws(LDAPError) {
        let decoder = PersonDecoder(schema: schema, disabled: disabled, nowSeconds: nowSeconds)
        var page = decoder.makePage(capacity: 1)
        page.append(entry, slots: decoder.slots)
        var record: PersonRecord?
        do {
            try page.forEachEntry { record = try decoder.record($0) }
        } catch let error as LDAPError {
            throw error
        } catch {
            throw LDAPError(.invalidEntry, "\(entry.dn): \(error)")
        }
        self = record!
    }
}

/// A group entry converted (see `GroupDecoder`).
struct GroupRecord: Sendable {
    var dn: DistinguishedName
    var name: String
    var objectClasses: Set<String>
    /// Whether the member attribute (ranged or not) was in the entry at all.
    var memberAttributePresent: Bool
    /// The member values read so far (all of them once `pendingRetrieval` is nil).
    var members: MemberValues
    /// An Active Directory ranged retrieval that needs follow-up searches.
    var pendingRetrieval: RangedRetrieval?
}

/// The people of a read, assembled page by page in the server's order (on the search's serial
/// assembly queue; read only after the search returned): the dictionary by identifier, the
/// people in order with their DNs and login names, the DN-text table for resolving members,
/// the skipped entries, and the first duplicate identifier (after which nothing is added).
final class PeopleAssembler: @unchecked Sendable {
    private let identifierAttribute: String
    private(set) var people: [PersonID: Person] = [:]
    private(set) var ids: [PersonID] = []
    private(set) var dns: [DistinguishedName] = []
    private(set) var uids: [String] = []
    /// Indices of people whose DN text is not ASCII or not in normalised form.
    private(set) var unusual: [Int] = []
    let dnTexts = ByteKeyTable(capacity: 1024)
    private(set) var skipped: [DirectoryRead.SkippedEntry] = []
    private(set) var duplicate: LDAPError?

    /// RFC 2307 login names by bytes (exact and ASCII-lowercased: first index and count), kept
    /// while every login name so far is ASCII; see `resolveMembers`.
    let exactLogins: ByteKeyTable?
    let foldedLogins: ByteKeyTable?
    private(set) var loginsASCII = true

    init(identifierAttribute: String, loginTables: Bool) {
        self.identifierAttribute = identifierAttribute
        exactLogins = loginTables ? ByteKeyTable(capacity: 1024) : nil
        foldedLogins = loginTables ? ByteKeyTable(capacity: 1024) : nil
    }

    private func addLogin(_ login: String, index: Int) {
        guard loginsASCII, let exactLogins, let foldedLogins else { return }
        var login = login
        login.withUTF8 { bytes in
            guard bytes.allSatisfy({ $0 < 0x80 }) else {
                loginsASCII = false
                return
            }
            let exact = exactLogins.entry(bytes)
            if exactLogins.second(exact) == 0 { exactLogins.set(exact, first: Int32(index)) }
            exactLogins.set(exact, second: exactLogins.second(exact) + 1)
            lowered.removeAll(keepingCapacity: true)
            for byte in bytes { lowered.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
            let folded = lowered.withUnsafeBufferPointer { foldedLogins.entry($0) }
            if foldedLogins.second(folded) == 0 { foldedLogins.set(folded, first: Int32(index)) }
            foldedLogins.set(folded, second: foldedLogins.second(folded) + 1)
        }
    }

    private var lowered: [UInt8] = []

    func add(_ records: [PersonRecord]) {
        guard duplicate == nil else { return }
        for record in records {
            guard let person = record.person else {
                skipped.append(.init(dn: record.dn.original, reason: record.skipReason ?? "skipped"))
                continue
            }
            if let other = people.updateValue(person, forKey: person.id) {
                duplicate = LDAPError(
                    .duplicateIdentifier,
                    "\(other.dn) and \(person.dn) share the identifier \(person.id) (\(identifierAttribute))")
                return
            }
            if !record.plainDN { unusual.append(ids.count) }
            dnTexts.set(dnTexts.entry(person.dn.original), first: Int32(ids.count))
            addLogin(person.uid, index: ids.count)
            ids.append(person.id)
            dns.append(person.dn)
            uids.append(person.uid)
        }
    }
}

/// One optional result per index, written by concurrent workers at distinct indices and read
/// after they have all finished (`DispatchQueue.concurrentPerform` returns only then).
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    subscript(index: Int) -> T? {
        get { slots.withUnsafeBufferPointer { $0[index] } }
        set { slots.withUnsafeMutableBufferPointer { $0[index] = newValue } }
    }

    func take(_ index: Int) -> T? {
        slots.withUnsafeMutableBufferPointer { buffer in
            defer { buffer[index] = nil }
            return buffer[index]
        }
    }
}

/// Whether a String is all ASCII (its UTF-8 bytes, scanned contiguously).
private func isASCII(_ text: String) -> Bool {
    var text = text
    return text.withUTF8 { bytes in bytes.allSatisfy { $0 < 0x80 } }
}

