/// An error from the LDAP bridge: what failed, the LDAP result code, and the server's message.
///
/// Every failure of a connection, bind, search or write surfaces as an `LDAPError`; a reader that
/// throws never returns a partial snapshot. `description` never contains a password.
public struct LDAPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure, independent of the server's wording.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration, passwordUnavailable, connectFailed, tlsFailed, serverDown, timeout
            case invalidCredentials, insufficientAccess, sizeLimitExceeded, timeLimitExceeded, adminLimitExceeded
            case referral, noSuchObject, busy, unwillingToPerform, memberAttributeUnreadable, unresolvedMember
            case invalidEntry, duplicateIdentifier, invalidInput, alreadyExists, constraintViolation
            case objectClassViolation, invalidAttributeSyntax, notFound, ambiguous, uidNumberExhausted
            case contention, unsupported, protocolError, other
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        public var description: String { base.rawValue }

        /// The configuration is incomplete or contradictory (no URI, unusable filter, …).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The bind password file or environment variable could not be read.
        public static let passwordUnavailable = Code(.passwordUnavailable)
        /// The server could not be reached (refused, unreachable, DNS).
        public static let connectFailed = Code(.connectFailed)
        /// TLS could not be established (handshake, certificate verification, StartTLS refused).
        public static let tlsFailed = Code(.tlsFailed)
        /// The connection was lost during an operation (LDAP_SERVER_DOWN).
        public static let serverDown = Code(.serverDown)
        /// The client-side operation or network timeout expired.
        public static let timeout = Code(.timeout)
        /// Bind rejected (rc 49).
        public static let invalidCredentials = Code(.invalidCredentials)
        /// The bind identity may not perform the operation (rc 50).
        public static let insufficientAccess = Code(.insufficientAccess)
        /// The server's size limit cut the result short (rc 4): the result is incomplete.
        public static let sizeLimitExceeded = Code(.sizeLimitExceeded)
        /// The server's time limit cut the result short (rc 3): the result is incomplete.
        public static let timeLimitExceeded = Code(.timeLimitExceeded)
        /// An administrative limit was exceeded (rc 11).
        public static let adminLimitExceeded = Code(.adminLimitExceeded)
        /// The server answered with a referral (rc 10), which is never chased.
        public static let referral = Code(.referral)
        /// The search base or target entry does not exist (rc 32).
        public static let noSuchObject = Code(.noSuchObject)
        /// The server is busy or unavailable (rc 51, 52).
        public static let busy = Code(.busy)
        /// The server refused to perform the operation (rc 53).
        public static let unwillingToPerform = Code(.unwillingToPerform)
        /// Groups came back without their member attribute although the schema requires members:
        /// the bind identity cannot read membership, so the read is not trustworthy.
        public static let memberAttributeUnreadable = Code(.memberAttributeUnreadable)
        /// A member could not be resolved to a person or group and the reader is strict.
        public static let unresolvedMember = Code(.unresolvedMember)
        /// An entry lacks a required attribute (identifier, login name) or has an unusable value.
        public static let invalidEntry = Code(.invalidEntry)
        /// Two entries share the same immutable identifier.
        public static let duplicateIdentifier = Code(.duplicateIdentifier)
        /// Input meant for the directory was rejected before it reached the server.
        public static let invalidInput = Code(.invalidInput)
        /// The entry or value exists already (rc 68, 20).
        public static let alreadyExists = Code(.alreadyExists)
        /// A constraint was violated (rc 19).
        public static let constraintViolation = Code(.constraintViolation)
        /// The change would break the entry's object classes (rc 65, e.g. removing the last member).
        public static let objectClassViolation = Code(.objectClassViolation)
        /// The server rejected a value's syntax (rc 21).
        public static let invalidAttributeSyntax = Code(.invalidAttributeSyntax)
        /// A looked-up person or group does not exist.
        public static let notFound = Code(.notFound)
        /// A lookup that must match one entry matched several.
        public static let ambiguous = Code(.ambiguous)
        /// No uidNumber is left in the configured range.
        public static let uidNumberExhausted = Code(.uidNumberExhausted)
        /// Concurrent writers kept colliding; the allocation gave up.
        public static let contention = Code(.contention)
        /// The operation is not supported with this configuration.
        public static let unsupported = Code(.unsupported)
        /// The server's answer could not be decoded.
        public static let protocolError = Code(.protocolError)
        /// Any other LDAP result code.
        public static let other = Code(.other)
    }

    public var code: Code
    /// The LDAP result code (negative values are libldap's client-side codes), when there is one.
    public var resultCode: Int32?
    /// What the bridge was doing, in words ("search ou=people,dc=example,dc=org").
    public var message: String
    /// The server's (or libldap's) diagnostic text, when there is one.
    public var serverMessage: String?

    public init(_ code: Code, _ message: String, resultCode: Int32? = nil, serverMessage: String? = nil) {
        self.code = code
        self.message = message
        self.resultCode = resultCode
        let trimmed = serverMessage?.trimmingWhitespace()
        self.serverMessage = (trimmed?.isEmpty ?? true) ? nil : trimmed
    }

    /// True when trying the same operation again later may succeed (lost connection, timeouts,
    /// busy server, write contention). Wrong credentials, limits and bad input are not retriable.
    public var isRetriable: Bool {
        switch code {
        case .serverDown, .timeout, .busy, .connectFailed, .contention: true
        default: false
        }
    }

    public var description: String {
        var text = message
        if let resultCode { text += " (LDAP rc=\(resultCode))" }
        if let serverMessage { text += ": \(serverMessage)" }
        return text
    }

    /// Maps an LDAP result code to a `Code`.
    static func code(forResult rc: Int32) -> Code {
        switch rc {
        case -1: .serverDown  // LDAP_SERVER_DOWN
        case -5: .timeout  // LDAP_TIMEOUT
        case -11: .connectFailed  // LDAP_CONNECT_ERROR
        case -7, -9: .invalidInput  // LDAP_FILTER_ERROR, LDAP_PARAM_ERROR
        case -12: .unsupported  // LDAP_NOT_SUPPORTED
        case 3: .timeLimitExceeded
        case 4: .sizeLimitExceeded
        case 10, 9: .referral
        case 11: .adminLimitExceeded
        case 16: .constraintViolation  // noSuchAttribute is handled by callers that expect it
        case 19: .constraintViolation
        case 20, 68: .alreadyExists
        case 21: .invalidAttributeSyntax
        case 32: .noSuchObject
        case 34: .invalidInput  // invalidDNSyntax
        case 48, 49: .invalidCredentials
        case 50: .insufficientAccess
        case 51, 52: .busy
        case 53: .unwillingToPerform
        case 65, 67, 69: .objectClassViolation
        case 2, -2, -3, -4: .protocolError
        default: .other
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
