import Foundation
public import RBACModel

/// What a render wrote.
public struct RenderSummary: Hashable, Sendable {
    /// Relative paths written (new or changed), unchanged, and removed (stale from an earlier render).
    public var written: [String]
    public var unchanged: [String]
    public var removed: [String]

    public init(written: [String] = [], unchanged: [String] = [], removed: [String] = []) {
        self.written = written
        self.unchanged = unchanged
        self.removed = removed
    }
}

/// Writes a desired state into a directory (one manifest per object, plus the hub state).
///
/// The real implementation is KubeTarget's `RenderTarget` (being written by the Kubernetes
/// engineer); `accesssync render` reaches it only through this protocol so that the command and its
/// tests do not depend on its internals. Errors are reported as `cannotCreate` (73).
public protocol DesiredStateRenderer: Sendable {
    func render(_ desired: DesiredState, to directory: String) throws(CommandFailure) -> RenderSummary
}

/// INTERIM renderer until KubeTarget's `RenderTarget` is on main: each object's server-side apply
/// body as canonical JSON (which is valid YAML) in `<kind>/<namespace>/<name>.yaml`, and `hub.json`.
/// Deterministic, and enough for the command's tests; to be replaced by an adapter to
/// `RenderTarget` (which adds Argo CD's `Prune=false` on namespaces and stale-file removal).
public struct InterimRenderer: DesiredStateRenderer {
    public init() {}

    public func render(_ desired: DesiredState, to directory: String) throws(CommandFailure) -> RenderSummary {
        let manager = FileManager.default
        let root = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CommandFailure(.cannotCreate, "\(directory) exists and is not a directory")
        }
        var files: [String: Data] = [:]
        for (ref, object) in desired.objects {
            var rendered = object
            if ref.kind == .namespace { rendered.annotations[ManagedKeys.argoSyncOptions] = "Prune=false" }
            let path = [ref.kind.rawValue.lowercased(), ref.namespace, ref.name + ".yaml"].compactMap { $0 }
                .joined(separator: "/")
            files[path] = Data((Manifest.applyBody(for: rendered).prettySerialized() + "\n").utf8)
        }
        let users = desired.hub.users.values.sorted { $0.name < $1.name }.map { user in
            JSONValue.object(["name": .string(user.name), "admin": .bool(user.admin)])
        }
        let groups = desired.hub.groups.values.sorted { $0.name < $1.name }.map { group in
            JSONValue.object(["name": .string(group.name), "members": .array(group.members.sorted().map(JSONValue.string))])
        }
        files["hub.json"] = Data((JSONValue.object(["users": .array(users), "groups": .array(groups)]).prettySerialized() + "\n").utf8)
        var summary = RenderSummary()
        for path in files.keys.sorted() {
            let url = root.appendingPathComponent(path)
            if manager.contents(atPath: url.path) == files[path] {
                summary.unchanged.append(path)
                continue
            }
            do {
                try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try files[path]!.write(to: url, options: .atomic)
            } catch {
                throw CommandFailure(.cannotCreate, "cannot write \(url.path): \(error.localizedDescription)")
            }
            summary.written.append(path)
        }
        return summary
    }
}
