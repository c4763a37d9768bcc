// Behaviour 11: namespace lifecycle.

import KubeTestServer
import Testing

@Suite("Namespace lifecycle")
struct NamespaceTests {
    // Models pkg/registry/core/namespace/storage/storage.go (Delete returns the Namespace with deletionTimestamp,
    // phase Terminating; a second delete → Conflict), plugin/pkg/admission/namespace/lifecycle/admission.go
    // (create in a terminating namespace → 403 with cause NamespaceTerminating; default/kube-system/kube-public
    // cannot be deleted) and https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace
    @Test func terminationUntilFinalized() async throws {
        try await withServer { server, client in
            _ = try await client.post("/api/v1/namespaces", namespaceBody("team"))
            _ = try await client.post("/api/v1/namespaces/team/configmaps", configMap("a"))
            let deleted = try await client.delete("/api/v1/namespaces/team")
            #expect(deleted.status == 200)
            #expect(deleted["kind"] == "Namespace")
            #expect(deleted.metadata?["deletionTimestamp"] != nil)
            #expect(deleted["status"]?["phase"] == "Terminating")
            #expect(deleted["spec"]?["finalizers"] == ["kubernetes"])

            let still = try await client.get("/api/v1/namespaces/team")
            #expect(still["status"]?["phase"] == "Terminating")
            #expect(try await client.get("/api/v1/namespaces/team/configmaps/a").status == 200)

            let inside = try await client.post("/api/v1/namespaces/team/configmaps", configMap("b"))
            #expect(inside.status == 403)
            #expect(inside.reason == "Forbidden")
            #expect(
                inside.message
                    == #"configmaps "b" is forbidden: unable to create new content in namespace team because it is being terminated"#)
            #expect(inside.causes.first?["reason"] == "NamespaceTerminating")
            #expect(inside.causes.first?["field"] == "metadata.namespace")
            let applied = try await client.apply("/api/v1/namespaces/team/configmaps/c", configMap("c"))
            #expect(applied.status == 403)

            let again = try await client.delete("/api/v1/namespaces/team")
            #expect(again.status == 409)

            #expect(server.finalizeNamespace("team"))
            #expect(try await client.get("/api/v1/namespaces/team").status == 404)
            #expect(server.objects("configmaps", namespace: "team").isEmpty)
            #expect(!server.finalizeNamespace("team"))
            #expect(try await client.post("/api/v1/namespaces/team/configmaps", configMap("b")).status == 404)
        }
    }

    @Test(arguments: ["default", "kube-system", "kube-public"])
    func protectedNamespaces(name: String) async throws {
        try await withServer { _, client in
            let r = try await client.delete("/api/v1/namespaces/\(name)")
            #expect(r.status == 403)
            #expect(r.message == #"namespaces "\#(name)" is forbidden: this namespace may not be deleted"#)
            #expect(try await client.get("/api/v1/namespaces/\(name)")["status"]?["phase"] == "Active")
        }
    }

    @Test func autoFinalizationAndFinalizeSubresource() async throws {
        try await withServer({ $0.namespaceFinalizationDelay = .milliseconds(100) }) { _, client in
            _ = try await client.post("/api/v1/namespaces", namespaceBody("auto"))
            #expect(try await client.delete("/api/v1/namespaces/auto").status == 200)
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await client.get("/api/v1/namespaces/auto").status == 404)
        }
        try await withServer { _, client in
            _ = try await client.post("/api/v1/namespaces", namespaceBody("manual"))
            _ = try await client.delete("/api/v1/namespaces/manual")
            // What the namespace controller does: PUT .../finalize with the finalizer removed.
            let r = try await client.put(
                "/api/v1/namespaces/manual/finalize", #"{"metadata":{"name":"manual"},"spec":{"finalizers":[]}}"#)
            #expect(r.status == 200)
            #expect(try await client.get("/api/v1/namespaces/manual").status == 404)
        }
    }
}
