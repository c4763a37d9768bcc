// Lists: label and field selectors, limit/continue with opaque expiring tokens, Table output for kubectl.
// Models k8s.io/apiserver/pkg/storage/continue.go (token shape {"v":"meta.k8s.io/v1","rv":N,"start":KEY}),
// k8s.io/apiserver/pkg/storage/etcd3/store.go GetList (410 Expired for compacted tokens, remainingItemCount)
// and k8s.io/apiserver/pkg/registry/rest/table.go (default Name/Age table).

import Foundation

extension APIServerCore {
    func labels(of o: JSONObject) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in o["metadata"]?["labels"]?.objectValue ?? JSONObject() { out[k] = v.stringValue ?? "" }
        return out
    }

    func labelSelector(_ c: RequestContext) throws(APIError) -> LabelSelector {
        guard let text = c.query["labelSelector"], !text.isEmpty else { return .everything }
        do {
            return try LabelSelector(parsing: text)
        } catch {
            throw .badRequest(error.message)
        }
    }

    struct ContinueToken {
        var rv: Int
        var start: String
        var epoch: Int
        var issued: Int
    }

    func encodeContinue(_ t: ContinueToken) -> String {
        let json: JSONValue = [
            "v": "meta.k8s.io/v1", "rv": .int(t.rv), "start": .string(t.start), "e": .int(t.epoch), "t": .int(t.issued),
        ]
        return Data(json.encoded()).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    func decodeContinue(_ s: String) throws(APIError) -> ContinueToken {
        var b64 = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let v = try? JSONValue.parse(Array(data)),
            v["v"]?.stringValue == "meta.k8s.io/v1", let rv = v["rv"]?.intValue, let start = v["start"]?.stringValue
        else {
            throw .badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        }
        return ContinueToken(rv: rv, start: start, epoch: v["e"]?.intValue ?? -1, issued: v["t"]?.intValue ?? 0)
    }

    func list(_ c: RequestContext, watch: Bool) throws(APIError) -> HTTPResponseData {
        let selector = try labelSelector(c)
        var fields: FieldSelector?
        if let f = c.query["fieldSelector"], !f.isEmpty {
            do {
                fields = try FieldSelector(parsing: f)
            } catch {
                throw .badRequest(error.message)
            }
        }
        let limit = Int(c.query["limit"] ?? "") ?? 0
        var start = ""
        var listRV = resourceVersion
        if let token = c.query["continue"], !token.isEmpty {
            let t = try decodeContinue(token)
            let age = Int(Date().timeIntervalSince1970) - t.issued
            let lifetime = Int(config.continueTokenLifetime.components.seconds)
            if t.epoch != continueEpoch || age > lifetime {
                throw .expired()
            }
            start = t.start
            listRV = t.rv
        }
        let all = objects[c.type.groupResource] ?? [:]
        let prefix = c.type.namespaced && !c.namespace.isEmpty ? c.namespace + "/" : ""
        let keys = all.keys.filter { $0.hasPrefix(prefix) && $0 > start }.sorted()
        var items: [JSONObject] = []
        var lastKey = ""
        var more = false
        var remaining = 0
        var pageSize = limit > 0 ? limit : Int.max
        if let cap = maxListPageSize, limit > 0 { pageSize = min(pageSize, cap) }
        var scanned = 0
        for key in keys {
            if scanned >= pageSize {
                more = true
                remaining = keys.count - scanned
                break
            }
            let o = all[key]!
            scanned += 1
            lastKey = key
            let meta = o["metadata"]?.objectValue ?? JSONObject()
            if let fields,
                !fields.matches(name: meta["name"]?.stringValue ?? "", namespace: meta["namespace"]?.stringValue ?? "")
            {
                continue
            }
            guard selector.matches(labels(of: o)) else { continue }
            items.append(o)
        }
        if watch {
            return watchResponse(c, items)
        }
        var listMeta = JSONObject()
        listMeta["resourceVersion"] = .string(String(listRV))
        if more {
            listMeta["continue"] = .string(
                encodeContinue(
                    ContinueToken(rv: listRV, start: lastKey, epoch: continueEpoch, issued: Int(Date().timeIntervalSince1970))))
            if selector.requirements.isEmpty && fields == nil {
                listMeta["remainingItemCount"] = .int(remaining)
            }
        }
        if wantsTable(c) {
            return .json(200, table(c.type, items, listRV: String(listRV), continueToken: listMeta["continue"]?.stringValue))
        }
        var out = JSONObject()
        out["kind"] = .string(c.type.kind + "List")
        out["apiVersion"] = .string(c.type.apiVersion)
        out["metadata"] = .object(listMeta)
        out["items"] = .array(
            items.map { o in
                var item = o
                item["kind"] = nil
                item["apiVersion"] = nil
                return .object(item)
            })
        return .json(200, .object(out))
    }

    /// A watch that reports the current objects as ADDED events and ends (no streaming).
    func watchResponse(_ c: RequestContext, _ items: [JSONObject]) -> HTTPResponseData {
        var body: [UInt8] = []
        if c.query["resourceVersion"] == nil || c.query["resourceVersion"] == "" || c.query["resourceVersion"] == "0" {
            for o in items {
                let event: JSONValue = ["type": "ADDED", "object": .object(layout(o, c.type))]
                body += event.encoded()
                body.append(UInt8(ascii: "\n"))
            }
        }
        return HTTPResponseData(status: 200, headers: [("Content-Type", "application/json")], body: body)
    }

    func wantsTable(_ c: RequestContext) -> Bool {
        let accept = c.request.headers["accept"] ?? ""
        return accept.contains("as=Table")
    }

    func table(_ type: ResourceType, _ items: [JSONObject], listRV: String, continueToken: String?) -> JSONValue {
        let now = Date()
        func age(_ ts: String?) -> String {
            guard let ts, let d = try? Date(ts, strategy: .iso8601) else { return "<unknown>" }
            let s = max(0, Int(now.timeIntervalSince(d)))
            if s < 120 { return "\(s)s" }
            if s < 3600 * 2 { return "\(s / 60)m" }
            if s < 86400 * 2 { return "\(s / 3600)h" }
            return "\(s / 86400)d"
        }
        var columns: [JSONValue] = [
            [
                "name": "Name", "type": "string", "format": "name",
                "description": "Name must be unique within a namespace.", "priority": 0,
            ]
        ]
        if type == .namespaces {
            columns.append(["name": "Status", "type": "string", "format": "", "description": "The status of the namespace", "priority": 0])
        }
        columns.append([
            "name": "Age", "type": "string", "format": "",
            "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
            "priority": 0,
        ])
        let rows: [JSONValue] = items.map { o in
            let meta = o["metadata"]?.objectValue ?? JSONObject()
            var cells: [JSONValue] = [meta["name"] ?? ""]
            if type == .namespaces { cells.append(o["status"]?["phase"] ?? "") }
            cells.append(.string(age(meta["creationTimestamp"]?.stringValue)))
            var partial = JSONObject()
            partial["kind"] = "PartialObjectMetadata"
            partial["apiVersion"] = "meta.k8s.io/v1"
            var pm = meta
            pm["managedFields"] = nil
            partial["metadata"] = .object(pm)
            return ["cells": .array(cells), "object": .object(partial)]
        }
        var listMeta = JSONObject()
        listMeta["resourceVersion"] = .string(listRV)
        if let continueToken { listMeta["continue"] = .string(continueToken) }
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(listMeta), "columnDefinitions": .array(columns),
            "rows": .array(rows),
        ]
    }
}
