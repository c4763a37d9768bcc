public import Foundation

/// Decodes Kubernetes JSON objects into observed state: the pure inverse of `Manifest`.
///
/// Only fields AccessSync manages are read, so fields the server adds (finalizers, the
/// `kubernetes.io/metadata.name` label, `managedFields`, status, LimitRange defaults) never make an
/// observed object differ from its desired one. Quantities are parsed with `Quantity(_:)` so the
/// server's canonical spelling (`1000m` → `1`) compares equal to what was sent.
public enum ManifestDecoding {
    /// Maps one object from a GET or LIST into an `ObservedObject`.
    ///
    /// List items from a real API server carry no `kind`, so the kind is an input. When the managed
    /// content cannot be mapped into `ObjectSpec` (a selector with `matchExpressions`, an unknown
    /// subject kind, an invalid quantity...), `spec` is nil and planning rewrites the object.
    ///
    /// - Throws: `ManifestDecodingError` when metadata (name, uid, resourceVersion) is missing or the
    ///   namespace does not match the kind's scope.
    public static func observed(_ object: JSONValue, kind: ObjectKind) throws(ManifestDecodingError) -> ObservedObject {
        guard let metadata = object["metadata"]?.objectValue else {
            throw ManifestDecodingError(kind: kind, name: nil, reason: "object has no metadata")
        }
        guard let name = metadata["name"]?.stringValue, !name.isEmpty else {
            throw ManifestDecodingError(kind: kind, name: nil, reason: "object has no metadata.name")
        }
        let namespace = metadata["namespace"]?.stringValue
        if kind.isNamespaced, namespace?.isEmpty ?? true {
            throw ManifestDecodingError(kind: kind, name: name, reason: "namespaced object has no metadata.namespace")
        }
        let ref = ObjectRef(kind: kind, namespace: kind.isNamespaced ? namespace : nil, name: name)
        guard let uid = metadata["uid"]?.stringValue else {
            throw ManifestDecodingError(kind: kind, name: name, reason: "object has no metadata.uid")
        }
        guard let resourceVersion = metadata["resourceVersion"]?.stringValue else {
            throw ManifestDecodingError(kind: kind, name: name, reason: "object has no metadata.resourceVersion")
        }
        var deletionTimestamp: Date?
        if let text = metadata["deletionTimestamp"]?.stringValue {
            deletionTimestamp = parseTimestamp(text)
            if deletionTimestamp == nil {
                throw ManifestDecodingError(kind: kind, name: name, reason: "unreadable deletionTimestamp \"\(text)\"")
            }
        }
        return ObservedObject(
            ref: ref, uid: uid, resourceVersion: resourceVersion,
            labels: stringMap(metadata["labels"]) ?? [:],
            annotations: stringMap(metadata["annotations"]) ?? [:],
            spec: try? spec(object, kind: kind),
            deletionTimestamp: deletionTimestamp,
            phase: kind == .namespace ? object["status"]?["phase"]?.stringValue : nil
        )
    }

    /// The managed content of an object, in the shape of `DesiredObject.spec`.
    ///
    /// - Throws: `ManifestDecodingError` when a managed field has a shape AccessSync never writes.
    public static func spec(_ object: JSONValue, kind: ObjectKind) throws(ManifestDecodingError) -> ObjectSpec {
        let name = object["metadata"]?["name"]?.stringValue
        func fail(_ reason: String) -> ManifestDecodingError {
            ManifestDecodingError(kind: kind, name: name, reason: reason)
        }
        switch kind {
        case .namespace:
            return .namespace
        case .serviceAccount:
            return .serviceAccount
        case .role:
            let rules = try list(object["rules"], field: "rules", fail: fail).map { rule throws(ManifestDecodingError) in
                try decodeRule(rule, fail: fail)
            }
            return .role(rules: rules)
        case .roleBinding:
            guard let roleRefJSON = object["roleRef"] else { throw fail("rolebinding has no roleRef") }
            let roleRef = try decodeRoleRef(roleRefJSON, fail: fail)
            let subjects = try list(object["subjects"], field: "subjects", fail: fail).map {
                subject throws(ManifestDecodingError) in try decodeSubject(subject, fail: fail)
            }
            return .roleBinding(roleRef: roleRef, subjects: subjects)
        case .resourceQuota:
            let hard = try quantityMap(object["spec"]?["hard"], field: "spec.hard", fail: fail) ?? [:]
            return .resourceQuota(hard: hard)
        case .limitRange:
            let limits = try list(object["spec"]?["limits"], field: "spec.limits", fail: fail).map {
                item throws(ManifestDecodingError) in try decodeLimitRangeItem(item, fail: fail).removingServerDefaults()
            }
            return .limitRange(limits: limits)
        case .networkPolicy:
            return .networkPolicy(try decodeNetworkPolicy(object["spec"], fail: fail))
        }
    }

    // MARK: - Kinds

    static func decodeRule(
        _ json: JSONValue, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> PolicyRule {
        guard json.objectValue != nil else { throw fail("a rule is not an object") }
        if let urls = json["nonResourceURLs"]?.arrayValue, !urls.isEmpty {
            throw fail("a rule has nonResourceURLs")
        }
        return PolicyRule(
            apiGroups: try strings(json["apiGroups"], field: "rules[].apiGroups", fail: fail),
            resources: try strings(json["resources"], field: "rules[].resources", fail: fail),
            verbs: try strings(json["verbs"], field: "rules[].verbs", fail: fail),
            resourceNames: try strings(json["resourceNames"], field: "rules[].resourceNames", fail: fail)
        )
    }

    static func decodeRoleRef(
        _ json: JSONValue, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> RoleRef {
        guard let kindText = json["kind"]?.stringValue, let kind = RoleRef.Kind(rawValue: kindText) else {
            throw fail("roleRef has an unknown kind")
        }
        guard let name = json["name"]?.stringValue else { throw fail("roleRef has no name") }
        if let group = json["apiGroup"]?.stringValue, group != "rbac.authorization.k8s.io" {
            throw fail("roleRef has apiGroup \"\(group)\"")
        }
        return RoleRef(kind: kind, name: name)
    }

    static func decodeSubject(
        _ json: JSONValue, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> Subject {
        guard let kindText = json["kind"]?.stringValue, let kind = Subject.Kind(rawValue: kindText) else {
            throw fail("a subject has an unknown kind")
        }
        guard let name = json["name"]?.stringValue else { throw fail("a subject has no name") }
        switch kind {
        case .user, .group:
            // The server defaults apiGroup to rbac.authorization.k8s.io; a namespace is ignored for these kinds.
            if let group = json["apiGroup"]?.stringValue, !group.isEmpty, group != "rbac.authorization.k8s.io" {
                throw fail("subject \(name) has apiGroup \"\(group)\"")
            }
            return Subject(kind: kind, name: name)
        case .serviceAccount:
            if let group = json["apiGroup"]?.stringValue, !group.isEmpty {
                throw fail("service account subject \(name) has apiGroup \"\(group)\"")
            }
            let namespace = json["namespace"]?.stringValue
            return Subject(kind: kind, name: name, namespace: namespace?.isEmpty == true ? nil : namespace)
        }
    }

    static func decodeLimitRangeItem(
        _ json: JSONValue, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> LimitRangeItem {
        guard let typeText = json["type"]?.stringValue, let type = LimitRangeItem.ItemType(rawValue: typeText) else {
            throw fail("a limit has an unknown type")
        }
        return LimitRangeItem(
            type: type,
            max: try quantityMap(json["max"], field: "limits[].max", fail: fail) ?? [:],
            min: try quantityMap(json["min"], field: "limits[].min", fail: fail) ?? [:],
            default: try quantityMap(json["default"], field: "limits[].default", fail: fail) ?? [:],
            defaultRequest: try quantityMap(json["defaultRequest"], field: "limits[].defaultRequest", fail: fail) ?? [:],
            maxLimitRequestRatio: try quantityMap(
                json["maxLimitRequestRatio"], field: "limits[].maxLimitRequestRatio", fail: fail) ?? [:]
        )
    }

    static func decodeNetworkPolicy(
        _ json: JSONValue?, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> NetworkPolicySpec {
        guard let json, json.objectValue != nil else { throw fail("networkpolicy has no spec") }
        let podSelector = try selector(json["podSelector"], field: "spec.podSelector", fail: fail) ?? [:]
        if let egress = json["egress"]?.arrayValue, !egress.isEmpty { throw fail("networkpolicy has egress rules") }
        let rules = try list(json["ingress"], field: "spec.ingress", fail: fail)
        var peers: [NetworkPolicyPeer] = []
        switch rules.count {
        case 0:
            break
        case 1:
            let rule = rules[0]
            if let ports = rule["ports"]?.arrayValue, !ports.isEmpty { throw fail("networkpolicy ingress has ports") }
            let from = try list(rule["from"], field: "spec.ingress[].from", fail: fail)
            // `Manifest` never writes an ingress rule without peers (it would admit every source).
            if from.isEmpty { throw fail("networkpolicy ingress rule admits every source") }
            for peer in from {
                if peer["ipBlock"] != nil { throw fail("networkpolicy peer has an ipBlock") }
                let namespaceSelector = try selector(peer["namespaceSelector"], field: "from[].namespaceSelector", fail: fail)
                let podSelector = try selector(peer["podSelector"], field: "from[].podSelector", fail: fail)
                peers.append(NetworkPolicyPeer(namespaceSelector: namespaceSelector, podSelector: podSelector))
            }
        default:
            throw fail("networkpolicy has several ingress rules")
        }
        let policyTypes: [String]
        if json["policyTypes"] != nil {
            policyTypes = try strings(json["policyTypes"], field: "spec.policyTypes", fail: fail)
        } else {
            policyTypes = ["Ingress"]
        }
        return NetworkPolicySpec(podSelector: podSelector, ingressFrom: peers, policyTypes: policyTypes)
    }

    // MARK: - Fields

    static func list(
        _ json: JSONValue?, field: String, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> [JSONValue] {
        switch json {
        case nil, .null?: return []
        case .array(let values)?: return values
        default: throw fail("\(field) is not a list")
        }
    }

    static func strings(
        _ json: JSONValue?, field: String, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> [String] {
        try list(json, field: field, fail: fail).map { value throws(ManifestDecodingError) in
            guard let text = value.stringValue else { throw fail("\(field) holds a non-string") }
            return text
        }
    }

    static func stringMap(_ json: JSONValue?) -> [String: String]? {
        guard let members = json?.objectValue else { return nil }
        var result: [String: String] = [:]
        for (key, value) in members {
            if let text = value.stringValue { result[key] = text }
        }
        return result
    }

    static func quantityMap(
        _ json: JSONValue?, field: String, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> [String: Quantity]? {
        switch json {
        case nil, .null?: return nil
        case .object(let members)?:
            var result: [String: Quantity] = [:]
            for (key, value) in members {
                let text: String
                switch value {
                case .string(let string): text = string
                case .int(let number): text = String(number)
                case .double(let number): text = "\(number)"
                default: throw fail("\(field).\(key) is not a quantity")
                }
                do {
                    result[key] = try Quantity(text)
                } catch {
                    throw fail("\(field).\(key): \(error)")
                }
            }
            return result
        default:
            throw fail("\(field) is not a map")
        }
    }

    /// A label selector with only `matchLabels`; `{}` is the empty selector.
    static func selector(
        _ json: JSONValue?, field: String, fail: (String) -> ManifestDecodingError
    ) throws(ManifestDecodingError) -> [String: String]? {
        guard let json else { return nil }
        guard let members = json.objectValue else { throw fail("\(field) is not an object") }
        if let expressions = members["matchExpressions"]?.arrayValue, !expressions.isEmpty {
            throw fail("\(field) has matchExpressions")
        }
        return stringMap(members["matchLabels"]) ?? [:]
    }

    /// Parses an RFC 3339 timestamp as the API server writes it (with or without fractional seconds).
    public static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// RFC 3339 text in UTC with second precision (`2026-01-02T03:04:05Z`), as annotations carry it.
    public static func formatTimestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }
}

extension LimitRangeItem {
    /// The item without values the API server would fill in by itself.
    ///
    /// For `Container` items the server sets each missing `default` key from `max`, then each missing
    /// `defaultRequest` key from `default`, then from `min`. A value equal to what that defaulting would
    /// produce carries no information, so both the decoder and (to keep runs from flapping) the planner
    /// should compare items in this form; applying it is equivalent to applying the full item.
    public func removingServerDefaults() -> LimitRangeItem {
        guard type == .container else { return self }
        var result = self
        for (key, value) in self.default where max[key] == value {
            result.default[key] = nil
        }
        for (key, value) in defaultRequest {
            // What the server would have filled in, had the key been absent, given the reduced `default`.
            let implied = self.default[key] ?? max[key] ?? min[key]
            if implied == value { result.defaultRequest[key] = nil }
        }
        return result
    }
}

/// An object whose managed content or metadata AccessSync cannot read.
public struct ManifestDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var kind: ObjectKind
    public var name: String?
    public var reason: String

    public init(kind: ObjectKind, name: String?, reason: String) {
        self.kind = kind
        self.name = name
        self.reason = reason
    }

    public var description: String {
        if let name { "\(kind.rawValue) \(name): \(reason)" } else { "\(kind.rawValue): \(reason)" }
    }
}
