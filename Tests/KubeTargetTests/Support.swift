import Foundation
import KubeTestServer
import RBACModel
import Testing

@testable import KubeTarget

/// KubeTestServer has its own JSONValue; the tests mean the model's.
typealias JSONValue = RBACModel.JSONValue

/// A test API server with a client and target pointed at it. Each test starts its own.
struct TestCluster {
    static let token = "test-admin-token"

    let server: KubeTestServer
    let client: KubeClient
    let target: KubeClusterTarget

    /// Fast retries for tests (Retry-After from the server is still honoured).
    static let fastOptions = KubeClientOptions(
        requestsPerSecond: nil, burst: 1,
        retry: RetryPolicy(maxAttempts: 8, initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(100)),
        requestTimeout: .seconds(20))

    static func start(
        instance: String = "test", options: KubeClientOptions = fastOptions, tls: Bool = false,
        configure: (inout KubeTestServerConfiguration) -> Void = { _ in }
    ) async throws -> TestCluster {
        var configuration = KubeTestServerConfiguration()
        configuration.tokens = [token: .admin()]
        if tls {
            configuration.tls = try KubeTestServer.generateTLS(in: try makeTemporaryDirectory("tls"))
        }
        configure(&configuration)
        let server = try await KubeTestServer.start(configuration)
        let kubeconfig = try Kubeconfig.parse(yaml: try server.kubeconfig(token: token), baseDirectory: "/")
        let client = try KubeClient(
            configuration: try KubeClientConfiguration.fromKubeconfig(kubeconfig), options: options)
        return TestCluster(server: server, client: client, target: KubeClusterTarget(client: client, instance: instance))
    }

    func stop() async {
        try? await client.shutdown()
        await server.stop()
    }

    /// Writes (POST, PUT, PATCH, DELETE without dryRun) in the request log.
    var writes: [RequestLogEntry] { server.requestLog.filter(\.isWrite) }

    /// Creates an object as someone else would: a plain POST without our labels.
    func createForeign(_ kind: ObjectKind, namespace: String?, name: String, extra: [String: JSONValue] = [:]) async throws {
        var root: [String: JSONValue] = [
            "apiVersion": .string(kind.apiVersion), "kind": .string(kind.rawValue),
            "metadata": .object(
                ["name": .string(name), "labels": .object(["owner": .string("someone-else")])].merging(
                    namespace.map { ["namespace": JSONValue.string($0)] } ?? [:]) { a, _ in a }),
        ]
        for (key, value) in extra { root[key] = value }
        let response = try await client.send(
            KubeRequest(method: "POST", path: KubePaths.collection(kind, namespace: namespace), body: .object(root)))
        #expect(response.status == 201, "creating foreign \(kind) \(name): \(String(decoding: response.body, as: UTF8.self))")
    }

    /// The stored object, through the client.
    func stored(_ ref: ObjectRef) async throws -> JSONValue? { try await target.get(ref) }

    func observed(_ ref: ObjectRef) async throws -> ObservedObject? {
        try await stored(ref).map { try ManifestDecoding.observed($0, kind: ref.kind) }
    }
}

/// Runs `body` with a started cluster and always stops it.
func withCluster<T>(
    instance: String = "test", options: KubeClientOptions = TestCluster.fastOptions, tls: Bool = false,
    configure: (inout KubeTestServerConfiguration) -> Void = { _ in },
    _ body: (TestCluster) async throws -> T
) async throws -> T {
    let cluster = try await TestCluster.start(instance: instance, options: options, tls: tls, configure: configure)
    do {
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}

/// Builds change lists the way the planner does, for tests: namespaced objects depend on their
/// namespace's creation, bindings on the roles of their namespace.
enum Plans {
    static func id(_ verb: String, _ ref: ObjectRef) -> String {
        "kube/\(verb)/\(ref.kind.rawValue)/\(ref.namespace ?? "-")/\(ref.name)"
    }

    static func creates(_ objects: [DesiredObject]) -> [Change] {
        let refs = Set(objects.map(\.ref))
        return objects.sorted { $0.ref < $1.ref }.map { object in
            var deps: [String] = []
            if let namespace = object.ref.namespace {
                let nsRef = ObjectRef(kind: .namespace, namespace: nil, name: namespace)
                if refs.contains(nsRef) { deps.append(id("create", nsRef)) }
                if object.ref.kind == .roleBinding {
                    deps += refs.filter { $0.kind == .role && $0.namespace == namespace }.sorted().map { id("create", $0) }
                }
            }
            return Change(
                id: id("create", object.ref), target: .kube(.create(object)), removesAccess: false, dependsOn: deps,
                provenance: [], reason: "test create")
        }
    }

    /// A minimal differ for tests: create what is missing, update what differs, delete owned leftovers.
    static func diff(desired: [DesiredObject], observed: ObservedCluster, instance: String = "test") -> [Change] {
        var changes: [Change] = []
        var toCreate: [DesiredObject] = []
        let desiredRefs = Set(desired.map(\.ref))
        for object in desired {
            if let current = observed.owned[object.ref] {
                let same = current.spec == object.spec && current.annotations == object.annotations
                    && object.labels.allSatisfy { current.labels[$0.key] == $0.value }
                    && current.labels.keys.filter { !$0.hasPrefix("kubernetes.io/") }.allSatisfy { object.labels[$0] != nil }
                if !same {
                    changes.append(
                        Change(
                            id: id("update", object.ref), target: .kube(.update(from: current, to: object)),
                            removesAccess: false, provenance: [], reason: "test update"))
                }
            } else {
                toCreate.append(object)
            }
        }
        changes += creates(toCreate)
        for (ref, current) in observed.owned where !desiredRefs.contains(ref) && current.isOwned(byInstance: instance) {
            changes.append(
                Change(
                    id: id("delete", ref), target: .kube(.delete(current)), removesAccess: ref.kind == .roleBinding,
                    provenance: [], reason: "test delete"))
        }
        return changes
    }
}
