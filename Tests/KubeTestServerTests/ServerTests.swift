// The server itself: discovery, request log, TLS, protobuf bodies, kubeconfig.

import Foundation
import KubeTestServer
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("Server")
struct ServerTests {
    // Legacy discovery as served by k8s.io/apiserver/pkg/endpoints/discovery (APIVersions, APIGroupList,
    // APIResourceList) and /version (k8s.io/apimachinery/pkg/version/types.go Info).
    @Test func discoveryDocuments() async throws {
        try await withServer { _, client in
            let api = try await client.get("/api")
            #expect(api["kind"] == "APIVersions")
            #expect(api["versions"] == ["v1"])
            let apis = try await client.get("/apis")
            let groups = (apis["groups"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(groups.contains("rbac.authorization.k8s.io"))
            #expect(groups.contains("networking.k8s.io"))
            #expect(groups.contains("coordination.k8s.io"))
            #expect(groups.contains("authorization.k8s.io"))
            let v1 = try await client.get("/api/v1")
            let resources = (v1["resources"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            for r in ["namespaces", "configmaps", "resourcequotas", "limitranges", "serviceaccounts"] {
                #expect(resources.contains(r))
            }
            let rbac = try await client.get("/apis/rbac.authorization.k8s.io/v1")
            #expect(rbac["groupVersion"] == "rbac.authorization.k8s.io/v1")
            let version = try await client.get("/version")
            #expect(version["major"] == "1")
            let openapi = try await client.get("/openapi/v3")
            #expect(openapi["paths"]?["api/v1"]?["serverRelativeURL"] != nil)
            let doc = try await client.get("/openapi/v3/apis/rbac.authorization.k8s.io/v1")
            #expect(doc["paths"]?["/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}"]?["patch"] != nil)
            #expect(try await client.get("/apis/apps/v1").status == 404)
        }
    }

    // All kinds of issue 5 are served at their documented paths (contract §1).
    @Test(arguments: [
        ("/api/v1/namespaces/default/serviceaccounts", #"{"metadata":{"name":"sa"}}"#),
        ("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", #"{"metadata":{"name":"np"},"spec":{"podSelector":{}}}"#),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles", #"{"metadata":{"name":"cr"},"rules":[]}"#),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", #"{"metadata":{"name":"crb"},"roleRef":{"kind":"ClusterRole","name":"cr"}}"#),
        ("/apis/coordination.k8s.io/v1/namespaces/default/leases", #"{"metadata":{"name":"l"},"spec":{}}"#),
    ])
    func everyKindRoundTrips(path: String, body: String) async throws {
        try await withServer { _, client in
            let created = try await client.post(path, body)
            #expect(created.status == 201)
            let name = created.metadata?["name"]?.stringValue ?? ""
            #expect(try await client.get("\(path)/\(name)").status == 200)
            #expect((try await client.get(path))["items"]?.arrayValue?.count == 1)
            #expect(try await client.delete("\(path)/\(name)").status == 200)
        }
    }

    @Test func networkPolicyDefaults() async throws {
        // pkg/apis/networking/v1/defaults.go: policyTypes [Ingress] (+Egress when egress rules exist), port protocol TCP.
        try await withServer { _, client in
            let np = try await client.post(
                "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
                #"{"metadata":{"name":"np"},"spec":{"podSelector":{},"ingress":[{"ports":[{"port":80}]}],"egress":[{}]}}"#)
            #expect(np["spec"]?["policyTypes"] == ["Ingress", "Egress"])
            #expect(np["spec"]?["ingress"]?.arrayValue?.first?["ports"]?.arrayValue?.first?["protocol"] == "TCP")
        }
    }

    // Observability: method, path, query, content type, status and user of every request.
    @Test func requestLog() async throws {
        try await withServer({ $0.tokens = ["t": UserInfo.admin("sync-bot")] }) { server, client in
            _ = try await client.post(cmPath, configMap("a"))
            _ = try await client.get("\(cmPath)?labelSelector=app%3Dx")
            _ = try await client.apply("\(cmPath)/a", configMap("a"), manager: "m")
            let log = server.requestLog
            #expect(log.count == 3)
            #expect(log[0].method == "POST")
            #expect(log[0].status == 201)
            #expect(log[0].contentType == "application/json")
            #expect(log[0].user == "sync-bot")
            #expect(log[0].token == "t")
            #expect(log[1].query == "labelSelector=app%3Dx")
            #expect(log[1].queryValue("labelSelector") == "app=x")
            #expect(!log[1].isWrite)
            #expect(log[2].contentType == "application/apply-patch+yaml")
            #expect(log[2].queryValue("fieldManager") == "m")
            #expect(log[2].isWrite)
            server.clearRequestLog()
            #expect(server.requestLog.isEmpty)
        }
    }

    @Test func requestLogFile() async throws {
        let path = NSTemporaryDirectory() + "kts-log-\(UUID().uuidString).jsonl"
        try await withServer({ $0.requestLogPath = path }) { _, client in
            _ = try await client.get(cmPath)
            _ = try await client.get("/api/v1/namespaces/default/configmaps/x")
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(try JSONValue.parse(String(lines[1]))["status"] == 404)
        try? FileManager.default.removeItem(atPath: path)
    }

    // Responses never contain `\/` (contract §0).
    @Test func responsesDoNotEscapeSlashes() async throws {
        try await withServer { _, client in
            let r = try await client.post(cmPath, configMap("a", labels: ["app.kubernetes.io/managed-by": "accesssync"]))
            #expect(r.text.contains("app.kubernetes.io/managed-by"))
            #expect(!r.text.contains("\\/"))
        }
    }

    // Protobuf request bodies as kubectl's typed clients send them
    // (k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go: "k8s\0" + runtime.Unknown).
    @Test func protobufBodies() async throws {
        func field(_ n: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(n << 3 | 2), UInt8(bytes.count)] + bytes }
        func string(_ n: Int, _ s: String) -> [UInt8] { field(n, Array(s.utf8)) }
        let meta = field(1, string(1, "proto-ns") + field(11, string(1, "team") + string(2, "x")))
        let unknown = field(1, string(1, "v1") + string(2, "Namespace")) + field(2, meta)
        let body = [0x6B, 0x38, 0x73, 0x00] + unknown
        try await withServer { server, client in
            var request = URLRequest(url: URL(string: server.url + "/api/v1/namespaces")!)
            request.httpMethod = "POST"
            request.httpBody = Data(body)
            request.setValue("application/vnd.kubernetes.protobuf", forHTTPHeaderField: "Content-Type")
            let (data, response) = try await client.session.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 201)
            let ns = try JSONValue.parse(Array(data))
            #expect(ns["metadata"]?["name"] == "proto-ns")
            #expect(ns["metadata"]?["labels"]?["team"] == "x")
        }
    }

    // HTTPS with a generated CA; checked with curl, which verifies the chain and the IP SAN.
    @Test func tlsWithGeneratedCertificate() async throws {
        let dir = NSTemporaryDirectory() + "kts-tls-\(UUID().uuidString)"
        var config = KubeTestServerConfiguration()
        config.tls = try KubeTestServer.generateTLS(in: dir)
        config.tokens = ["tok": .admin()]
        let server = try await KubeTestServer.start(config)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(server.url.hasPrefix("https://127.0.0.1:"))
        let kubeconfig = try server.kubeconfig(token: "tok")
        #expect(kubeconfig.contains("certificate-authority-data: "))
        #expect(kubeconfig.contains("token: tok"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = [
            "-sS", "--cacert", config.tls!.caPath, "-H", "Authorization: Bearer tok", server.url + "/api/v1/namespaces/default",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        let reapedStatus = reapChild(process)
        await server.stop()
        #expect(reapedStatus == 0)
        #expect(try JSONValue.parse(Array(out))["metadata"]?["name"] == "default")
    }
}
