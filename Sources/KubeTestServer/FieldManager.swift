// Field ownership (managedFields) for server-side apply and for updates.
// Models sigs.k8s.io/structured-merge-diff merge/update.go (Apply, Update, conflicts, removal of fields no longer
// applied) and k8s.io/apimachinery/pkg/util/managedfields/internal (stripmeta.go, managedfields.go sorting,
// manager identifiers, conflict.go messages), simplified for the kinds served here: every map is granular
// (owned per key) and every list is atomic (owned whole).

/// A path of object keys from the object root, e.g. `["data", "x"]`.
typealias FieldPath = [String]

/// One `metadata.managedFields` entry.
struct ManagedFieldsEntry: Sendable, Equatable {
    var manager: String
    var operation: String
    var apiVersion: String
    var time: String
    var fields: Set<FieldPath>

    /// The identifier SSA prints in conflicts: `"m"` for appliers, `"m" using v1` for updaters.
    var displayName: String {
        operation == "Apply" ? goQuote(manager) : "\(goQuote(manager)) using \(apiVersion)"
    }

    var json: JSONValue {
        var o = JSONObject()
        o["manager"] = .string(manager)
        o["operation"] = .string(operation)
        o["apiVersion"] = .string(apiVersion)
        o["time"] = .string(time)
        o["fieldsType"] = "FieldsV1"
        o["fieldsV1"] = FieldManager.encodeFieldSet(fields)
        return .object(o)
    }
}

enum FieldManager {
    static let strippedTopLevel: Set<String> = ["apiVersion", "kind", "status"]
    static let strippedMetadata: Set<String> = [
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
        "deletionTimestamp", "deletionGracePeriodSeconds",
    ]

    // MARK: Encoding

    static func entries(of object: JSONObject) -> [ManagedFieldsEntry] {
        guard let list = object["metadata"]?["managedFields"]?.arrayValue else { return [] }
        return list.compactMap { v in
            guard let o = v.objectValue else { return nil }
            var fields = Set<FieldPath>()
            if let f = o["fieldsV1"]?.objectValue { decodeFieldSet(f, prefix: [], into: &fields) }
            return ManagedFieldsEntry(
                manager: o["manager"]?.stringValue ?? "", operation: o["operation"]?.stringValue ?? "Update",
                apiVersion: o["apiVersion"]?.stringValue ?? "", time: o["time"]?.stringValue ?? "", fields: fields)
        }
    }

    static func setEntries(_ entries: [ManagedFieldsEntry], on object: inout JSONObject) {
        let kept = entries.filter { !$0.fields.isEmpty }.sorted { p, q in
            if p.operation != q.operation { return p.operation < q.operation }
            if p.time != q.time { return p.time < q.time }
            if p.manager != q.manager { return p.manager < q.manager }
            return p.apiVersion < q.apiVersion
        }
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        metadata["managedFields"] = kept.isEmpty ? nil : .array(kept.map(\.json))
        object["metadata"] = .object(metadata)
    }

    private final class Node {
        var member = false
        var children: [String: Node] = [:]
    }

    static func encodeFieldSet(_ fields: Set<FieldPath>) -> JSONValue {
        let root = Node()
        for path in fields {
            var node = root
            for element in path {
                if let child = node.children[element] {
                    node = child
                } else {
                    let child = Node()
                    node.children[element] = child
                    node = child
                }
            }
            node.member = true
        }
        func render(_ node: Node) -> JSONValue {
            var o = JSONObject()
            if node.member && !node.children.isEmpty { o["."] = .object(JSONObject()) }
            for key in node.children.keys.sorted() {
                let rendered = key.hasPrefix("k:") || key.hasPrefix("v:") || key.hasPrefix("i:") ? key : "f:" + key
                o[rendered] = render(node.children[key]!)
            }
            return .object(o)
        }
        return render(root)
    }

    static func decodeFieldSet(_ o: JSONObject, prefix: FieldPath, into fields: inout Set<FieldPath>) {
        for (key, value) in o {
            if key == "." {
                if !prefix.isEmpty { fields.insert(prefix) }
                continue
            }
            let element = key.hasPrefix("f:") ? String(key.dropFirst(2)) : key
            let path = prefix + [element]
            let child = value.objectValue ?? JSONObject()
            if child.isEmpty {
                fields.insert(path)
            } else {
                decodeFieldSet(child, prefix: path, into: &fields)
            }
        }
    }

    // MARK: Paths

    /// Whether a path is excluded from ownership (identity metadata and status).
    static func isStripped(_ path: FieldPath) -> Bool {
        guard let first = path.first else { return true }
        if strippedTopLevel.contains(first) { return true }
        if first == "metadata" {
            if path.count == 1 { return true }
            return strippedMetadata.contains(path[1])
        }
        return false
    }

    /// Leaves of an applied configuration: scalars, lists (atomic) and empty maps.
    static func leafPaths(of object: JSONObject) -> Set<FieldPath> {
        var out = Set<FieldPath>()
        func walk(_ o: JSONObject, _ prefix: FieldPath) {
            for (key, value) in o {
                let path = prefix + [key]
                if isStripped(path) && !(path == ["metadata"]) { continue }
                if case .null = value { continue }
                if case .object(let child) = value, !child.isEmpty {
                    walk(child, path)
                } else if path != ["metadata"] {
                    out.insert(path)
                }
            }
        }
        walk(object, [])
        return out
    }

    /// Every node (maps too) of an object.
    static func allPaths(of object: JSONObject) -> Set<FieldPath> {
        var out = Set<FieldPath>()
        func walk(_ o: JSONObject, _ prefix: FieldPath) {
            for (key, value) in o {
                let path = prefix + [key]
                if isStripped(path) && path != ["metadata"] { continue }
                if path != ["metadata"] { out.insert(path) }
                if case .object(let child) = value { walk(child, path) }
            }
        }
        walk(object, [])
        return out
    }

    static func value(at path: FieldPath, in object: JSONObject) -> JSONValue? {
        var current: JSONValue = .object(object)
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// Removes the value at `path`, then removes maps that became empty on the way up.
    static func remove(_ path: FieldPath, from object: inout JSONObject) {
        guard let first = path.first else { return }
        if path.count == 1 {
            object[first] = nil
            return
        }
        guard var child = object[first]?.objectValue else { return }
        remove(Array(path.dropFirst()), from: &child)
        object[first] = child.isEmpty ? nil : .object(child)
    }

    /// Merges an applied configuration into a live object: maps recursively, everything else replaced.
    static func merge(_ live: JSONObject, _ config: JSONObject) -> JSONObject {
        var out = live
        for (key, value) in config {
            if case .null = value { continue }
            if case .object(let c) = value, let l = live[key]?.objectValue {
                out[key] = .object(merge(l, c))
            } else {
                out[key] = value
            }
        }
        return out
    }

    static func pathString(_ path: FieldPath) -> String {
        "." + path.joined(separator: ".")
    }

    // MARK: Apply

    /// Applies `config` for `manager` onto `live` (nil when creating).
    ///
    /// - Returns: the merged object carrying updated managedFields.
    /// - Throws: a 409 Conflict with FieldManagerConflict causes unless `force`.
    static func apply(
        live: JSONObject?, config: JSONObject, manager: String, force: Bool, apiVersion: String, now: String
    ) throws(APIError) -> JSONObject {
        var entries = live.map(entries(of:)) ?? []
        let base = live ?? JSONObject()
        let applied = leafPaths(of: config)
        let ownIndex = entries.firstIndex { $0.manager == manager && $0.operation == "Apply" }

        var conflicts: [(index: Int, path: FieldPath)] = []
        for (i, entry) in entries.enumerated() where i != ownIndex {
            for path in entry.fields.intersection(applied) where value(at: path, in: base) != value(at: path, in: config) {
                conflicts.append((i, path))
            }
        }
        if !conflicts.isEmpty {
            if !force {
                let rendered = conflicts.map { (manager: entries[$0.index].displayName, path: pathString($0.path)) }
                    .sorted { ($0.manager, $0.path) < ($1.manager, $1.path) }
                throw APIError.applyConflict(rendered)
            }
            for c in conflicts { entries[c.index].fields.remove(c.path) }
        }

        var merged = merge(base, config)
        let previous = ownIndex.map { entries[$0].fields } ?? []
        let others = entries.enumerated().filter { $0.offset != ownIndex }.map(\.element.fields)
        for path in previous.subtracting(applied).sorted(by: { $0.count > $1.count }) {
            let ownedElsewhere = others.contains { set in
                set.contains(path) || set.contains { $0.count > path.count && Array($0.prefix(path.count)) == path }
            }
            if !ownedElsewhere { remove(path, from: &merged) }
        }

        if let ownIndex {
            if entries[ownIndex].fields != applied || value(at: [], in: merged) != value(at: [], in: base) {
                entries[ownIndex].time = now
            }
            entries[ownIndex].fields = applied
        } else {
            entries.append(
                ManagedFieldsEntry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: now, fields: applied))
        }
        setEntries(entries, on: &merged)
        return merged
    }

    // MARK: Update

    /// Records an update (POST, PUT, non-apply PATCH) by `manager`: changed fields move to its Update entry.
    static func update(old: JSONObject?, new: inout JSONObject, manager: String, apiVersion: String, now: String) {
        var entries = old.map(entries(of:)) ?? []
        let oldObject = old ?? JSONObject()
        let oldPaths = allPaths(of: oldObject)
        let newPaths = allPaths(of: new)
        let removed = oldPaths.subtracting(newPaths)
        var changed = newPaths.subtracting(oldPaths)
        for path in newPaths.intersection(oldPaths) {
            let a = value(at: path, in: oldObject)
            let b = value(at: path, in: new)
            let isMap = a?.objectValue != nil && b?.objectValue != nil
            if !isMap && a != b { changed.insert(path) }
        }
        if changed.isEmpty && removed.isEmpty {
            setEntries(entries, on: &new)
            return
        }
        let touched = changed.union(removed)
        for i in entries.indices where !(entries[i].manager == manager && entries[i].operation == "Update") {
            entries[i].fields.subtract(touched)
        }
        if let own = entries.firstIndex(where: { $0.manager == manager && $0.operation == "Update" }) {
            entries[own].fields.subtract(removed)
            entries[own].fields.formUnion(changed)
            entries[own].time = now
        } else if !changed.isEmpty {
            entries.append(
                ManagedFieldsEntry(manager: manager, operation: "Update", apiVersion: apiVersion, time: now, fields: changed))
        }
        setEntries(entries, on: &new)
    }
}
