import Foundation
import KubeTestServer
import RBACModel
import Testing

@testable import KubeTarget

// The Kubernetes benchmarks of Benchmarks/KubeBenchmarks (same code), runnable from the debug test build:
//
//     ACCESSSYNC_KUBE_BENCHMARK=1 swift test --skip-build --filter KubeBenchmark
//
// Debug-mode figures are an upper bound of the release executable's. Sizes: ACCESSSYNC_KUBE_BENCH_PEOPLE
// (20000), ACCESSSYNC_KUBE_BENCH_CHANGES (10000). Without ACCESSSYNC_KUBE_BENCHMARK=1 (CI) it runs at test
// scale (200 people, 200 changes) and checks only behaviour: a no-op observe writes nothing, every apply succeeds.

private let benchmarkEnabled = ProcessInfo.processInfo.environment["ACCESSSYNC_KUBE_BENCHMARK"] == "1"

private enum Bench {
    static func argument(_ name: String, _ fallback: Int) -> Int {
        Int(ProcessInfo.processInfo.environment[name] ?? "") ?? fallback
    }
    static let people = argument("ACCESSSYNC_KUBE_BENCH_PEOPLE", benchmarkEnabled ? 20_000 : 200)
    static let changeCount = argument("ACCESSSYNC_KUBE_BENCH_CHANGES", benchmarkEnabled ? 10_000 : 200)
    static let concurrency = argument("ACCESSSYNC_KUBE_BENCH_CONCURRENCY", 64)
    static let latencyMS = argument("ACCESSSYNC_KUBE_BENCH_LATENCY_MS", 5)
    static let instance = "bench"
    static let ownership = [ManagedKeys.managedBy: ManagedKeys.managedByValue, ManagedKeys.instance: instance]

    static func q(_ text: String) -> RBACModel.Quantity { try! RBACModel.Quantity(text) }

    /// The objects of one person, as the planner would produce them.
    static func objects(person index: Int) -> [DesiredObject] {
        let name = "user\(index)"
        let namespace = "jhub-\(name)"
        let annotations = [ManagedKeys.ownerID: "00000000-0000-0000-0000-\(String(format: "%012d", index))"]
        func ref(_ kind: ObjectKind, _ objectName: String) -> ObjectRef { ObjectRef(kind: kind, namespace: namespace, name: objectName) }
        return [
            DesiredObject(
                ref: ObjectRef(kind: .namespace, namespace: nil, name: namespace),
                labels: ownership.merging([ManagedKeys.podSecurityEnforce: "baseline"]) { a, _ in a }, annotations: annotations,
                spec: .namespace, provenance: []),
            DesiredObject(
                ref: ref(.roleBinding, "accesssync-user"), labels: ownership, annotations: annotations,
                spec: .roleBinding(roleRef: RoleRef(kind: .clusterRole, name: "edit"), subjects: [Subject(kind: .user, name: "oidc:\(name)")]),
                provenance: []),
            DesiredObject(
                ref: ref(.roleBinding, "accesssync-hub"), labels: ownership, annotations: [:],
                spec: .roleBinding(
                    roleRef: RoleRef(kind: .clusterRole, name: "accesssync-hub-spawner"),
                    subjects: [Subject(kind: .serviceAccount, name: "hub", namespace: "jhub")]),
                provenance: []),
            DesiredObject(
                ref: ref(.resourceQuota, "accesssync-quota"), labels: ownership, annotations: [:],
                spec: .resourceQuota(hard: ["requests.cpu": q("2"), "requests.memory": q("4Gi"), "limits.cpu": q("4"), "limits.memory": q("8Gi"), "pods": q("10")]),
                provenance: []),
            DesiredObject(
                ref: ref(.limitRange, "accesssync-limits"), labels: ownership, annotations: [:],
                spec: .limitRange(limits: [LimitRangeItem(type: .container, max: ["cpu": q("4"), "memory": q("8Gi")], defaultRequest: ["cpu": q("100m"), "memory": q("256Mi")])]),
                provenance: []),
            DesiredObject(
                ref: ref(.networkPolicy, "accesssync-ingress"), labels: ownership, annotations: [:],
                spec: .networkPolicy(NetworkPolicySpec(ingressFrom: [
                    NetworkPolicyPeer(namespaceSelector: ["kubernetes.io/metadata.name": "jhub"], podSelector: ["component": "hub"])
                ])),
                provenance: []),
        ]
    }

    static func creates(_ objects: [DesiredObject]) -> [Change] {
        objects.map { object in
            var deps: [String] = []
            if let namespace = object.ref.namespace { deps.append("create/Namespace/\(namespace)") }
            let id = object.ref.namespace.map { "create/\(object.ref.kind.rawValue)/\($0)/\(object.ref.name)" }
                ?? "create/Namespace/\(object.ref.name)"
            return Change(id: id, target: .kube(.create(object)), removesAccess: false, dependsOn: deps, provenance: [], reason: "bench")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    static func makeTarget(_ server: KubeTestServer, options: KubeClientOptions) throws -> KubeClusterTarget {
        let client = try KubeClient(configuration: KubeClientConfiguration(server: server.url), options: options)
        return KubeClusterTarget(client: client, instance: instance)
    }

    /// Stores objects with one full POST each (seeding, not what AccessSync does).
    static func seed(_ objects: [DesiredObject], client: KubeClient, concurrency: Int) async throws {
        let namespaces = objects.filter { $0.ref.kind == .namespace }
        let rest = objects.filter { $0.ref.kind != .namespace }
        for batch in [namespaces, rest] {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func add() {
                    let object = batch[next]
                    next += 1
                    group.addTask {
                        let response = try await client.send(
                            KubeRequest(
                                method: "POST", path: KubePaths.collection(object.ref.kind, namespace: object.ref.namespace),
                                body: Manifest.applyBody(for: object)))
                        guard response.status == 201 else {
                            throw KubeClientError(.invalidResponse, "seeding \(object.ref): \(response.status)")
                        }
                    }
                }
                while next < min(concurrency, batch.count) { add() }
                while try await group.next() != nil {
                    if next < batch.count { add() }
                }
            }
        }
    }

}

@Suite
struct KubeBenchmark {
    @Test func noOpObserveAndApply() async throws {
        let people = Bench.people, changeCount = Bench.changeCount, concurrency = Bench.concurrency, latencyMS = Bench.latencyMS
        let instance = Bench.instance
        _ = instance
        let unlimited = KubeClientOptions(requestsPerSecond: nil, burst: 1, maxConnections: concurrency)
        let clock = ContinuousClock()

        // MARK: 1. No-op observe
        do {
            var configuration = KubeTestServerConfiguration()
            configuration.requestLogLimit = 1_000
            let server = try await KubeTestServer.start(configuration)
            let target = try Bench.makeTarget(server, options: unlimited)
            let desired = (0..<people).flatMap(Bench.objects(person:))
            let seeding = try await clock.measure { try await Bench.seed(desired, client: target.client, concurrency: concurrency) }
            print("seeded \(desired.count) objects for \(people) people in \(Bench.format(Bench.seconds(seeding))) s")

            target.client.resetRequestCounts()
            var observed = ObservedCluster()
            let observing = try await clock.measure { observed = try await target.observe(pageSize: 500) }
            let counts = target.client.requestCounts
            var differing = 0
            for object in desired {
                guard let seen = observed.owned[object.ref], seen.spec == object.spec,
                    object.labels.allSatisfy({ seen.labels[$0.key] == $0.value }), seen.annotations == object.annotations
                else {
                    differing += 1
                    continue
                }
            }
            print(
                "no-op observe: \(observed.owned.count) owned objects, \(observed.allNamespaces.count) namespaces, "
                    + "\(counts.total) requests (\(counts.writes) writes), \(Bench.format(Bench.seconds(observing))) s, \(differing) objects differ")
            #expect(differing == 0)
            #expect(counts.writes == 0)
            try await target.client.shutdown()
            await server.stop()
        }

        // MARK: 2. Apply with latency
        do {
            var configuration = KubeTestServerConfiguration()
            configuration.latency = .milliseconds(latencyMS)
            configuration.requestLogLimit = 1_000
            let server = try await KubeTestServer.start(configuration)
            let target = try Bench.makeTarget(server, options: unlimited)
            let perPerson = Bench.objects(person: 0).count
            let desired = Array((0..<(changeCount + perPerson - 1) / perPerson).flatMap(Bench.objects(person:)).prefix(changeCount))
            let report = await target.apply(Bench.creates(desired), options: KubeApplyOptions(concurrency: concurrency))
            #expect(report.allSucceeded)
            let elapsed = Bench.seconds(report.duration)
            print(
                "apply: \(report.outcomes.count) changes (\(report.count(.succeeded)) succeeded), \(report.requests.total) requests, "
                    + "concurrency \(concurrency), \(latencyMS) ms latency: \(Bench.format(elapsed)) s "
                    + "(\(Bench.format(Double(report.requests.total) / elapsed)) requests/s)")

            // One at a time: measured on a sample, extrapolated.
            let sampleSize = min(200, changeCount)
            let sample = (100_000..<(100_000 + (sampleSize + perPerson - 1) / perPerson)).flatMap(Bench.objects(person:)).prefix(sampleSize)
            let serial = await target.apply(Bench.creates(Array(sample)), options: KubeApplyOptions(concurrency: 1))
            let perChange = Bench.seconds(serial.duration) / Double(sample.count)
            print(
                "one at a time: \(sample.count) changes in \(Bench.format(Bench.seconds(serial.duration))) s → "
                    + "\(Bench.format(perChange * Double(changeCount))) s extrapolated to \(changeCount) changes")
            let requestsPerChange = Double(report.requests.total) / Double(report.outcomes.count)
            let clientGo = Double(changeCount) * requestsPerChange / 5
            print(
                "client-go default (5 requests/s): \(Bench.format(requestsPerChange)) requests per change → \(Bench.format(clientGo)) s "
                    + "(\(Bench.format(clientGo / 60)) min) for \(changeCount) changes")
            try await target.client.shutdown()
            await server.stop()
        }
    }
}
