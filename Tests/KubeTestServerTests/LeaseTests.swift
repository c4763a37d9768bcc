// Behaviour 15: Leases keep resourceVersion semantics; updates must carry one.

import KubeTestServer
import Testing

@Suite("Leases")
struct LeaseTests {
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"

    // Models pkg/registry/coordination/lease/strategy.go (AllowUnconditionalUpdate false → 422
    // "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"),
    // k8s.io/client-go/tools/leaderelection/resourcelock/leaselock.go (GET, POST, PUT with RV; 409 = lost race)
    // and pkg/apis/coordination/validation/validation.go (leaseDurationSeconds > 0).
    @Test func optimisticConcurrency() async throws {
        try await withServer { _, client in
            let body = #"{"metadata":{"name":"leader"},"spec":{"holderIdentity":"a","leaseDurationSeconds":15,"acquireTime":"2026-01-01T00:00:00.000000Z","renewTime":"2026-01-01T00:00:00.000000Z","leaseTransitions":0}}"#
            let created = try await client.post(path, body)
            #expect(created.status == 201)
            #expect(created["spec"]?["renewTime"] == "2026-01-01T00:00:00.000000Z")

            let noRV = try await client.put("\(path)/leader", body)
            #expect(noRV.status == 422)
            #expect(noRV.message.contains("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"))

            var a = created.json.objectValue!
            var b = created.json.objectValue!
            a["spec"] = ["holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:02.000000Z", "leaseTransitions": 0]
            b["spec"] = ["holderIdentity": "b", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:03.000000Z", "leaseTransitions": 1]
            let renewed = try await client.put("\(path)/leader", JSONValue.object(a).jsonString)
            #expect(renewed.status == 200)
            let lost = try await client.put("\(path)/leader", JSONValue.object(b).jsonString)
            #expect(lost.status == 409)
            #expect(lost.reason == "Conflict")
            #expect(lost.message.hasPrefix(#"Operation cannot be fulfilled on leases.coordination.k8s.io "leader""#))
            // The server does not interpret holder changes: transitions are whatever the client writes.
            var c = renewed.json.objectValue!
            c["spec"] = b["spec"]
            let taken = try await client.put("\(path)/leader", JSONValue.object(c).jsonString)
            #expect(taken["spec"]?["leaseTransitions"] == 1)
            #expect(taken["spec"]?["holderIdentity"] == "b")

            let zero = try await client.post(path, #"{"metadata":{"name":"z"},"spec":{"leaseDurationSeconds":0}}"#)
            #expect(zero.status == 422)
        }
    }
}
