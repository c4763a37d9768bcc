public import Foundation
public import RBACModel
import Yams

/// Writes the desired state as manifests into a directory for GitOps (`accesssync render --out DIR`).
///
/// One YAML file per object — `namespaces/<name>.yaml` for a namespace, `namespaces/<namespace>/<kind>-<name>.yaml`
/// for what it contains — built from the same server-side apply body the cluster target sends, plus
/// `hub.json` with the hub's users and groups. Namespaces carry `argocd.argoproj.io/sync-options: Prune=false`
/// so that Argo CD does not prune a leaver's namespace with its data. Output is byte-identical for the same
/// input. Files written by an earlier render and no longer desired are removed; the list of files this
/// target manages is kept in `.accesssync-render`, and a non-empty directory without it is refused.
/// There is no observed state here, so no retirement either.
public struct RenderTarget: Sendable {
    public static let markerFileName = ".accesssync-render"
    static let markerHeader = "# accesssync render index: files written by `accesssync render`; do not edit"

    public init() {}

    /// The files of a render, relative path → content, without touching the disk.
    public func files(for desired: DesiredState) throws(RenderError) -> [String: String] {
        var files: [String: String] = [:]
        for object in desired.objects.values {
            var rendered = object
            if object.ref.kind == .namespace {
                rendered.annotations[ManagedKeys.argoSyncOptions] = "Prune=false"
            }
            let path = Self.path(for: object.ref)
            guard files[path] == nil else {
                throw RenderError("two objects map to the file \(path)")
            }
            files[path] = try Self.yaml(Manifest.applyBody(for: rendered))
        }
        files["hub.json"] = Self.hubJSON(desired.hub)
        return files
    }

    /// Renders into `directory`, creating it when missing.
    ///
    /// - Throws: `RenderError` when the directory is not empty and has no render index, or a file
    ///   cannot be written.
    @discardableResult
    public func write(desired: DesiredState, to directory: String) throws(RenderError) -> RenderReport {
        let fileManager = FileManager.default
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        let marker = root.appendingPathComponent(Self.markerFileName)
        var previous: Set<String> = []
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: root.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw RenderError("\(root.path) is not a directory") }
            if fileManager.fileExists(atPath: marker.path) {
                guard let text = try? String(contentsOf: marker, encoding: .utf8) else {
                    throw RenderError("cannot read \(marker.path)")
                }
                previous = Set(text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty })
            } else {
                let contents = (try? fileManager.contentsOfDirectory(atPath: root.path)) ?? []
                guard contents.isEmpty else {
                    throw RenderError(
                        "refusing to render into \(root.path): it is not empty and has no \(Self.markerFileName) index of an earlier render")
                }
            }
        } else {
            do {
                try fileManager.createDirectory(at: root, withIntermediateDirectories: true)
            } catch {
                throw RenderError("cannot create \(root.path): \(error.localizedDescription)")
            }
        }

        let files = try files(for: desired)
        var report = RenderReport()
        for path in files.keys.sorted() {
            let url = root.appendingPathComponent(path)
            let data = Data(files[path]!.utf8)
            if fileManager.contents(atPath: url.path) == data {
                report.unchanged.append(path)
                continue
            }
            do {
                try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: url, options: .atomic)
            } catch {
                throw RenderError("cannot write \(url.path): \(error.localizedDescription)")
            }
            report.written.append(path)
        }
        for path in previous.subtracting(files.keys).sorted() {
            // Only plain relative paths this target could have written; never follow `..` or absolute paths.
            guard Self.isSafeRelativePath(path) else { continue }
            let url = root.appendingPathComponent(path)
            if fileManager.fileExists(atPath: url.path) {
                do {
                    try fileManager.removeItem(at: url)
                } catch {
                    throw RenderError("cannot remove stale \(url.path): \(error.localizedDescription)")
                }
                report.removed.append(path)
            }
            // Remove directories left empty, up to the root.
            var parent = url.deletingLastPathComponent().standardizedFileURL
            while parent.path.hasPrefix(root.path + "/"),
                let entries = try? fileManager.contentsOfDirectory(atPath: parent.path), entries.isEmpty
            {
                try? fileManager.removeItem(at: parent)
                parent = parent.deletingLastPathComponent().standardizedFileURL
            }
        }
        let index = Self.indexText(files.keys)
        do {
            if fileManager.contents(atPath: marker.path) != Data(index.utf8) {
                try Data(index.utf8).write(to: marker, options: .atomic)
            }
        } catch {
            throw RenderError("cannot write \(marker.path): \(error.localizedDescription)")
        }
        return report
    }

    // MARK: - Names

    /// The file an object is rendered to, relative to the output directory.
    public static func path(for ref: ObjectRef) -> String {
        if let namespace = ref.namespace {
            return "namespaces/\(fileSegment(namespace))/\(ref.kind.rawValue.lowercased())-\(fileSegment(ref.name)).yaml"
        }
        return "namespaces/\(fileSegment(ref.name)).yaml"
    }

    /// Percent-encodes anything but `[A-Za-z0-9._-]` (and a leading dot), so a name is always one safe,
    /// distinct file name.
    static func fileSegment(_ text: String) -> String {
        var out = ""
        for (offset, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: ".") where offset > 0:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out.isEmpty ? "%00" : out
    }

    static func isSafeRelativePath(_ path: String) -> Bool {
        !path.hasPrefix("/") && !path.split(separator: "/", omittingEmptySubsequences: false).contains {
            $0.isEmpty || $0 == "." || $0 == ".."
        } && path != markerFileName
    }

    // MARK: - Encoding

    static func hubJSON(_ hub: HubDesiredState) -> String {
        let users = hub.users.values.sorted { $0.name < $1.name }.map { user in
            JSONValue.object(["name": .string(user.name), "admin": .bool(user.admin)])
        }
        let groups = hub.groups.values.sorted { $0.name < $1.name }.map { group in
            JSONValue.object(["name": .string(group.name), "members": .array(group.members.sorted().map(JSONValue.string))])
        }
        return JSONValue.object(["users": .array(users), "groups": .array(groups)]).prettySerialized()
    }

    /// Block-style YAML with sorted keys; strings that a YAML 1.1 reader could take for anything else
    /// are double-quoted.
    static func yaml(_ value: JSONValue) throws(RenderError) -> String {
        do {
            return try Yams.serialize(node: node(value), indent: 2, width: -1, allowUnicode: true, sortKeys: false)
        } catch {
            throw RenderError("cannot encode YAML: \(error)")
        }
    }

    static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node.scalar(.init("null", Tag(.null), .plain))
        case .bool(let flag): return Node.scalar(.init(flag ? "true" : "false", Tag(.bool), .plain))
        case .int(let number): return Node.scalar(.init(String(number), Tag(.int), .plain))
        case .double: return Node.scalar(.init(value.serialized(), Tag(.float), .plain))
        case .string(let text): return Node.scalar(stringScalar(text))
        case .array(let values):
            return Node.sequence(.init(values.map(node), Tag(.seq), .block))
        case .object(let members):
            let pairs = members.keys.sorted().map { key in (Node.scalar(stringScalar(key)), node(members[key]!)) }
            return Node.mapping(.init(pairs, Tag(.map), .block))
        }
    }

    private static let ambiguousWords: Set<String> = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ]

    static func stringScalar(_ text: String) -> Node.Scalar {
        var plain = !text.isEmpty && !ambiguousWords.contains(text.lowercased())
        if plain, let first = text.unicodeScalars.first {
            plain = ("A"..."Z").contains(first) || ("a"..."z").contains(first)
        }
        if plain {
            plain = text.unicodeScalars.allSatisfy { scalar in
                ("A"..."Z").contains(scalar) || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "-_./".unicodeScalars.contains(scalar)
            }
        }
        return .init(text, Tag(.str), plain ? .plain : .doubleQuoted)
    }
}

/// Files a render wrote, left alone (already identical) and removed.
public struct RenderReport: Sendable, Hashable {
    public var written: [String] = []
    public var unchanged: [String] = []
    public var removed: [String] = []

    public init() {}
}

public struct RenderError: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
    public var errorDescription: String? { message }
}
