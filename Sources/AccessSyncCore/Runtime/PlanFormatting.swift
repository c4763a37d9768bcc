import Foundation
import RBACModel

/// Human and machine output of a plan or a run: a terraform-like diff grouped by person and by
/// project namespace, provenance on every line, conflicts, the guard's findings and the plan hash.
public enum PlanFormatting {
    /// Symbols per verb, as in terraform: `+` create, `~` update, `-` delete, `!` retire, `<` adopt.
    static func symbol(_ change: Change) -> String {
        switch change.target {
        case .kube(let action):
            switch action {
            case .create: "+"
            case .update: "~"
            case .delete: "-"
            case .retire: "!"
            case .adopt: "<"
            }
        case .hub(let action):
            switch action {
            case .createUser, .createGroup, .addGroupMembers: "+"
            case .deleteUser, .deleteGroup, .removeGroupMembers: "-"
            case .setAdmin(_, let admin): admin ? "+" : "-"
            }
        }
    }

    static func describe(_ change: Change) -> String {
        switch change.target {
        case .kube(let action):
            var text = "\(action.verb) \(action.ref)"
            if case .update(let from, let to) = action, from.spec != to.spec { text += " (content)" }
            return text
        case .hub(let action):
            switch action {
            case .createUser(let name, let admin): return "hub: create user \(name)\(admin ? " (admin)" : "")"
            case .deleteUser(let name): return "hub: stop server and delete user \(name)"
            case .setAdmin(let name, let admin): return "hub: \(admin ? "grant" : "revoke") admin for \(name)"
            case .createGroup(let name): return "hub: create group \(name)"
            case .deleteGroup(let name): return "hub: delete group \(name)"
            case .addGroupMembers(let group, let users):
                return "hub: add \(users.sorted().joined(separator: ", ")) to group \(group)"
            case .removeGroupMembers(let group, let users):
                return "hub: remove \(users.sorted().joined(separator: ", ")) from group \(group)"
            }
        }
    }

    /// The group heading of a change: the person it is for, else the project namespace, else "cluster".
    static func heading(_ change: Change, desired: DesiredState) -> String {
        if let person = change.person ?? change.provenance.compactMap(\.person).first {
            if let entitlement = desired.entitlements[person] {
                return "person \(entitlement.uid) (\(person))"
            }
            return "person \(person) (no longer entitled)"
        }
        if case .kube(let action) = change.target {
            if let namespace = action.ref.namespace { return "namespace \(namespace)" }
            if action.ref.kind == .namespace { return "namespace \(action.ref.name)" }
        }
        if case .hub = change.target { return "hub" }
        return "cluster"
    }

    /// People whose directory identifier still exists but whose owned namespace is being retired
    /// because their names changed (a rename: same entryUUID/objectGUID, new uid). The old
    /// namespace is retired (its data kept for the grace period) and the new one created.
    public static func renames(_ report: SyncReport) -> [String] {
        renames(changes: report.changes, desired: report.desired)
    }

    /// The renames in a change set (see `renames(_:)`).
    static func renames(changes: ChangeSet, desired: DesiredState) -> [String] {
        var lines: [String] = []
        for change in changes.changes {
            guard case .kube(.retire(let observed, _)) = change.target, observed.ref.kind == .namespace,
                let owner = observed.annotations[ManagedKeys.ownerID],
                let entitlement = desired.entitlements[PersonID(owner)],
                entitlement.namespace != observed.ref.name
            else { continue }
            lines.append(
                "\(owner) is now \(entitlement.uid): namespace \(observed.ref.name) is retired (data kept for the grace period)"
                    + (entitlement.namespace.map { ", \($0) created" } ?? ""))
        }
        return lines
    }

    /// For a person-scoped run: the login names of the other people whose pending changes were
    /// not applied (left for the next full sync), sorted.
    public static func peopleLeft(_ report: SyncReport) -> [String] {
        guard let scope = report.scope, let full = report.unscopedChanges else { return [] }
        let kept = Dictionary(report.changes.changes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var people: Set<PersonID> = []
        for change in full.changes where kept[change.id] != change {
            if let person = change.person { people.insert(person) }
            people.formUnion(change.peopleLosingAccess)
            for provenance in change.provenance { if let person = provenance.person { people.insert(person) } }
        }
        people.remove(scope.person)
        return people.map { report.desired.entitlements[$0]?.uid ?? $0.rawValue }.sorted()
    }

    /// The line a person-scoped run prints about what it left for the next full sync.
    public static func scopeLine(_ report: SyncReport) -> String? {
        guard let scope = report.scope else { return nil }
        let left = report.summary.changesLeftForFullSync ?? 0
        let others = peopleLeft(report)
        return "Only \(scope.uid)'s changes: \(left) other change(s) left for the next full sync"
            + (others.isEmpty ? "." : " (pending for: \(others.joined(separator: ", "))).")
    }

    /// The plan as text.
    public static func text(_ report: SyncReport, mode: SyncOptions.Mode) -> String {
        var lines: [String] = []
        if let scope = scopeLine(report) {
            lines.append(scope)
            lines.append("")
        }
        let renamed = renames(report)
        if !renamed.isEmpty {
            lines.append("Renamed people (same directory identifier, new names):")
            for line in renamed { lines.append("  \(line)") }
            lines.append("")
        }
        let changes = report.changes.changes
        if changes.isEmpty {
            lines.append("No changes. The cluster and the hub match the directory and the policy.")
        } else {
            var groups: [String: [Change]] = [:]
            for change in changes { groups[heading(change, desired: report.desired), default: []].append(change) }
            for heading in groups.keys.sorted() {
                lines.append(heading + ":")
                for change in groups[heading]! {
                    let why = change.provenance.isEmpty
                        ? change.reason : change.provenance.map(\.description).joined(separator: "; ")
                    lines.append("  \(symbol(change)) \(describe(change))")
                    lines.append("      because: \(why)")
                }
            }
            var counts: [String: Int] = [:]
            for change in changes {
                switch change.target {
                case .kube(let action): counts[action.verb, default: 0] += 1
                case .hub(let action): counts["hub " + action.verb, default: 0] += 1
                }
            }
            lines.append("")
            lines.append(
                "Plan: \(changes.count) change\(changes.count == 1 ? "" : "s") ("
                    + counts.keys.sorted().map { "\(counts[$0]!) \($0)" }.joined(separator: ", ") + ")")
        }
        if !report.changes.conflicts.isEmpty {
            lines.append("")
            lines.append("Conflicts (left untouched; dependants skipped):")
            for conflict in report.changes.conflicts {
                lines.append("  ! \(conflict.ref): \(conflict.reason.rawValue): \(conflict.detail)")
            }
        }
        let warnings = report.desired.diagnostics.sorted()
        if !warnings.isEmpty {
            lines.append("")
            lines.append("Diagnostics:")
            for diagnostic in warnings { lines.append("  \(diagnostic)") }
        }
        if let verdict = report.verdict {
            if !verdict.findings.isEmpty {
                lines.append("")
                lines.append("Safety guard:")
                for finding in verdict.findings {
                    lines.append("  \(finding.blocking ? "BLOCKS" : "note  ") \(finding)")
                }
            }
            lines.append("")
            lines.append("Plan hash: \(verdict.planHash)")
            if verdict.blocked {
                lines.append(
                    "A sync would be blocked by the guard. Review the plan, then: accesssync approve \(verdict.planHash)")
            }
        }
        if mode == .plan, !report.outcomes.isEmpty {
            let accepted = report.outcomes.filter { $0.status == .succeeded }.count
            lines.append("")
            lines.append(
                "Server dry run: \(accepted) of \(report.outcomes.count) Kubernetes changes accepted by the API server.")
            for outcome in report.outcomes where outcome.status != .succeeded {
                lines.append("  \(outcome.status.rawValue) \(outcome.changeID): \(outcome.message ?? "")")
            }
        }
        if mode == .sync, let runID = report.runID {
            let summary = report.summary
            lines.append("")
            lines.append(
                "Run \(runID) \(report.status.rawValue): \(summary.changesSucceeded) applied, \(summary.changesFailed) failed, "
                    + "\(summary.changesSkipped) skipped, \(summary.changesNeedingReplan) to re-plan.")
            for outcome in report.outcomes where outcome.status != .succeeded {
                lines.append("  \(outcome.status.rawValue) \(outcome.changeID): \(outcome.message ?? "")")
            }
            if let head = summary.headHash { lines.append("Audit head: \(head)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The plan as one JSON document (stable keys) for tools.
    public static func json(_ report: SyncReport, mode: SyncOptions.Mode) -> String {
        func changeJSON(_ change: Change) -> JSONValue {
            var object: [String: JSONValue] = [
                "id": .string(change.id),
                "action": .string(symbol(change)),
                "description": .string(describe(change)),
                "removesAccess": .bool(change.removesAccess),
                "reason": .string(change.reason),
                "dependsOn": .array(change.dependsOn.map(JSONValue.string)),
                "provenance": .array(change.provenance.map { .string($0.description) }),
            ]
            if let person = change.person { object["person"] = .string(person.rawValue) }
            switch change.target {
            case .kube(let action):
                object["target"] = .string("kubernetes")
                object["verb"] = .string(action.verb)
                object["kind"] = .string(action.ref.kind.rawValue)
                if let namespace = action.ref.namespace { object["namespace"] = .string(namespace) }
                object["name"] = .string(action.ref.name)
            case .hub(let action):
                object["target"] = .string("hub")
                object["verb"] = .string(action.verb)
                object["name"] = .string(action.objectName)
            }
            return .object(object)
        }
        var root: [String: JSONValue] = [
            "mode": .string(mode.rawValue),
            "changes": .array(report.changes.changes.map(changeJSON)),
            "conflicts": .array(
                report.changes.conflicts.map {
                    .object([
                        "ref": .string($0.ref), "reason": .string($0.reason.rawValue), "detail": .string($0.detail),
                        "skippedChanges": .array($0.skippedChanges.map(JSONValue.string)),
                    ])
                }),
            "diagnostics": .array(report.desired.diagnostics.sorted().map { .string("\($0)") }),
            "status": .string(report.status.rawValue),
            "renames": .array(renames(report).map(JSONValue.string)),
        ]
        if let scope = report.scope {
            root["onlyUser"] = .string(scope.uid)
            root["changesLeftForFullSync"] = .int(Int64(report.summary.changesLeftForFullSync ?? 0))
            root["pendingFor"] = .array(peopleLeft(report).map(JSONValue.string))
        }
        if let verdict = report.verdict {
            root["planHash"] = .string(verdict.planHash)
            root["blocked"] = .bool(verdict.blocked)
            root["findings"] = .array(
                verdict.findings.map {
                    .object(["code": .string($0.code), "message": .string($0.message), "blocking": .bool($0.blocking)])
                })
            root["peopleLosingAccess"] = .array(verdict.peopleLosingAccess.sorted().map { .string($0.rawValue) })
        }
        root["phaseSeconds"] = .object(
            report.summary.phaseSeconds.mapValues { .string(String(format: "%.3f", $0)) })
        if report.runID == nil, !report.outcomes.isEmpty {
            root["serverDryRun"] = .array(
                report.outcomes.map {
                    var outcome: [String: JSONValue] = ["id": .string($0.changeID), "status": .string($0.status.rawValue)]
                    if let message = $0.message { outcome["message"] = .string(message) }
                    return .object(outcome)
                })
        }
        if let runID = report.runID {
            root["run"] = .int(runID)
            root["outcomes"] = .array(
                report.outcomes.map {
                    var outcome: [String: JSONValue] = ["id": .string($0.changeID), "status": .string($0.status.rawValue)]
                    if let message = $0.message { outcome["message"] = .string(message) }
                    return .object(outcome)
                })
            if let head = report.summary.headHash { root["auditHead"] = .string(head) }
        }
        return JSONValue.object(root).prettySerialized() + "\n"
    }
}
