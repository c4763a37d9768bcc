import Foundation
import Logging
public import RBACModel

extension KubeClusterTarget {
    /// Name of the quota that stops new pods in a retired namespace.
    public static let retiredQuotaName = "accesssync-retired"

    /// Applies the Kubernetes changes of a change list (hub changes are left to the hub target).
    ///
    /// Changes that remove access run first, as a phase of their own (a removal that depends on a
    /// non-removal change runs with the rest). Within a phase a change starts once every change it
    /// depends on has succeeded, at most `options.concurrency` at a time, under the client's request
    /// rate; the dependants of a change that did not succeed are skipped with the reason. One failure
    /// never stops unrelated changes. Dependencies on ids that are not Kubernetes changes of this list
    /// are left to the caller (they do not block).
    public func apply(_ changes: [Change], options: KubeApplyOptions = KubeApplyOptions()) async -> KubeApplyReport {
        let started = ContinuousClock.now
        let before = client.requestCounts
        var scheduler = Scheduler(changes: changes)
        var outcomes: [String: KubeChangeOutcome] = [:]
        for (id, reason) in scheduler.cycleMembers {
            let node = scheduler.nodes[id]!
            outcomes[id] = KubeChangeOutcome(
                changeID: id, ref: node.action.ref, verb: node.action.verb, status: .skipped, message: reason,
                dryRun: options.dryRun)
        }
        for phase in [scheduler.removalPhase, scheduler.otherPhase] {
            await runPhase(phase, scheduler: &scheduler, outcomes: &outcomes, options: options)
        }
        let after = client.requestCounts
        return KubeApplyReport(
            outcomes: scheduler.order.compactMap { outcomes[$0] },
            requests: after.subtracting(before),
            duration: ContinuousClock.now - started)
    }

    private func runPhase(
        _ ids: [String], scheduler: inout Scheduler, outcomes: inout [String: KubeChangeOutcome],
        options: KubeApplyOptions
    ) async {
        let inPhase = Set(ids)
        var remaining: [String: Int] = [:]
        var dependants: [String: [String]] = [:]
        for id in ids where outcomes[id] == nil {
            let deps = scheduler.nodes[id]!.dependencies.filter { inPhase.contains($0) }
            remaining[id] = deps.count
            for dep in deps { dependants[dep, default: []].append(id) }
        }
        var ready: [String] = []
        var dryRunNamespaces = Set(
            outcomes.values.filter { $0.dryRun && $0.status == .succeeded && $0.ref.kind == .namespace && $0.verb == "create" }
                .map(\.ref.name))

        func resolve(_ outcome: KubeChangeOutcome) {
            outcomes[outcome.changeID] = outcome
            if outcome.dryRun, outcome.status == .succeeded, outcome.ref.kind == .namespace, outcome.verb == "create" {
                dryRunNamespaces.insert(outcome.ref.name)
            }
            for dependant in dependants[outcome.changeID] ?? [] where outcomes[dependant] == nil {
                if outcome.status == .succeeded {
                    remaining[dependant]! -= 1
                    if remaining[dependant] == 0 { ready.append(dependant) }
                } else {
                    let node = scheduler.nodes[dependant]!
                    resolve(
                        KubeChangeOutcome(
                            changeID: dependant, ref: node.action.ref, verb: node.action.verb, status: .skipped,
                            message: "skipped: depends on \(outcome.changeID), which \(outcome.status.pastTense)",
                            dryRun: options.dryRun))
                }
            }
        }

        // Dependencies resolved in an earlier phase.
        for id in ids where outcomes[id] == nil {
            let node = scheduler.nodes[id]!
            if let failed = node.dependencies.first(where: { dep in
                !inPhase.contains(dep) && outcomes[dep].map { $0.status != .succeeded } ?? false
            }) {
                resolve(
                    KubeChangeOutcome(
                        changeID: id, ref: node.action.ref, verb: node.action.verb, status: .skipped,
                        message: "skipped: depends on \(failed), which \(outcomes[failed]!.status.pastTense)",
                        dryRun: options.dryRun))
            }
        }
        ready = ids.filter { outcomes[$0] == nil && remaining[$0] == 0 }

        await withTaskGroup(of: KubeChangeOutcome.self) { group in
            var inFlight = 0
            var next = 0
            while true {
                while inFlight < options.concurrency, next < ready.count {
                    let id = ready[next]
                    next += 1
                    guard outcomes[id] == nil else { continue }
                    let node = scheduler.nodes[id]!
                    let namespaces = dryRunNamespaces
                    inFlight += 1
                    group.addTask {
                        await self.execute(node.change, node.action, options: options, dryRunNamespaces: namespaces)
                    }
                }
                guard let outcome = await group.next() else { break }
                inFlight -= 1
                logOutcome(outcome)
                resolve(outcome)
            }
        }
    }

    private func logOutcome(_ outcome: KubeChangeOutcome) {
        var metadata: Logger.Metadata = [
            "change.id": "\(outcome.changeID)", "change.verb": "\(outcome.verb)", "change.status": "\(outcome.status.rawValue)",
            "k8s.kind": "\(outcome.ref.kind.rawValue)", "k8s.name": "\(outcome.ref.name)", "http.attempts": "\(outcome.attempts)",
        ]
        if let namespace = outcome.ref.namespace { metadata["k8s.namespace"] = "\(namespace)" }
        if let status = outcome.httpStatus { metadata["http.status"] = "\(status)" }
        if outcome.status != .succeeded { metadata["message"] = "\(outcome.message)" }
        logger.log(level: outcome.status == .succeeded ? .debug : .warning, "kube.change", metadata: metadata)
    }

    // MARK: - One change

    func execute(_ change: Change, _ action: KubeAction, options: KubeApplyOptions, dryRunNamespaces: Set<String>) async
        -> KubeChangeOutcome
    {
        var run = ChangeRun(target: self, change: change, action: action, dryRun: options.dryRun, dryRunNamespaces: dryRunNamespaces)
        do {
            try await run.execute()
        } catch let error as KubeAPIError {
            run.finish(error)
        } catch let error as KubeClientError {
            run.finish(.failed, error.message)
        } catch is CancellationError {
            run.finish(.failed, "cancelled")
        } catch {
            run.finish(.failed, "\(error)")
        }
        return run.outcome
    }
}

extension KubeChangeOutcome.Status {
    var pastTense: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .skipped: "was skipped"
        case .needsReplan: "needs re-planning"
        case .conflict: "met a conflict"
        }
    }
}

extension KubeRequestCounts {
    func subtracting(_ other: KubeRequestCounts) -> KubeRequestCounts {
        var result = KubeRequestCounts()
        result.total = total - other.total
        for (method, count) in byMethod { result.byMethod[method] = count - (other.byMethod[method] ?? 0) }
        result.byMethod = result.byMethod.filter { $0.value != 0 }
        result.writes = writes - other.writes
        result.dryRunWrites = dryRunWrites - other.dryRunWrites
        result.retries = retries - other.retries
        result.transportErrors = transportErrors - other.transportErrors
        for (status, count) in byStatus { result.byStatus[status] = count - (other.byStatus[status] ?? 0) }
        result.byStatus = result.byStatus.filter { $0.value != 0 }
        return result
    }
}

/// Orders Kubernetes changes into the removal phase and the rest, and finds dependency cycles.
struct Scheduler {
    struct Node {
        var change: Change
        var action: KubeAction
        /// Dependencies that are Kubernetes changes of this list.
        var dependencies: [String]
    }

    var nodes: [String: Node] = [:]
    var order: [String] = []
    var removalPhase: [String] = []
    var otherPhase: [String] = []
    /// Ids in (or depending on) a cycle, with the reason.
    var cycleMembers: [String: String] = [:]

    init(changes: [Change]) {
        for change in changes {
            guard case .kube(let action) = change.target, nodes[change.id] == nil else { continue }
            nodes[change.id] = Node(change: change, action: action, dependencies: [])
            order.append(change.id)
        }
        for id in order {
            nodes[id]!.dependencies = nodes[id]!.change.dependsOn.filter { nodes[$0] != nil && $0 != id }
        }
        // Removal phase: removals whose Kubernetes dependencies are all in the removal phase.
        var memo: [String: Bool] = [:]
        var visiting: Set<String> = []
        func isRemoval(_ id: String) -> Bool? {
            if let known = memo[id] { return known }
            if visiting.contains(id) { return nil }
            visiting.insert(id)
            defer { visiting.remove(id) }
            let node = nodes[id]!
            var result = node.change.removesAccess
            for dep in node.dependencies {
                guard let depIsRemoval = isRemoval(dep) else { return nil }
                if !depIsRemoval { result = false }
            }
            memo[id] = result
            return result
        }
        for id in order {
            switch isRemoval(id) {
            case true?: removalPhase.append(id)
            case false?: otherPhase.append(id)
            case nil: cycleMembers[id] = "skipped: dependency cycle through \(id)"
            }
        }
    }
}

/// The requests of one change, with its attempt count and last status.
struct ChangeRun {
    let target: KubeClusterTarget
    let change: Change
    let action: KubeAction
    let dryRun: Bool
    let dryRunNamespaces: Set<String>
    var attempts = 0
    var lastStatus: Int?
    var result: KubeChangeOutcome?

    init(target: KubeClusterTarget, change: Change, action: KubeAction, dryRun: Bool, dryRunNamespaces: Set<String>) {
        self.target = target
        self.change = change
        self.action = action
        self.dryRun = dryRun
        self.dryRunNamespaces = dryRunNamespaces
    }

    var outcome: KubeChangeOutcome {
        result
            ?? KubeChangeOutcome(
                changeID: change.id, ref: action.ref, verb: action.verb, status: .failed, httpStatus: lastStatus,
                message: "no outcome recorded", attempts: attempts, dryRun: dryRun)
    }

    mutating func finish(
        _ status: KubeChangeOutcome.Status, _ message: String, object: JSONValue? = nil, error: KubeAPIError? = nil
    ) {
        guard result == nil else { return }
        result = KubeChangeOutcome(
            changeID: change.id, ref: action.ref, verb: action.verb, status: status, httpStatus: lastStatus,
            message: message, apiReason: error?.reason, causes: error?.causes ?? [], attempts: attempts,
            uid: object?["metadata"]?["uid"]?.stringValue,
            resourceVersion: object?["metadata"]?["resourceVersion"]?.stringValue, dryRun: dryRun)
    }

    /// A refusal by the server, as an outcome.
    mutating func finish(_ error: KubeAPIError) {
        let status: KubeChangeOutcome.Status = error.code == 409 ? .needsReplan : .failed
        var message = error.message.isEmpty ? "\(error.code) \(error.reason)" : error.message
        if error.isNamespaceTerminating { message = "namespace \(action.ref.namespace ?? "") is terminating: \(message)" }
        let missing = error.causes.map(\.description).filter { !$0.isEmpty && !message.contains($0) }
        if !missing.isEmpty { message += " (" + missing.joined(separator: "; ") + ")" }
        lastStatus = error.code
        finish(status, message, error: error)
    }

    // MARK: Requests

    private var writeQuery: [(String, String)] { dryRun ? [("dryRun", "All")] : [] }

    private var applyQuery: [(String, String)] {
        [("fieldManager", target.fieldManager), ("force", "true")] + writeQuery
    }

    /// Sends one request; counts its attempts.
    private mutating func send(_ request: KubeRequest) async throws -> KubeResponse {
        let response = try await target.client.send(request)
        attempts += response.attempts
        lastStatus = response.status
        return response
    }

    private func error(_ response: KubeResponse, _ request: KubeRequest) -> KubeAPIError {
        target.client.apiError(response, request)
    }

    private mutating func get(_ ref: ObjectRef) async throws -> JSONValue? {
        let request = KubeRequest(method: "GET", path: KubePaths.object(ref))
        let response = try await send(request)
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw error(response, request) }
        return try response.json()
    }

    private func isOurs(_ object: JSONValue) -> Bool {
        let labels = object["metadata"]?["labels"]
        return labels?[ManagedKeys.managedBy]?.stringValue == ManagedKeys.managedByValue
            && labels?[ManagedKeys.instance]?.stringValue == target.instance
    }

    private func isOurs(_ observed: ObservedObject) -> Bool { observed.isOwned(byInstance: target.instance) }

    // MARK: Actions

    mutating func execute() async throws {
        switch action {
        case .create(let desired):
            try await create(desired)
        case .update(let observed, let desired):
            guard isOurs(observed) else {
                finish(.failed, "refused: \(observed.ref) does not carry this instance's ownership labels")
                return
            }
            try await apply(desired, resourceVersion: observed.resourceVersion, uid: observed.uid)
        case .delete(let observed):
            guard isOurs(observed) else {
                finish(.failed, "refused: \(observed.ref) does not carry this instance's ownership labels")
                return
            }
            try await delete(observed)
        case .retire(let observed, let at):
            try await retire(observed, at: at)
        case .adopt(let observed, let desired):
            if observed.labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue, !isOurs(observed) {
                finish(.failed, "refused: \(observed.ref) belongs to another AccessSync instance")
                return
            }
            try await apply(desired, resourceVersion: observed.resourceVersion, uid: observed.uid)
        }
    }

    /// POST the skeleton, then apply every managed field.
    private mutating func create(_ desired: DesiredObject, acceptExistingOwned: Bool = false) async throws {
        guard desired.labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue,
            desired.labels[ManagedKeys.instance] == target.instance
        else {
            finish(.failed, "refused: the desired object does not carry this instance's ownership labels")
            return
        }
        let post = KubeRequest(
            method: "POST", path: KubePaths.collection(desired.ref.kind, namespace: desired.ref.namespace),
            query: writeQuery, body: Manifest.skeleton(for: desired))
        let response = try await send(post)
        if !response.isSuccess {
            let refusal = error(response, post)
            if refusal.isAlreadyExists {
                let retried = response.attempts > 1
                guard let existing = try await get(desired.ref) else {
                    finish(.needsReplan, "the object existed at creation and vanished since: observe again", error: refusal)
                    return
                }
                guard isOurs(existing) else {
                    finish(.conflict, "an object not managed by this AccessSync instance already exists", object: existing, error: refusal)
                    return
                }
                if !retried && !acceptExistingOwned {
                    finish(.needsReplan, "the object was created by someone else since it was observed", object: existing, error: refusal)
                    return
                }
                // Our own POST committed before its connection dropped: carry on with the apply.
            } else if dryRun, refusal.isNotFound, let namespace = desired.ref.namespace, dryRunNamespaces.contains(namespace) {
                finish(.succeeded, "not validated: namespace \(namespace) is created by this plan, which a dry run does not store")
                return
            } else {
                finish(refusal)
                return
            }
        }
        try await apply(desired, resourceVersion: nil, uid: nil)
    }

    /// Server-side apply of the full managed content. With `resourceVersion`, the apply fails with 409
    /// when the object changed since it was observed.
    private mutating func apply(_ desired: DesiredObject, resourceVersion: String?, uid: String?) async throws {
        var body = Manifest.applyBody(for: desired)
        if let resourceVersion { body = body.settingMetadata("resourceVersion", .string(resourceVersion)) }
        let request = KubeRequest(
            method: "PATCH", path: KubePaths.object(desired.ref), query: applyQuery, body: body,
            contentType: "application/apply-patch+yaml")
        let response = try await send(request)
        if response.isSuccess {
            finish(.succeeded, dryRun ? "would \(action.verb) (server dry run)" : "\(action.verb)d", object: try? response.json())
            return
        }
        let refusal = error(response, request)
        if refusal.code == 409, resourceVersion != nil {
            // After a retry the first attempt may have committed: our own write changed the resourceVersion.
            if response.attempts > 1, let current = try await get(desired.ref),
                current["metadata"]?["uid"]?.stringValue == uid, matches(current, desired)
            {
                finish(.succeeded, "\(action.verb)d (confirmed by reading it back after a retry)", object: current)
                return
            }
            finish(.needsReplan, "the object changed since it was observed: observe again (\(refusal.message))", error: refusal)
            return
        }
        if refusal.code == 404 {
            if dryRun, let namespace = desired.ref.namespace, dryRunNamespaces.contains(namespace) {
                finish(.succeeded, "not validated: namespace \(namespace) is created by this plan, which a dry run does not store")
                return
            }
            if resourceVersion != nil {
                finish(.needsReplan, "the object no longer exists: observe again", error: refusal)
                return
            }
        }
        finish(refusal)
    }

    /// Whether a stored object already holds the desired content and labels.
    private func matches(_ object: JSONValue, _ desired: DesiredObject) -> Bool {
        guard let observed = try? ManifestDecoding.observed(object, kind: desired.ref.kind) else { return false }
        return observed.spec == desired.spec
            && desired.labels.allSatisfy { observed.labels[$0.key] == $0.value }
            && desired.annotations.allSatisfy { observed.annotations[$0.key] == $0.value }
    }

    private mutating func delete(_ observed: ObservedObject) async throws {
        let body = JSONValue.object([
            "kind": .string("DeleteOptions"), "apiVersion": .string("v1"), "propagationPolicy": .string("Background"),
            "preconditions": .object(["uid": .string(observed.uid), "resourceVersion": .string(observed.resourceVersion)]),
        ])
        let request = KubeRequest(method: "DELETE", path: KubePaths.object(observed.ref), query: writeQuery, body: body)
        let response = try await send(request)
        if response.isSuccess {
            finish(.succeeded, dryRun ? "would delete (server dry run)" : "deleted")
            return
        }
        let refusal = error(response, request)
        if refusal.isNotFound {
            finish(.succeeded, "already gone")
            return
        }
        if refusal.code == 409 {
            if response.attempts > 1 {
                // The first attempt may have been ours: gone, or the same object now being deleted.
                let current = try await get(observed.ref)
                if current == nil {
                    finish(.succeeded, "deleted (confirmed by reading it back after a retry)")
                    return
                }
                if let current, current["metadata"]?["uid"]?.stringValue == observed.uid,
                    current["metadata"]?["deletionTimestamp"] != nil
                {
                    finish(.succeeded, "deleting (confirmed by reading it back after a retry)", object: current)
                    return
                }
            }
            finish(.needsReplan, "not the object that was observed: observe again (\(refusal.message))", error: refusal)
            return
        }
        finish(refusal)
    }

    /// Marks a namespace retired (annotation with the time) and stops new pods (quota `pods: 0`).
    private mutating func retire(_ observed: ObservedObject, at: Date) async throws {
        guard observed.ref.kind == .namespace else {
            finish(.failed, "refused: only namespaces are retired")
            return
        }
        guard isOurs(observed) else {
            finish(.failed, "refused: \(observed.ref) does not carry this instance's ownership labels")
            return
        }
        let stamp = ManifestDecoding.formatTimestamp(at)
        guard let current = try await get(observed.ref) else {
            finish(.needsReplan, "the namespace no longer exists: observe again")
            return
        }
        guard current["metadata"]?["uid"]?.stringValue == observed.uid, isOurs(current) else {
            finish(.needsReplan, "not the namespace that was observed: observe again")
            return
        }
        if current["metadata"]?["deletionTimestamp"] != nil {
            finish(.failed, "the namespace is terminating")
            return
        }
        // The apply must repeat every label and annotation this field manager owns, or it would drop them.
        let (labelKeys, annotationKeys) = ownedMetadataKeys(current)
        let labels = ManifestDecoding.stringMapValue(current["metadata"]?["labels"]).filter { labelKeys.contains($0.key) }
        var annotations = ManifestDecoding.stringMapValue(current["metadata"]?["annotations"])
            .filter { annotationKeys.contains($0.key) }
        annotations[ManagedKeys.retiredAt] = stamp
        let body = Manifest.metadataOnly(ref: observed.ref, labels: labels, annotations: annotations)
            .settingMetadata("resourceVersion", .string(observed.resourceVersion))
        let request = KubeRequest(
            method: "PATCH", path: KubePaths.object(observed.ref), query: applyQuery, body: body,
            contentType: "application/apply-patch+yaml")
        let response = try await send(request)
        var namespaceObject: JSONValue?
        if response.isSuccess {
            namespaceObject = try? response.json()
        } else {
            let refusal = error(response, request)
            if refusal.code == 409, response.attempts > 1, let reread = try await get(observed.ref),
                reread["metadata"]?["uid"]?.stringValue == observed.uid,
                reread["metadata"]?["annotations"]?[ManagedKeys.retiredAt]?.stringValue == stamp
            {
                namespaceObject = reread
            } else if refusal.code == 409 {
                finish(.needsReplan, "the namespace changed since it was observed: observe again (\(refusal.message))", error: refusal)
                return
            } else {
                finish(refusal)
                return
            }
        }
        // The quota: created by POST like any new object, so an unowned quota of that name is a conflict.
        let quotaLabels = labels.filter { $0.key == ManagedKeys.managedBy || $0.key == ManagedKeys.instance }
        var quotaAnnotations = [ManagedKeys.retiredAt: stamp]
        for key in [ManagedKeys.ownerID, ManagedKeys.ownerUID] { quotaAnnotations[key] = annotations[key] }
        let quota = DesiredObject(
            ref: ObjectRef(kind: .resourceQuota, namespace: observed.ref.name, name: KubeClusterTarget.retiredQuotaName),
            labels: quotaLabels.isEmpty
                ? [ManagedKeys.managedBy: ManagedKeys.managedByValue, ManagedKeys.instance: target.instance] : quotaLabels,
            annotations: quotaAnnotations,
            spec: .resourceQuota(hard: ["pods": try Quantity("0")]),
            provenance: change.provenance)
        let namespaceResult = namespaceObject
        try await create(quota, acceptExistingOwned: true)
        if result?.status == .succeeded {
            result = nil
            finish(.succeeded, dryRun ? "would retire (server dry run)" : "retired at \(stamp); new pods stopped", object: namespaceResult)
        } else if let failed = result {
            result = nil
            finish(failed.status, "namespace marked retired, but the \(KubeClusterTarget.retiredQuotaName) quota: \(failed.message)")
        }
    }

    /// Label and annotation keys this field manager owns by apply, from `metadata.managedFields`.
    /// Without managedFields, falls back to the ownership labels and `accesssync.io/` keys.
    private func ownedMetadataKeys(_ object: JSONValue) -> (labels: Set<String>, annotations: Set<String>) {
        var labels: Set<String> = []
        var annotations: Set<String> = []
        var found = false
        for entry in object["metadata"]?["managedFields"]?.arrayValue ?? [] {
            guard entry["manager"]?.stringValue == target.fieldManager, entry["operation"]?.stringValue == "Apply" else {
                continue
            }
            found = true
            let metadata = entry["fieldsV1"]?["f:metadata"]
            for key in (metadata?["f:labels"]?.objectValue ?? [:]).keys where key.hasPrefix("f:") {
                labels.insert(String(key.dropFirst(2)))
            }
            for key in (metadata?["f:annotations"]?.objectValue ?? [:]).keys where key.hasPrefix("f:") {
                annotations.insert(String(key.dropFirst(2)))
            }
        }
        if !found {
            let current = object["metadata"]
            labels = Set(
                ManifestDecoding.stringMapValue(current?["labels"]).keys.filter {
                    $0 == ManagedKeys.managedBy || $0.hasPrefix("accesssync.io/") || $0.hasPrefix("pod-security.kubernetes.io/")
                })
            annotations = Set(ManifestDecoding.stringMapValue(current?["annotations"]).keys.filter { $0.hasPrefix("accesssync.io/") })
        }
        labels.formUnion([ManagedKeys.managedBy, ManagedKeys.instance])
        return (labels, annotations)
    }
}

extension JSONValue {
    /// A copy with `metadata.<key>` set.
    func settingMetadata(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var root) = self else { return self }
        var metadata = root["metadata"]?.objectValue ?? [:]
        metadata[key] = value
        root["metadata"] = .object(metadata)
        return .object(root)
    }
}

extension ManifestDecoding {
    static func stringMapValue(_ json: JSONValue?) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in json?.objectValue ?? [:] {
            if let text = value.stringValue { result[key] = text }
        }
        return result
    }
}
