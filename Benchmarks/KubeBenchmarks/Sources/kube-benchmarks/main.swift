// Kubernetes target benchmarks against the in-process test API server (release mode):
//
//  1. no-op observe over N people's objects (namespace, two bindings, quota, limit range, network policy
//     each): requests made and time, and a check that nothing differs;
//  2. applying M create changes with 5 ms injected latency per request, beside one-at-a-time (measured on a
//     sample and extrapolated) and client-go's default 5 requests/s (computed).
//
// Usage: kube-benchmarks [--people 20000] [--changes 10000] [--concurrency 64] [--latency-ms 5]
import Foundation
import KubeTarget
import KubeTestServer
import RBACModel

func argument(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    if let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) {
        return value
    }
    return fallback
}

let people = argument("--people", 20_000)
let changeCount = argument("--changes", 10_000)
let concurrency = argument("--concurrency", 64)
let latencyMS = argument("--latency-ms", 5)
let instance = "bench"
let ownership = [ManagedKeys.managedBy: ManagedKeys.managedByValue, ManagedKeys.instance: instance]

func q(_ text: String) -> RBACModel.Quantity { try! RBACModel.Quantity(text) }

/// The objects of one person, as the planner would produce them.
func objects(person index: Int) -> [DesiredObject] {
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

func creates(_ objects: [DesiredObject]) -> [Change] {
    objects.map { object in
        var deps: [String] = []
        if let namespace = object.ref.namespace { deps.append("create/Namespace/\(namespace)") }
        let id = object.ref.namespace.map { "create/\(object.ref.kind.rawValue)/\($0)/\(object.ref.name)" }
            ?? "create/Namespace/\(object.ref.name)"
        return Change(id: id, target: .kube(.create(object)), removesAccess: false, dependsOn: deps, provenance: [], reason: "bench")
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func format(_ value: Double) -> String { String(format: "%.2f", value) }

func makeTarget(_ server: KubeTestServer, options: KubeClientOptions) throws -> KubeClusterTarget {
    let client = try KubeClient(configuration: KubeClientConfiguration(server: server.url), options: options)
    return KubeClusterTarget(client: client, instance: instance)
}

/// Stores objects with one full POST each (seeding, not what AccessSync does).
func seed(_ objects: [DesiredObject], client: KubeClient, concurrency: Int) async throws {
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

let unlimited = KubeClientOptions(requestsPerSecond: nil, burst: 1, maxConnections: concurrency)
let clock = ContinuousClock()

// MARK: 1. No-op observe
do {
    var configuration = KubeTestServerConfiguration()
    configuration.requestLogLimit = 1_000
    let server = try await KubeTestServer.start(configuration)
    let target = try makeTarget(server, options: unlimited)
    let desired = (0..<people).flatMap(objects(person:))
    let seeding = try await clock.measure { try await seed(desired, client: target.client, concurrency: concurrency) }
    print("seeded \(desired.count) objects for \(people) people in \(format(seconds(seeding))) s")

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
            + "\(counts.total) requests (\(counts.writes) writes), \(format(seconds(observing))) s, \(differing) objects differ")
    try await target.client.shutdown()
    await server.stop()
}

// MARK: 2. Apply with latency
do {
    var configuration = KubeTestServerConfiguration()
    configuration.latency = .milliseconds(latencyMS)
    configuration.requestLogLimit = 1_000
    let server = try await KubeTestServer.start(configuration)
    let target = try makeTarget(server, options: unlimited)
    let perPerson = objects(person: 0).count
    let desired = Array((0..<(changeCount + perPerson - 1) / perPerson).flatMap(objects(person:)).prefix(changeCount))
    let report = await target.apply(creates(desired), options: KubeApplyOptions(concurrency: concurrency))
    let elapsed = seconds(report.duration)
    print(
        "apply: \(report.outcomes.count) changes (\(report.count(.succeeded)) succeeded), \(report.requests.total) requests, "
            + "concurrency \(concurrency), \(latencyMS) ms latency: \(format(elapsed)) s "
            + "(\(format(Double(report.requests.total) / elapsed)) requests/s)")

    // One at a time: measured on a sample, extrapolated.
    let sampleSize = min(200, changeCount)
    let sample = (100_000..<(100_000 + (sampleSize + perPerson - 1) / perPerson)).flatMap(objects(person:)).prefix(sampleSize)
    let serial = await target.apply(creates(Array(sample)), options: KubeApplyOptions(concurrency: 1))
    let perChange = seconds(serial.duration) / Double(sample.count)
    print(
        "one at a time: \(sample.count) changes in \(format(seconds(serial.duration))) s → "
            + "\(format(perChange * Double(changeCount))) s extrapolated to \(changeCount) changes")
    let requestsPerChange = Double(report.requests.total) / Double(report.outcomes.count)
    let clientGo = Double(changeCount) * requestsPerChange / 5
    print(
        "client-go default (5 requests/s): \(format(requestsPerChange)) requests per change → \(format(clientGo)) s "
            + "(\(format(clientGo / 60)) min) for \(changeCount) changes")
    try await target.client.shutdown()
    await server.stop()
}
