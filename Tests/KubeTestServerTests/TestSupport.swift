// A small HTTP client over URLSession for talking to an in-process KubeTestServer.

import Foundation
import KubeTestServer
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct Reply: Sendable {
    var status: Int
    var headers: [String: String]
    var text: String

    var json: JSONValue { (try? JSONValue.parse(text)) ?? .null }
    subscript(_ key: String) -> JSONValue? { json[key] }
    var message: String { json["message"]?.stringValue ?? "" }
    var reason: String { json["reason"]?.stringValue ?? "" }
    var causes: [JSONValue] { json["details"]?["causes"]?.arrayValue ?? [] }
    var metadata: JSONValue? { json["metadata"] }
    var resourceVersion: String { json["metadata"]?["resourceVersion"]?.stringValue ?? "" }
}

struct Client: Sendable {
    var server: KubeTestServer
    var token: String?
    var session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 10
        return URLSession(configuration: c)
    }()

    init(_ server: KubeTestServer, token: String? = nil) {
        self.server = server
        self.token = token
    }

    func send(
        _ method: String, _ path: String, body: String? = nil, contentType: String = "application/json",
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: server.url + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
        return Reply(status: http.statusCode, headers: headers, text: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String) async throws -> Reply { try await send("GET", path) }
    func post(_ path: String, _ body: String) async throws -> Reply { try await send("POST", path, body: body) }
    func put(_ path: String, _ body: String) async throws -> Reply { try await send("PUT", path, body: body) }
    func delete(_ path: String, _ body: String? = nil) async throws -> Reply { try await send("DELETE", path, body: body) }
    func apply(_ path: String, _ body: String, manager: String? = "test", force: Bool = false, extra: String = "")
        async throws -> Reply
    {
        var q: [String] = []
        if let manager { q.append("fieldManager=\(manager)") }
        if force { q.append("force=true") }
        if !extra.isEmpty { q.append(extra) }
        return try await send(
            "PATCH", path + (q.isEmpty ? "" : "?" + q.joined(separator: "&")), body: body,
            contentType: "application/apply-patch+yaml")
    }
}

/// Runs `body` against a fresh plain-HTTP server and stops it afterwards.
func withServer(
    _ configure: (inout KubeTestServerConfiguration) -> Void = { _ in },
    _ body: (KubeTestServer, Client) async throws -> Void
) async throws {
    var config = KubeTestServerConfiguration()
    configure(&config)
    let server = try await KubeTestServer.start(config)
    do {
        try await body(server, Client(server, token: config.tokens.keys.sorted().first))
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// A ConfigMap body.
func configMap(_ name: String, namespace: String? = nil, labels: [String: String] = [:], data: [String: String] = [:])
    -> String
{
    var meta: JSONObject = ["name": .string(name)]
    if let namespace { meta["namespace"] = .string(namespace) }
    if !labels.isEmpty {
        meta["labels"] = .object(JSONObject(labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
    }
    var o: JSONObject = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": .object(meta)]
    if !data.isEmpty {
        o["data"] = .object(JSONObject(data.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
    }
    return JSONValue.object(o).jsonString
}

func namespaceBody(_ name: String) -> String {
    #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(name)"}}"#
}

let cmPath = "/api/v1/namespaces/default/configmaps"
