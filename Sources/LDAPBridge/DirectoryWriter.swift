import Foundation
public import RBACModel

/// Writes to an OpenLDAP directory for `add-user` and friends: people, group membership, disabling.
///
/// Every value that comes from input is DN-escaped (RFC 4514) when it becomes part of a DN and
/// filter-escaped (RFC 4515) when it becomes part of a filter; attribute values travel as bytes.
/// uidNumbers come from a counter entry updated by compare-and-swap (see `allocateUIDNumber`), so
/// concurrent writers never hand out the same number.
public struct DirectoryWriter: Sendable {
    public let connection: LDAPConnection
    public let config: LDAPConfiguration
    public let options: Options

    /// Writer settings beyond the reader's configuration.
    public struct Options: Sendable, Hashable {
        /// uidNumbers are allocated from this range.
        public var uidNumberRange: ClosedRange<Int>
        /// The counter entry holding the next uidNumber; relative DNs are placed under the base DN.
        public var counterDN: String
        /// The counter's attribute (any single-valued use of a multi-valued string attribute works).
        public var counterAttribute: String
        /// Object classes used when the counter entry has to be created.
        public var counterObjectClasses: [String]
        public var defaultGidNumber: Int
        /// `{uid}` is replaced by the login name.
        public var homeDirectoryTemplate: String
        public var loginShell: String?
        /// How often a contended allocation is retried before giving up with `.contention`.
        public var maxAttempts: Int
        /// The condition `disablePerson` establishes; nil: the first writable one of `config.disabled`.
        public var disableWith: DisabledTest.Condition?

        public init(
            uidNumberRange: ClosedRange<Int> = 10_000...59_999, counterDN: String = "cn=accesssync-next-uidnumber",
            counterAttribute: String = "serialNumber", counterObjectClasses: [String] = ["top", "device"],
            defaultGidNumber: Int = 100, homeDirectoryTemplate: String = "/home/{uid}", loginShell: String? = "/bin/bash",
            maxAttempts: Int = 200, disableWith: DisabledTest.Condition? = nil
        ) {
            self.uidNumberRange = uidNumberRange
            self.counterDN = counterDN
            self.counterAttribute = counterAttribute
            self.counterObjectClasses = counterObjectClasses
            self.defaultGidNumber = defaultGidNumber
            self.homeDirectoryTemplate = homeDirectoryTemplate
            self.loginShell = loginShell
            self.maxAttempts = maxAttempts
            self.disableWith = disableWith
        }
    }

    /// A person to create.
    public struct NewPerson: Sendable, Hashable {
        public var uid: String
        public var surname: String
        public var givenName: String?
        /// Defaults to "givenName surname" or the uid.
        public var commonName: String?
        public var displayName: String?
        public var mail: String?
        /// Explicit uidNumber; nil allocates one from the range.
        public var uidNumber: Int?
        public var gidNumber: Int?

        public init(
            uid: String, surname: String, givenName: String? = nil, commonName: String? = nil,
            displayName: String? = nil, mail: String? = nil, uidNumber: Int? = nil, gidNumber: Int? = nil
        ) {
            self.uid = uid
            self.surname = surname
            self.givenName = givenName
            self.commonName = commonName
            self.displayName = displayName
            self.mail = mail
            self.uidNumber = uidNumber
            self.gidNumber = gidNumber
        }
    }

    public init(connection: LDAPConnection, config: LDAPConfiguration, options: Options = Options()) {
        self.connection = connection
        self.config = config
        self.options = options
    }

    var rootBase: String {
        get throws(LDAPError) {
            guard let base = config.baseDN ?? connection.defaultBase else {
                throw LDAPError(.invalidConfiguration, "no base DN: set baseDN or LDAPBASE")
            }
            return base
        }
    }

    var peopleBase: String { get throws(LDAPError) { try config.resolve(base: config.people.base, defaultBase: connection.defaultBase) } }
    var groupsBase: String { get throws(LDAPError) { try config.resolve(base: config.groups.base, defaultBase: connection.defaultBase) } }

    /// Rejects input that cannot be a sane login name before it reaches the directory.
    static func validateLogin(_ uid: String) throws(LDAPError) {
        guard !uid.isEmpty else { throw LDAPError(.invalidInput, "the login name is empty") }
        if uid.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw LDAPError(.invalidInput, "the login name contains a control character (NUL, newline, …)")
        }
        if uid.contains("/") || uid == "." || uid == ".." {
            throw LDAPError(.invalidInput, "the login name contains '/' or is '.' or '..' (it names the home directory)")
        }
        if uid.first!.isWhitespace || uid.last!.isWhitespace {
            throw LDAPError(
                .invalidInput, "the login name has leading or trailing spaces (LDAP matching ignores them, so it would alias another name)")
        }
    }

    // MARK: Lookups

    /// The person with exactly this login name (case-insensitive, as `uid` matches), or nil.
    public func findPerson(uid: String) async throws -> Person? {
        try DirectoryWriter.validateLogin(uid)
        let schema = config.schema
        let filter = LDAPFilter.and([schema.personFilter, LDAPFilter.equals(schema.loginAttribute, uid)])
        let disabled = config.disabled
        let now = Date().timeIntervalSince1970
        var attributes = [
            schema.identifierAttribute, schema.loginAttribute, schema.mailAttribute, schema.uidNumberAttribute,
            schema.gidNumberAttribute,
        ]
        attributes += schema.displayNameAttributes + disabled.attributes
        let (records, _) = try await connection.search(
            base: try peopleBase, scope: config.people.scope, filter: filter, attributes: attributes, pageSize: nil
        ) { entry in try PersonRecord(entry: entry, schema: schema, disabled: disabled, nowSeconds: now).person }
        guard records.count <= 1 else {
            throw LDAPError(.ambiguous, "\(records.count) people have the login name \"\(uid)\"")
        }
        return records.first
    }

    /// The DN of the group with this name (`cn`), or nil.
    public func findGroup(name: String) async throws -> DistinguishedName? {
        guard !name.isEmpty, !name.utf8.contains(0) else { throw LDAPError(.invalidInput, "invalid group name") }
        let filter = LDAPFilter.and([config.schema.groupFilter, LDAPFilter.equals(config.schema.groupNameAttribute, name)])
        let (dns, _) = try await connection.search(
            base: try groupsBase, scope: config.groups.scope, filter: filter, attributes: ["1.1"], pageSize: nil
        ) { entry in try DirectoryReader.parseDN(entry.dn) }
        guard dns.count <= 1 else { throw LDAPError(.ambiguous, "\(dns.count) groups are named \"\(name)\"") }
        return dns.first
    }

    // MARK: People

    /// Adds a person (inetOrgPerson + posixAccount + shadowAccount) under the people base with a
    /// freshly allocated uidNumber, and returns it as read back (with its entryUUID).
    ///
    /// - Throws: `.invalidInput` for unusable names, `.alreadyExists` when the login name is taken,
    ///   `.uidNumberExhausted`, `.contention`, or any server error.
    public func addPerson(_ new: NewPerson) async throws -> Person {
        try DirectoryWriter.validateLogin(new.uid)
        guard !new.surname.isEmpty, !new.surname.utf8.contains(0) else {
            throw LDAPError(.invalidInput, "the surname is empty or contains a NUL byte")
        }
        for value in [new.givenName, new.commonName, new.displayName, new.mail].compactMap({ $0 })
        where value.utf8.contains(0) {
            throw LDAPError(.invalidInput, "a name or mail value contains a NUL byte")
        }
        if let existing = try await findPerson(uid: new.uid) {
            throw LDAPError(.alreadyExists, "the login name \"\(new.uid)\" is taken by \(existing.dn)")
        }
        let dn = "\(config.schema.loginAttribute)=\(DistinguishedName.escape(new.uid)),\(try peopleBase)"
        let uidNumber: Int
        if let explicit = new.uidNumber {
            uidNumber = explicit
        } else {
            uidNumber = try await allocateUIDNumber()
        }
        let commonName = new.commonName ?? [new.givenName, new.surname].compactMap { $0 }.joined(separator: " ")
        var attributes: [(String, [String])] = [
            ("objectClass", ["top", "inetOrgPerson", "posixAccount", "shadowAccount"]),
            ("uid", [new.uid]), ("cn", [commonName]), ("sn", [new.surname]),
            ("uidNumber", [String(uidNumber)]), ("gidNumber", [String(new.gidNumber ?? options.defaultGidNumber)]),
            ("homeDirectory", [options.homeDirectoryTemplate.replacingOccurrences(of: "{uid}", with: new.uid)]),
        ]
        if let shell = options.loginShell { attributes.append(("loginShell", [shell])) }
        if let given = new.givenName { attributes.append(("givenName", [given])) }
        if let display = new.displayName { attributes.append(("displayName", [display])) }
        if let mail = new.mail { attributes.append(("mail", [mail])) }
        try await connection.add(dn: dn, attributes: attributes.map { ($0.0, $0.1.map { Array($0.utf8) }) })
        guard let person = try await findPerson(uid: new.uid) else {
            throw LDAPError(.notFound, "\(dn) was added but cannot be read back")
        }
        return person
    }

    /// Allocates a uidNumber from the configured range. Safe against concurrent writers.
    ///
    /// The counter entry holds the next free number. Allocation is a compare-and-swap in one
    /// modify operation — delete the exact old value, add the new one — which the server applies
    /// atomically: of two writers that read the same value, one succeeds and the other gets
    /// `noSuchAttribute` and retries. A number that turns out to be in use already (a person added
    /// by hand) is skipped. A missing counter is created, seeded after the highest uidNumber in the
    /// range.
    public func allocateUIDNumber() async throws -> Int {
        let counter = try config.resolve(base: options.counterDN, defaultBase: connection.defaultBase)
        let attribute = options.counterAttribute
        let range = options.uidNumberRange
        for attempt in 0..<options.maxAttempts {
            guard let current = try await readCounter(counter) else {
                try await createCounter(counter)
                continue
            }
            guard range.contains(current) else {
                if current > range.upperBound {
                    throw LDAPError(.uidNumberExhausted, "no uidNumber left in \(range.lowerBound)...\(range.upperBound)")
                }
                throw LDAPError(.invalidConfiguration, "the counter \(counter) holds \(current), outside \(range)")
            }
            do {
                try await connection.modify(
                    dn: counter,
                    [
                        LDAPModification(.delete, attribute, strings: [String(current)]),
                        LDAPModification(.add, attribute, strings: [String(current + 1)]),
                    ])
            } catch let error as LDAPError where error.resultCode == 16 || error.resultCode == 20 {
                // Another writer moved the counter first: back off a little and read it again.
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...(2 + min(attempt, 20)))))
                continue
            }
            let (taken, _) = try await connection.search(
                base: try rootBase, scope: .subtree, filter: LDAPFilter.equals("uidNumber", String(current)),
                attributes: ["1.1"], pageSize: nil
            ) { entry in entry.dn }
            if taken.isEmpty { return current }
        }
        throw LDAPError(.contention, "could not allocate a uidNumber after \(options.maxAttempts) attempts")
    }

    private func readCounter(_ dn: String) async throws -> Int? {
        let entries: [LDAPEntry]
        do {
            entries = try await connection.search(
                base: dn, scope: .base, filter: "(objectClass=*)", attributes: [options.counterAttribute], pageSize: nil)
        } catch let error as LDAPError where error.code == .noSuchObject {
            return nil
        }
        let values = entries.first?.strings(options.counterAttribute) ?? []
        guard values.count == 1, let value = Int(values[0].trimmingWhitespace()) else {
            throw LDAPError(
                .invalidEntry, "the uidNumber counter \(dn) must hold exactly one number in \(options.counterAttribute)")
        }
        return value
    }

    private func createCounter(_ dn: String) async throws {
        let range = options.uidNumberRange
        let filter = "(&(uidNumber>=\(range.lowerBound))(uidNumber<=\(range.upperBound)))"
        let (numbers, _) = try await connection.search(
            base: try rootBase, scope: .subtree, filter: filter, attributes: ["uidNumber"], pageSize: config.pageSize
        ) { entry in entry.string("uidNumber").flatMap { Int($0.trimmingWhitespace()) } }
        let next = (numbers.max() ?? (range.lowerBound - 1)) + 1
        let rdn = (try? DistinguishedName(dn))?.rdns.first?.first
        var attributes: [(String, [[UInt8]])] = [("objectClass", options.counterObjectClasses.map { Array($0.utf8) })]
        if let rdn, !rdn.type.asciiCaseInsensitiveEquals(options.counterAttribute) {
            let original = dn.split(separator: ",").first?.split(separator: "=", maxSplits: 1).last.map(String.init)
            attributes.append((rdn.type, [Array((original ?? rdn.value).utf8)]))
        }
        attributes.append((options.counterAttribute, [Array(String(next).utf8)]))
        do {
            try await connection.add(dn: dn, attributes: attributes)
        } catch let error as LDAPError where error.code == .alreadyExists {
            // Another writer created it first; use theirs.
        }
    }

    // MARK: Membership

    /// Adds the person to the group (`memberUid` for RFC 2307, `member` DN otherwise).
    /// - Returns: false when the person was a member already.
    @discardableResult
    public func addMember(uid: String, toGroup group: String) async throws -> Bool {
        let (groupDN, value) = try await membershipTarget(uid: uid, group: group)
        do {
            try await connection.modify(
                dn: groupDN.original, [LDAPModification(.add, config.schema.memberAttribute, [value])])
            return true
        } catch let error as LDAPError where error.resultCode == 20 {
            return false
        }
    }

    /// Removes the person from the group.
    /// - Returns: false when the person was not a member.
    /// - Throws: `.objectClassViolation` when the person is the last member of a `groupOfNames`.
    @discardableResult
    public func removeMember(uid: String, fromGroup group: String) async throws -> Bool {
        let (groupDN, value) = try await membershipTarget(uid: uid, group: group)
        do {
            try await connection.modify(
                dn: groupDN.original, [LDAPModification(.delete, config.schema.memberAttribute, [value])])
            return true
        } catch let error as LDAPError where error.resultCode == 16 {
            return false
        } catch let error as LDAPError where error.code == .objectClassViolation {
            throw LDAPError(
                .objectClassViolation,
                "cannot remove \(uid) from \(groupDN): it is the last member and the group's object class requires one",
                resultCode: error.resultCode, serverMessage: error.serverMessage)
        }
    }

    private func membershipTarget(uid: String, group: String) async throws -> (DistinguishedName, [UInt8]) {
        guard config.schema.kind != .activeDirectory else {
            throw LDAPError(.unsupported, "writing to Active Directory is not supported")
        }
        guard let person = try await findPerson(uid: uid) else {
            throw LDAPError(.notFound, "no person with the login name \"\(uid)\"")
        }
        guard let groupDN = try await findGroup(name: group) else {
            throw LDAPError(.notFound, "no group named \"\(group)\"")
        }
        switch config.schema.memberValue {
        case .loginName: return (groupDN, Array(person.uid.utf8))
        case .dn: return (groupDN, Array(person.dn.original.utf8))
        }
    }

    // MARK: Disabling

    /// Disables the person by establishing the configured "disabled" condition.
    /// - Throws: `.unsupported` when the condition cannot be written (a filter, AD).
    public func disablePerson(uid: String) async throws {
        guard let person = try await findPerson(uid: uid) else {
            throw LDAPError(.notFound, "no person with the login name \"\(uid)\"")
        }
        let condition = options.disableWith ?? config.disabled.conditions.first { condition in
            switch condition {
            case .attributePresent(let name): name.lowercased() == "pwdaccountlockedtime"
            case .attributeEquals, .shadowExpired: true
            case .filter, .activeDirectoryAccountControl: false
            }
        }
        var modifications: [LDAPModification]
        switch condition {
        case .attributePresent(let name) where name.lowercased() == "pwdaccountlockedtime":
            // ppolicy: 000001010000Z locks the account permanently.
            modifications = [LDAPModification(.replace, name, strings: ["000001010000Z"])]
        case .attributeEquals(let name, let value):
            modifications = [LDAPModification(.replace, name, strings: [value.uppercased() == "TRUE" ? "TRUE" : value])]
        case .shadowExpired:
            modifications = [LDAPModification(.replace, "shadowExpire", strings: ["1"])]
            let entries = try await connection.search(
                base: person.dn.original, scope: .base, filter: "(objectClass=*)", attributes: ["objectClass"],
                pageSize: nil)
            let classes = entries.first?.strings("objectClass").map { $0.lowercased() } ?? []
            if !classes.contains("shadowaccount") {
                modifications.insert(LDAPModification(.add, "objectClass", strings: ["shadowAccount"]), at: 0)
            }
        default:
            throw LDAPError(.unsupported, "the configured disabled test cannot be written; set disableWith")
        }
        try await connection.modify(dn: person.dn.original, modifications)
    }
}
