public import Foundation
public import RBACModel

/// How LDIF entries map to people and groups: the same schema styles the LDAP reader supports,
/// kept self-contained for `render` (which reads an export instead of a live directory).
public struct LDIFDirectoryMapping: Hashable, Sendable {
    public enum Style: String, Hashable, Sendable, CaseIterable {
        /// RFC 2307 `posixGroup` with `memberUid` login names (no nesting).
        case rfc2307
        /// RFC 2307bis / `groupOfNames` with `member` DNs (nesting allowed).
        case rfc2307bis
        /// Active Directory: `user` / `group`, `sAMAccountName`, binary `objectGUID`, `member` DNs,
        /// `userAccountControl` / `accountExpires`.
        case activeDirectory
    }

    public var style: Style
    /// Only entries at or below these DNs are people / groups (nil: anywhere).
    public var peopleBase: String?
    public var groupsBase: String?
    /// Object classes that make an entry a person / a group (any of them, case-insensitive).
    public var personObjectClasses: [String]
    public var groupObjectClasses: [String]
    /// Entries with any of these classes are never people (AD computers are `user`s too).
    public var excludedPersonObjectClasses: [String]
    /// The immutable identifier (`entryUUID`; AD `objectGUID`, base64 binary in LDIF).
    public var identifierAttribute: String
    public var loginAttribute: String
    public var displayNameAttributes: [String]
    public var mailAttribute: String
    public var uidNumberAttribute: String
    public var gidNumberAttribute: String
    public var groupNameAttribute: String
    public var memberAttribute: String

    public init(
        style: Style, peopleBase: String? = nil, groupsBase: String? = nil, personObjectClasses: [String],
        groupObjectClasses: [String], excludedPersonObjectClasses: [String] = [], identifierAttribute: String,
        loginAttribute: String, displayNameAttributes: [String] = ["displayName", "cn"], mailAttribute: String = "mail",
        uidNumberAttribute: String = "uidNumber", gidNumberAttribute: String = "gidNumber",
        groupNameAttribute: String, memberAttribute: String
    ) {
        self.style = style
        self.peopleBase = peopleBase
        self.groupsBase = groupsBase
        self.personObjectClasses = personObjectClasses
        self.groupObjectClasses = groupObjectClasses
        self.excludedPersonObjectClasses = excludedPersonObjectClasses
        self.identifierAttribute = identifierAttribute
        self.loginAttribute = loginAttribute
        self.displayNameAttributes = displayNameAttributes
        self.mailAttribute = mailAttribute
        self.uidNumberAttribute = uidNumberAttribute
        self.gidNumberAttribute = gidNumberAttribute
        self.groupNameAttribute = groupNameAttribute
        self.memberAttribute = memberAttribute
    }

    /// The preset for a style, optionally limited to base DNs.
    public static func preset(_ style: Style, peopleBase: String? = nil, groupsBase: String? = nil) -> LDIFDirectoryMapping {
        switch style {
        case .rfc2307:
            LDIFDirectoryMapping(
                style: style, peopleBase: peopleBase, groupsBase: groupsBase,
                personObjectClasses: ["inetOrgPerson", "posixAccount"], groupObjectClasses: ["posixGroup"],
                identifierAttribute: "entryUUID", loginAttribute: "uid", groupNameAttribute: "cn",
                memberAttribute: "memberUid")
        case .rfc2307bis:
            LDIFDirectoryMapping(
                style: style, peopleBase: peopleBase, groupsBase: groupsBase,
                personObjectClasses: ["inetOrgPerson", "posixAccount"],
                groupObjectClasses: ["groupOfNames", "groupOfUniqueNames"], identifierAttribute: "entryUUID",
                loginAttribute: "uid", groupNameAttribute: "cn", memberAttribute: "member")
        case .activeDirectory:
            LDIFDirectoryMapping(
                style: style, peopleBase: peopleBase, groupsBase: groupsBase, personObjectClasses: ["user"],
                groupObjectClasses: ["group"], excludedPersonObjectClasses: ["computer"],
                identifierAttribute: "objectGUID", loginAttribute: "sAMAccountName", groupNameAttribute: "sAMAccountName",
                memberAttribute: "member")
        }
    }
}

/// A directory snapshot built from LDIF, with what was noticed on the way.
public struct LDIFDirectoryResult: Hashable, Sendable {
    public var snapshot: DirectorySnapshot
    /// Entries that were skipped or values that could not be used, each naming the file and line.
    public var warnings: [String]
}

/// Maps LDIF records (`ldapsearch -LLL` / `slapcat` output) to a `DirectorySnapshot`.
public enum LDIFDirectory {
    /// - Parameters:
    ///   - records: parsed records.
    ///   - mapping: which entries are people and groups and which attributes mean what.
    ///   - now: the instant for expiry-based "disabled" tests (`shadowExpire`, `accountExpires`).
    ///   - file: the file name used in errors and warnings.
    /// - Throws: `LDIFError` for a person or group that cannot be used safely: a DN that does not
    ///   parse, a person without an identifier (identity must never fall back to the uid), two
    ///   entries with one DN, two people with one identifier.
    public static func snapshot(
        from records: [LDIFRecord], mapping: LDIFDirectoryMapping, now: Date, file: String
    ) throws(LDIFError) -> LDIFDirectoryResult {
        func fail(_ record: LDIFRecord, _ message: String) -> LDIFError {
            LDIFError(file: file, line: record.line, message: "\(record.dn): \(message)")
        }
        func base(_ text: String?, _ what: String) throws(LDIFError) -> DistinguishedName? {
            guard let text else { return nil }
            do {
                return try DistinguishedName(text)
            } catch {
                throw LDIFError(file: file, line: nil, message: "invalid \(what) base DN '\(text)': \(error)")
            }
        }
        let peopleBase = try base(mapping.peopleBase, "people")
        let groupsBase = try base(mapping.groupsBase, "groups")
        var warnings: [String] = []
        func warn(_ record: LDIFRecord, _ message: String) {
            warnings.append("\(file):\(record.line): \(record.dn): \(message)")
        }

        var people: [Person] = []
        var groupRecords: [(LDIFRecord, DistinguishedName)] = []
        var seenDNs: [DistinguishedName: Int] = [:]
        var idLines: [PersonID: Int] = [:]
        let nowSeconds = now.timeIntervalSince1970
        for record in records {
            let isGroup = mapping.groupObjectClasses.contains(where: record.hasObjectClass)
            let isPerson = !isGroup && mapping.personObjectClasses.contains(where: record.hasObjectClass)
                && !mapping.excludedPersonObjectClasses.contains(where: record.hasObjectClass)
            guard isGroup || isPerson else { continue }
            let dn: DistinguishedName
            do {
                dn = try DistinguishedName(record.dn)
            } catch {
                throw fail(record, "invalid DN: \(error)")
            }
            if isGroup, let groupsBase, !dn.isWithin(groupsBase) { continue }
            if isPerson, let peopleBase, !dn.isWithin(peopleBase) { continue }
            if let earlier = seenDNs[dn] {
                throw fail(record, "a second entry with this DN (first at line \(earlier))")
            }
            seenDNs[dn] = record.line
            if isGroup {
                groupRecords.append((record, dn))
                continue
            }
            guard let login = record.string(mapping.loginAttribute), !login.isEmpty else {
                warn(record, "skipped: no \(mapping.loginAttribute)")
                continue
            }
            let identifier = try personIdentifier(record, mapping: mapping, fail: fail)
            if let earlier = idLines[identifier] {
                throw fail(record, "\(mapping.identifierAttribute) \(identifier) is also used by the entry at line \(earlier)")
            }
            idLines[identifier] = record.line
            let displayName = mapping.displayNameAttributes.lazy.compactMap { record.string($0) }.first
            people.append(
                Person(
                    id: identifier, uid: login, dn: dn, displayName: displayName, mail: record.string(mapping.mailAttribute),
                    uidNumber: record.string(mapping.uidNumberAttribute).flatMap { Int($0) },
                    gidNumber: record.string(mapping.gidNumberAttribute).flatMap { Int($0) },
                    disabled: isDisabled(record, style: mapping.style, nowSeconds: nowSeconds)
                )
            )
        }

        // Resolve members: DNs against people and groups; login names against people.
        var personByDN: [DistinguishedName: PersonID] = [:]
        var peopleByLogin: [String: [Person]] = [:]
        var peopleByLoginFolded: [String: [Person]] = [:]
        for person in people {
            personByDN[person.dn] = person.id
            peopleByLogin[person.uid, default: []].append(person)
            peopleByLoginFolded[person.uid.lowercased(), default: []].append(person)
        }
        let groupDNs = Set(groupRecords.map(\.1))
        var groups: [Group] = []
        for (record, dn) in groupRecords {
            guard let name = record.string(mapping.groupNameAttribute) ?? dn.leafValue, !name.isEmpty else {
                warn(record, "skipped: no \(mapping.groupNameAttribute)")
                continue
            }
            var group = Group(name: name, dn: dn)
            for value in record.strings(mapping.memberAttribute) {
                switch mapping.style {
                case .rfc2307:
                    // memberUid is caseExactIA5Match; fall back to a unique case-insensitive match.
                    if let exact = peopleByLogin[value], exact.count == 1 {
                        group.memberPeople.insert(exact[0].id)
                    } else if let folded = peopleByLoginFolded[value.lowercased()], folded.count == 1 {
                        group.memberPeople.insert(folded[0].id)
                    } else {
                        group.unresolvedMembers.append(value)
                    }
                case .rfc2307bis, .activeDirectory:
                    guard let memberDN = try? DistinguishedName(value) else {
                        warn(record, "member '\(value)' is not a valid DN")
                        group.unresolvedMembers.append(value)
                        continue
                    }
                    if let person = personByDN[memberDN] {
                        group.memberPeople.insert(person)
                    } else if groupDNs.contains(memberDN) {
                        group.memberGroups.insert(memberDN)
                    } else {
                        group.unresolvedMembers.append(value)
                    }
                }
            }
            groups.append(group)
        }
        return LDIFDirectoryResult(snapshot: DirectorySnapshot(people: people, groups: groups), warnings: warnings)
    }

    static func personIdentifier(
        _ record: LDIFRecord, mapping: LDIFDirectoryMapping, fail: (LDIFRecord, String) -> LDIFError
    ) throws(LDIFError) -> PersonID {
        let values = record.values(mapping.identifierAttribute)
        guard let value = values.first else {
            throw fail(
                record,
                "no \(mapping.identifierAttribute); export it explicitly (ldapsearch ... '*' \(mapping.identifierAttribute)) "
                    + "— people are identified by it, never by their login name")
        }
        if mapping.style == .activeDirectory, mapping.identifierAttribute.lowercased() == "objectguid" {
            guard value.bytes.count == 16 else {
                throw fail(record, "objectGUID must be 16 bytes (base64 in LDIF), found \(value.bytes.count)")
            }
            return PersonID(guidString(value.bytes))
        }
        guard let text = value.string?.trimmingCharacters(in: .whitespaces), UUID(uuidString: text) != nil else {
            throw fail(record, "\(mapping.identifierAttribute) is not a UUID")
        }
        return PersonID(text)
    }

    /// AD's GUID byte layout: the first three fields little-endian, the rest as stored.
    static func guidString(_ bytes: [UInt8]) -> String {
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        let hex = order.map { String(format: "%02x", bytes[$0]) }
        return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-" + hex[8..<10].joined()
            + "-" + hex[10..<16].joined()
    }

    /// OpenLDAP: `pwdAccountLockedTime` present, `shadowExpire` (days since 1970) passed, or
    /// `nsAccountLock: true`. AD: `userAccountControl` ACCOUNTDISABLE (0x2), or `accountExpires`
    /// (FILETIME; 0 and 2^63-1 mean never) passed.
    static func isDisabled(_ record: LDIFRecord, style: LDIFDirectoryMapping.Style, nowSeconds: Double) -> Bool {
        switch style {
        case .rfc2307, .rfc2307bis:
            if !record.values("pwdAccountLockedTime").isEmpty { return true }
            if let text = record.string("shadowExpire"), let days = Int(text), days > 0,
                Double(days) * 86_400 <= nowSeconds
            {
                return true
            }
            return record.strings("nsAccountLock").contains { $0.lowercased() == "true" }
        case .activeDirectory:
            if let text = record.string("userAccountControl"), let flags = Int64(text), flags & 0x2 != 0 { return true }
            if let text = record.string("accountExpires"), let fileTime = Int64(text), fileTime > 0, fileTime != Int64.max {
                let unixSeconds = Double(fileTime) / 10_000_000 - 11_644_473_600
                return unixSeconds <= nowSeconds
            }
            return false
        }
    }
}
