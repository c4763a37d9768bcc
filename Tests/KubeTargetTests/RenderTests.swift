import Foundation
import RBACModel
import TestSupport
import Testing

@testable import KubeTarget

/// `kubernetes-validate` from the project venv (`$ACCESSSYNC_VENV`), or /work/venv-kube for local runs.
func kubernetesValidate() throws -> String {
    let environment = ProcessInfo.processInfo.environment
    var candidates: [String] = []
    if let venv = environment["ACCESSSYNC_VENV"], !venv.isEmpty { candidates.append(venv + "/bin/kubernetes-validate") }
    candidates.append("/work/venv-kube/bin/kubernetes-validate")
    guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw ValidationToolMissing(
            message: "kubernetes-validate not found (looked at \(candidates.joined(separator: ", "))): run scripts/test.sh, "
                + "or source .testenv/env.sh so ACCESSSYNC_VENV points at a venv with `pip install kubernetes-validate`")
    }
    return tool
}

struct ValidationToolMissing: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    let reapedStatus = reapChild(process)
    return (reapedStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct RenderTests {
    func desiredState(people: [String]) -> DesiredState {
        let objects = people.flatMap { Samples.objects(namespace: "jhub-\($0)", person: $0) }
        let hub = HubDesiredState(
            users: people.map { HubUserDesired(name: $0, admin: $0 == "alice", person: PersonID("uuid-\($0)"), provenance: []) },
            groups: [HubGroupDesired(name: "ds", members: Set(people), provenance: [])])
        return DesiredState(objects: objects, hub: hub)
    }

    @Test func rendersOneValidManifestPerObject() throws {
        let directory = try makeTemporaryDirectory("render")
        let desired = desiredState(people: ["alice", "bob"])
        let report = try RenderTarget().write(desired: desired, to: directory)
        #expect(report.written.count == desired.objects.count + 1)
        #expect(report.removed.isEmpty)
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count == desired.objects.count)
        #expect(files.contains("namespaces/jhub-alice.yaml"))
        #expect(files.contains("namespaces/jhub-alice/rolebinding-accesssync-alice.yaml"))
        #expect(files.contains("namespaces/jhub-bob/resourcequota-accesssync-quota.yaml"))

        let namespaceYAML = try String(contentsOfFile: directory + "/namespaces/jhub-alice.yaml", encoding: .utf8)
        #expect(namespaceYAML.contains("argocd.argoproj.io/sync-options: \"Prune=false\""))
        #expect(namespaceYAML.contains("app.kubernetes.io/managed-by: accesssync"))
        let quotaYAML = try String(contentsOfFile: directory + "/namespaces/jhub-alice/resourcequota-accesssync-quota.yaml", encoding: .utf8)
        #expect(quotaYAML.contains("pods: \"10\""))
        #expect(!quotaYAML.contains("Prune=false"))

        let hub = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/hub.json"))))
        #expect(hub["users"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["alice", "bob"])
        #expect(hub["users"]?.arrayValue?.first?["admin"] == .bool(true))
        #expect(hub["groups"]?.arrayValue?.first?["members"] == .array([.string("alice"), .string("bob")]))

        // Every manifest is valid for Kubernetes 1.30 (strict: no unknown fields).
        let tool = try kubernetesValidate()
        let result = try run(tool, ["-k", "1.30.0", "--strict"] + files.map { directory + "/" + $0 })
        #expect(result.status == 0, "\(result.output)")

        // The apply bodies parse back to the same specs.
        for object in desired.objects.values {
            let text = try String(contentsOfFile: directory + "/" + RenderTarget.path(for: object.ref), encoding: .utf8)
            #expect(text.hasPrefix("apiVersion: "))
            #expect(text.contains("name: \(object.ref.name)"))
        }
    }

    @Test func outputIsByteIdenticalAndStaleFilesAreRemoved() throws {
        let first = try makeTemporaryDirectory("render-a")
        let second = try makeTemporaryDirectory("render-b")
        let desired = desiredState(people: ["carol", "dave", "erin"])
        try RenderTarget().write(desired: desired, to: first)
        try RenderTarget().write(desired: desiredState(people: ["erin", "dave", "carol"]), to: second)
        let files = try FileManager.default.subpathsOfDirectory(atPath: first).sorted()
        #expect(files == (try FileManager.default.subpathsOfDirectory(atPath: second).sorted()))
        for file in files {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: first + "/" + file, isDirectory: &isDirectory)
            if isDirectory.boolValue { continue }
            #expect(FileManager.default.contents(atPath: first + "/" + file) == FileManager.default.contents(atPath: second + "/" + file), "\(file)")
        }

        // Same input again: nothing is rewritten.
        let again = try RenderTarget().write(desired: desired, to: first)
        #expect(again.written.isEmpty)
        #expect(again.removed.isEmpty)

        // A file of our own that is not ours to manage, inside the directory, survives.
        try write("keep me", to: first + "/README.md")
        // dave leaves: his files go, directories left empty go, the rest stays.
        let smaller = try RenderTarget().write(desired: desiredState(people: ["carol", "erin"]), to: first)
        #expect(smaller.removed.contains("namespaces/jhub-dave.yaml"))
        #expect(smaller.removed.contains("namespaces/jhub-dave/role-accesssync-user.yaml"))
        #expect(!FileManager.default.fileExists(atPath: first + "/namespaces/jhub-dave"))
        #expect(FileManager.default.fileExists(atPath: first + "/namespaces/jhub-carol.yaml"))
        #expect(FileManager.default.fileExists(atPath: first + "/README.md"))
        #expect(smaller.written == ["hub.json"])
        let index = try String(contentsOfFile: first + "/" + RenderTarget.markerFileName, encoding: .utf8)
        #expect(!index.contains("dave"))
        #expect(index.contains("namespaces/jhub-carol.yaml"))
    }

    @Test func refusesForeignDirectoriesAndNeverEscapesIt() throws {
        let directory = try makeTemporaryDirectory("render-foreign")
        try write("hello", to: directory + "/something.txt")
        #expect(throws: RenderError.self) { try RenderTarget().write(desired: desiredState(people: ["x"]), to: directory) }
        #expect(!FileManager.default.fileExists(atPath: directory + "/hub.json"))

        // A tampered index naming files outside the directory removes nothing outside it.
        let outside = try makeTemporaryDirectory("render-outside")
        try write("precious", to: outside + "/precious.yaml")
        let managed = try makeTemporaryDirectory("render-managed")
        try RenderTarget().write(desired: desiredState(people: ["x"]), to: managed)
        let relative = "../" + (outside as NSString).lastPathComponent + "/precious.yaml"
        let marker = managed + "/" + RenderTarget.markerFileName
        try (try String(contentsOfFile: marker, encoding: .utf8) + relative + "\n/etc/hostname\n").write(
            toFile: marker, atomically: true, encoding: .utf8)
        let report = try RenderTarget().write(desired: desiredState(people: ["y"]), to: managed)
        #expect(FileManager.default.fileExists(atPath: outside + "/precious.yaml"))
        #expect(!report.removed.contains(relative))
        #expect(report.removed.contains("namespaces/jhub-x.yaml"))

        // Awkward names stay inside one file name each.
        #expect(RenderTarget.path(for: ObjectRef(kind: .role, namespace: "ns", name: "oidc:a/b")) == "namespaces/ns/role-oidc%3Aa%2Fb.yaml")
        #expect(RenderTarget.path(for: ObjectRef(kind: .namespace, namespace: nil, name: "..")) == "namespaces/%2E..yaml")
    }

    @Test func yamlQuotesAmbiguousStrings() throws {
        let text = try RenderTarget.yaml(
            .object([
                "a": .string("yes"), "b": .string("10"), "c": .string("plain-text"), "d": .string("1.5Gi"),
                "e": .string(""), "f": .string("with: colon"), "g": .array([.string("*"), .string("pods/log")]),
                "h": .string("Off"), "i": .string("line\nbreak"),
            ]))
        #expect(
            text == """
                a: "yes"
                b: "10"
                c: plain-text
                d: "1.5Gi"
                e: ""
                f: "with: colon"
                g:
                - "*"
                - pods/log
                h: "Off"
                i: "line\\nbreak"

                """)
    }
}
