// Legacy discovery documents (/api, /apis, /api/v1, /apis/<group>/<version>) and /version.
// Models k8s.io/apimachinery/pkg/apis/meta/v1/types.go (APIVersions, APIGroupList, APIResourceList) as served by
// k8s.io/apiserver/pkg/endpoints/discovery; aggregated discovery is not offered, so clients fall back to these.

enum Discovery {
    static func resource(_ t: ResourceType) -> JSONValue {
        var o = JSONObject()
        o["name"] = .string(t.plural)
        o["singularName"] = .string(t.singular)
        o["namespaced"] = .bool(t.namespaced)
        o["kind"] = .string(t.kind)
        o["verbs"] = .array(t.verbs.map(JSONValue.string))
        if !t.shortNames.isEmpty { o["shortNames"] = .array(t.shortNames.map(JSONValue.string)) }
        return .object(o)
    }

    static func resourceList(group: String, version: String) -> JSONValue? {
        let types = ResourceType.all.filter { $0.group == group && $0.version == version }
        guard !types.isEmpty else { return nil }
        var resources = types.map(resource)
        if group.isEmpty {
            resources.append([
                "name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace",
                "verbs": ["update"],
            ])
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(resources),
        ]
    }

    static func group(_ name: String, _ version: String) -> JSONValue {
        let gv: JSONValue = ["groupVersion": .string("\(name)/\(version)"), "version": .string(version)]
        return ["name": .string(name), "versions": [gv], "preferredVersion": gv]
    }

    /// `/openapi/v3`: the index of per-group-version documents.
    static func openAPIIndex() -> JSONValue {
        var paths = JSONObject()
        paths["api/v1"] = ["serverRelativeURL": "/openapi/v3/api/v1?hash=kts1"]
        for gv in ResourceType.groupVersions {
            let p = "apis/\(gv.group)/\(gv.version)"
            paths[p] = ["serverRelativeURL": .string("/\(p)".replacingOccurrences(of: "/apis", with: "/openapi/v3/apis") + "?hash=kts1")]
        }
        return ["paths": .object(paths)]
    }

    /// A minimal OpenAPI v3 document for one group version: the PATCH operation of each kind with its
    /// `x-kubernetes-group-version-kind` and the `fieldValidation` parameter, which is what kubectl looks for to
    /// decide that the server validates fields itself (k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go).
    static func openAPIDocument(group: String, version: String) -> JSONValue? {
        let types = ResourceType.all.filter { $0.group == group && $0.version == version && !$0.createOnly }
        guard !types.isEmpty || ResourceType.all.contains(where: { $0.group == group && $0.version == version }) else {
            return nil
        }
        let prefix = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let parameters: JSONValue = [
            ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ["name": "force", "in": "query", "schema": ["type": "boolean", "uniqueItems": true]],
        ]
        var paths = JSONObject()
        for t in types {
            let path = t.namespaced ? "\(prefix)/namespaces/{namespace}/\(t.plural)/{name}" : "\(prefix)/\(t.plural)/{name}"
            let gvk: JSONValue = ["group": .string(t.group), "version": .string(t.version), "kind": .string(t.kind)]
            let patch: JSONValue = [
                "operationId": .string("patch\(t.kind)"), "parameters": parameters,
                "responses": ["200": ["description": "OK"], "201": ["description": "Created"]],
                "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
            ]
            paths[path] = ["patch": patch]
        }
        return [
            "openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.36.0"], "paths": .object(paths),
            "components": ["schemas": .object(JSONObject())],
        ]
    }

    /// The document for a non-resource path, `nil` when the path is a resource path.
    static func document(for segments: [String], request: HTTPRequestData) throws(APIError) -> HTTPResponseData? {
        guard request.method == "GET" else {
            if segments.count <= 1 || (segments.first == "apis" && segments.count <= 3)
                || (segments.first == "api" && segments.count <= 2)
            {
                throw .methodNotAllowed()
            }
            return nil
        }
        if segments.first == "openapi" {
            if segments == ["openapi", "v3"] { return .json(200, openAPIIndex()) }
            if segments.count == 4, segments[1] == "v3", segments[2] == "api",
                let doc = openAPIDocument(group: "", version: segments[3])
            {
                return .json(200, doc)
            }
            if segments.count == 5, segments[1] == "v3", segments[2] == "apis",
                let doc = openAPIDocument(group: segments[3], version: segments[4])
            {
                return .json(200, doc)
            }
            throw .notFoundPath()
        }
        switch segments.count {
        case 0:
            return .json(200, ["paths": ["/api", "/api/v1", "/apis", "/healthz", "/openapi/v2", "/openapi/v3", "/version"]])
        case 1:
            switch segments[0] {
            case "version":
                return .json(
                    200,
                    [
                        "major": "1", "minor": "36", "gitVersion": "v1.36.0", "gitCommit": "kube-test-server",
                        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0",
                        "compiler": "gc", "platform": "linux/amd64",
                    ])
            case "api":
                let host = request.headers["host"] ?? "127.0.0.1"
                return .json(
                    200,
                    [
                        "kind": "APIVersions", "versions": ["v1"],
                        "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(host)]],
                    ])
            case "apis":
                let groups = ResourceType.groupVersions.map { group($0.group, $0.version) }
                return .json(200, ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)])
            default:
                throw .notFoundPath()
            }
        case 2:
            if segments[0] == "api" {
                guard let doc = resourceList(group: "", version: segments[1]) else { throw .notFoundPath() }
                return .json(200, doc)
            }
            if segments[0] == "apis" {
                guard let gv = ResourceType.groupVersions.first(where: { $0.group == segments[1] }) else {
                    throw .notFoundPath()
                }
                var g = group(gv.group, gv.version).objectValue!
                g["kind"] = "APIGroup"
                g["apiVersion"] = "v1"
                return .json(200, .object(g))
            }
            if segments[0] == "openapi" { throw .notFoundPath() }
            return nil
        case 3 where segments[0] == "apis":
            guard let doc = resourceList(group: segments[1], version: segments[2]) else { throw .notFoundPath() }
            return .json(200, doc)
        default:
            if segments[0] == "openapi" { throw .notFoundPath() }
            return nil
        }
    }
}
