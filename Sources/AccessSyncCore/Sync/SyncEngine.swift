public import Foundation
public import Logging
public import RBACModel
import PolicyStore

/// What a sync or plan run should do.
public struct SyncOptions: Sendable {
    public enum Mode: String, Sendable { case sync, plan }
    public var mode: Mode
    /// Send writes with `dryRun=All` (plan --server-dry-run).
    public var serverDryRun: Bool
    public var diff: DiffOptions
    public var thresholds: GuardThresholds
    public var now: Date
    /// The OS user running the command (the store adds the authenticated database role).
    public var actor: String
    /// `--allow-deletes N`: losses and deletions up to N do not block (interactive use).
    public var allowDeletes: Int?
    /// `sync --only-user UID` / `add-user --sync`: apply only the changes concerning this person
    /// (the whole directory and policy are still read and planned).
    public var onlyUser: String?
    /// What a rename (same identifier, new uid) does: retire the old namespace and create the new
    /// one, or block the run until the plan is approved.
    public var onRename: RenameHandling

    public init(
        mode: Mode, serverDryRun: Bool = false, diff: DiffOptions = DiffOptions(),
        thresholds: GuardThresholds = GuardThresholds(), now: Date, actor: String, allowDeletes: Int? = nil,
        onlyUser: String? = nil, onRename: RenameHandling = .retireAndCreate
    ) {
        self.allowDeletes = allowDeletes
        self.onlyUser = onlyUser
        self.onRename = onRename
        self.mode = mode
        self.serverDryRun = serverDryRun
        self.diff = diff
        self.thresholds = thresholds
        self.now = now
        self.actor = actor
    }
}

/// Everything a run produced: the plan, the verdict, the outcomes, and the summary.
public struct SyncReport: Sendable {
    public var runID: Int64?
    public var status: RunStatus
    public var desired: DesiredState
    public var changes: ChangeSet
    public var verdict: GuardVerdict?
    public var outcomes: [ChangeOutcome]
    public var summary: RunSummary
    /// For a person-scoped run: the person and how many changes were left for the next full sync.
    public var scope: PersonScope?
    /// The full plan's changes when the run was scoped to one person (nil otherwise).
    public var unscopedChanges: ChangeSet?

    public init(
        runID: Int64?, status: RunStatus, desired: DesiredState, changes: ChangeSet, verdict: GuardVerdict?,
        outcomes: [ChangeOutcome], summary: RunSummary, scope: PersonScope? = nil, unscopedChanges: ChangeSet? = nil
    ) {
        self.runID = runID
        self.status = status
        self.desired = desired
        self.changes = changes
        self.verdict = verdict
        self.outcomes = outcomes
        self.summary = summary
        self.scope = scope
        self.unscopedChanges = unscopedChanges
    }
}

/// Why a run stopped before or during applying.
public enum SyncError: Error, Sendable, CustomStringConvertible {
    case directoryUnreadable(String)
    case policyUnreadable(String)
    case clusterUnobservable(String)
    case hubUnobservable(String)
    case blocked(planHash: String, findings: [GuardFinding])
    case lockLost(String)
    case auditUnwritable(String)
    case storeUnavailable(String)
    /// The plan has errors (invalid names, unknown templates...): nothing is applied.
    case planningFailed([String])
    /// Another writer holds the lock.
    case lockHeld(String)

    public var description: String {
        switch self {
        case .directoryUnreadable(let why): "the directory could not be read completely; nothing was changed: \(why)"
        case .policyUnreadable(let why): "the policy could not be read; nothing was changed: \(why)"
        case .clusterUnobservable(let why): "the cluster could not be observed; nothing was changed: \(why)"
        case .hubUnobservable(let why): "the hub could not be observed; nothing was changed: \(why)"
        case .blocked(let hash, let findings):
            "the run is blocked by the safety guard (plan \(hash)): "
                + findings.filter(\.blocking).map(\.description).joined(separator: "; ")
                + ". Review with `accesssync plan`, then `accesssync approve \(hash)`."
        case .lockLost(let why): "the writer lock was lost; applying stopped: \(why)"
        case .auditUnwritable(let why): "audit rows could not be written; applying stopped: \(why)"
        case .storeUnavailable(let why): "the policy database could not be read; nothing was changed: \(why)"
        case .planningFailed(let errors):
            "planning failed; nothing was changed:\n" + errors.map { "  " + $0 }.joined(separator: "\n")
        case .lockHeld(let why): why
        }
    }
}

/// The spine of one run: lock → read LDAP → read policy → plan → observe → diff → guard →
/// audit intent → apply (revocations first, in dependency waves) → audit outcomes → summary.
///
/// Reads are complete or the run stops before any write. Each wave is preceded by a lock check
/// and by the intent rows of its changes; if outcome rows cannot be written, applying stops.
public struct SyncEngine: Sendable {
    public var directory: any DirectorySource
    public var policy: any PolicyProvider
    public var cluster: any ClusterTarget
    public var hub: (any HubPort)?
    public var store: any RunStore
    public var settings: PlanSettings
    public var logger: Logger

    public init(
        directory: any DirectorySource, policy: any PolicyProvider, cluster: any ClusterTarget, hub: (any HubPort)?,
        store: any RunStore, settings: PlanSettings, logger: Logger
    ) {
        self.directory = directory
        self.policy = policy
        self.cluster = cluster
        self.hub = hub
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    /// `plan --server-dry-run`: every Kubernetes change sent with `dryRun=All`, so admission
    /// (quota, policy, webhooks) can reject it without effect. One call: the Kubernetes target
    /// orders the changes and reports objects inside a namespace that only a dry run created.
    func serverDryRun(_ changeSet: ChangeSet) async -> [ChangeOutcome] {
        let kubeChanges = changeSet.changes.filter { if case .kube = $0.target { true } else { false } }
        guard !kubeChanges.isEmpty else { return [] }
        return await cluster.apply(kubeChanges, dryRun: true)
    }

    public func run(_ options: SyncOptions) async throws -> SyncReport {
        let writes = options.mode == .sync
        var phases: [String: Double] = [:]
        func timed<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
            let start = ContinuousClock.now
            defer {
                let elapsed = ContinuousClock.now - start
                phases[name] = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            return try await body()
        }

        var lock: (any WriterLock)? = nil
        var runID: Int64? = nil
        if writes {
            do {
                lock = try await store.acquireWriterLock()
            } catch let error as RunLockError {
                if case .lockHeld = error { throw SyncError.lockHeld(error.description) }
                throw SyncError.storeUnavailable(error.description)
            } catch {
                throw SyncError.storeUnavailable(String(describing: error))
            }
            do {
                runID = try await store.beginRun(
                    mode: options.onlyUser.map { "\(options.mode.rawValue) --only-user \($0)" } ?? options.mode.rawValue,
                    actor: options.actor)
            } catch {
                await lock?.release()
                throw SyncError.storeUnavailable(String(describing: error))
            }
        }
        var summary = RunSummary()
        summary.onlyUser = options.onlyUser

        func fail(_ error: SyncError, status: RunStatus = .failed) async -> SyncError {
            summary.error = error.description
            summary.phaseSeconds = phases
            if let runID { try? await store.finishRun(id: runID, status: status, summary: summary) }
            await lock?.release()
            logger.error("run stopped", metadata: ["run.error": "\(error)"])
            return error
        }

        let snapshot: DirectorySnapshot
        do {
            logger.info("reading the directory")
            snapshot = try await timed("read_directory") { try await directory.readDirectory(now: options.now) }
            logger.info(
                "directory read",
                metadata: [
                    "people": "\(snapshot.people.count)", "groups": "\(snapshot.groups.count)",
                    "seconds": "\(String(format: "%.2f", phases["read_directory"] ?? 0))",
                ])
        } catch {
            throw await fail(.directoryUnreadable(String(describing: error)))
        }
        let currentPolicy: Policy
        do {
            currentPolicy = try await timed("read_policy") { try await policy.loadPolicy() }
        } catch let error as PostgresError where error.code == .connectionFailed || error.code == .connectionLost {
            throw await fail(.storeUnavailable(error.description))
        } catch {
            throw await fail(.policyUnreadable(String(describing: error)))
        }
        let desired = await timed("plan") {
            Planner.plan(directory: snapshot, policy: currentPolicy, settings: settings, now: options.now)
        }
        let planningErrors = desired.diagnostics.filter { $0.severity == .error }.sorted()
        guard planningErrors.isEmpty else {
            throw await fail(.planningFailed(planningErrors.map { "\($0)" }))
        }
        let observed: ObservedCluster
        do {
            logger.info("observing the cluster", metadata: ["desired.objects": "\(desired.objects.count)"])
            observed = try await timed("observe_cluster") { try await cluster.observe() }
        } catch {
            throw await fail(.clusterUnobservable(String(describing: error)))
        }
        var hubObserved: HubObservedState?
        if let hub {
            do {
                hubObserved = try await timed("observe_hub") { try await hub.observe() }
            } catch {
                throw await fail(.hubUnobservable(String(describing: error)))
            }
        }
        let fullChangeSet = await timed("diff") {
            Differ.diff(
                desired: desired, observed: observed, hub: hubObserved, settings: settings, options: options.diff,
                now: options.now)
        }
        var changeSet = fullChangeSet
        var scope: PersonScope?
        if let uid = options.onlyUser {
            let matches = snapshot.people.values.filter { $0.uid == uid }
            guard matches.count == 1, let person = matches.first else {
                throw await fail(
                    .planningFailed([
                        matches.isEmpty
                            ? "--only-user \(uid): no person with that login name in the directory"
                            : "--only-user \(uid): \(matches.count) people have that login name"
                    ]))
            }
            let entitlement = desired.entitlements[person.id]
            let personScope = PersonScope(
                person: person.id, uid: uid, subject: entitlement?.subject
                    ?? desired.subjectOwners.first(where: { $0.value == person.id })?.key,
                hubUsername: entitlement?.hubUsername)
            let restricted = personScope.restrict(fullChangeSet, observedHub: hubObserved)
            changeSet = restricted.changes
            scope = personScope
            summary.changesLeftForFullSync = restricted.changesLeft
            logger.info(
                "scoped to one person",
                metadata: [
                    "person": "\(uid)", "changes.kept": "\(changeSet.changes.count)",
                    "changes.left": "\(restricted.changesLeft)",
                ])
        }
        let baseline = Guard.baseline(directory: snapshot, desired: desired)
        let previous: RunBaseline?
        let approvals: Set<String>
        do {
            previous = try await store.lastGoodBaseline()
            let hash = Guard.planHash(changeSet)
            approvals = try await store.isApproved(planHash: hash) ? [hash] : []
        } catch {
            throw await fail(.storeUnavailable(String(describing: error)))
        }
        var verdict = Guard.evaluate(
            changes: changeSet, desired: desired,
            observedOwnedCounts: Guard.ownedCounts(observed: observed, hub: hubObserved), baseline: previous,
            currentBaseline: baseline, thresholds: options.thresholds,
            protectedNamespaces: settings.protectedNamespaces, approvedPlanHashes: approvals,
            allowedDeletions: options.allowDeletes)
        let renamed = PlanFormatting.renames(changes: changeSet, desired: desired)
        if options.onRename == .block, !renamed.isEmpty, !approvals.contains(verdict.planHash) {
            verdict.findings.append(
                GuardFinding(
                    code: "rename",
                    message: "\(renamed.count) renamed person(s) (safety.onRename: block): " + renamed.joined(separator: "; "),
                    blocking: true))
            verdict.blocked = true
        }

        summary.planHash = verdict.planHash
        summary.changesPlanned = changeSet.changes.count
        summary.peopleLosingAccess = verdict.peopleLosingAccess.count
        summary.peopleWithAccess = baseline.peopleWithAccess
        summary.conflicts = changeSet.conflicts.count
        summary.baseline = baseline
        summary.findings = verdict.findings.map(\.description)

        guard writes, let runID, let lock else {
            var outcomes: [ChangeOutcome] = []
            if options.serverDryRun {
                outcomes = await timed("server_dry_run") { await serverDryRun(changeSet) }
            }
            summary.phaseSeconds = phases
            return SyncReport(
                runID: nil, status: .succeeded, desired: desired, changes: changeSet, verdict: verdict,
                outcomes: outcomes, summary: summary, scope: scope, unscopedChanges: scope == nil ? nil : fullChangeSet)
        }
        if verdict.blocked {
            throw await fail(.blocked(planHash: verdict.planHash, findings: verdict.findings), status: .blocked)
        }
        if approvals.contains(verdict.planHash) {
            do {
                try await store.markApprovalUsed(planHash: verdict.planHash, runID: runID)
            } catch {
                // A one-time approval that cannot be used up must not be applied (it could be again).
                throw await fail(.storeUnavailable("cannot mark the approval used: \(error)"))
            }
        }

        // Apply in waves: revocations first, then by dependency depth.
        var outcomes: [ChangeOutcome] = []
        var failed: Set<String> = []
        let applyStart = ContinuousClock.now
        let waves = ApplySchedule.waves(changeSet.changes)
        var applied = 0
        for (index, wave) in waves.enumerated() {
            logger.info(
                "applying",
                metadata: [
                    "wave": "\(index + 1)/\(waves.count)", "wave.changes": "\(wave.count)",
                    "done": "\(applied)/\(changeSet.changes.count)",
                ])
            applied += wave.count
            do {
                try await lock.check()
            } catch {
                throw await fail(.lockLost(String(describing: error)), status: .interrupted)
            }
            var runnable: [Change] = []
            var skipped: [ChangeOutcome] = []
            for change in wave {
                if let blocker = change.dependsOn.first(where: failed.contains) {
                    failed.insert(change.id)
                    skipped.append(ChangeOutcome(changeID: change.id, status: .skipped, message: "dependency \(blocker) did not succeed"))
                } else {
                    runnable.append(change)
                }
            }
            do {
                try await store.appendAudit(runnable.map { AuditEvent(phase: .intent, change: $0) }, runID: runID, actor: options.actor)
            } catch {
                throw await fail(.auditUnwritable(String(describing: error)), status: .interrupted)
            }
            let kubeChanges = runnable.filter { if case .kube = $0.target { true } else { false } }
            let hubChanges = runnable.filter { if case .hub = $0.target { true } else { false } }
            async let kubeOutcomes = cluster.apply(kubeChanges, dryRun: options.serverDryRun)
            async let hubOutcomes: [ChangeOutcome] = hub?.apply(hubChanges, dryRun: options.serverDryRun) ?? hubChanges.map {
                ChangeOutcome(changeID: $0.id, status: .skipped, message: "no hub target configured")
            }
            let waveOutcomes = await kubeOutcomes + hubOutcomes + skipped
            let outcomeByID = Dictionary(waveOutcomes.map { ($0.changeID, $0) }, uniquingKeysWith: { first, _ in first })
            var events: [AuditEvent] = []
            for change in wave {
                let outcome = outcomeByID[change.id]
                    ?? ChangeOutcome(changeID: change.id, status: .failed, message: "the target returned no outcome")
                if outcome.status != .succeeded { failed.insert(change.id) }
                events.append(AuditEvent(phase: .outcome, change: change, outcome: outcome))
                outcomes.append(outcome)
            }
            do {
                try await store.appendAudit(events, runID: runID, actor: options.actor)
            } catch {
                throw await fail(.auditUnwritable(String(describing: error)), status: .interrupted)
            }
        }
        let applyElapsed = ContinuousClock.now - applyStart
        phases["apply"] = Double(applyElapsed.components.seconds) + Double(applyElapsed.components.attoseconds) / 1e18

        summary.changesSucceeded = outcomes.filter { $0.status == .succeeded }.count
        summary.changesFailed = outcomes.filter { $0.status == .failed }.count
        summary.changesSkipped = outcomes.filter { $0.status == .skipped }.count
        summary.changesNeedingReplan = outcomes.filter { $0.status == .needsReplan }.count
        summary.headHash = try? await store.auditHeadHash()
        summary.phaseSeconds = phases
        let status: RunStatus = summary.changesSucceeded == outcomes.count ? .succeeded : .partial
        try await store.finishRun(id: runID, status: status, summary: summary)
        await lock.release()
        logger.info(
            "run finished",
            metadata: [
                "run.id": "\(runID)", "run.status": "\(status.rawValue)", "changes.planned": "\(summary.changesPlanned)",
                "changes.failed": "\(summary.changesFailed)", "audit.head": "\(summary.headHash ?? "-")",
            ])
        return SyncReport(
            runID: runID, status: status, desired: desired, changes: changeSet, verdict: verdict, outcomes: outcomes,
            summary: summary, scope: scope, unscopedChanges: scope == nil ? nil : fullChangeSet)
    }
}
