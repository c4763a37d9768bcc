/// Encodes desired objects as Kubernetes manifests (for server-side apply bodies, POST skeletons
/// and rendered files). Pure and deterministic.
public enum Manifest {
    /// The full body for server-side apply: apiVersion, kind, metadata (name, namespace, labels,
    /// annotations) and every managed field. Omitted fields are released by the apply.
    public static func applyBody(for object: DesiredObject) -> JSONValue {
        var root = header(object.ref)
        root["metadata"] = metadata(object.ref, labels: object.labels, annotations: object.annotations)
        for (key, value) in content(object.spec) { root[key] = value }
        return .object(root)
    }

    /// The minimal body for creating by POST: name, namespace, our ownership labels (so the new
    /// object is recognisably ours even if the following apply fails) and immutable fields
    /// (`roleRef`). Fields set by POST belong to the manager's Update entry and are never removed
    /// by a later apply, so nothing else goes here.
    public static func skeleton(for object: DesiredObject) -> JSONValue {
        var root = header(object.ref)
        let ownership = object.labels.filter { $0.key == ManagedKeys.managedBy || $0.key == ManagedKeys.instance }
        root["metadata"] = metadata(object.ref, labels: ownership, annotations: [:])
        if case .roleBinding(let roleRef, _) = object.spec {
            root["roleRef"] = encode(roleRef)
        }
        return .object(root)
    }

    /// Body of a server-side apply that only sets labels and annotations (used to adopt or retire).
    public static func metadataOnly(ref: ObjectRef, labels: [String: String], annotations: [String: String]) -> JSONValue {
        var root = header(ref)
        root["metadata"] = metadata(ref, labels: labels, annotations: annotations)
        return .object(root)
    }

    static func header(_ ref: ObjectRef) -> [String: JSONValue] {
        ["apiVersion": .string(ref.kind.apiVersion), "kind": .string(ref.kind.rawValue)]
    }

    static func metadata(_ ref: ObjectRef, labels: [String: String], annotations: [String: String]) -> JSONValue {
        var meta: [String: JSONValue] = ["name": .string(ref.name)]
        if let namespace = ref.namespace { meta["namespace"] = .string(namespace) }
        if !labels.isEmpty { meta["labels"] = stringMap(labels) }
        if !annotations.isEmpty { meta["annotations"] = stringMap(annotations) }
        return .object(meta)
    }

    /// Top-level content fields for a spec (`rules`, `roleRef`+`subjects`, `spec`).
    public static func content(_ spec: ObjectSpec) -> [String: JSONValue] {
        switch spec {
        case .namespace, .serviceAccount:
            return [:]
        case .role(let rules):
            return ["rules": .array(rules.map(encode))]
        case .roleBinding(let roleRef, let subjects):
            return ["roleRef": encode(roleRef), "subjects": .array(subjects.map(encode))]
        case .resourceQuota(let hard):
            return ["spec": .object(["hard": quantityMap(hard)])]
        case .limitRange(let limits):
            return ["spec": .object(["limits": .array(limits.map(encode))])]
        case .networkPolicy(let policy):
            var spec: [String: JSONValue] = ["podSelector": selector(policy.podSelector)]
            spec["policyTypes"] = .array(policy.policyTypes.map(JSONValue.string))
            // An empty `from` would admit every source, so no peers means no ingress rule at all.
            spec["ingress"] = policy.ingressFrom.isEmpty
                ? .array([])
                : .array([.object(["from": .array(policy.ingressFrom.map(encode))])])
            return ["spec": .object(spec)]
        }
    }

    public static func encode(_ rule: PolicyRule) -> JSONValue {
        var members: [String: JSONValue] = [
            "apiGroups": .array(rule.apiGroups.map(JSONValue.string)),
            "resources": .array(rule.resources.map(JSONValue.string)),
            "verbs": .array(rule.verbs.map(JSONValue.string)),
        ]
        if !rule.resourceNames.isEmpty { members["resourceNames"] = .array(rule.resourceNames.map(JSONValue.string)) }
        return .object(members)
    }

    public static func encode(_ roleRef: RoleRef) -> JSONValue {
        .object([
            "apiGroup": .string("rbac.authorization.k8s.io"),
            "kind": .string(roleRef.kind.rawValue),
            "name": .string(roleRef.name),
        ])
    }

    public static func encode(_ subject: Subject) -> JSONValue {
        var members: [String: JSONValue] = ["kind": .string(subject.kind.rawValue), "name": .string(subject.name)]
        switch subject.kind {
        case .user, .group:
            members["apiGroup"] = .string("rbac.authorization.k8s.io")
        case .serviceAccount:
            members["apiGroup"] = .string("")
            if let namespace = subject.namespace { members["namespace"] = .string(namespace) }
        }
        return .object(members)
    }

    public static func encode(_ item: LimitRangeItem) -> JSONValue {
        var members: [String: JSONValue] = ["type": .string(item.type.rawValue)]
        if !item.max.isEmpty { members["max"] = quantityMap(item.max) }
        if !item.min.isEmpty { members["min"] = quantityMap(item.min) }
        if !item.default.isEmpty { members["default"] = quantityMap(item.default) }
        if !item.defaultRequest.isEmpty { members["defaultRequest"] = quantityMap(item.defaultRequest) }
        if !item.maxLimitRequestRatio.isEmpty { members["maxLimitRequestRatio"] = quantityMap(item.maxLimitRequestRatio) }
        return .object(members)
    }

    public static func encode(_ peer: NetworkPolicyPeer) -> JSONValue {
        var members: [String: JSONValue] = [:]
        if let namespaceSelector = peer.namespaceSelector { members["namespaceSelector"] = selector(namespaceSelector) }
        if let podSelector = peer.podSelector { members["podSelector"] = selector(podSelector) }
        return .object(members)
    }

    static func selector(_ labels: [String: String]) -> JSONValue {
        labels.isEmpty ? .object([:]) : .object(["matchLabels": stringMap(labels)])
    }

    static func stringMap(_ map: [String: String]) -> JSONValue {
        .object(map.mapValues(JSONValue.string))
    }

    static func quantityMap(_ map: [String: Quantity]) -> JSONValue {
        .object(map.mapValues { .string($0.canonical) })
    }
}
