// Behaviours 13 and 16: bearer tokens, permissions, escalation prevention, SelfSubjectAccessReview, dryRun.

import KubeTestServer
import Testing

@Suite("Authentication and authorization")
struct AuthTests {
    static let rbac = "/apis/rbac.authorization.k8s.io/v1"

    static func configure(_ c: inout KubeTestServerConfiguration) {
        c.tokens = [
            "admin-token": .admin(),
            "dev-token": UserInfo(
                name: "dev", groups: ["devs"],
                rules: [
                    PermissionRule(verbs: ["get", "list", "create"], apiGroups: [""], resources: ["configmaps"], namespaces: ["default"]),
                    PermissionRule(
                        verbs: ["get", "list", "create", "update", "patch", "delete"], apiGroups: ["rbac.authorization.k8s.io"],
                        resources: ["roles", "rolebindings"], namespaces: ["default"]),
                ]),
            "binder-token": UserInfo(
                name: "binder",
                rules: [
                    PermissionRule(verbs: ["create"], apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"]),
                    PermissionRule(verbs: ["bind"], apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"]),
                ]),
        ]
    }

    // Behaviour 13. k8s.io/apiserver/pkg/endpoints/filters/authentication.go (401 Status "Unauthorized").
    @Test func bearerTokens() async throws {
        try await withServer(Self.configure) { server, _ in
            let none = try await Client(server).get(cmPath)
            #expect(none.status == 401)
            #expect(none.json == ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401])
            #expect(try await Client(server, token: "wrong").get(cmPath).status == 401)
            #expect(try await Client(server, token: "admin-token").get(cmPath).status == 200)
            #expect(server.requestLog.map(\.user) == [nil, nil, "admin"])
        }
    }

    // Behaviour 13. k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go forbiddenMessage and
    // errors.go NewForbidden ("<resource>.<group> "<name>" is forbidden: User ... cannot ...").
    @Test func forbiddenMessages() async throws {
        try await withServer(Self.configure) { server, _ in
            let dev = Client(server, token: "dev-token")
            #expect(try await dev.get(cmPath).status == 200)
            let otherNS = try await dev.get("/api/v1/namespaces/kube-system/configmaps/x")
            #expect(otherNS.status == 403)
            #expect(otherNS.reason == "Forbidden")
            #expect(
                otherNS.message
                    == #"configmaps "x" is forbidden: User "dev" cannot get resource "configmaps" in API group "" in the namespace "kube-system""#)
            #expect(otherNS["details"]?["kind"] == "configmaps")
            let list = try await dev.get("/api/v1/namespaces")
            #expect(list.message == #"namespaces is forbidden: User "dev" cannot list resource "namespaces" in API group "" at the cluster scope"#)
            let crb = try await dev.get("\(Self.rbac)/clusterrolebindings/x")
            #expect(
                crb.message
                    == #"clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: User "dev" cannot get resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope"#
            )
            #expect(crb["details"]?["group"] == "rbac.authorization.k8s.io")
            // Apply that creates needs create as well as patch (patch.go: create authorization on apply-create).
            let apply = try await dev.apply("\(cmPath)/new", configMap("new"))
            #expect(apply.status == 403)
            #expect(apply.message.contains("cannot patch resource"))
        }
    }

    // Behaviour 13. pkg/registry/rbac/validation/rule.go ConfirmNoEscalation and
    // https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
    @Test func escalationPrevention() async throws {
        try await withServer(Self.configure) { server, _ in
            let admin = Client(server, token: "admin-token")
            let dev = Client(server, token: "dev-token")
            let roles = "\(Self.rbac)/namespaces/default/roles"
            let bindings = "\(Self.rbac)/namespaces/default/rolebindings"
            let held = try await dev.post(
                roles, #"{"metadata":{"name":"cm-reader"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list"]}]}"#)
            #expect(held.status == 201)
            let escalating = try await dev.post(
                roles, #"{"metadata":{"name":"secrets"},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}]}"#)
            #expect(escalating.status == 403)
            #expect(
                escalating.message
                    == "roles.rbac.authorization.k8s.io \"secrets\" is forbidden: user \"dev\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
            )
            // Binding to a role the caller's permissions cover: allowed.
            let bind = try await dev.post(
                bindings, #"{"metadata":{"name":"b1"},"roleRef":{"kind":"Role","name":"cm-reader","apiGroup":"rbac.authorization.k8s.io"},"subjects":[{"kind":"User","name":"x"}]}"#)
            #expect(bind.status == 201)
            // Binding to a role that does not exist, without bind: 403.
            let missing = try await dev.post(
                bindings, #"{"metadata":{"name":"b2"},"roleRef":{"kind":"Role","name":"ghost","apiGroup":"rbac.authorization.k8s.io"}}"#)
            #expect(missing.status == 403)
            #expect(
                missing.message
                    == #"rolebindings.rbac.authorization.k8s.io "b2" is forbidden: roles.rbac.authorization.k8s.io "ghost" not found"#)
            // Binding to a role with more permissions: 403.
            _ = try await admin.post(
                "\(Self.rbac)/clusterroles", #"{"metadata":{"name":"big"},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}"#)
            let big = try await dev.post(
                bindings, #"{"metadata":{"name":"b3"},"roleRef":{"kind":"ClusterRole","name":"big","apiGroup":"rbac.authorization.k8s.io"}}"#)
            #expect(big.status == 403)
            #expect(big.message.contains("is attempting to grant RBAC permissions not currently held"))
            // With the bind verb the check passes, even for a role that does not exist.
            let binder = Client(server, token: "binder-token")
            let bound = try await binder.post(
                bindings, #"{"metadata":{"name":"b4"},"roleRef":{"kind":"ClusterRole","name":"not-yet","apiGroup":"rbac.authorization.k8s.io"}}"#)
            #expect(bound.status == 201)
            #expect(server.object("rolebindings", namespace: "default", name: "b4") != nil)
        }
    }

    // Behaviour 16. https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
    // (SelfSubjectAccessReview answers for the caller; kubectl auth can-i).
    @Test func selfSubjectAccessReview() async throws {
        try await withServer(Self.configure) { server, _ in
            let dev = Client(server, token: "dev-token")
            func review(_ verb: String, _ resource: String, group: String = "", namespace: String = "default") async throws -> Reply {
                try await dev.post(
                    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                    #"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"\#(verb)","group":"\#(group)","resource":"\#(resource)","namespace":"\#(namespace)"}}}"#
                )
            }
            let yes = try await review("create", "rolebindings", group: "rbac.authorization.k8s.io")
            #expect(yes.status == 201)
            #expect(yes["kind"] == "SelfSubjectAccessReview")
            #expect(yes["status"]?["allowed"] == true)
            #expect(yes["spec"]?["resourceAttributes"]?["verb"] == "create")
            #expect(try await review("delete", "configmaps")["status"]?["allowed"] == false)
            #expect(try await review("get", "configmaps", namespace: "other")["status"]?["allowed"] == false)
            let admin = Client(server, token: "admin-token")
            let r = try await admin.post(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                #"{"spec":{"resourceAttributes":{"verb":"delete","resource":"namespaces"}}}"#)
            #expect(r["status"]?["allowed"] == true)
        }
    }

    // Behaviour 16. https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
    @Test func dryRunValidatesAndChecksWithoutPersisting() async throws {
        try await withServer(Self.configure) { server, _ in
            let admin = Client(server, token: "admin-token")
            let dev = Client(server, token: "dev-token")
            let dry = try await admin.post("\(cmPath)?dryRun=All", configMap("a"))
            #expect(dry.status == 201)
            #expect(dry.metadata?["uid"] != nil)
            #expect(server.object("configmaps", namespace: "default", name: "a") == nil)
            #expect(try await admin.post("\(cmPath)?dryRun=All", configMap("Bad")).status == 422)
            #expect(try await dev.post("/api/v1/namespaces/kube-system/configmaps?dryRun=All", configMap("a")).status == 403)
            #expect(try await admin.post("\(cmPath)?dryRun=Maybe", configMap("a")).status == 422)

            _ = try await admin.post(cmPath, configMap("b"))
            let rv = server.currentResourceVersion
            #expect(try await admin.delete("\(cmPath)/b?dryRun=All").status == 200)
            #expect(server.object("configmaps", namespace: "default", name: "b") != nil)
            #expect(server.currentResourceVersion == rv)
            #expect(server.requestLog.filter { $0.isWrite && $0.status < 300 }.count == 1)
        }
    }

    // Stored RBAC objects grant permissions when enabled (plugin/pkg/auth/authorizer/rbac/rbac.go).
    @Test func storedRBACGrants() async throws {
        try await withServer({
            Self.configure(&$0)
            $0.authorizeFromStoredRBAC = true
        }) { server, _ in
            let admin = Client(server, token: "admin-token")
            let binder = Client(server, token: "binder-token")
            #expect(try await binder.get(cmPath).status == 403)
            _ = try await admin.post(
                "\(Self.rbac)/namespaces/default/roles", #"{"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["list"]}]}"#)
            _ = try await admin.post(
                "\(Self.rbac)/namespaces/default/rolebindings",
                #"{"metadata":{"name":"rb"},"roleRef":{"kind":"Role","name":"r"},"subjects":[{"kind":"User","name":"binder"}]}"#)
            #expect(try await binder.get(cmPath).status == 200)
            #expect(try await binder.get("/api/v1/namespaces/kube-system/configmaps").status == 403)
        }
    }
}
