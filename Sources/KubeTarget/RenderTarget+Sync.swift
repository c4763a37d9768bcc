import Foundation
public import RBACModel
import Yams

// `accesssync sync` with `kubernetes.mode: render`: the directory plays the cluster. The previous
// render is read back as the observed state (so a second run plans no changes), and each change
// is applied to its one file, keeping the render index. A leaver's namespace is not retired here:
// its file and the files of everything inside it are removed (Argo CD keeps the live namespace and
// its data because of `Prune=false`), which removes the bindings that gave access.

extension RenderTarget {
    /// A stand-in uid for objects read back from files (they have no server identity).
    public static let renderedUID = "rendered"

    /// Reads the files of an earlier render as observed state. A missing directory is an empty
    /// cluster; a non-empty directory without an index is refused (as `write` refuses it).
    public func observe(directory: String) throws(RenderError) -> ObservedCluster {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        let paths = try indexedPaths(root)
        var owned: [ObservedObject] = []
        for path in paths.sorted() where path.hasSuffix(".yaml") {
            let url = root.appendingPathComponent(path)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw RenderError("cannot read \(url.path), listed in \(Self.markerFileName)")
            }
            let value: JSONValue
            do {
                value = try Self.jsonValue(Yams.load(yaml: text) as Any)
            } catch {
                throw RenderError("cannot parse \(url.path): \(error)")
            }
            guard let kindName = value["kind"]?.stringValue, let kind = ObjectKind.allCases.first(where: { $0.rawValue == kindName })
            else {
                throw RenderError("\(url.path) has no kind AccessSync renders")
            }
            var object = value
            if case .object(var members) = object, case .object(var metadata)? = members["metadata"] {
                metadata["uid"] = .string(Self.renderedUID)
                metadata["resourceVersion"] = .string("0")
                if case .object(var annotations)? = metadata["annotations"] {
                    annotations[ManagedKeys.argoSyncOptions] = nil
                    metadata["annotations"] = annotations.isEmpty ? nil : .object(annotations)
                }
                members["metadata"] = .object(metadata)
                object = .object(members)
            }
            do {
                owned.append(try ManifestDecoding.observed(object, kind: kind))
            } catch {
                throw RenderError("\(url.path): \(error)")
            }
        }
        let namespaces = owned.filter { $0.ref.kind == .namespace }
        return ObservedCluster(owned: owned, allNamespaces: namespaces)
    }

    /// Applies changes to the files: create, update and adopt write the object's file; delete
    /// removes it; retiring a namespace removes its file (see above). Returns an error message per
    /// change that could not be applied. The index is rewritten after the files.
    public func apply(_ changes: [Change], directory: String) -> [String: String] {
        let fileManager = FileManager.default
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var failures: [String: String] = [:]
        var paths: Set<String>
        do {
            paths = try indexedPaths(root)
            try fileManager.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            for change in changes { failures[change.id] = "\(error)" }
            return failures
        }
        for change in changes {
            guard case .kube(let action) = change.target else {
                failures[change.id] = "not a Kubernetes change"
                continue
            }
            let path = Self.path(for: action.ref)
            let url = root.appendingPathComponent(path)
            do {
                switch action {
                case .create(let object), .update(_, let object), .adopt(_, let object):
                    var rendered = object
                    if object.ref.kind == .namespace {
                        rendered.annotations[ManagedKeys.argoSyncOptions] = "Prune=false"
                    }
                    let text = try Self.yaml(Manifest.applyBody(for: rendered))
                    try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(text.utf8).write(to: url, options: .atomic)
                    paths.insert(path)
                case .delete:
                    if fileManager.fileExists(atPath: url.path) { try fileManager.removeItem(at: url) }
                    paths.remove(path)
                case .retire(let observed, _):
                    // The namespace leaves the render with everything in it (GitOps with
                    // Prune=false keeps the live namespace and its data; access goes with the bindings).
                    if fileManager.fileExists(atPath: url.path) { try fileManager.removeItem(at: url) }
                    paths.remove(path)
                    if observed.ref.kind == .namespace {
                        let prefix = "namespaces/\(Self.fileSegment(observed.ref.name))/"
                        for inside in paths.filter({ $0.hasPrefix(prefix) }) {
                            let file = root.appendingPathComponent(inside)
                            if fileManager.fileExists(atPath: file.path) { try fileManager.removeItem(at: file) }
                            paths.remove(inside)
                        }
                        try? fileManager.removeItem(at: root.appendingPathComponent(String(prefix.dropLast())))
                    }
                }
            } catch {
                failures[change.id] = "cannot update \(url.path): \(error)"
            }
        }
        let index = Self.indexText(paths)
        do {
            try Data(index.utf8).write(to: root.appendingPathComponent(Self.markerFileName), options: .atomic)
        } catch {
            for change in changes where failures[change.id] == nil {
                failures[change.id] = "cannot write the render index: \(error)"
            }
        }
        return failures
    }

    /// Writes `hub.json` (the hub state for tools that configure the hub from files).
    public func writeHub(_ hub: HubDesiredState, directory: String) throws(RenderError) {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var paths = try indexedPaths(root)
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try Data(Self.hubJSON(hub).utf8).write(to: root.appendingPathComponent("hub.json"), options: .atomic)
            paths.insert("hub.json")
            let index = Self.indexText(paths)
            try Data(index.utf8).write(to: root.appendingPathComponent(Self.markerFileName), options: .atomic)
        } catch {
            throw RenderError("cannot write hub.json in \(root.path): \(error.localizedDescription)")
        }
    }

    /// The content of the render index for these paths.
    static func indexText<S: Sequence<String>>(_ paths: S) -> String {
        ([markerHeader] + paths.sorted()).joined(separator: "\n") + "\n"
    }

    /// The paths listed in the index; empty for a missing or empty directory.
    func indexedPaths(_ root: URL) throws(RenderError) -> Set<String> {
        let fileManager = FileManager.default
        let marker = root.appendingPathComponent(Self.markerFileName)
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: root.path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { throw RenderError("\(root.path) is not a directory") }
        guard fileManager.fileExists(atPath: marker.path) else {
            let contents = (try? fileManager.contentsOfDirectory(atPath: root.path)) ?? []
            if contents.isEmpty { return [] }
            throw RenderError(
                "refusing to use \(root.path): it is not empty and has no \(Self.markerFileName) index of an earlier render")
        }
        guard let text = try? String(contentsOf: marker, encoding: .utf8) else {
            throw RenderError("cannot read \(marker.path)")
        }
        return Set(
            text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
                .filter(Self.isSafeRelativePath))
    }

    /// YAML as loaded by Yams → JSONValue.
    static func jsonValue(_ any: Any) throws -> JSONValue {
        switch any {
        case is NSNull: return .null
        case let value as Bool: return .bool(value)
        case let value as Int: return .int(Int64(value))
        case let value as Double: return .double(value)
        case let value as String: return .string(value)
        case let value as [Any]: return .array(try value.map(jsonValue))
        case let value as [String: Any]:
            var members: [String: JSONValue] = [:]
            for (key, item) in value { members[key] = try jsonValue(item) }
            return .object(members)
        case Optional<Any>.none: return .null
        default: throw RenderError("unsupported YAML value \(type(of: any))")
        }
    }
}
