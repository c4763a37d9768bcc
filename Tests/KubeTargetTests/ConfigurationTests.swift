import Foundation
import RBACModel
import Testing

@testable import KubeTarget

/// A fresh temporary directory per test.
func makeTemporaryDirectory(_ label: String = "kube") throws -> String {
    let path = NSTemporaryDirectory() + "accesssync-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ text: String, to path: String, mode: Int? = nil) throws {
    try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path) }
}

@Suite struct KubeconfigTests {
    let first = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: dev-cluster
          cluster:
            server: https://dev.example:6443/
            certificate-authority: certs/ca.pem
            tls-server-name: api.dev.internal
        - name: shared
          cluster:
            server: https://first.example
            insecure-skip-tls-verify: true
        contexts:
        - name: dev
          context: {cluster: dev-cluster, user: dev-user, namespace: tools}
        - name: shared
          context: {cluster: shared, user: token-user}
        users:
        - name: dev-user
          user:
            client-certificate: certs/client.crt
            client-key: /abs/client.key
            tokenFile: tokens/dev
        - name: token-user
          user:
            token: s3cr3t-token
        """

    let second = """
        apiVersion: v1
        kind: Config
        current-context: other
        clusters:
        - name: shared
          cluster:
            server: https://second.example
            certificate-authority-data: \(Data("CA-BYTES".utf8).base64EncodedString())
        - name: only-second
          cluster:
            server: http://127.0.0.1:8080
        contexts:
        - name: other
          context: {cluster: only-second, user: exec-user}
        users:
        - name: exec-user
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./bin/get-token
              args: [--cluster, x]
              env:
              - {name: REGION, value: eu}
              provideClusterInfo: true
        """

    @Test func mergesFirstValueWinsAndResolvesRelativePaths() throws {
        let directory = try makeTemporaryDirectory()
        try write(first, to: directory + "/a/config")
        try write(second, to: directory + "/b/config")
        let config = try Kubeconfig.load(paths: [directory + "/a/config", directory + "/missing", directory + "/b/config"])
        #expect(config.currentContext == "dev")
        #expect(config.clusters["shared"]?.server == "https://first.example")
        #expect(config.clusters["shared"]?.insecureSkipTLSVerify == true)
        #expect(config.clusters["only-second"]?.server == "http://127.0.0.1:8080")
        #expect(config.clusters["dev-cluster"]?.certificateAuthority == directory + "/a/certs/ca.pem")
        #expect(config.clusters["dev-cluster"]?.tlsServerName == "api.dev.internal")
        #expect(config.users["dev-user"]?.clientCertificate == directory + "/a/certs/client.crt")
        #expect(config.users["dev-user"]?.clientKey == "/abs/client.key")
        #expect(config.users["dev-user"]?.tokenFile == directory + "/a/tokens/dev")
        #expect(config.users["exec-user"]?.exec?.command == directory + "/b/bin/get-token")
        #expect(config.users["exec-user"]?.exec?.args == ["--cluster", "x"])
        #expect(config.users["exec-user"]?.exec?.env == [ExecConfig.EnvVar(name: "REGION", value: "eu")])
        #expect(config.users["exec-user"]?.exec?.provideClusterInfo == true)
        #expect(config.contexts["dev"]?.namespace == "tools")
        #expect(!config.description.contains("s3cr3t"))

        // Reversed order: the second file's values win.
        let reversed = try Kubeconfig.load(paths: [directory + "/b/config", directory + "/a/config"])
        #expect(reversed.currentContext == "other")
        #expect(reversed.clusters["shared"]?.server == "https://second.example")
    }

    @Test func selectsContextsFromKubeconfigEnvironment() throws {
        let directory = try makeTemporaryDirectory()
        try write(first, to: directory + "/a/config")
        try write(second, to: directory + "/b/config")
        try write("PEM-CA", to: directory + "/a/certs/ca.pem")
        try write("PEM-CERT", to: directory + "/a/certs/client.crt")
        try write("PEM-KEY", to: directory + "/abs-key")
        let environment = ["KUBECONFIG": "\(directory)/b/config:\(directory)/a/config", "HOME": directory]

        // current-context of the first file: "other" → exec user, plain http server.
        let other = try KubeClientConfiguration.fromKubeconfig(environment: environment)
        #expect(other.server == "http://127.0.0.1:8080")
        guard case .exec(let exec) = other.credentials else {
            Issue.record("expected exec credentials, got \(other.credentials)")
            return
        }
        #expect(exec.command == directory + "/b/bin/get-token")

        let shared = try KubeClientConfiguration.fromKubeconfig(context: "shared", environment: environment)
        #expect(shared.server == "https://second.example")
        #expect(shared.certificateAuthorityPEM == Array("CA-BYTES".utf8))
        #expect(shared.credentials == .token("s3cr3t-token"))
        #expect(!shared.description.contains("s3cr3t"))
        #expect(!"\(shared.credentials)".contains("s3cr3t"))

        // dev: CA file, client certificate file, a key file that does not exist → a clear error.
        #expect(throws: KubeClientError.self) {
            try KubeClientConfiguration.fromKubeconfig(context: "dev", environment: environment)
        }
        var parsed = try Kubeconfig.load(paths: [directory + "/a/config"])
        parsed.users["dev-user"]?.clientKey = directory + "/abs-key"
        let dev = try KubeClientConfiguration.fromKubeconfig(parsed, context: "dev")
        #expect(dev.server == "https://dev.example:6443")
        #expect(dev.certificateAuthorityPEM == Array("PEM-CA".utf8))
        #expect(dev.clientCertificatePEM == Array("PEM-CERT".utf8))
        #expect(dev.clientKeyPEM == Array("PEM-KEY".utf8))
        #expect(dev.tlsServerName == "api.dev.internal")
        #expect(dev.namespace == "tools")
        #expect(dev.credentials == .tokenFile(path: directory + "/a/tokens/dev", refreshInterval: .seconds(60)))

        #expect(throws: KubeClientError.self) {
            try KubeClientConfiguration.fromKubeconfig(context: "nope", environment: environment)
        }
    }

    @Test func defaultsToHomeKubeConfig() throws {
        let home = try makeTemporaryDirectory()
        try write(first.replacingOccurrences(of: "current-context: dev", with: "current-context: shared"), to: home + "/.kube/config")
        let config = try KubeClientConfiguration.load(environment: ["HOME": home])
        #expect(config.server == "https://first.example")
        #expect(config.insecureSkipTLSVerify)
        #expect(throws: KubeClientError.self) {
            try KubeClientConfiguration.load(environment: ["HOME": home + "/nothing-here"])
        }
    }

    @Test func invalidYAMLDoesNotEchoSecrets() throws {
        let text = "users:\n- name: x\n  user:\n    token: leaked-token-value\n   bad: [\n"
        do {
            _ = try Kubeconfig.parse(yaml: text, baseDirectory: "/")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("leaked-token-value"))
            #expect(error.code == .configuration)
        }
    }

    @Test func inClusterConfigurationAndTokenRotation() async throws {
        let directory = try makeTemporaryDirectory("sa")
        try write("token-one\n", to: directory + "/token")
        try write("CA-PEM", to: directory + "/ca.crt")
        try write("jhub\n", to: directory + "/namespace")
        let environment = ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let config = try KubeClientConfiguration.load(environment: environment, serviceAccountDirectory: directory)
        #expect(config.server == "https://10.0.0.1:443")
        #expect(config.namespace == "jhub")
        #expect(config.certificateAuthorityPEM == Array("CA-PEM".utf8))
        #expect(config.credentials == .tokenFile(path: directory + "/token", refreshInterval: .seconds(60)))

        let v6 = try KubeClientConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            serviceAccountDirectory: directory)
        #expect(v6.server == "https://[fd00::1]:443")

        // The token is re-read once its refresh interval has passed.
        let fast = try KubeClientConfiguration.inCluster(
            environment: environment, serviceAccountDirectory: directory, tokenRefreshInterval: .seconds(2))
        let provider = CredentialProvider(configuration: fast, environment: [:])
        #expect(try await provider.credential().bearerToken == "token-one")
        try write("token-two\n", to: directory + "/token")
        #expect(try await provider.credential().bearerToken == "token-one")
        try await Task.sleep(for: .milliseconds(2_100))
        #expect(try await provider.credential().bearerToken == "token-two")
        // After a 401 the file is read at once.
        try write("token-three\n", to: directory + "/token")
        await provider.invalidate()
        #expect(try await provider.credential().bearerToken == "token-three")

        #expect(throws: KubeClientError.self) {
            try KubeClientConfiguration.inCluster(environment: [:], serviceAccountDirectory: directory)
        }
        #expect(throws: KubeClientError.self) {
            try KubeClientConfiguration.inCluster(environment: environment, serviceAccountDirectory: directory + "/none")
        }
    }

    @Test func execPluginIsCachedUntilExpiry() async throws {
        let directory = try makeTemporaryDirectory("exec")
        let counter = directory + "/runs"
        let expiry = ManifestDecoding.formatTimestamp(Date().addingTimeInterval(6))
        // The plugin counts its runs, checks what it is given and prints an ExecCredential.
        try write(
            """
            #!/bin/sh
            echo run >> "\(counter)"
            case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) exit 3 ;; esac
            case "$KUBERNETES_EXEC_INFO" in *'"server":"https://k.example"'*) ;; *) exit 4 ;; esac
            [ "$REGION" = eu ] || exit 5
            [ "$1" = --flag ] || exit 6
            n=$(wc -l < "\(counter)" | tr -d ' ')
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-%s","expirationTimestamp":"\(expiry)"}}' "$n"
            """, to: directory + "/plugin.sh", mode: 0o755)
        let config = KubeClientConfiguration(
            server: "https://k.example",
            credentials: .exec(
                ExecConfig(
                    command: directory + "/plugin.sh", args: ["--flag"], env: [.init(name: "REGION", value: "eu")],
                    provideClusterInfo: true)))
        let provider = CredentialProvider(configuration: config, environment: ["PATH": "/usr/bin:/bin"])
        #expect(try await provider.credential().bearerToken == "exec-token-1")
        #expect(try await provider.credential().bearerToken == "exec-token-1")
        #expect(await provider.loads == 1)
        // Past the expiry (second precision, so wait until the stamped second has passed).
        try await Task.sleep(for: .milliseconds(7_100))
        #expect(try await provider.credential().bearerToken == "exec-token-2")
        await provider.invalidate()
        #expect(try await provider.credential().bearerToken == "exec-token-3")
        #expect(await provider.loads == 3)
    }

    @Test func execPluginWithClientCertificateAndFailures() async throws {
        let directory = try makeTemporaryDirectory("exec2")
        try write(
            """
            #!/bin/sh
            printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}'
            """, to: directory + "/bin/cert-plugin", mode: 0o755)
        try write("#!/bin/sh\necho secret-in-stderr >&2\nexit 7\n", to: directory + "/bin/failing", mode: 0o755)
        try write("#!/bin/sh\necho not json\n", to: directory + "/bin/garbage", mode: 0o755)
        let environment = ["PATH": directory + "/bin:/usr/bin:/bin"]

        let byName = CredentialProvider(
            configuration: KubeClientConfiguration(server: "https://x", credentials: .exec(ExecConfig(command: "cert-plugin"))),
            environment: environment)
        let credential = try await byName.credential()
        #expect(credential.clientCertificatePEM == Array("CERT".utf8))
        #expect(credential.clientKeyPEM == Array("KEY".utf8))
        #expect(credential.bearerToken == nil)

        for command in ["failing", "garbage", "no-such-plugin"] {
            let provider = CredentialProvider(
                configuration: KubeClientConfiguration(
                    server: "https://x", credentials: .exec(ExecConfig(command: command, installHint: "install it"))),
                environment: environment)
            do {
                _ = try await provider.credential()
                Issue.record("\(command) should fail")
            } catch let error as KubeClientError {
                #expect(error.code == .credentials)
                #expect(!error.message.contains("secret-in-stderr"))
                if command == "no-such-plugin" { #expect(error.message.contains("install it")) }
            }
        }
    }
}

@Suite struct KubeAPIErrorTests {
    @Test func decodesStatusWithCauses() {
        let body = #"""
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
             "message":"RoleBinding.rbac.authorization.k8s.io \"x\" is invalid: roleRef: Invalid value: \"...\": cannot change roleRef",
             "reason":"Invalid","details":{"name":"x","group":"rbac.authorization.k8s.io","kind":"RoleBinding",
             "causes":[{"reason":"FieldValueInvalid","message":"Invalid value: cannot change roleRef","field":"roleRef"}]},"code":422}
            """#
        let error = KubeAPIError.decode(
            code: 422, body: Array(body.utf8), retryAfterHeader: nil, method: "PATCH", path: "/apis/rbac/x")
        #expect(error.code == 422)
        #expect(error.reason == "Invalid")
        #expect(error.message.contains("cannot change roleRef"))
        #expect(error.causes == [KubeAPIError.Cause(reason: "FieldValueInvalid", message: "Invalid value: cannot change roleRef", field: "roleRef")])
        #expect(error.detailsName == "x")
        #expect(error.detailsKind == "RoleBinding")
        #expect(!error.isRetriable)
        #expect(error.description.hasPrefix("PATCH /apis/rbac/x: 422 Invalid"))
        #expect(error.description.contains("roleRef"))
    }

    @Test func plainTextTooManyRequests() {
        let error = KubeAPIError.decode(
            code: 429, body: Array("Too many requests, please try again later.\n".utf8), retryAfterHeader: "3",
            method: "GET", path: "/api/v1/namespaces")
        #expect(error.reason == "TooManyRequests")
        #expect(error.message == "Too many requests, please try again later.")
        #expect(error.retryAfterSeconds == 3)
        #expect(error.isRetriable)
    }

    @Test func kindsOfRefusal() {
        func status(_ code: Int, _ reason: String, causes: String = "[]") -> KubeAPIError {
            let body = #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"m","reason":"\#(reason)","details":{"causes":\#(causes),"retryAfterSeconds":2},"code":\#(code)}"#
            return KubeAPIError.decode(code: code, body: Array(body.utf8), retryAfterHeader: nil, method: "POST", path: "/p")
        }
        #expect(status(409, "AlreadyExists").isAlreadyExists)
        #expect(!status(409, "AlreadyExists").isConflict)
        #expect(status(409, "Conflict").isConflict)
        #expect(status(410, "Expired").isExpired)
        #expect(status(503, "ServiceUnavailable").retryAfterSeconds == 2)
        #expect(status(403, "Forbidden", causes: #"[{"reason":"NamespaceTerminating","message":"ns is terminating","field":"metadata.namespace"}]"#).isNamespaceTerminating)
        let html = KubeAPIError.decode(code: 502, body: Array("<html>bad gateway</html>".utf8), retryAfterHeader: nil, method: "GET", path: "/")
        #expect(html.message == "")
        #expect(html.isRetriable)
    }
}

@Suite struct RateLimiterTests {
    @Test func tokenBucketPacesRequests() async throws {
        let limiter = RateLimiter(rate: 50, burst: 5)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for _ in 0..<30 { try await limiter.acquire() }
        }
        // 5 at once, then 25 at 50/s ≈ 0.5 s.
        #expect(elapsed >= .milliseconds(450))
        #expect(elapsed < .seconds(10))
        let unlimited = RateLimiter(rate: nil, burst: 1)
        let fast = try await clock.measure { for _ in 0..<1000 { try await unlimited.acquire() } }
        #expect(fast < .seconds(2))
    }

    @Test func retryBackoffGrowsAndIsBounded() {
        let policy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        for attempt in 1...10 {
            let delay = policy.backoff(afterAttempt: attempt)
            let base = min(0.1 * pow(2, Double(attempt - 1)), 1.0)
            #expect(delay.seconds >= base / 2 - 0.001 && delay.seconds <= base + 0.001)
        }
    }

    @Test func pathsAndQueryEncoding() {
        #expect(KubePaths.collection(.roleBinding, namespace: nil) == "/apis/rbac.authorization.k8s.io/v1/rolebindings")
        #expect(KubePaths.collection(.resourceQuota, namespace: "a") == "/api/v1/namespaces/a/resourcequotas")
        #expect(KubePaths.object(ObjectRef(kind: .namespace, namespace: nil, name: "n")) == "/api/v1/namespaces/n")
        #expect(
            KubePaths.object(ObjectRef(kind: .role, namespace: "ns", name: "oidc:a b"))
                == "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles/oidc:a%20b")
        #expect(
            KubePaths.object(ObjectRef(kind: .networkPolicy, namespace: "ns", name: "p"))
                == "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/p")
        #expect(KubeClient.percentEncode("app.kubernetes.io/managed-by=accesssync,x=y") == "app.kubernetes.io%2Fmanaged-by%3Daccesssync%2Cx%3Dy")
    }
}
