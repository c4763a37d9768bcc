import Crypto
import Foundation

/// The pure safety check between diff and apply (DESIGN "Guard").
public enum Guard {
    /// Kind names used for hub deletions in `deletionsByKind` and `observedOwnedCounts`.
    public static let hubUserKind = "HubUser"
    public static let hubGroupKind = "HubGroup"

    /// Decides whether a change set may be applied.
    ///
    /// Blocking findings: people losing access above the absolute or percentage limit (percent of
    /// the people who had access: the last good run's count, or else everyone with or losing access
    /// now); deletions of one kind above the absolute or percentage limit (percent of owned objects
    /// of that kind); a directory that shrank against the last good run (people, groups or
    /// memberships) beyond the limit; every planning diagnostic of severity error (a grant naming a
    /// missing group among them); more new subjects in privileged bindings than allowed; any change
    /// touching a protected namespace. Percentage limits apply from `percentAppliesFrom` on.
    ///
    /// - Parameters:
    ///   - changes: the diff.
    ///   - desired: the plan the diff came from (diagnostics, entitlements).
    ///   - observedOwnedCounts: owned objects per kind name (`ObjectKind.rawValue`, `HubUser`,
    ///     `HubGroup`), see `ownedCounts(observed:hub:)`.
    ///   - baseline: the last good run's counts, nil on the first run.
    ///   - currentBaseline: this run's counts, from `baseline(directory:desired:)`.
    ///   - protectedNamespaces: namespaces no change may touch.
    ///   - approvedPlanHashes: plans an operator approved (`accesssync approve PLAN_HASH`).
    ///   - allowedDeletions: `--allow-deletes N`: people-losing-access and deletion findings with a
    ///     count of at most N do not block.
    public static func evaluate(
        changes: ChangeSet, desired: DesiredState, observedOwnedCounts: [String: Int], baseline: RunBaseline?,
        currentBaseline: RunBaseline, thresholds: GuardThresholds, protectedNamespaces: Set<String>,
        approvedPlanHashes: Set<String>, allowedDeletions: Int? = nil
    ) -> GuardVerdict {
        var findings: [GuardFinding] = []
        let hash = planHash(changes)

        // People losing access.
        var losing = Set<PersonID>()
        for change in changes.changes { losing.formUnion(change.peopleLosingAccess) }
        if !losing.isEmpty {
            var hadAccess = Set(desired.entitlements.values.filter(\.hasAnyAccess).map(\.person)).union(losing).count
            if let baseline, baseline.peopleWithAccess > 0 { hadAccess = baseline.peopleWithAccess }
            let percent = hadAccess > 0 ? Double(losing.count) * 100 / Double(hadAccess) : 100
            let overAbsolute = losing.count > thresholds.maxPeopleLosingAccess
            let overPercent = losing.count >= thresholds.percentAppliesFrom && percent > thresholds.maxPeopleLosingAccessPercent
            let allowed = allowedDeletions.map { losing.count <= $0 } ?? false
            findings.append(
                GuardFinding(
                    code: "people-losing-access",
                    message: "\(losing.count) people lose access (\(format(percent))% of \(hadAccess) with access; "
                        + "limits \(thresholds.maxPeopleLosingAccess) and \(format(thresholds.maxPeopleLosingAccessPercent))%)",
                    blocking: (overAbsolute || overPercent) && !allowed))
        }

        // Deletions per kind.
        var deletions: [String: Int] = [:]
        for change in changes.changes {
            switch change.target {
            case .kube(.delete(let object)): deletions[object.ref.kind.rawValue, default: 0] += 1
            case .hub(.deleteUser): deletions[hubUserKind, default: 0] += 1
            case .hub(.deleteGroup): deletions[hubGroupKind, default: 0] += 1
            default: break
            }
        }
        for kind in deletions.keys.sorted() {
            let count = deletions[kind]!
            let owned = observedOwnedCounts[kind] ?? 0
            let percent = owned > 0 ? Double(count) * 100 / Double(owned) : 100
            let overAbsolute = count > thresholds.maxDeletionsPerKind
            let overPercent = count >= thresholds.percentAppliesFrom && percent > thresholds.maxDeletionsPercent
            let allowed = allowedDeletions.map { count <= $0 } ?? false
            findings.append(
                GuardFinding(
                    code: "deletions",
                    message: "\(count) \(kind) deletion(s) (\(format(percent))% of \(owned) owned; "
                        + "limits \(thresholds.maxDeletionsPerKind) and \(format(thresholds.maxDeletionsPercent))%)",
                    blocking: (overAbsolute || overPercent) && !allowed))
        }

        // Directory shrink against the last good run.
        if let baseline {
            for (what, before, now) in [
                ("people", baseline.people, currentBaseline.people), ("groups", baseline.groups, currentBaseline.groups),
                ("memberships", baseline.memberships, currentBaseline.memberships),
            ] where before > 0 && now < before && before - now >= thresholds.percentAppliesFrom {
                // Like the other percentages, only from `percentAppliesFrom` lost entries on: one
                // leaver in a ten-person team is not a shrinking directory.
                let percent = Double(before - now) * 100 / Double(before)
                if percent > thresholds.maxDirectoryShrinkPercent {
                    findings.append(
                        GuardFinding(
                            code: "directory-shrink",
                            message: "the directory has \(now) \(what), \(format(percent))% fewer than the last good run's "
                                + "\(before) (limit \(format(thresholds.maxDirectoryShrinkPercent))%): a wrong filter, "
                                + "an ACL hiding members or an empty restore?",
                            blocking: true))
                }
            }
        }

        // Planning errors (grants naming missing groups among them).
        for diagnostic in desired.diagnostics where diagnostic.severity == .error {
            findings.append(
                GuardFinding(
                    code: diagnostic.code == "grant-missing-group" ? "grant-missing-group" : "planning-error",
                    message: "\(diagnostic.subject): \(diagnostic.message)", blocking: true))
        }

        // New subjects in privileged bindings.
        var privileged: [String] = []
        for change in changes.changes {
            guard case .kube(let action) = change.target else { continue }
            var before: Set<Subject> = []
            let after: DesiredObject
            switch action {
            case .create(let object): after = object
            case .adopt(let from, let object):
                after = object
                if case .roleBinding(_, let subjects) = from.spec { before = Set(subjects) }
            case .update(let from, let object):
                after = object
                if case .roleBinding(_, let subjects) = from.spec, from.annotations[ManagedKeys.privileged] == "true" {
                    before = Set(subjects)
                }
            default: continue
            }
            guard after.annotations[ManagedKeys.privileged] == "true", case .roleBinding(_, let subjects) = after.spec else {
                continue
            }
            for subject in Set(subjects).subtracting(before) where subject.kind != .serviceAccount {
                privileged.append("\(after.ref): \(subject.kind.rawValue) \(subject.name)")
            }
        }
        if !privileged.isEmpty {
            privileged.sort()
            findings.append(
                GuardFinding(
                    code: "new-privileged-bindings",
                    message: "\(privileged.count) new subject(s) in privileged bindings (limit "
                        + "\(thresholds.maxNewPrivilegedBindings)): \(privileged.prefix(10).joined(separator: "; "))",
                    blocking: privileged.count > thresholds.maxNewPrivilegedBindings))
        }

        // Protected namespaces.
        for change in changes.changes {
            guard case .kube(let action) = change.target else { continue }
            let ref = action.ref
            let namespace = ref.kind == .namespace ? ref.name : ref.namespace
            if let namespace, protectedNamespaces.contains(namespace) {
                findings.append(
                    GuardFinding(
                        code: "protected-namespace", message: "\(change.id) touches protected namespace \(namespace)",
                        blocking: true))
            }
        }

        let blocking = findings.contains(where: \.blocking)
        return GuardVerdict(
            planHash: hash, findings: findings, peopleLosingAccess: losing, deletionsByKind: deletions,
            blocked: blocking && !approvedPlanHashes.contains(hash))
    }

    /// The counts recorded for a successful run.
    public static func baseline(directory: DirectorySnapshot, desired: DesiredState) -> RunBaseline {
        var memberships = 0
        for group in directory.groups.values { memberships += group.memberPeople.count + group.memberGroups.count }
        return RunBaseline(
            people: directory.people.count, groups: directory.groups.count, memberships: memberships,
            peopleWithAccess: desired.entitlements.values.reduce(0) { $0 + ($1.hasAnyAccess ? 1 : 0) })
    }

    /// Owned objects per kind name, plus managed hub users and groups.
    public static func ownedCounts(observed: ObservedCluster, hub: HubObservedState?) -> [String: Int] {
        var counts: [String: Int] = [:]
        for ref in observed.owned.keys { counts[ref.kind.rawValue, default: 0] += 1 }
        if let hub {
            counts[hubUserKind] = hub.managedUsers.count
            counts[hubGroupKind] = hub.managedGroups.count
        }
        return counts
    }

    /// SHA-256 (lowercase hex) of `canonicalText(changes)`.
    public static func planHash(_ changes: ChangeSet) -> String {
        SHA256.hash(data: Array(canonicalText(changes).utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
        }.joined()
    }

    /// The canonical text of a change set: one line per change in order, with what will be written
    /// (labels, annotations and spec as JSON with sorted keys), the observed uid for deletes,
    /// retirements and adoptions, and the people losing access. Times, resource versions, reasons
    /// and provenance are left out, so the same plan hashes the same on the next run.
    public static func canonicalText(_ changes: ChangeSet) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ object: DesiredObject) -> String {
            struct Content: Encodable {
                var labels: [String: String]
                var annotations: [String: String]
                var spec: ObjectSpec
            }
            let data = (try? encoder.encode(Content(labels: object.labels, annotations: object.annotations, spec: object.spec))) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        var lines: [String] = []
        lines.reserveCapacity(changes.changes.count)
        for change in changes.changes {
            var line = change.id + "\t" + (change.removesAccess ? "revoke" : "add")
            line += "\t" + change.peopleLosingAccess.map(\.rawValue).sorted().joined(separator: ",")
            line += "\t" + change.dependsOn.sorted().joined(separator: ",")
            switch change.target {
            case .kube(let action):
                switch action {
                case .create(let object): line += "\t" + json(object)
                case .update(_, let object): line += "\t" + json(object)
                case .adopt(let from, let object): line += "\t" + from.uid + "\t" + json(object)
                case .delete(let object): line += "\t" + object.uid
                case .retire(let object, _): line += "\t" + object.uid
                }
            case .hub(let action):
                switch action {
                case .createUser(_, let admin), .setAdmin(_, let admin): line += "\tadmin=\(admin)"
                case .addGroupMembers(_, let users), .removeGroupMembers(_, let users):
                    line += "\t" + users.joined(separator: ",")
                case .deleteUser, .createGroup, .deleteGroup: break
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
