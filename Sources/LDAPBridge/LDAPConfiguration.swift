import RBACModel

/// How to reach and bind to an LDAP server, and what to read from it.
///
/// Unset values fall back to OpenLDAP's client conventions, which libldap reads itself:
/// `LDAPURI`/`URI`, `LDAPBASE`/`BASE`, `LDAPTLS_CACERT`/`TLS_CACERT` (environment, `ldap.conf`,
/// `~/.ldaprc`). Anything set here overrides them. TLS certificate verification is always
/// `demand` unless `tls.verify` says otherwise explicitly (an `ldap.conf` `TLS_REQCERT never` is
/// not honoured: verification is on by default).
public struct LDAPConfiguration: Sendable, Hashable {
    /// `ldap://host:port`, `ldaps://host:port` or `ldapi://`. `nil`: libldap's default (`LDAPURI`).
    public var uri: String?
    /// The base DN for people and group searches when their own bases are relative or unset.
    /// `nil`: libldap's default (`LDAPBASE`).
    public var baseDN: String?
    /// The DN to bind as; `nil` binds anonymously.
    public var bindDN: String?
    /// Where the bind password comes from (never the command line).
    public var password: PasswordSource?
    public var tls: TLSOptions
    public var timeouts: Timeouts
    /// Entries per page of an RFC 2696 paged search.
    public var pageSize: Int
    /// The directory's schema: object classes and attribute names.
    public var schema: DirectorySchema
    /// Where people live and which entries count as people.
    public var people: SearchSpec
    /// Where groups live and which entries count as groups.
    public var groups: SearchSpec
    /// How a disabled person is recognised (OpenLDAP has no standard attribute for it).
    public var disabled: DisabledTest
    /// What to do with members that resolve to no person or group in scope.
    public var unresolvedMembers: UnresolvedMemberPolicy
    /// Checks that the bind identity can really read group membership.
    public var memberReadCheck: MemberReadCheck

    public init(
        uri: String? = nil, baseDN: String? = nil, bindDN: String? = nil, password: PasswordSource? = nil,
        tls: TLSOptions = TLSOptions(), timeouts: Timeouts = Timeouts(), pageSize: Int = 500,
        schema: DirectorySchema = .rfc2307bis, people: SearchSpec = SearchSpec(base: "ou=people"),
        groups: SearchSpec = SearchSpec(base: "ou=groups"), disabled: DisabledTest? = nil,
        unresolvedMembers: UnresolvedMemberPolicy = .tolerate, memberReadCheck: MemberReadCheck = MemberReadCheck()
    ) {
        self.uri = uri
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.password = password
        self.tls = tls
        self.timeouts = timeouts
        self.pageSize = pageSize
        self.schema = schema
        self.people = people
        self.groups = groups
        self.disabled = disabled ?? schema.defaultDisabledTest
        self.unresolvedMembers = unresolvedMembers
        self.memberReadCheck = memberReadCheck
    }

    /// Where the bind password comes from.
    public enum PasswordSource: Sendable, Hashable {
        /// A file holding the password; one trailing newline is ignored.
        case file(String)
        /// An environment variable holding the password.
        case environment(String)
    }

    /// TLS settings. Verification is on (`demand`) unless set otherwise.
    public struct TLSOptions: Sendable, Hashable {
        /// For `ldap://` URIs: upgrade with StartTLS (default). Ignored for `ldaps://` and `ldapi://`.
        public var startTLS: Bool
        /// PEM file of trusted CA certificates; `nil`: libldap's default (`LDAPTLS_CACERT`, `ldap.conf`).
        public var caFile: String?
        /// Client certificate (PEM) for servers that require one.
        public var certificateFile: String?
        /// Key of the client certificate (PEM).
        public var keyFile: String?
        public var verify: Verification

        public enum Verification: Sendable, Hashable {
            /// The server certificate must verify against the trusted CAs and match the host.
            case demand
            /// No verification at all. Only for tests against throwaway servers.
            case insecureNoVerification
        }

        public init(
            startTLS: Bool = true, caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
            verify: Verification = .demand
        ) {
            self.startTLS = startTLS
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verify = verify
        }
    }

    /// Client- and server-side time bounds.
    public struct Timeouts: Sendable, Hashable {
        /// TCP connect (and TLS handshake) timeout.
        public var network: Duration
        /// How long to wait for any single response from the server before giving up.
        public var operation: Duration
        /// Time limit sent with each search request; the server answers rc 3 when it is exceeded.
        /// `nil` leaves it to the server.
        public var searchTimeLimitSeconds: Int?

        public init(network: Duration = .seconds(10), operation: Duration = .seconds(120), searchTimeLimitSeconds: Int? = nil) {
            self.network = network
            self.operation = operation
            self.searchTimeLimitSeconds = searchTimeLimitSeconds
        }
    }

    /// A search base, scope and filter.
    public struct SearchSpec: Sendable, Hashable {
        /// The base DN. When it does not end with the configuration's `baseDN`, the `baseDN` is
        /// appended (so `ou=people` means `ou=people,<baseDN>`); an absolute DN is used as is.
        public var base: String?
        public var scope: LDAPScope
        /// An extra filter ANDed with the schema's object-class filter, e.g. `(!(uid=svc-*))`.
        public var filter: String?

        public init(base: String? = nil, scope: LDAPScope = .subtree, filter: String? = nil) {
            self.base = base
            self.scope = scope
            self.filter = filter
        }
    }

    /// What the reader does with a member value that is neither a person nor a group in scope
    /// (a dangling DN, a person outside the people base, an unknown `memberUid`).
    public enum UnresolvedMemberPolicy: Sendable, Hashable {
        /// Keep it in `Group.unresolvedMembers` so planning can report it.
        case tolerate
        /// Fail the read.
        case fail
    }

    /// Resolves a search base against `baseDN`.
    func resolve(base: String?, defaultBase: String?) throws(LDAPError) -> String {
        let root = baseDN ?? defaultBase
        guard let base, !base.isEmpty else {
            guard let root else {
                throw LDAPError(.invalidConfiguration, "no search base: set baseDN, a search base or LDAPBASE")
            }
            return root
        }
        guard let root, !root.isEmpty else { return base }
        do {
            let baseDN = try DistinguishedName(base)
            let rootDN = try DistinguishedName(root)
            return baseDN.isWithin(rootDN) ? base : "\(base),\(root)"
        } catch {
            throw LDAPError(.invalidConfiguration, "invalid search base \"\(base)\": \(error.reason)")
        }
    }
}

/// The scope of a search.
public enum LDAPScope: Sendable, Hashable {
    case base, oneLevel, subtree, children
}
