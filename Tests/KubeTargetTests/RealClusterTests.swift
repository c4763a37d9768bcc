import Foundation
import KubeTestServer
import RBACModel
import Testing

@testable import KubeTarget

// MARK: - Real cluster suite (opt-in)
//
// The same client code, unchanged, against a real API server:
//
//     ACCESSSYNC_REAL_CLUSTER=1 KUBECONFIG=$HOME/.kube/config \
//         swift test --filter KubeTargetTests.RealClusterTests
//
// It needs a disposable cluster (kind, k3d, minikube) and a kubeconfig whose user may create and delete
// namespaces, roles, rolebindings, resourcequotas, limitranges, networkpolicies and serviceaccounts.
// It creates namespaces named `accesssync-e2e-<random>` with instance label `e2e-<random>` and deletes
// them at the end. Without ACCESSSYNC_REAL_CLUSTER=1 (CI: no cluster exists here) the same test
// runs against the test API server, reached the same way: through a kubeconfig file.

private let realClusterEnabled = ProcessInfo.processInfo.environment["ACCESSSYNC_REAL_CLUSTER"] == "1"

@Suite
struct RealClusterTests {
    @Test func observeApplyNoOpAndCleanUp() async throws {
        if realClusterEnabled {
            try await run(configuration: try KubeClientConfiguration.load())
            return
        }
        var serverConfiguration = KubeTestServerConfiguration()
        serverConfiguration.tokens = [TestCluster.token: .admin()]
        let server = try await KubeTestServer.start(serverConfiguration)
        let path = try makeTemporaryDirectory("kubeconfig") + "/config"
        do {
            try server.writeKubeconfig(to: path, token: TestCluster.token)
            try await run(configuration: try KubeClientConfiguration.load(kubeconfigPath: path))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func run(configuration: KubeClientConfiguration) async throws {
        let client = try KubeClient(configuration: configuration, options: KubeClientOptions(requestsPerSecond: 20, burst: 40))
        let suffix = String(UUID().uuidString.lowercased().prefix(8))
        let instance = "e2e-\(suffix)"
        let target = KubeClusterTarget(client: client, instance: instance)
        let objects = Samples.objects(namespace: "accesssync-e2e-\(suffix)", instance: instance)

        let created = await target.apply(Plans.creates(objects))
        #expect(created.allSucceeded, "\(created.outcomes.filter { $0.status != .succeeded })")

        // No-op: observing again plans nothing (server-added fields and canonical quantities do not count).
        let observed = try await target.observe()
        #expect(observed.owned.count == objects.count)
        #expect(Plans.diff(desired: objects, observed: observed, instance: instance).isEmpty)

        // A dropped quota key disappears (skeleton POST + apply ownership).
        let quotaRef = objects.first { $0.ref.kind == .resourceQuota }!.ref
        var quota = objects.first { $0.ref == quotaRef }!
        quota.spec = .resourceQuota(hard: ["pods": Samples.q("10")])
        let update = await target.apply([
            Change(id: "u", target: .kube(.update(from: observed.owned[quotaRef]!, to: quota)), removesAccess: false, provenance: [], reason: "e2e")
        ])
        #expect(update.allSucceeded)
        #expect(try await target.observe().owned[quotaRef]?.spec == quota.spec)

        // Server dry run of a roleRef change is refused with the API's message.
        let bindingRef = objects.first { $0.ref.kind == .roleBinding }!.ref
        var binding = objects.first { $0.ref == bindingRef }!
        binding.spec = .roleBinding(roleRef: RoleRef(kind: .clusterRole, name: "view"), subjects: [])
        let dry = await target.apply(
            [Change(id: "rr", target: .kube(.update(from: observed.owned[bindingRef]!, to: binding)), removesAccess: false, provenance: [], reason: "e2e")],
            options: KubeApplyOptions(dryRun: true))
        #expect(dry["rr"]?.status == .failed)
        #expect(dry["rr"]?.httpStatus == 422)

        // Clean up: delete the namespace (it goes Terminating).
        let namespaceRef = objects.first { $0.ref.kind == .namespace }!.ref
        let cleanup = await target.apply([
            Change(id: "d", target: .kube(.delete(try await target.observe().owned[namespaceRef]!)), removesAccess: true, provenance: [], reason: "e2e")
        ])
        #expect(cleanup.allSucceeded)
        try await client.shutdown()
    }
}
