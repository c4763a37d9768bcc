public import Foundation

/// The process exit statuses of every `accesssync` command: one table, documented in
/// `docs/exit-codes.md`. Values follow BSD `sysexits.h` where one fits (64 usage, 65 data, 66 no
/// input, 73 cannot create, 75 temporary failure, 78 configuration); the tool's own outcomes use
/// small numbers, and unreachable services 80–83.
public enum ExitStatus: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// Success; for `plan`: no changes pending.
    case ok = 0
    /// An unexpected failure (a bug or an unclassified error).
    case failure = 1
    /// `plan`: changes are pending. Like `terraform plan -detailed-exitcode`.
    case changesPending = 2
    /// The guard blocked the run: nothing was applied; approve the plan or raise a threshold.
    case blockedByGuard = 3
    /// Some changes were applied and some failed; the run stopped or skipped dependants.
    case partialFailure = 4
    /// A verification found a problem (`audit verify`: broken chain; `doctor`: a failed check).
    case verificationFailed = 6
    /// Bad command line (unknown option, missing argument, invalid value).
    case usage = 64
    /// Invalid input data: a malformed LDIF file or policy files that do not validate.
    case dataError = 65
    /// An input file or directory does not exist or cannot be read.
    case noInput = 66
    /// An output file or directory cannot be created or written.
    case cannotCreate = 73
    /// Another writer holds the run lock; try again later.
    case lockHeld = 75
    /// The configuration file is missing, malformed, or names an unreadable secret.
    case configuration = 78
    /// The LDAP directory cannot be reached, refused the bind, or returned an incomplete result.
    case ldapUnavailable = 80
    /// PostgreSQL cannot be reached or refused the connection.
    case postgresUnavailable = 81
    /// The Kubernetes API cannot be reached or refused the credentials.
    case kubernetesUnavailable = 82
    /// The JupyterHub API cannot be reached or refused the token.
    case hubUnavailable = 83

    /// A stable lower-case name, e.g. `blocked-by-guard` (used in JSON output and docs).
    public var name: String {
        switch self {
        case .ok: "ok"
        case .failure: "failure"
        case .changesPending: "changes-pending"
        case .blockedByGuard: "blocked-by-guard"
        case .partialFailure: "partial-failure"
        case .verificationFailed: "verification-failed"
        case .usage: "usage"
        case .dataError: "data-error"
        case .noInput: "no-input"
        case .cannotCreate: "cannot-create"
        case .lockHeld: "lock-held"
        case .configuration: "configuration"
        case .ldapUnavailable: "ldap-unavailable"
        case .postgresUnavailable: "postgres-unavailable"
        case .kubernetesUnavailable: "kubernetes-unavailable"
        case .hubUnavailable: "hub-unavailable"
        }
    }

    /// One line for the documentation table and `--help`.
    public var summary: String {
        switch self {
        case .ok: "success; for plan: no changes pending"
        case .failure: "unexpected failure"
        case .changesPending: "plan: changes are pending"
        case .blockedByGuard: "the guard blocked the run; nothing was applied"
        case .partialFailure: "some changes were applied, some failed"
        case .verificationFailed: "a verification failed (audit verify, doctor)"
        case .usage: "bad command line"
        case .dataError: "invalid input data (LDIF, policy files)"
        case .noInput: "an input file or directory is missing or unreadable"
        case .cannotCreate: "an output file or directory cannot be written"
        case .lockHeld: "another run holds the lock; try again later"
        case .configuration: "configuration missing, malformed or naming an unreadable secret"
        case .ldapUnavailable: "LDAP unreachable, bind refused, or incomplete result"
        case .postgresUnavailable: "PostgreSQL unreachable or connection refused"
        case .kubernetesUnavailable: "Kubernetes API unreachable or credentials refused"
        case .hubUnavailable: "JupyterHub API unreachable or token refused"
        }
    }

    public var description: String { "\(rawValue) (\(name))" }
}

/// An error that knows which exit status it means.
public protocol ExitStatusProviding: Error {
    var exitStatus: ExitStatus { get }
}

/// A command failure with its exit status and one actionable message (never containing secrets).
public struct CommandFailure: ExitStatusProviding, CustomStringConvertible, LocalizedError, Equatable {
    public var exitStatus: ExitStatus
    public var message: String

    public init(_ exitStatus: ExitStatus, _ message: String) {
        self.exitStatus = exitStatus
        self.message = message
    }

    public var description: String { message }
    public var errorDescription: String? { message }
}
