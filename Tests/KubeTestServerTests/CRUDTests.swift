// Behaviours 1, 2, 3 and 12: paths, Status bodies, create, get, update with resourceVersion, delete.

import KubeTestServer
import Testing

@Suite("Create, get, update, delete")
struct CRUDTests {
    // Behaviour 1. Models k8s.io/apimachinery/pkg/api/errors/errors.go NewNotFound and
    // plugin/pkg/admission/namespace/lifecycle/admission.go (create in a missing namespace → 404 namespaces).
    @Test func notFoundStatuses() async throws {
        try await withServer { _, client in
            let r = try await client.get("\(cmPath)/nope")
            #expect(r.status == 404)
            #expect(r["kind"] == "Status")
            #expect(r["status"] == "Failure")
            #expect(r.reason == "NotFound")
            #expect(r.message == #"configmaps "nope" not found"#)
            #expect(r["details"]?["kind"] == "configmaps")
            #expect(r["details"]?["name"] == "nope")
            #expect(r["code"] == 404)

            let role = try await client.get("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/x")
            #expect(role.message == #"roles.rbac.authorization.k8s.io "x" not found"#)
            #expect(role["details"]?["group"] == "rbac.authorization.k8s.io")

            let missingNS = try await client.post("/api/v1/namespaces/ghost/configmaps", configMap("a"))
            #expect(missingNS.status == 404)
            #expect(missingNS.message == #"namespaces "ghost" not found"#)
            #expect(missingNS["details"]?["kind"] == "namespaces")

            let unknown = try await client.get("/api/v1/pods")
            #expect(unknown.status == 404)
        }
    }

    // Behaviour 2. Models k8s.io/apiserver/pkg/registry/generic/registry/store.go Create (AlreadyExists) and
    // https://kubernetes.io/docs/reference/using-api/api-concepts/ (uid, creationTimestamp, resourceVersion).
    @Test func createSetsIdentityAndRejectsDuplicates() async throws {
        try await withServer { _, client in
            let created = try await client.post(cmPath, configMap("a", data: ["k": "v"]))
            #expect(created.status == 201)
            #expect(created["kind"] == "ConfigMap")
            #expect(created.metadata?["uid"]?.stringValue?.count == 36)
            #expect(created.metadata?["creationTimestamp"]?.stringValue?.hasSuffix("Z") == true)
            #expect(!created.resourceVersion.isEmpty)
            #expect(created.metadata?["namespace"] == "default")

            let dup = try await client.post(cmPath, configMap("a"))
            #expect(dup.status == 409)
            #expect(dup.reason == "AlreadyExists")
            #expect(dup.message == #"configmaps "a" already exists"#)
            #expect(dup["details"]?["kind"] == "configmaps")

            let got = try await client.get("\(cmPath)/a")
            #expect(got.status == 200)
            #expect(got["data"]?["k"] == "v")
            #expect(got.resourceVersion == created.resourceVersion)
        }
    }

    // Behaviour 3. Models store.go Update (no-op updates keep the resourceVersion; a stale one →
    // "the object has been modified; please apply your changes to the latest version and try again").
    @Test func updateWithResourceVersion() async throws {
        try await withServer { _, client in
            let created = try await client.post(cmPath, configMap("a", data: ["k": "v"]))
            var body = created.json.objectValue!
            let same = try await client.put("\(cmPath)/a", JSONValue.object(body).jsonString)
            #expect(same.status == 200)
            #expect(same.resourceVersion == created.resourceVersion)

            body["data"] = ["k": "w"]
            let changed = try await client.put("\(cmPath)/a", JSONValue.object(body).jsonString)
            #expect(changed.status == 200)
            #expect(changed.resourceVersion != created.resourceVersion)

            let stale = try await client.put("\(cmPath)/a", JSONValue.object(body).jsonString)
            #expect(stale.status == 409)
            #expect(stale.reason == "Conflict")
            #expect(
                stale.message
                    == #"Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again"#
            )

            let renamed = try await client.put("\(cmPath)/b", configMap("a"))
            #expect(renamed.status == 400)
            let missing = try await client.put("\(cmPath)/zz", configMap("zz"))
            #expect(missing.status == 404)
        }
    }

    // Behaviour 12. Models store.go Delete / preconditions (k8s.io/apiserver/pkg/storage/interfaces.go
    // Preconditions.Check: "Precondition failed: UID in precondition: %v, UID in object meta: %v") and
    // the success Status of k8s.io/apiserver/pkg/endpoints/handlers/delete.go.
    @Test func deleteWithPreconditions() async throws {
        try await withServer { _, client in
            let created = try await client.post(cmPath, configMap("a"))
            let uid = created.metadata?["uid"]?.stringValue ?? ""
            let wrongUID = try await client.delete(
                "\(cmPath)/a",
                #"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background","preconditions":{"uid":"other"}}"#)
            #expect(wrongUID.status == 409)
            #expect(wrongUID.reason == "Conflict")
            #expect(
                wrongUID.message
                    == #"Operation cannot be fulfilled on configmaps "a": Precondition failed: UID in precondition: other, UID in object meta: \#(uid)"#
            )
            let wrongRV = try await client.delete("\(cmPath)/a", #"{"preconditions":{"resourceVersion":"1"}}"#)
            #expect(wrongRV.status == 409)
            #expect(wrongRV.message.contains("Precondition failed: ResourceVersion in precondition: 1"))

            let badPolicy = try await client.delete("\(cmPath)/a", #"{"propagationPolicy":"Sideways"}"#)
            #expect(badPolicy.status == 422)

            let ok = try await client.delete(
                "\(cmPath)/a", #"{"propagationPolicy":"Background","preconditions":{"uid":"\#(uid)"}}"#)
            #expect(ok.status == 200)
            #expect(ok["kind"] == "Status")
            #expect(ok["status"] == "Success")
            #expect(ok["details"]?["kind"] == "configmaps")
            #expect(ok["details"]?["name"] == "a")
            #expect(ok["details"]?["uid"]?.stringValue == uid)
            #expect(try await client.get("\(cmPath)/a").status == 404)
            #expect(try await client.delete("\(cmPath)/a").status == 404)

            _ = try await client.post(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
                #"{"metadata":{"name":"r"},"rules":[]}"#)
            let role = try await client.delete("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/r")
            #expect(role["details"]?["group"] == "rbac.authorization.k8s.io")
            #expect(role["details"]?["kind"] == "roles")
        }
    }

    // Objects with finalizers are only marked for deletion (store.go updateForGracefulDeletionAndFinalizers).
    @Test func finalizersDelayDeletion() async throws {
        try await withServer { _, client in
            _ = try await client.post(cmPath, #"{"metadata":{"name":"f","finalizers":["example.com/x"]}}"#)
            let marked = try await client.delete("\(cmPath)/f")
            #expect(marked.status == 200)
            #expect(marked["kind"] == "ConfigMap")
            #expect(marked.metadata?["deletionTimestamp"] != nil)
            var body = try await client.get("\(cmPath)/f").json.objectValue!
            var meta = body["metadata"]!.objectValue!
            meta["finalizers"] = nil
            body["metadata"] = .object(meta)
            #expect(try await client.put("\(cmPath)/f", JSONValue.object(body).jsonString).status == 200)
            #expect(try await client.get("\(cmPath)/f").status == 404)
        }
    }

    // Merge patches (RFC 7386) as kubectl patch sends them; other patch types → 415.
    @Test func mergePatchAndUnsupportedPatchTypes() async throws {
        try await withServer { _, client in
            _ = try await client.post(cmPath, configMap("a", data: ["k": "v", "drop": "x"]))
            let patched = try await client.send(
                "PATCH", "\(cmPath)/a", body: #"{"data":{"k":"w","drop":null}}"#, contentType: "application/merge-patch+json")
            #expect(patched.status == 200)
            #expect(patched["data"] == ["k": "w"])
            let smp = try await client.send(
                "PATCH", "\(cmPath)/a", body: #"{"metadata":{"labels":{"x":"y"}}}"#,
                contentType: "application/strategic-merge-patch+json")
            #expect(smp["metadata"]?["labels"]?["x"] == "y")
            let jsonPatch = try await client.send(
                "PATCH", "\(cmPath)/a", body: #"[{"op":"remove","path":"/data"}]"#, contentType: "application/json-patch+json")
            #expect(jsonPatch.status == 415)
            let forceOnMerge = try await client.send(
                "PATCH", "\(cmPath)/a?force=true", body: "{}", contentType: "application/merge-patch+json")
            #expect(forceOnMerge.status == 422)
            #expect(forceOnMerge.message.contains("force: Forbidden: may not be specified for non-apply patch"))
        }
    }
}
