// Behaviours 4 and 5: label selectors over HTTP, pagination with opaque, expiring continue tokens.

import KubeTestServer
import Testing

@Suite("Lists")
struct ListTests {
    func names(_ r: Reply) -> [String] {
        (r["items"]?.arrayValue ?? []).compactMap { $0["metadata"]?["name"]?.stringValue }
    }

    // Behaviour 4. Models https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#list-and-watch-filtering
    // (every operator, URL-encoded) per namespace and across namespaces (GET /api/v1/configmaps).
    @Test func labelSelectorsPerNamespaceAndClusterWide() async throws {
        try await withServer { _, client in
            _ = try await client.post("/api/v1/namespaces", namespaceBody("other"))
            _ = try await client.post(cmPath, configMap("a", labels: ["app": "web", "tier": "front"]))
            _ = try await client.post(cmPath, configMap("b", labels: ["app": "db"]))
            _ = try await client.post(cmPath, configMap("c"))
            _ = try await client.post("/api/v1/namespaces/other/configmaps", configMap("d", labels: ["app": "web"]))
            func query(_ selector: String, _ path: String = cmPath) async throws -> [String] {
                let encoded = selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let r = try await client.get("\(path)?labelSelector=\(encoded)")
                #expect(r.status == 200)
                return names(r)
            }
            #expect(try await query("app=web") == ["a"])
            #expect(try await query("app==web") == ["a"])
            #expect(try await query("app!=web") == ["b", "c"])
            #expect(try await query("app in (web,db)") == ["a", "b"])
            #expect(try await query("app notin (web)") == ["b", "c"])
            #expect(try await query("app") == ["a", "b"])
            #expect(try await query("!app") == ["c"])
            #expect(try await query("app=web,tier=front") == ["a"])
            #expect(try await query("app=web", "/api/v1/configmaps") == ["a", "d"])
            let all = try await client.get("/api/v1/configmaps")
            #expect(all["kind"] == "ConfigMapList")
            #expect(names(all) == ["a", "b", "c", "d"])
            #expect(all["items"]?.arrayValue?.first?["kind"] == nil)
            let bad = try await client.get("\(cmPath)?labelSelector=app%20in%20(")
            #expect(bad.status == 400)
            #expect(bad.reason == "BadRequest")
            let field = try await client.get("/api/v1/configmaps?fieldSelector=metadata.name%3Dd")
            #expect(names(field) == ["d"])
        }
    }

    // Behaviour 5. Models https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
    // and k8s.io/apiserver/pkg/storage/etcd3/store.go (continue tokens, remainingItemCount, 410 Expired).
    @Test func paginationWithContinueTokens() async throws {
        try await withServer { server, client in
            for i in 0..<7 { _ = try await client.post(cmPath, configMap("cm-\(i)")) }
            var seen: [String] = []
            var token = ""
            var pages = 0
            repeat {
                let suffix = token.isEmpty ? "" : "&continue=\(token)"
                let page = try await client.get("\(cmPath)?limit=3\(suffix)")
                #expect(page.status == 200)
                let n = names(page)
                #expect(n.count <= 3)
                seen += n
                token = page.metadata?["continue"]?.stringValue ?? ""
                if pages == 0 { #expect(page.metadata?["remainingItemCount"] == 4) }
                pages += 1
            } while !token.isEmpty
            #expect(seen == (0..<7).map { "cm-\($0)" })
            #expect(pages == 3)

            // Short pages: the server may return fewer items than asked even when more remain.
            server.setMaxListPageSize(2)
            let short = try await client.get("\(cmPath)?limit=5")
            #expect(names(short).count == 2)
            #expect(short.metadata?["continue"] != nil)
            server.setMaxListPageSize(nil)

            // Selectors filter within a page: pages may be short or empty, the token still advances.
            _ = try await client.post(cmPath, configMap("zz", labels: ["pick": "yes"]))
            let sparse = try await client.get("\(cmPath)?limit=2&labelSelector=pick%3Dyes")
            #expect(names(sparse).isEmpty)
            #expect(sparse.metadata?["continue"] != nil)

            // An expired token → 410 Expired.
            let first = try await client.get("\(cmPath)?limit=2")
            let t = first.metadata?["continue"]?.stringValue ?? ""
            server.expireContinueTokens()
            let expired = try await client.get("\(cmPath)?limit=2&continue=\(t)")
            #expect(expired.status == 410)
            #expect(expired.reason == "Expired")
            #expect(expired["code"] == 410)
            let garbage = try await client.get("\(cmPath)?limit=2&continue=notatoken")
            #expect(garbage.status == 400)
        }
    }

    // Continue tokens also expire by age (the etcd compaction window; 5 minutes by default).
    @Test func continueTokensExpireByAge() async throws {
        try await withServer({ $0.continueTokenLifetime = .seconds(1) }) { _, client in
            for i in 0..<3 { _ = try await client.post(cmPath, configMap("cm-\(i)")) }
            let first = try await client.get("\(cmPath)?limit=1")
            let t = first.metadata?["continue"]?.stringValue ?? ""
            try await Task.sleep(for: .milliseconds(2100))
            #expect(try await client.get("\(cmPath)?limit=1&continue=\(t)").status == 410)
        }
    }
}
