// Behaviours 6, 7 and 17: server-side apply request checks, field ownership, conflicts, force, removal.

import KubeTestServer
import Testing

@Suite("Server-side apply")
struct ApplyTests {
    let path = "\(cmPath)/a"

    // Behaviour 6. Models k8s.io/apiserver/pkg/endpoints/handlers/patch.go (content types, apply decoding),
    // k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go ValidatePatchOptions
    // ("fieldManager: Required value: is required for apply patch") and
    // https://kubernetes.io/docs/reference/using-api/server-side-apply/
    @Test func requestChecks() async throws {
        try await withServer { _, client in
            let created = try await client.apply(path, configMap("a", data: ["x": "1"]))
            #expect(created.status == 201)
            let patched = try await client.apply(path, configMap("a", data: ["x": "2"]))
            #expect(patched.status == 200)
            let noop = try await client.apply(path, configMap("a", data: ["x": "2"]))
            #expect(noop.status == 200)
            #expect(noop.resourceVersion == patched.resourceVersion)

            let noManager = try await client.apply(path, configMap("a"), manager: nil)
            #expect(noManager.status == 422)
            #expect(noManager.reason == "Invalid")
            #expect(noManager.message.contains("fieldManager: Required value: is required for apply patch"))
            let longManager = try await client.apply(path, configMap("a"), manager: String(repeating: "m", count: 129))
            #expect(longManager.status == 422)

            let managed = try await client.apply(
                path, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","managedFields":[{"manager":"x"}]}}"#)
            #expect(managed.status == 400)
            #expect(managed.message == "metadata.managedFields must be nil")

            let mismatch = try await client.apply(path, configMap("b"))
            #expect(mismatch.status == 400)
            #expect(mismatch.message.contains("does not match the name on the URL"))

            let escaped = try await client.apply(
                path,
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"app.kubernetes.io\/name":"x"}}}"#)
            #expect(escaped.status == 400)
            #expect(escaped.message.contains("found unknown escape character"))

            let undecodable = try await client.apply(path, "{not json")
            #expect(undecodable.status == 400)

            let badType = try await client.send(
                "PATCH", "\(path)?fieldManager=test", body: configMap("a"), contentType: "application/apply-patch+cbor")
            #expect(badType.status == 415)
        }
    }

    // Behaviour 7. Models sigs.k8s.io/structured-merge-diff merge/update.go (conflicts, force, removal) and
    // k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go (messages).
    @Test func ownershipConflictsAndForce() async throws {
        try await withServer { _, client in
            _ = try await client.apply(path, configMap("a", labels: ["team": "a"], data: ["x": "1", "y": "1"]), manager: "alpha")
            let conflict = try await client.apply(path, configMap("a", data: ["x": "2"]), manager: "beta")
            #expect(conflict.status == 409)
            #expect(conflict.reason == "Conflict")
            #expect(conflict.message == #"Apply failed with 1 conflict: conflict with "alpha": .data.x"#)
            #expect(conflict.causes.count == 1)
            #expect(conflict.causes.first?["reason"] == "FieldManagerConflict")
            #expect(conflict.causes.first?["field"] == ".data.x")
            #expect(conflict.causes.first?["message"] == #"conflict with "alpha""#)

            let two = try await client.apply(path, configMap("a", data: ["x": "2", "y": "2"]), manager: "beta")
            #expect(two.message.hasPrefix("Apply failed with 2 conflicts: conflicts with \"alpha\":\n- .data.x\n- .data.y"))

            // Same value: shared ownership, no conflict.
            let shared = try await client.apply(path, configMap("a", data: ["x": "1"]), manager: "beta")
            #expect(shared.status == 200)

            let forced = try await client.apply(path, configMap("a", data: ["y": "9"]), manager: "beta", force: true)
            #expect(forced.status == 200)
            #expect(forced["data"]?["y"] == "9")
            let managers = forced.metadata?["managedFields"]?.arrayValue ?? []
            let alpha = managers.first { $0["manager"] == "alpha" }
            #expect(alpha?["fieldsV1"]?["f:data"]?["f:y"] == nil)
            #expect(alpha?["fieldsV1"]?["f:data"]?["f:x"] != nil)
            #expect(alpha?["operation"] == "Apply")

            // Omitted fields the manager alone owned are removed; co-owned ones stay.
            let shrunk = try await client.apply(path, configMap("a", data: ["x": "1"]), manager: "alpha")
            #expect(shrunk["data"] == ["x": "1", "y": "9"])
            #expect(shrunk.metadata?["labels"] == nil)
            let gone = try await client.apply(path, configMap("a"), manager: "beta")
            #expect(gone["data"] == ["x": "1"])
        }
    }

    // Behaviour 7: atomic lists (+listType=atomic in k8s.io/api/rbac/v1/types.go: rules, subjects) replace whole.
    @Test func atomicListsReplacedWhole() async throws {
        try await withServer { _, client in
            let rolePath = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/r"
            func role(_ verbs: [String], resources: [String]) -> String {
                let v = verbs.map { "\"\($0)\"" }.joined(separator: ",")
                let r = resources.map { "\"\($0)\"" }.joined(separator: ",")
                return #"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":[\#(r)],"verbs":[\#(v)]}]}"#
            }
            _ = try await client.apply(rolePath, role(["get", "list"], resources: ["configmaps", "pods"]), manager: "m")
            let replaced = try await client.apply(rolePath, role(["get"], resources: ["pods"]), manager: "m")
            #expect(replaced["rules"] == [["apiGroups": [""], "resources": ["pods"], "verbs": ["get"]]])
            let fields = replaced.metadata?["managedFields"]?.arrayValue?.first?["fieldsV1"]
            #expect(fields == ["f:rules": [:]])
            let other = try await client.apply(rolePath, role(["watch"], resources: ["pods"]), manager: "n")
            #expect(other.status == 409)
            #expect(other.causes.first?["field"] == ".rules")
        }
    }

    // Behaviour 17. https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
    // ("Update" and "Apply" entries of one manager are distinct): a field set by POST survives an apply by the same
    // manager that omits it.
    @Test func ownershipKeyedByManagerAndOperation() async throws {
        try await withServer { _, client in
            let created = try await client.send(
                "POST", "\(cmPath)?fieldManager=sync", body: configMap("a", data: ["created": "1"]))
            #expect(created.status == 201)
            let entry = created.metadata?["managedFields"]?.arrayValue?.first
            #expect(entry?["manager"] == "sync")
            #expect(entry?["operation"] == "Update")
            #expect(entry?["fieldsV1"]?["f:data"]?["."] == [:])

            _ = try await client.apply(path, configMap("a", data: ["applied": "1"]), manager: "sync")
            let second = try await client.apply(path, configMap("a"), manager: "sync")
            #expect(second["data"] == ["created": "1"])
            let operations = (second.metadata?["managedFields"]?.arrayValue ?? []).compactMap { $0["operation"]?.stringValue }
            #expect(operations == ["Update"])

            // Updates by another manager take ownership of what they change, without conflicts.
            var body = second.json.objectValue!
            body["data"] = ["created": "2"]
            let put = try await client.send(
                "PUT", "\(path)?fieldManager=editor", body: JSONValue.object(body).jsonString)
            #expect(put.status == 200)
            let editors = (put.metadata?["managedFields"]?.arrayValue ?? []).compactMap { $0["manager"]?.stringValue }
            #expect(editors.contains("editor"))
            let conflict = try await client.apply(path, configMap("a", data: ["created": "3"]), manager: "sync")
            #expect(conflict.status == 409)
            #expect(conflict.message.contains(#"conflict with "editor" using v1: .data.created"#))
        }
    }

    // dryRun=All on apply validates without persisting (behaviour 16, for apply).
    @Test func applyDryRun() async throws {
        try await withServer { server, client in
            let r = try await client.apply(path, configMap("a", data: ["x": "1"]), extra: "dryRun=All")
            #expect(r.status == 201)
            #expect(server.object("configmaps", namespace: "default", name: "a") == nil)
            let bad = try await client.apply(path, configMap("a"), extra: "dryRun=Some")
            #expect(bad.status == 422)
        }
    }
}
