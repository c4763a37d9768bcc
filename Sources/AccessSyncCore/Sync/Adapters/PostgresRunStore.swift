import Foundation
public import PolicyStore
public import RBACModel

/// The engine's persistence in PostgreSQL: run lock, run records, approvals and the audit chain.
///
/// One connection for run records and audit rows (libpq: one operation at a time per connection,
/// which the actor guarantees); the writer lock lives on its own dedicated connection (`RunLock`).
public actor PostgresRunStore: RunStore {
    let options: PostgresConnectionOptions
    let connection: PGConnection
    let osUser: String
    /// Intent rows by change id, so that each outcome row links to its intent.
    var intents: [String: AuditRecord] = [:]

    /// How long to wait for another writer's lock (`sync.waitForLock`); nil: fail at once.
    let lockWait: Duration?

    public init(options: PostgresConnectionOptions, osUser: String, lockWait: Duration? = nil) async throws {
        self.options = options
        self.lockWait = lockWait
        self.osUser = osUser
        connection = try await PGConnection.connect(options)
    }

    public func close() async {
        await connection.close()
    }

    struct LockHandle: WriterLock {
        let lock: RunLock
        func check() async throws { try await lock.check() }
        func release() async { await lock.release() }
    }

    var currentLock: RunLock?

    public func acquireWriterLock() async throws -> any WriterLock {
        let lock = try await RunLock.acquire(options, wait: lockWait)
        currentLock = lock
        return LockHandle(lock: lock)
    }

    public func beginRun(mode: String, actor: String) async throws -> Int64 {
        try await SyncRunStore(connection: connection).start(command: mode, lock: currentLock, osUser: actor).id
    }

    public func finishRun(id: Int64, status: RunStatus, summary: RunSummary) async throws {
        let stored: PolicyStore.RunStatus
        switch status {
        case .running, .interrupted: stored = .interrupted
        case .succeeded: stored = .succeeded
        case .failed, .partial: stored = .failed
        case .blocked: stored = .blocked
        }
        try await SyncRunStore(connection: connection).finish(
            id, status: stored, counts: try PolicyStore.JSONValue.encoding(summary), headHash: summary.headHash,
            error: summary.error, planHash: summary.planHash)
    }

    public func lastGoodBaseline() async throws -> RunBaseline? {
        let runs = try await SyncRunStore(connection: connection).recent(limit: 1, status: .succeeded, command: "sync")
        guard let counts = runs.first?.counts else { return nil }
        return (try? counts.decode(RunSummary.self))?.baseline
    }

    public func isApproved(planHash: String) async throws -> Bool {
        try await ApprovalStore(connection: connection).approvals(planHash: planHash).contains { $0.usedByRun == nil }
    }

    public func markApprovalUsed(planHash: String, runID: Int64) async throws {
        _ = try await ApprovalStore(connection: connection).consume(planHash: planHash, run: runID)
    }

    public func appendAudit(_ events: [AuditEvent], runID: Int64, actor: String) async throws {
        guard !events.isEmpty else { return }
        let log = AuditLog(connection: connection, osUser: actor)
        var entries: [AuditEntry] = []
        for event in events {
            switch event.phase {
            case .intent:
                entries.append(try Self.intentEntry(event.change, runID: runID))
            case .outcome:
                let outcome = event.outcome
                let status: AuditOutcome
                switch outcome?.status {
                case .succeeded: status = .succeeded
                case .skipped: status = .skipped
                case .failed, .needsReplan, .none: status = .failed
                }
                let message = [outcome?.status == .needsReplan ? "needs re-plan" : nil, outcome?.message]
                    .compactMap { $0 }.joined(separator: ": ")
                if let intent = intents[event.change.id] {
                    entries.append(.outcome(of: intent, status, message: message.isEmpty ? nil : message))
                } else {
                    var entry = try Self.intentEntry(event.change, runID: runID)
                    entry.outcome = status
                    entry.message = message.isEmpty ? nil : message
                    entries.append(entry)
                }
            }
        }
        let records = try await log.append(entries)
        for (event, record) in zip(events, records) where event.phase == .intent {
            intents[event.change.id] = record
        }
        for event in events where event.phase == .outcome {
            intents[event.change.id] = nil
        }
    }

    public func auditHeadHash() async throws -> String? {
        try await AuditLog(connection: connection, osUser: osUser).head().hash
    }

    static func intentEntry(_ change: Change, runID: Int64) throws -> AuditEntry {
        let provenance = try AuditPayload.provenance(change.provenance)
        switch change.target {
        case .kube(let action):
            let ref = action.ref
            var before: PolicyStore.JSONValue?
            var after: PolicyStore.JSONValue?
            switch action {
            case .create(let desired):
                after = try AuditPayload.object(desired)
            case .update(let observed, let desired), .adopt(let observed, let desired):
                before = observedPayload(observed)
                after = try AuditPayload.object(desired)
            case .delete(let observed):
                before = observedPayload(observed)
            case .retire(let observed, _):
                before = observedPayload(observed)
            }
            return AuditEntry(
                runID: runID, action: action.verb, objectKind: ref.kind.rawValue, objectNamespace: ref.namespace,
                objectName: ref.name, before: before, after: after, provenance: provenance, outcome: .intent,
                message: change.reason)
        case .hub(let action):
            let person = change.person ?? change.provenance.compactMap(\.person).first
            var before: PolicyStore.JSONValue?
            var after: PolicyStore.JSONValue?
            let kind: String
            let name: String
            switch action {
            case .createUser(let user, let admin):
                kind = "HubUser"; name = user
                after = AuditPayload.hubUser(name: user, admin: admin, person: person)
            case .deleteUser(let user):
                kind = "HubUser"; name = user
                before = AuditPayload.hubUser(name: user, admin: false, person: person)
            case .setAdmin(let user, let admin):
                kind = "HubUser"; name = user
                before = AuditPayload.hubUser(name: user, admin: !admin, person: person)
                after = AuditPayload.hubUser(name: user, admin: admin, person: person)
            case .createGroup(let group):
                kind = "HubGroup"; name = group
                after = AuditPayload.hubGroup(name: group, users: [])
            case .deleteGroup(let group):
                kind = "HubGroup"; name = group
            case .addGroupMembers(let group, let users), .removeGroupMembers(let group, let users):
                kind = "HubGroup"; name = group
                after = ["users": .array(users.sorted().map { .string($0) })]
            }
            return AuditEntry(
                runID: runID, action: action.verb, objectKind: kind, objectName: name, before: before, after: after,
                provenance: provenance, outcome: .intent, message: change.reason)
        }
    }

    static func observedPayload(_ observed: ObservedObject) -> PolicyStore.JSONValue? {
        if case .roleBinding(let roleRef, let subjects) = observed.spec {
            return AuditPayload.roleBinding(
                roleRef: roleRef, subjects: subjects,
                person: observed.annotations[ManagedKeys.ownerID].map { PersonID($0) })
        }
        return ["uid": .string(observed.uid), "resourceVersion": .string(observed.resourceVersion)]
    }
}
