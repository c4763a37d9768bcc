import Foundation
import RBACModel
import Testing

@testable import KubeTarget

/// Desired objects of every kind, as the planner would produce them.
enum Samples {
    static let ownership = [ManagedKeys.managedBy: ManagedKeys.managedByValue, ManagedKeys.instance: "test"]

    static func labels(_ instance: String = "test", extra: [String: String] = [:]) -> [String: String] {
        [ManagedKeys.managedBy: ManagedKeys.managedByValue, ManagedKeys.instance: instance].merging(extra) { a, _ in a }
    }

    static func q(_ text: String) -> Quantity { try! Quantity(text) }

    static func objects(namespace: String, instance: String = "test", person: String = "alice") -> [DesiredObject] {
        let nsRef = ObjectRef(kind: .namespace, namespace: nil, name: namespace)
        return [
            DesiredObject(
                ref: nsRef,
                labels: labels(instance, extra: [ManagedKeys.podSecurityEnforce: "baseline"]),
                annotations: [ManagedKeys.ownerID: "uuid-\(person)", ManagedKeys.provenance: "group cn=ds,ou=groups/grant hub"],
                spec: .namespace, provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .serviceAccount, namespace: namespace, name: "notebook"),
                labels: labels(instance), annotations: [:], spec: .serviceAccount, provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .role, namespace: namespace, name: "accesssync-user"),
                labels: labels(instance), annotations: [:],
                spec: .role(rules: [
                    PolicyRule(apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"]),
                    PolicyRule(apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"]),
                ]), provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .roleBinding, namespace: namespace, name: "accesssync-\(person)"),
                labels: labels(instance), annotations: [ManagedKeys.ownerID: "uuid-\(person)"],
                spec: .roleBinding(
                    roleRef: RoleRef(kind: .role, name: "accesssync-user"),
                    subjects: [Subject(kind: .user, name: "oidc:\(person)"), Subject(kind: .group, name: "ds")]),
                provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .roleBinding, namespace: namespace, name: "accesssync-hub"),
                labels: labels(instance), annotations: [:],
                spec: .roleBinding(
                    roleRef: RoleRef(kind: .clusterRole, name: "accesssync-hub-spawner"),
                    subjects: [Subject(kind: .serviceAccount, name: "hub", namespace: "jhub")]),
                provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .resourceQuota, namespace: namespace, name: "accesssync-quota"),
                labels: labels(instance), annotations: [:],
                spec: .resourceQuota(hard: [
                    "requests.cpu": q("2"), "requests.memory": q("4Gi"), "limits.cpu": q("4"),
                    "limits.memory": q("8Gi"), "pods": q("10"), "requests.nvidia.com/gpu": q("1"),
                ]), provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .limitRange, namespace: namespace, name: "accesssync-limits"),
                labels: labels(instance), annotations: [:],
                spec: .limitRange(limits: [
                    LimitRangeItem(
                        type: .container, max: ["cpu": q("2"), "memory": q("4Gi")], min: ["cpu": q("100m")],
                        default: ["cpu": q("1")], defaultRequest: ["cpu": q("500m"), "memory": q("1Gi")]),
                    LimitRangeItem(type: .persistentVolumeClaim, max: ["storage": q("10Gi")]),
                ]), provenance: []),
            DesiredObject(
                ref: ObjectRef(kind: .networkPolicy, namespace: namespace, name: "accesssync-ingress"),
                labels: labels(instance), annotations: [:],
                spec: .networkPolicy(
                    NetworkPolicySpec(ingressFrom: [
                        NetworkPolicyPeer(
                            namespaceSelector: ["kubernetes.io/metadata.name": "jhub"],
                            podSelector: ["app": "jupyterhub", "component": "hub"]),
                        NetworkPolicyPeer(podSelector: ["component": "proxy"]),
                    ])), provenance: []),
        ]
    }
}

@Suite struct ManifestDecodingTests {
    /// Adds what a server adds: uid, resourceVersion, managedFields, status, finalizers, defaults.
    func serverCopy(_ body: JSONValue, kind: ObjectKind) -> JSONValue {
        guard case .object(var root) = body, case .object(var metadata)? = root["metadata"] else { return body }
        metadata["uid"] = .string("0a1b-uid")
        metadata["resourceVersion"] = .string("4711")
        metadata["creationTimestamp"] = .string("2026-01-02T03:04:05Z")
        metadata["managedFields"] = .array([.object(["manager": .string("accesssync"), "operation": .string("Apply")])])
        var labels = metadata["labels"]?.objectValue ?? [:]
        labels["added-by-someone-else"] = .string("x")
        metadata["labels"] = .object(labels)
        root["metadata"] = .object(metadata)
        if kind == .namespace {
            root["spec"] = .object(["finalizers": .array([.string("kubernetes")])])
            root["status"] = .object(["phase": .string("Active")])
        }
        if kind == .resourceQuota {
            var spec = root["spec"]?.objectValue ?? [:]
            spec["scopes"] = nil
            root["spec"] = .object(spec)
            root["status"] = .object(["hard": spec["hard"] ?? .object([:]), "used": .object(["pods": .string("0")])])
        }
        if kind == .serviceAccount {
            root["secrets"] = .array([.object(["name": .string("notebook-token")])])
        }
        // List items of a real server carry no kind.
        root["kind"] = nil
        root["apiVersion"] = nil
        return .object(root)
    }

    @Test func applyBodyRoundTripsForEveryKind() throws {
        let objects = Samples.objects(namespace: "jhub-alice")
        #expect(Set(objects.map(\.ref.kind)) == Set(ObjectKind.allCases))
        for object in objects {
            let body = Manifest.applyBody(for: object)
            // Through the wire format and back, as the client sees it.
            let parsed = try JSONParser.parse(Array(body.serialized().utf8))
            #expect(try ManifestDecoding.spec(parsed, kind: object.ref.kind) == object.spec, "\(object.ref)")
        }
    }

    @Test func observedIgnoresServerAddedFields() throws {
        for object in Samples.objects(namespace: "jhub-bob") {
            let stored = serverCopy(Manifest.applyBody(for: object), kind: object.ref.kind)
            let observed = try ManifestDecoding.observed(stored, kind: object.ref.kind)
            #expect(observed.ref == object.ref)
            #expect(observed.spec == object.spec, "\(object.ref)")
            #expect(observed.uid == "0a1b-uid")
            #expect(observed.resourceVersion == "4711")
            #expect(observed.isOwned(byInstance: "test"))
            #expect(!observed.isOwned(byInstance: "other"))
            #expect(observed.annotations == object.annotations)
            #expect(observed.labels["added-by-someone-else"] == "x")
            #expect(!observed.isTerminating)
            if object.ref.kind == .namespace { #expect(observed.phase == "Active") }
        }
    }

    @Test
    func serverCanonicalQuantitiesCompareEqual() throws {
        let desired = ObjectSpec.resourceQuota(hard: [
            "requests.cpu": Samples.q("1000m"), "limits.cpu": Samples.q("1.5"), "requests.memory": Samples.q("1024Mi"),
            "limits.memory": Samples.q("1.5Gi"), "requests.storage": Samples.q("1000M"), "pods": Samples.q("10"),
        ])
        let server = JSONValue.object([
            "metadata": .object(["name": .string("q"), "namespace": .string("n"), "uid": .string("u"), "resourceVersion": .string("1")]),
            "spec": .object([
                "hard": .object([
                    "requests.cpu": .string("1"), "limits.cpu": .string("1500m"), "requests.memory": .string("1Gi"),
                    "limits.memory": .string("1536Mi"), "requests.storage": .string("1G"), "pods": .string("10"),
                ])
            ]),
        ])
        #expect(try ManifestDecoding.observed(server, kind: .resourceQuota).spec == desired)
    }

    @Test func limitRangeServerDefaultsAreIgnored() throws {
        let q = Samples.q
        let desired = LimitRangeItem(type: .container, max: ["cpu": q("2"), "memory": q("4Gi")], min: ["memory": q("64Mi")])
        // What the API server stores after defaulting: default from max, defaultRequest from default.
        let stored = JSONValue.object([
            "metadata": .object(["name": .string("l"), "namespace": .string("n"), "uid": .string("u"), "resourceVersion": .string("1")]),
            "spec": .object([
                "limits": .array([
                    .object([
                        "type": .string("Container"),
                        "max": .object(["cpu": .string("2"), "memory": .string("4Gi")]),
                        "min": .object(["memory": .string("64Mi")]),
                        "default": .object(["cpu": .string("2"), "memory": .string("4Gi")]),
                        "defaultRequest": .object(["cpu": .string("2"), "memory": .string("4Gi")]),
                    ])
                ])
            ]),
        ])
        #expect(try ManifestDecoding.observed(stored, kind: .limitRange).spec == .limitRange(limits: [desired]))
        // An explicit value equal to the server's default reduces to the same item.
        let explicit = LimitRangeItem(
            type: .container, max: ["cpu": q("2")], default: ["cpu": q("2")], defaultRequest: ["cpu": q("2")])
        #expect(explicit.removingServerDefaults() == LimitRangeItem(type: .container, max: ["cpu": q("2")]))
        // A defaultRequest below the limit is information and stays.
        let kept = LimitRangeItem(type: .container, max: ["cpu": q("2")], defaultRequest: ["cpu": q("1")])
        #expect(kept.removingServerDefaults() == kept)
        // Only Container items are defaulted.
        let pod = LimitRangeItem(type: .pod, max: ["cpu": q("2")], default: ["cpu": q("2")])
        #expect(pod.removingServerDefaults() == pod)
    }

    @Test func unmappableContentGivesNilSpec() throws {
        let meta = JSONValue.object([
            "name": .string("np"), "namespace": .string("n"), "uid": .string("u"), "resourceVersion": .string("1"),
        ])
        let withExpressions = JSONValue.object([
            "metadata": meta,
            "spec": .object([
                "podSelector": .object(["matchExpressions": .array([.object(["key": .string("a"), "operator": .string("Exists")])])]),
                "ingress": .array([]),
            ]),
        ])
        let observed = try ManifestDecoding.observed(withExpressions, kind: .networkPolicy)
        #expect(observed.spec == nil)
        #expect(observed.uid == "u")
        let allowAll = JSONValue.object([
            "metadata": meta, "spec": .object(["podSelector": .object([:]), "ingress": .array([.object([:])])]),
        ])
        #expect(try ManifestDecoding.observed(allowAll, kind: .networkPolicy).spec == nil)
        let badQuantity = JSONValue.object(["metadata": meta, "spec": .object(["hard": .object(["pods": .string("")])])])
        #expect(try ManifestDecoding.observed(badQuantity, kind: .resourceQuota).spec == nil)
        let unknownSubject = JSONValue.object([
            "metadata": meta, "roleRef": .object(["kind": .string("Role"), "name": .string("r")]),
            "subjects": .array([.object(["kind": .string("Robot"), "name": .string("x")])]),
        ])
        #expect(try ManifestDecoding.observed(unknownSubject, kind: .roleBinding).spec == nil)
    }

    @Test func missingMetadataThrows() {
        #expect(throws: ManifestDecodingError.self) {
            try ManifestDecoding.observed(.object(["metadata": .object(["name": .string("x")])]), kind: .namespace)
        }
        #expect(throws: ManifestDecodingError.self) {
            try ManifestDecoding.observed(
                .object(["metadata": .object(["name": .string("x"), "uid": .string("u"), "resourceVersion": .string("1")])]),
                kind: .role)
        }
    }

    @Test func terminatingNamespaceIsSeen() throws {
        let stored = JSONValue.object([
            "metadata": .object([
                "name": .string("gone"), "uid": .string("u"), "resourceVersion": .string("9"),
                "deletionTimestamp": .string("2026-03-04T05:06:07Z"),
            ]),
            "status": .object(["phase": .string("Terminating")]),
        ])
        let observed = try ManifestDecoding.observed(stored, kind: .namespace)
        #expect(observed.isTerminating)
        #expect(observed.phase == "Terminating")
        #expect(observed.deletionTimestamp == Date(timeIntervalSince1970: 1_772_600_767))
        #expect(ManifestDecoding.parseTimestamp("2026-03-04T05:06:07.123456Z") != nil)
        #expect(ManifestDecoding.formatTimestamp(Date(timeIntervalSince1970: 1_772_600_767)) == "2026-03-04T05:06:07Z")
    }
}

@Suite struct JSONParserTests {
    @Test func parsesWhatSerializedWrites() throws {
        let value = JSONValue.object([
            "a/b": .string("x/y \"q\" \\ \n\t é 😀"), "n": .int(-12), "d": .double(1.5), "t": .bool(true), "f": .bool(false),
            "z": .null, "arr": .array([.int(1), .object([:]), .array([])]),
        ])
        #expect(try JSONParser.parse(Array(value.serialized().utf8)) == value)
        #expect(try JSONParser.parse(Array(value.prettySerialized().utf8)) == value)
        #expect(try JSONParser.parse(Array(#"{"s":"a\/b\u00e9\ud83d\ude00"}"#.utf8)) == .object(["s": .string("a/bé😀")]))
    }

    @Test func rejectsInvalid() {
        for text in ["{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "1 2", "{\"a\":1}x", "-", "\"\\ud800\""] {
            #expect(throws: JSONParser.Failure.self, "\(text)") { try JSONParser.parse(Array(text.utf8)) }
        }
    }
}
