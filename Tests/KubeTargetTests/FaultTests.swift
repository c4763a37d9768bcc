import Foundation
import KubeTestServer
import RBACModel
import Testing

@testable import KubeTarget

@Suite struct FaultTests {
    @Test func tooManyRequestsAndUnavailableStormsConverge() async throws {
        // Enough attempts that no single request can exhaust them in this storm.
        let options = KubeClientOptions(
            requestsPerSecond: nil, burst: 1, retry: RetryPolicy(maxAttempts: 60, initialBackoff: .milliseconds(2), maxBackoff: .milliseconds(20)))
        try await withCluster(options: options) { cluster in
            // Every other request in a long stretch is refused: plain-text 429s, 503s, 500s and 504s.
            cluster.server.injectFault(FaultRule(action: .tooManyRequests(retryAfterSeconds: 0), count: 25))
            cluster.server.injectFault(FaultRule(method: "PATCH", action: .serviceUnavailable(retryAfterSeconds: 0), count: 15))
            cluster.server.injectFault(FaultRule(method: "POST", action: .internalError, count: 5))
            cluster.server.injectFault(FaultRule(method: "GET", action: .gatewayTimeout, count: 3))
            let objects = Samples.objects(namespace: "storm") + Samples.objects(namespace: "storm2", person: "bob")
            let report = await cluster.target.apply(Plans.creates(objects))
            #expect(report.allSucceeded, "\(report.outcomes.filter { $0.status != .succeeded })")
            #expect(report.requests.retries >= 45)
            #expect(report.outcomes.contains { $0.attempts > 2 })
            let observed = try await cluster.target.observe()
            #expect(observed.owned.count == objects.count)
            let refused = cluster.server.requestLog.filter { [429, 500, 503, 504].contains($0.status) }
            #expect(refused.count == 48)
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        try await withCluster { cluster in
            cluster.server.injectFault(FaultRule(method: "GET", action: .tooManyRequests(retryAfterSeconds: 1), count: 1))
            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                _ = try await cluster.target.list(.namespace, labelSelector: nil)
            }
            #expect(elapsed >= .seconds(1))
            #expect(cluster.client.requestCounts.retries == 1)
        }
    }

    @Test func retriesAreBounded() async throws {
        let options = KubeClientOptions(
            requestsPerSecond: nil, burst: 1, retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1)))
        try await withCluster(options: options) { cluster in
            cluster.server.injectFault(FaultRule(action: .serviceUnavailable(retryAfterSeconds: 0)))
            let report = await cluster.target.apply(Plans.creates(Samples.objects(namespace: "down")))
            let namespace = try #require(report.outcomes.first { $0.ref.kind == .namespace })
            #expect(namespace.status == .failed)
            #expect(namespace.httpStatus == 503)
            #expect(namespace.attempts == 3)
            #expect(report.outcomes.filter { $0.ref.kind != .namespace }.allSatisfy { $0.status == .skipped })
            await #expect(throws: KubeAPIError.self) { try await cluster.target.observe() }
        }
    }

    @Test func droppedConnectionsAreRetried() async throws {
        try await withCluster { cluster in
            cluster.server.injectFault(FaultRule(action: .dropConnection, count: 6))
            let report = await cluster.target.apply(Plans.creates(Samples.objects(namespace: "flaky")))
            #expect(report.allSucceeded, "\(report.outcomes)")
            #expect(report.requests.transportErrors == 6)
        }
    }

    @Test func commitThenDropDoesNotDuplicate() async throws {
        try await withCluster { cluster in
            // The POST of the namespace commits, then the connection drops: the retry meets 409 AlreadyExists,
            // reads the object back, finds our labels and carries on with the apply.
            cluster.server.injectFault(FaultRule(method: "POST", path: "/api/v1/namespaces", action: .commitThenDrop, count: 1))
            cluster.server.injectFault(FaultRule(method: "POST", path: "*/roles", action: .commitThenDrop, count: 1))
            let objects = Samples.objects(namespace: "dup")
            let report = await cluster.target.apply(Plans.creates(objects))
            #expect(report.allSucceeded, "\(report.outcomes)")
            let namespaceOutcome = try #require(report.outcomes.first { $0.ref.kind == .namespace })
            #expect(namespaceOutcome.attempts == 4)  // POST (dropped), POST (409), GET, PATCH
            let posts = cluster.server.requestLog.filter { $0.method == "POST" && $0.path == "/api/v1/namespaces" }
            #expect(posts.map(\.status) == [0, 409])
            #expect(cluster.server.objects("namespaces").filter { $0["metadata"]?["name"]?.stringValue == "dup" }.count == 1)
            let observed = try await cluster.target.observe()
            #expect(observed.owned.count == objects.count)
            for object in objects { #expect(observed.owned[object.ref]?.spec == object.spec) }

            // An update whose apply committed before the drop: the retry's 409 is our own write, confirmed by reading.
            let quotaRef = ObjectRef(kind: .resourceQuota, namespace: "dup", name: "accesssync-quota")
            var quota = objects.first { $0.ref == quotaRef }!
            quota.spec = .resourceQuota(hard: ["pods": Samples.q("7")])
            cluster.server.injectFault(FaultRule(method: "PATCH", action: .commitThenDrop, count: 1))
            let update = await cluster.target.apply([
                Change(id: "u", target: .kube(.update(from: observed.owned[quotaRef]!, to: quota)), removesAccess: false, provenance: [], reason: "t")
            ])
            #expect(update["u"]?.status == .succeeded, "\(update.outcomes)")
            #expect(try await cluster.observed(quotaRef)?.spec == quota.spec)

            // A delete that committed before the drop.
            let roleRef = ObjectRef(kind: .role, namespace: "dup", name: "accesssync-user")
            cluster.server.injectFault(FaultRule(method: "DELETE", action: .commitThenDrop, count: 1))
            let delete = await cluster.target.apply([
                Change(id: "d", target: .kube(.delete(observed.owned[roleRef]!)), removesAccess: true, provenance: [], reason: "t")
            ])
            #expect(delete["d"]?.status == .succeeded, "\(delete.outcomes)")
            #expect(try await cluster.observed(roleRef) == nil)

            // A namespace delete that committed: the namespace is Terminating, which is what was asked.
            let nsRef = ObjectRef(kind: .namespace, namespace: nil, name: "dup")
            let namespace = try #require(try await cluster.observed(nsRef))
            cluster.server.injectFault(FaultRule(method: "DELETE", action: .commitThenDrop, count: 1))
            let nsDelete = await cluster.target.apply([
                Change(id: "ns", target: .kube(.delete(namespace)), removesAccess: true, provenance: [], reason: "t")
            ])
            #expect(nsDelete["ns"]?.status == .succeeded, "\(nsDelete.outcomes)")
            #expect(try await cluster.observed(nsRef)?.isTerminating == true)
        }
    }

    @Test func tlsTokenFileRotationAndUnauthorized() async throws {
        try await withCluster(tls: true) { cluster in
            #expect(cluster.server.url.hasPrefix("https://"))
            // The kubeconfig client (CA embedded) works over TLS.
            _ = try await cluster.target.observe()

            // A token file whose token rotates: the 401 makes the client re-read it at once.
            let directory = try makeTemporaryDirectory("token")
            try write("wrong-token\n", to: directory + "/token")
            let kubeconfig = try Kubeconfig.parse(yaml: try cluster.server.kubeconfig(token: nil), baseDirectory: "/")
            var configuration = try KubeClientConfiguration.fromKubeconfig(kubeconfig)
            configuration.credentials = .tokenFile(path: directory + "/token", refreshInterval: .seconds(60))
            let rotating = try KubeClient(configuration: configuration, options: TestCluster.fastOptions)
            let unauthorized = try await rotating.send(KubeRequest(method: "GET", path: "/api/v1/namespaces"))
            #expect(unauthorized.status == 401)
            #expect(unauthorized.attempts == 2)  // re-read once, still wrong
            try write(TestCluster.token + "\n", to: directory + "/token")
            let ok = try await rotating.send(KubeRequest(method: "GET", path: "/api/v1/namespaces"))
            #expect(ok.status == 200)
            #expect(await rotating.credentialLoads == 3)
            try await rotating.shutdown()

            // Without the CA the server certificate is rejected, and not retried.
            var untrusted = configuration
            untrusted.certificateAuthorityPEM = nil
            untrusted.credentials = .token(TestCluster.token)
            let strict = try KubeClient(configuration: untrusted, options: TestCluster.fastOptions)
            await #expect(throws: KubeClientError.self) {
                _ = try await strict.send(KubeRequest(method: "GET", path: "/api/v1/namespaces"))
            }
            #expect(strict.requestCounts.total == 1)
            try await strict.shutdown()

            // insecure-skip-tls-verify accepts it.
            untrusted.insecureSkipTLSVerify = true
            let insecure = try KubeClient(configuration: untrusted, options: TestCluster.fastOptions)
            #expect(try await insecure.send(KubeRequest(method: "GET", path: "/api/v1/namespaces")).status == 200)
            try await insecure.shutdown()

            // tls-server-name: the certificate is for 127.0.0.1/localhost; connect by "localhost" name
            // override to a server URL whose host is 127.0.0.1.
            var named = configuration
            named.credentials = .token(TestCluster.token)
            named.tlsServerName = "localhost"
            let viaName = try KubeClient(configuration: named, options: TestCluster.fastOptions)
            #expect(try await viaName.send(KubeRequest(method: "GET", path: "/api/v1/namespaces")).status == 200)
            try await viaName.shutdown()
        }
    }

    @Test func execPluginAgainstTheServer() async throws {
        try await withCluster { cluster in
            let directory = try makeTemporaryDirectory("exec-server")
            try write(
                """
                #!/bin/sh
                printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"\(TestCluster.token)"}}'
                """, to: directory + "/bin/kube-login", mode: 0o755)
            let yaml = """
                apiVersion: v1
                kind: Config
                current-context: c
                clusters:
                - name: s
                  cluster: {server: "\(cluster.server.url)"}
                contexts:
                - name: c
                  context: {cluster: s, user: u}
                users:
                - name: u
                  user:
                    exec:
                      apiVersion: client.authentication.k8s.io/v1
                      command: bin/kube-login
                """
            try write(yaml, to: directory + "/config")
            let configuration = try KubeClientConfiguration.load(environment: ["KUBECONFIG": directory + "/config", "PATH": "/usr/bin:/bin"])
            let client = try KubeClient(configuration: configuration, options: TestCluster.fastOptions, environment: ["PATH": "/usr/bin:/bin"])
            let target = KubeClusterTarget(client: client, instance: "test")
            #expect(await target.apply(Plans.creates(Samples.objects(namespace: "exec"))).allSucceeded)
            #expect(await client.credentialLoads == 1)
            #expect(cluster.server.requestLog.allSatisfy { $0.user == "admin" })
            try await client.shutdown()
        }
    }
}
