public import RBACModel

/// Splits an ordered change set into waves that can each be applied concurrently.
///
/// Wave 0 holds every access-removing change whose dependencies are met without anything else
/// (revocation first: a leaver loses access before anything is added); the remaining changes are
/// grouped by dependency depth, so every change's dependencies sit in earlier waves. Pure.
public enum ApplySchedule {
    public static func waves(_ changes: [Change]) -> [[Change]] {
        let byID = Dictionary(changes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var depth: [String: Int] = [:]

        func depthOf(_ id: String, visiting: inout Set<String>) -> Int {
            if let known = depth[id] { return known }
            guard let change = byID[id] else { return -1 }  // dependency outside the set: already satisfied
            guard visiting.insert(id).inserted else { return 0 }  // defensive: a cycle must not hang us
            var level = change.removesAccess && change.dependsOn.isEmpty ? 0 : 1
            for dependency in change.dependsOn {
                level = max(level, depthOf(dependency, visiting: &visiting) + 1)
            }
            visiting.remove(id)
            depth[id] = level
            return level
        }

        var visiting: Set<String> = []
        for change in changes { _ = depthOf(change.id, visiting: &visiting) }
        let maxDepth = depth.values.max() ?? -1
        guard maxDepth >= 0 else { return [] }
        var waves = Array(repeating: [Change](), count: maxDepth + 1)
        for change in changes { waves[depth[change.id]!].append(change) }
        return waves.filter { !$0.isEmpty }
    }
}
