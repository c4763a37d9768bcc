import AsyncHTTPClient
public import Foundation
import NIOCore
public import RBACModel

/// One run's figures in the Prometheus text exposition format (0.0.4), exactly as `docs/metrics.md`
/// (the contract with the Grafana dashboard and the alerts) names them.
public struct RunMetrics: Sendable, Hashable {
    /// One `accesssync_changes_total` series.
    public struct ChangeKey: Sendable, Hashable, Comparable {
        public var kind: String
        public var action: String
        public var outcome: String

        public init(kind: String, action: String, outcome: String) {
            self.kind = kind
            self.action = action
            self.outcome = outcome
        }

        public static func < (lhs: ChangeKey, rhs: ChangeKey) -> Bool {
            (lhs.kind, lhs.action, lhs.outcome) < (rhs.kind, rhs.action, rhs.outcome)
        }
    }

    /// Seconds per phase (`read_directory` … `apply`, `total`); phases that did not run are absent.
    public var phaseSeconds: [String: Double] = [:]
    public var changes: [ChangeKey: Int] = [:]
    /// nil when the run stopped before the plan was judged.
    public var peopleLosingAccess: Int?
    public var peopleWithAccess: Int?
    public var failures = 0
    public var blocked = 0
    /// Set only by a sync that succeeded (exit 0).
    public var lastSuccess: Date?
    public var auditHead: String?

    public init() {}

    /// The phases in the contract's order; others (if the engine adds one) follow, sorted.
    public static let phaseOrder = [
        "read_directory", "read_policy", "plan", "observe_cluster", "observe_hub", "diff", "apply", "total",
    ]

    /// The figures of a run that produced a report (sync or plan, any exit status).
    public init(result: SyncCommand.Result, mode: SyncOptions.Mode, totalSeconds: Double, finishedAt: Date) {
        let report = result.report
        phaseSeconds = report.summary.phaseSeconds
        phaseSeconds["total"] = totalSeconds
        if mode == .sync {
            let changesByID = Dictionary(report.changes.changes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for outcome in report.outcomes {
                guard let change = changesByID[outcome.changeID] else { continue }
                let (kind, action) = Self.kindAndAction(change)
                changes[ChangeKey(kind: kind, action: action, outcome: outcome.status.rawValue), default: 0] += 1
            }
        }
        peopleLosingAccess = report.summary.peopleLosingAccess
        peopleWithAccess = report.summary.peopleWithAccess
        auditHead = report.summary.headHash
        failures = Self.isFailure(result.exitStatus) ? 1 : 0
        blocked = result.exitStatus == .blockedByGuard ? 1 : 0
        if mode == .sync, result.exitStatus == .ok { lastSuccess = finishedAt }
    }

    /// The figures of a run that stopped with an error. `summary` is what the engine recorded for
    /// the run (phases so far; the plan's figures when it got that far), when it recorded one.
    public init(failure: CommandFailure, summary: RunSummary?, totalSeconds: Double) {
        if let summary {
            phaseSeconds = summary.phaseSeconds
            if summary.planHash != nil {
                peopleLosingAccess = summary.peopleLosingAccess
                peopleWithAccess = summary.peopleWithAccess
            }
            auditHead = summary.headHash
        }
        phaseSeconds["total"] = totalSeconds
        failures = Self.isFailure(failure.exitStatus) ? 1 : 0
        blocked = failure.exitStatus == .blockedByGuard ? 1 : 0
    }

    /// Non-zero statuses other than changes-pending (2) and blocked (3) count as failures.
    static func isFailure(_ status: ExitStatus) -> Bool {
        status != .ok && status != .changesPending && status != .blockedByGuard
    }

    /// The audit log's `object_kind` and `action` of a change.
    public static func kindAndAction(_ change: Change) -> (kind: String, action: String) {
        switch change.target {
        case .kube(let action):
            return (action.ref.kind.rawValue, action.verb)
        case .hub(let action):
            switch action {
            case .createUser, .deleteUser, .setAdmin: return ("HubUser", action.verb)
            case .createGroup, .deleteGroup, .addGroupMembers, .removeGroupMembers: return ("HubGroup", action.verb)
            }
        }
    }

    // MARK: Exposition

    /// The text exposition (version 0.0.4), ending with a newline.
    public var exposition: String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            guard !samples.isEmpty else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        let phases = phaseSeconds.keys.sorted { a, b in
            let ia = Self.phaseOrder.firstIndex(of: a) ?? Self.phaseOrder.count
            let ib = Self.phaseOrder.firstIndex(of: b) ?? Self.phaseOrder.count
            return ia != ib ? ia < ib : a < b
        }
        family(
            "accesssync_run_duration_seconds", "gauge", "Seconds the last run spent in each phase.",
            phases.map { (Self.labels([("phase", $0)]), Self.number(phaseSeconds[$0]!)) })
        family(
            "accesssync_changes_total", "counter", "Changes handled, by kind, action and outcome.",
            changes.filter { $0.value > 0 }.keys.sorted().map {
                (Self.labels([("kind", $0.kind), ("action", $0.action), ("outcome", $0.outcome)]), String(changes[$0]!))
            })
        family(
            "accesssync_people_losing_access", "gauge", "People losing some access in the last plan.",
            peopleLosingAccess.map { [("", String($0))] } ?? [])
        family(
            "accesssync_people_with_access", "gauge", "People entitled to hub access after the last plan.",
            peopleWithAccess.map { [("", String($0))] } ?? [])
        family("accesssync_run_failures_total", "counter", "Failed runs.", [("", String(failures))])
        family("accesssync_run_blocked_total", "counter", "Runs blocked by the guard.", [("", String(blocked))])
        family(
            "accesssync_last_success_timestamp_seconds", "gauge", "Unix time of the last successful run.",
            lastSuccess.map { [("", Self.number($0.timeIntervalSince1970))] } ?? [])
        family(
            "accesssync_audit_head_info", "gauge", "The audit chain head after the run (value always 1).",
            auditHead.map { [(Self.labels([("hash", $0.lowercased())]), "1")] } ?? [])
        return out
    }

    static func labels(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// Label value escaping: backslash, double quote and line feed.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A sample value: Go-parsable floats (`NaN`, `+Inf` spelled as Prometheus does).
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// Where a run's metrics go: a file (node_exporter's textfile collector) or a Pushgateway.
public enum MetricsOutput {
    /// Writes the exposition atomically (a temporary file in the same directory, then a rename),
    /// so a collector never reads half a file.
    public static func write(_ metrics: RunMetrics, toFile path: String) throws(CommandFailure) {
        let url = URL(fileURLWithPath: path)
        do {
            try Data(metrics.exposition.utf8).write(to: url, options: .atomic)
        } catch {
            throw CommandFailure(.cannotCreate, "cannot write the metrics file \(path): \(error.localizedDescription)")
        }
    }

    /// The Pushgateway URL for AccessSync's grouping key: `BASE/metrics/job/accesssync[/instance/I]`.
    /// A value with a `/` (or empty) is sent base64url-encoded (`instance@base64/...`), as the
    /// Pushgateway's API defines.
    public static func pushURL(base: String, instance: String?) -> String {
        var url = base
        while url.hasSuffix("/") { url.removeLast() }
        url += "/metrics/job/accesssync"
        if let instance {
            if instance.isEmpty || instance.contains("/") {
                let encoded = Data(instance.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_")
                url += "/instance@base64/" + (encoded.isEmpty ? "=" : encoded)
            } else {
                url += "/instance/"
                    + (instance.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? instance)
            }
        }
        return url
    }

    /// Pushes with POST: only the metric names pushed are replaced in the group, so the last
    /// success time of an earlier run stays when this run failed.
    public static func push(
        _ metrics: RunMetrics, to base: String, instance: String?, timeout: Duration = .seconds(10)
    ) async throws(CommandFailure) {
        guard let parsed = URL(string: base), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw CommandFailure(.configuration, "the Pushgateway URL must be http(s)://host:port, not '\(base)'")
        }
        let url = pushURL(base: base, instance: instance)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: metrics.exposition))
        do {
            let response = try await HTTPClient.shared.execute(
                request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
            let body = try await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(Int(response.status.code)) else {
                let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
                throw CommandFailure(
                    .failure, "the Pushgateway at \(url) answered \(response.status.code)\(text.isEmpty ? "" : ": \(text)")")
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(.failure, "cannot push metrics to \(url): \(error)")
        }
    }
}

/// Passes everything to `base` and shows each finished run's summary to `observer`.
struct SummaryObservingStore: RunStore {
    let base: any RunStore
    let observer: @Sendable (RunSummary) -> Void

    func acquireWriterLock() async throws -> any WriterLock { try await base.acquireWriterLock() }
    func beginRun(mode: String, actor: String) async throws -> Int64 { try await base.beginRun(mode: mode, actor: actor) }
    func finishRun(id: Int64, status: RunStatus, summary: RunSummary) async throws {
        observer(summary)
        try await base.finishRun(id: id, status: status, summary: summary)
    }
    func lastGoodBaseline() async throws -> RunBaseline? { try await base.lastGoodBaseline() }
    func isApproved(planHash: String) async throws -> Bool { try await base.isApproved(planHash: planHash) }
    func markApprovalUsed(planHash: String, runID: Int64) async throws {
        try await base.markApprovalUsed(planHash: planHash, runID: runID)
    }
    func appendAudit(_ events: [AuditEvent], runID: Int64, actor: String) async throws {
        try await base.appendAudit(events, runID: runID, actor: actor)
    }
    func auditHeadHash() async throws -> String? { try await base.auditHeadHash() }
}
