// Behaviours 8, 9, 10: canonical quantities in objects, defaulting, validation with causes.

import KubeTestServer
import Testing

@Suite("Quantities, defaulting, validation")
struct DefaultingValidationTests {
    let rbac = "/apis/rbac.authorization.k8s.io/v1"

    // Behaviour 8. https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/ ("before
    // serializing, Quantity will be put in canonical form") for ResourceQuota spec.hard and LimitRange limits.
    @Test func quantitiesAreCanonicalInObjects() async throws {
        try await withServer { _, client in
            let rq = try await client.post(
                "/api/v1/namespaces/default/resourcequotas",
                #"{"metadata":{"name":"q"},"spec":{"hard":{"requests.cpu":"1000m","requests.memory":"1024Mi","limits.cpu":"0.5","limits.memory":"1.5Gi","pods":"1000","requests.storage":"1000M"}}}"#
            )
            #expect(rq.status == 201)
            #expect(
                rq["spec"]?["hard"]
                    == [
                        "requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "500m", "limits.memory": "1536Mi",
                        "pods": "1k", "requests.storage": "1G",
                    ])
            let lr = try await client.post(
                "/api/v1/namespaces/default/limitranges",
                #"{"metadata":{"name":"l"},"spec":{"limits":[{"type":"Container","max":{"cpu":"2000m","memory":"2048Mi"},"min":{"cpu":"0.1"},"maxLimitRequestRatio":{"cpu":"10"}}]}}"#
            )
            #expect(lr.status == 201)
            let item = lr["spec"]?["limits"]?.arrayValue?.first
            #expect(item?["max"] == ["cpu": "2", "memory": "2Gi"])
            #expect(item?["min"] == ["cpu": "100m"])
            #expect(item?["maxLimitRequestRatio"] == ["cpu": "10"])
            let bad = try await client.post(
                "/api/v1/namespaces/default/resourcequotas", #"{"metadata":{"name":"b"},"spec":{"hard":{"cpu":"lots"}}}"#)
            #expect(bad.status == 400)
            #expect(bad.message.contains("quantities must match the regular expression"))
            let negative = try await client.post(
                "/api/v1/namespaces/default/resourcequotas", #"{"metadata":{"name":"n"},"spec":{"hard":{"cpu":"-1"}}}"#)
            #expect(negative.status == 422)
            #expect(negative.causes.first?["field"] == "spec.hard[cpu]")
        }
    }

    // Behaviour 9. pkg/registry/core/namespace/strategy.go (PrepareForCreate: finalizers [kubernetes], phase
    // Active), https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#automatic-labelling,
    // pkg/apis/rbac/v1/defaults.go (subject/roleRef apiGroup), pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem.
    @Test func defaulting() async throws {
        try await withServer { _, client in
            let ns = try await client.post("/api/v1/namespaces", namespaceBody("team"))
            #expect(ns.metadata?["labels"]?["kubernetes.io/metadata.name"] == "team")
            #expect(ns["spec"]?["finalizers"] == ["kubernetes"])
            #expect(ns["status"]?["phase"] == "Active")

            let rb = try await client.post(
                "\(rbac)/namespaces/team/rolebindings",
                #"{"metadata":{"name":"rb"},"roleRef":{"kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"u"},{"kind":"Group","name":"g"},{"kind":"ServiceAccount","name":"sa","namespace":"team"}]}"#
            )
            #expect(rb.status == 201)
            #expect(rb["roleRef"]?["apiGroup"] == "rbac.authorization.k8s.io")
            let subjects = rb["subjects"]?.arrayValue ?? []
            #expect(subjects[0]["apiGroup"] == "rbac.authorization.k8s.io")
            #expect(subjects[1]["apiGroup"] == "rbac.authorization.k8s.io")
            #expect(subjects[2]["apiGroup"] == "")

            let lr = try await client.post(
                "/api/v1/namespaces/team/limitranges",
                #"{"metadata":{"name":"l"},"spec":{"limits":[{"type":"Container","max":{"cpu":"2","memory":"1Gi"},"min":{"cpu":"100m","memory":"64Mi"},"default":{"memory":"512Mi"}}]}}"#
            )
            let item = lr["spec"]?["limits"]?.arrayValue?.first
            #expect(item?["default"] == ["memory": "512Mi", "cpu": "2"])
            #expect(item?["defaultRequest"] == ["memory": "512Mi", "cpu": "2"])
            let pvc = try await client.post(
                "/api/v1/namespaces/team/limitranges",
                #"{"metadata":{"name":"p"},"spec":{"limits":[{"type":"PersistentVolumeClaim","max":{"storage":"10Gi"}}]}}"#)
            #expect(pvc["spec"]?["limits"]?.arrayValue?.first?["default"] == nil)
        }
    }

    // Behaviour 10. k8s.io/apimachinery/pkg/api/validation/path/name.go (RBAC names are path segments),
    // .../util/validation/validation.go (IsDNS1123Label/Subdomain, label rules) and errors.go NewInvalid.
    @Test func nameRulesPerKind() async throws {
        try await withServer { _, client in
            let cm = try await client.post(cmPath, configMap("Bad_Name"))
            #expect(cm.status == 422)
            #expect(cm.reason == "Invalid")
            #expect(cm["details"]?["kind"] == "ConfigMap")
            #expect(cm["details"]?["name"] == "Bad_Name")
            #expect(cm.causes.first?["reason"] == "FieldValueInvalid")
            #expect(cm.causes.first?["field"] == "metadata.name")
            #expect(cm.message.hasPrefix(#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#))

            let longNS = String(repeating: "a", count: 64)
            let ns = try await client.post("/api/v1/namespaces", namespaceBody(longNS))
            #expect(ns.status == 422)
            #expect(ns.message.contains("must be no more than 63 characters"))
            #expect(try await client.post("/api/v1/namespaces", namespaceBody("a.b")).status == 422)
            #expect(try await client.post(cmPath, configMap("a.b")).status == 201)
            #expect(try await client.post(cmPath, configMap(String(repeating: "c", count: 254))).status == 422)

            // RBAC names: anything but '.', '..', '/', '%'.
            let odd = try await client.post("\(rbac)/namespaces/default/roles", #"{"metadata":{"name":"Team:Admin_1"},"rules":[]}"#)
            #expect(odd.status == 201)
            let dots = try await client.post("\(rbac)/namespaces/default/roles", #"{"metadata":{"name":".."},"rules":[]}"#)
            #expect(dots.status == 422)
            #expect(dots.message.contains("may not be '..'"))
            #expect(dots["details"]?["group"] == "rbac.authorization.k8s.io")
            #expect(dots.message.hasPrefix(#"Role.rbac.authorization.k8s.io ".." is invalid"#))
            let pct = try await client.post("\(rbac)/clusterroles", #"{"metadata":{"name":"a%b"},"rules":[]}"#)
            #expect(pct.message.contains("may not contain '%'"))
        }
    }

    @Test func labelAnnotationAndSizeRules() async throws {
        try await withServer { _, client in
            let badKey = try await client.post(cmPath, configMap("a", labels: ["-bad": "x"]))
            #expect(badKey.status == 422)
            #expect(badKey.causes.first?["field"] == "metadata.labels")
            let badValue = try await client.post(cmPath, configMap("a", labels: ["ok": String(repeating: "v", count: 64)]))
            #expect(badValue.status == 422)
            #expect(badValue.message.contains("must be no more than 63 characters"))
            let prefixed = try await client.post(cmPath, configMap("a", labels: ["app.kubernetes.io/name": "x"]))
            #expect(prefixed.status == 201)
            let big = String(repeating: "x", count: 256 * 1024)
            let annotations = try await client.post(cmPath, #"{"metadata":{"name":"big","annotations":{"a":"\#(big)"}}}"#)
            #expect(annotations.status == 422)
            #expect(annotations.causes.first?["reason"] == "FieldValueTooLong")
            #expect(annotations.message.contains("metadata.annotations: Too long: must have at most 262144 bytes"))
            let key = try await client.post(cmPath, configMap("k", data: ["bad key": "x"]))
            #expect(key.status == 422)
            #expect(key.causes.first?["field"] == "data[bad key]")
            let multi = try await client.post(cmPath, configMap("UPPER", labels: ["-x": "y"]))
            #expect(multi.message.contains("[metadata.name: Invalid value"))
            #expect(multi.causes.count == 2)
        }
    }

    // pkg/apis/rbac/validation/validation.go: roleRef immutable, roleRef.kind Role|ClusterRole, subjects.
    @Test func roleBindingRules() async throws {
        try await withServer { _, client in
            let path = "\(rbac)/namespaces/default/rolebindings"
            let created = try await client.post(
                path, #"{"metadata":{"name":"rb"},"roleRef":{"kind":"Role","name":"a","apiGroup":"rbac.authorization.k8s.io"},"subjects":[]}"#)
            #expect(created.status == 201)
            var body = created.json.objectValue!
            body["roleRef"] = ["kind": "Role", "name": "b", "apiGroup": "rbac.authorization.k8s.io"]
            let changed = try await client.put("\(path)/rb", JSONValue.object(body).jsonString)
            #expect(changed.status == 422)
            #expect(
                changed.message
                    == #"RoleBinding.rbac.authorization.k8s.io "rb" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"b"}: cannot change roleRef"#
            )
            let applied = try await client.apply(
                "\(path)/rb",
                #"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"rb"},"roleRef":{"kind":"Role","name":"c","apiGroup":"rbac.authorization.k8s.io"}}"#,
                force: true)
            #expect(applied.status == 422)
            #expect(applied.message.contains("cannot change roleRef"))

            let kind = try await client.post(
                path, #"{"metadata":{"name":"k"},"roleRef":{"kind":"Deployment","name":"a","apiGroup":"rbac.authorization.k8s.io"}}"#)
            #expect(kind.status == 422)
            #expect(kind.causes.first?["reason"] == "FieldValueNotSupported")
            #expect(kind.message.contains(#"roleRef.kind: Unsupported value: "Deployment": supported values: "Role", "ClusterRole""#))
            let crb = try await client.post(
                "\(rbac)/clusterrolebindings", #"{"metadata":{"name":"c"},"roleRef":{"kind":"Role","name":"a"}}"#)
            #expect(crb.message.contains(#"supported values: "ClusterRole""#))
            let subject = try await client.post(
                path, #"{"metadata":{"name":"s"},"roleRef":{"kind":"Role","name":"a"},"subjects":[{"kind":"Robot","name":"r"}]}"#)
            #expect(subject.causes.first?["field"] == "subjects[0].kind")
            let rule = try await client.post(
                "\(rbac)/namespaces/default/roles", #"{"metadata":{"name":"r"},"rules":[{"resources":["pods"]}]}"#)
            #expect(rule.status == 422)
            #expect(rule.message.contains("rules[0].verbs: Required value: verbs must contain at least one value"))
        }
    }

    // Unknown fields: dropped with a warning, or 400 under fieldValidation=Strict
    // (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
    @Test func unknownFields() async throws {
        try await withServer { _, client in
            let warned = try await client.post(cmPath, #"{"metadata":{"name":"a"},"dat":{"x":"1"}}"#)
            #expect(warned.status == 201)
            #expect(warned["dat"] == nil)
            #expect(warned.headers["warning"]?.contains(#"unknown field \"dat\""#) == true)
            let strict = try await client.send(
                "POST", "\(cmPath)?fieldValidation=Strict", body: #"{"metadata":{"name":"b"},"dat":{}}"#)
            #expect(strict.status == 400)
            #expect(strict.message == #"strict decoding error: unknown field "dat""#)
        }
    }
}
