public import Foundation
public import RBACModel

// The sync engine talks to the outside world only through these ports. Each product module
// (LDAPBridge, PolicyStore, KubeTarget, HubTarget) is adapted to one of them in `Adapters/`;
// tests of the engine's control flow can use in-memory implementations, while integration tests
// use the real adapters against real servers.

/// Reads a complete directory snapshot, or throws (never a partial snapshot).
public protocol DirectorySource: Sendable {
    func readDirectory(now: Date) async throws -> DirectorySnapshot
}

/// Reads the validated policy, or throws naming the inconsistent row.
public protocol PolicyProvider: Sendable {
    func loadPolicy() async throws -> Policy
}

/// The outcome of applying one change.
public struct ChangeOutcome: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        case succeeded, failed, skipped
        /// The object was not what we observed (precondition/RV conflict): re-plan next run.
        case needsReplan = "needs-replan"
    }

    public var changeID: String
    public var status: Status
    public var message: String?
    public var httpStatus: Int?

    public init(changeID: String, status: Status, message: String? = nil, httpStatus: Int? = nil) {
        self.changeID = changeID
        self.status = status
        self.message = message
        self.httpStatus = httpStatus
    }
}

/// The Kubernetes side: observe owned objects, apply changes (or render them).
public protocol ClusterTarget: Sendable {
    func observe() async throws -> ObservedCluster
    /// Applies independent changes (no change depends on another in the same call).
    func apply(_ changes: [Change], dryRun: Bool) async -> [ChangeOutcome]
}

/// The JupyterHub side. The hub has no labels: the port keeps AccessSync's registry of the hub
/// users and groups it manages (in PostgreSQL in production) and reports it in the observed state.
public protocol HubPort: Sendable {
    func observe() async throws -> HubObservedState
    func apply(_ changes: [Change], dryRun: Bool) async -> [ChangeOutcome]
}

/// A held writer lock. `check()` throws when the lock was lost (connection dropped, terminated).
public protocol WriterLock: Sendable {
    func check() async throws
    func release() async
}

/// One audit row the engine asks the store to append.
public struct AuditEvent: Hashable, Sendable {
    public enum Phase: String, Hashable, Sendable { case intent, outcome }
    public var phase: Phase
    public var change: Change
    public var outcome: ChangeOutcome?

    public init(phase: Phase, change: Change, outcome: ChangeOutcome? = nil) {
        self.phase = phase
        self.change = change
        self.outcome = outcome
    }
}

/// The final state of a run as recorded in the store.
public enum RunStatus: String, Hashable, Sendable, Codable {
    case running, succeeded, failed, blocked, interrupted, partial
}

/// Persistence the engine needs: lock, run records, baselines, approvals, audit and hub registry.
public protocol RunStore: Sendable {
    /// Takes the single-writer lock or throws an error describing the holder.
    func acquireWriterLock() async throws -> any WriterLock
    func beginRun(mode: String, actor: String) async throws -> Int64
    func finishRun(id: Int64, status: RunStatus, summary: RunSummary) async throws
    /// Counts of the last successful run, for the guard's shrink check.
    func lastGoodBaseline() async throws -> RunBaseline?
    /// True when an operator approved exactly this plan and the approval is unused.
    func isApproved(planHash: String) async throws -> Bool
    func markApprovalUsed(planHash: String, runID: Int64) async throws
    /// Appends audit rows atomically; throws if they could not be written (the engine stops).
    func appendAudit(_ events: [AuditEvent], runID: Int64, actor: String) async throws
    /// The audit chain head hash after the run's rows.
    func auditHeadHash() async throws -> String?
}

/// Counts and figures that end up in the run record, logs and metrics.
public struct RunSummary: Hashable, Sendable, Codable {
    public var planHash: String?
    public var changesPlanned: Int
    public var changesSucceeded: Int
    public var changesFailed: Int
    public var changesSkipped: Int
    public var changesNeedingReplan: Int
    public var peopleLosingAccess: Int
    public var peopleWithAccess: Int
    public var conflicts: Int
    public var baseline: RunBaseline?
    public var phaseSeconds: [String: Double]
    public var headHash: String?
    public var error: String?
    public var findings: [String]
    /// A person-scoped run (`sync --only-user`, `add-user --sync`): the person's login name.
    public var onlyUser: String?
    /// A person-scoped run: changes for other people not applied (left for the next full sync).
    public var changesLeftForFullSync: Int?

    public init(
        planHash: String? = nil, changesPlanned: Int = 0, changesSucceeded: Int = 0, changesFailed: Int = 0,
        changesSkipped: Int = 0, changesNeedingReplan: Int = 0, peopleLosingAccess: Int = 0,
        peopleWithAccess: Int = 0, conflicts: Int = 0, baseline: RunBaseline? = nil,
        phaseSeconds: [String: Double] = [:], headHash: String? = nil, error: String? = nil, findings: [String] = []
    ) {
        self.planHash = planHash
        self.changesPlanned = changesPlanned
        self.changesSucceeded = changesSucceeded
        self.changesFailed = changesFailed
        self.changesSkipped = changesSkipped
        self.changesNeedingReplan = changesNeedingReplan
        self.peopleLosingAccess = peopleLosingAccess
        self.peopleWithAccess = peopleWithAccess
        self.conflicts = conflicts
        self.baseline = baseline
        self.phaseSeconds = phaseSeconds
        self.headHash = headHash
        self.error = error
        self.findings = findings
    }
}
