/// Object classes and attribute names of a directory: one of the presets, adjusted as needed.
public struct DirectorySchema: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// RFC 2307: `posixGroup` with `memberUid` = login names; no nesting.
        case rfc2307
        /// RFC 2307bis / `groupOfNames`: `member` = DNs of people and nested groups.
        case rfc2307bis
        /// Active Directory: `group` with `member` DNs, `sAMAccountName`, `objectGUID`.
        case activeDirectory
    }

    /// How group members are named.
    public enum MemberValue: Sendable, Hashable {
        /// Member values are DNs (people or nested groups).
        case dn
        /// Member values are login names (RFC 2307 `memberUid`).
        case loginName
    }

    /// How the identifier attribute is encoded.
    public enum IdentifierFormat: Sendable, Hashable {
        /// Text, e.g. OpenLDAP's `entryUUID`.
        case text
        /// AD's 16-byte `objectGUID`, converted to the canonical UUID string (mixed-endian layout).
        case activeDirectoryGUID
    }

    public var kind: Kind
    /// Filter selecting people (ANDed with the people search's own filter).
    public var personFilter: String
    /// Filter selecting groups (ANDed with the group search's own filter).
    public var groupFilter: String
    /// The immutable identifier, requested explicitly (it is operational on OpenLDAP).
    public var identifierAttribute: String
    public var identifierFormat: IdentifierFormat
    /// The login name (`uid`, `sAMAccountName`).
    public var loginAttribute: String
    /// Display name candidates, first present wins.
    public var displayNameAttributes: [String]
    public var mailAttribute: String
    public var uidNumberAttribute: String
    public var gidNumberAttribute: String
    /// The group name policy refers to (`cn`, AD `sAMAccountName`).
    public var groupNameAttribute: String
    /// The membership attribute (`memberUid`, `member`).
    public var memberAttribute: String
    public var memberValue: MemberValue
    /// Follow `member;range=a-b` continuations (Active Directory's ranged retrieval).
    public var rangedRetrieval: Bool
    /// Group object classes whose schema requires at least one member value (lowercased). A group
    /// of such a class returned without its member attribute proves that the bind cannot read it.
    public var classesRequiringMembers: Set<String>

    public init(
        kind: Kind, personFilter: String, groupFilter: String, identifierAttribute: String,
        identifierFormat: IdentifierFormat, loginAttribute: String, displayNameAttributes: [String],
        mailAttribute: String, uidNumberAttribute: String, gidNumberAttribute: String, groupNameAttribute: String,
        memberAttribute: String, memberValue: MemberValue, rangedRetrieval: Bool, classesRequiringMembers: Set<String>
    ) {
        self.kind = kind
        self.personFilter = personFilter
        self.groupFilter = groupFilter
        self.identifierAttribute = identifierAttribute
        self.identifierFormat = identifierFormat
        self.loginAttribute = loginAttribute
        self.displayNameAttributes = displayNameAttributes
        self.mailAttribute = mailAttribute
        self.uidNumberAttribute = uidNumberAttribute
        self.gidNumberAttribute = gidNumberAttribute
        self.groupNameAttribute = groupNameAttribute
        self.memberAttribute = memberAttribute
        self.memberValue = memberValue
        self.rangedRetrieval = rangedRetrieval
        self.classesRequiringMembers = Set(classesRequiringMembers.map { $0.lowercased() })
    }

    /// OpenLDAP with RFC 2307 `posixGroup` / `memberUid`.
    public static let rfc2307 = DirectorySchema(
        kind: .rfc2307, personFilter: "(objectClass=inetOrgPerson)", groupFilter: "(objectClass=posixGroup)",
        identifierAttribute: "entryUUID", identifierFormat: .text, loginAttribute: "uid",
        displayNameAttributes: ["displayName", "cn"], mailAttribute: "mail", uidNumberAttribute: "uidNumber",
        gidNumberAttribute: "gidNumber", groupNameAttribute: "cn", memberAttribute: "memberUid", memberValue: .loginName,
        rangedRetrieval: false, classesRequiringMembers: [])

    /// OpenLDAP with RFC 2307bis / `groupOfNames` and `member` DNs (nesting allowed).
    public static let rfc2307bis = DirectorySchema(
        kind: .rfc2307bis, personFilter: "(objectClass=inetOrgPerson)", groupFilter: "(objectClass=groupOfNames)",
        identifierAttribute: "entryUUID", identifierFormat: .text, loginAttribute: "uid",
        displayNameAttributes: ["displayName", "cn"], mailAttribute: "mail", uidNumberAttribute: "uidNumber",
        gidNumberAttribute: "gidNumber", groupNameAttribute: "cn", memberAttribute: "member", memberValue: .dn,
        rangedRetrieval: false, classesRequiringMembers: ["groupOfNames", "groupOfUniqueNames"])

    /// Active Directory (and Samba AD): `user`/`group`, `sAMAccountName`, `objectGUID`, ranged `member`.
    public static let activeDirectory = DirectorySchema(
        kind: .activeDirectory, personFilter: "(&(objectCategory=person)(objectClass=user))",
        groupFilter: "(objectClass=group)", identifierAttribute: "objectGUID", identifierFormat: .activeDirectoryGUID,
        loginAttribute: "sAMAccountName", displayNameAttributes: ["displayName", "cn"], mailAttribute: "mail",
        uidNumberAttribute: "uidNumber", gidNumberAttribute: "gidNumber", groupNameAttribute: "sAMAccountName",
        memberAttribute: "member", memberValue: .dn, rangedRetrieval: true, classesRequiringMembers: [])

    /// The preset for a kind.
    public static func preset(_ kind: Kind) -> DirectorySchema {
        switch kind {
        case .rfc2307: .rfc2307
        case .rfc2307bis: .rfc2307bis
        case .activeDirectory: .activeDirectory
        }
    }

    /// The "disabled" test that fits the schema when none is configured.
    public var defaultDisabledTest: DisabledTest {
        switch kind {
        case .activeDirectory: DisabledTest([.activeDirectoryAccountControl])
        case .rfc2307, .rfc2307bis: .openLDAPDefault
        }
    }
}

/// How the reader decides that a person is disabled: any matching condition disables.
public struct DisabledTest: Sendable, Hashable {
    public enum Condition: Sendable, Hashable {
        /// The attribute is present with any value (e.g. ppolicy's operational `pwdAccountLockedTime`).
        case attributePresent(String)
        /// The attribute holds the value (compared case-insensitively), e.g. `nsAccountLock: true`.
        case attributeEquals(String, String)
        /// `shadowExpire` (days since 1970-01-01) is positive and on or before today (from `now`).
        case shadowExpired
        /// People matching this LDAP filter (evaluated by the server in a second search) are disabled.
        case filter(String)
        /// Active Directory: `userAccountControl` has ACCOUNTDISABLE (bit 2), or `accountExpires`
        /// (a FILETIME; 0 and 0x7FFFFFFFFFFFFFFF mean never) is on or before `now`.
        case activeDirectoryAccountControl
    }

    public var conditions: [Condition]

    public init(_ conditions: [Condition]) { self.conditions = conditions }

    /// `pwdAccountLockedTime` present, `shadowExpire` passed, or `nsAccountLock: true`.
    public static let openLDAPDefault = DisabledTest([
        .attributePresent("pwdAccountLockedTime"), .shadowExpired, .attributeEquals("nsAccountLock", "true"),
    ])

    /// Attributes the people search must request to evaluate the conditions locally.
    var attributes: [String] {
        var names: [String] = []
        for condition in conditions {
            switch condition {
            case .attributePresent(let name), .attributeEquals(let name, _): names.append(name)
            case .shadowExpired: names.append("shadowExpire")
            case .filter: break
            case .activeDirectoryAccountControl: names += ["userAccountControl", "accountExpires"]
            }
        }
        return names
    }

    var filters: [String] {
        conditions.compactMap { if case .filter(let filter) = $0 { filter } else { nil } }
    }
}

/// Checks that make an ACL hiding `member` fail the read instead of emptying every group.
///
/// A bind that may read groups but not their membership attribute gets every group back without
/// it, which looks exactly like a directory where everyone left. Three independent checks, all on
/// by default:
/// 1. **Schema-required attribute**: a group whose object class requires members (`groupOfNames`
///    MUST `member`) returned without the attribute is impossible unless it is hidden.
/// 2. **Compare probe**: for a group returned without its member attribute the reader sends an LDAP
///    compare on that attribute. A readable but absent attribute answers `noSuchAttribute` (16); a
///    hidden one answers `insufficientAccess` (50) or compares true/false although the search did
///    not show it — both fail the read. This covers `posixGroup` and AD, where empty groups are legal.
/// 3. **Not every group empty**: when at least `minimumGroupsForEmptyCheck` groups were read and none
///    has a single member, the read fails.
/// Optionally, **canary groups** (names or DNs) must have at least one member.
public struct MemberReadCheck: Sendable, Hashable {
    public var requireMembersForRequiringClasses: Bool
    public var compareProbe: Bool
    public var rejectAllGroupsEmpty: Bool
    public var minimumGroupsForEmptyCheck: Int
    public var canaryGroups: [String]

    public init(
        requireMembersForRequiringClasses: Bool = true, compareProbe: Bool = true, rejectAllGroupsEmpty: Bool = true,
        minimumGroupsForEmptyCheck: Int = 2, canaryGroups: [String] = []
    ) {
        self.requireMembersForRequiringClasses = requireMembersForRequiringClasses
        self.compareProbe = compareProbe
        self.rejectAllGroupsEmpty = rejectAllGroupsEmpty
        self.minimumGroupsForEmptyCheck = minimumGroupsForEmptyCheck
        self.canaryGroups = canaryGroups
    }

    /// All checks off (for directories where none applies; not recommended).
    public static let disabled = MemberReadCheck(
        requireMembersForRequiringClasses: false, compareProbe: false, rejectAllGroupsEmpty: false)
}

/// Active Directory time values (FILETIME: 100-ns intervals since 1601-01-01 UTC).
public enum ActiveDirectoryTime {
    /// Seconds between 1601-01-01 and 1970-01-01.
    static let epochOffsetSeconds: Int64 = 11_644_473_600

    /// The FILETIME for a Unix time in seconds.
    public static func fileTime(unixSeconds: Double) -> Int64 {
        Int64((unixSeconds + Double(epochOffsetSeconds)) * 10_000_000)
    }

    /// Whether `accountExpires` lies at or before `now`; 0 and 0x7FFFFFFFFFFFFFFF mean "never".
    public static func isExpired(accountExpires: Int64, nowSeconds: Double) -> Bool {
        if accountExpires <= 0 || accountExpires == Int64.max { return false }
        return accountExpires <= fileTime(unixSeconds: nowSeconds)
    }
}
