import Foundation
import KubeTestServer
import RBACModel
import Testing

@testable import KubeTarget

@Suite struct ObserveAndApplyTests {
    @Test func createObserveAndNoOpRun() async throws {
        try await withCluster { cluster in
            let desired = Samples.objects(namespace: "jhub-alice") + Samples.objects(namespace: "jhub-bob", person: "bob")
            let report = await cluster.target.apply(Plans.creates(desired))
            #expect(report.outcomes.count == desired.count)
            for outcome in report.outcomes {
                #expect(outcome.status == .succeeded, "\(outcome)")
                #expect(outcome.uid != nil)
                #expect(outcome.resourceVersion != nil)
            }
            // Every create is a POST of the skeleton and one apply.
            #expect(report.requests.byMethod["POST"] == desired.count)
            #expect(report.requests.byMethod["PATCH"] == desired.count)
            let patches = cluster.server.requestLog.filter { $0.method == "PATCH" }
            #expect(patches.allSatisfy { $0.contentType == "application/apply-patch+yaml" })
            #expect(patches.allSatisfy { $0.queryValue("fieldManager") == "accesssync" && $0.queryValue("force") == "true" })

            // Observation maps every object back to the desired spec, through the server's canonical forms.
            cluster.client.resetRequestCounts()
            let observed = try await cluster.target.observe()
            #expect(cluster.client.requestCounts.total == KubeClusterTarget.listedKinds.count + 1)
            #expect(observed.owned.count == desired.count)
            for object in desired {
                let seen = try #require(observed.owned[object.ref], "\(object.ref)")
                #expect(seen.spec == object.spec, "\(object.ref)")
                #expect(seen.isOwned(byInstance: "test"))
            }
            #expect(observed.allNamespaces.keys.contains("default"))
            #expect(observed.allNamespaces.keys.contains("jhub-alice"))
            #expect(observed.owned[ObjectRef(kind: .namespace, namespace: nil, name: "default")] == nil)

            // A second run with the same desired state plans nothing and writes nothing.
            cluster.server.clearRequestLog()
            let again = try await cluster.target.observe()
            let changes = Plans.diff(desired: desired, observed: again)
            #expect(changes.isEmpty, "\(changes.map(\.id))")
            let noop = await cluster.target.apply(changes)
            #expect(noop.outcomes.isEmpty)
            #expect(cluster.writes.isEmpty)
            #expect(cluster.server.requestLog.allSatisfy { $0.method == "GET" })
        }
    }

    @Test func observePaginatesAndRestartsAfterExpiredToken() async throws {
        try await withCluster(configure: { $0.latency = .milliseconds(20) }) { cluster in
            let desired = (0..<6).map { index in
                DesiredObject(
                    ref: ObjectRef(kind: .namespace, namespace: nil, name: "page-\(index)"), labels: Samples.ownership,
                    annotations: [:], spec: .namespace, provenance: [])
            }
            #expect(await cluster.target.apply(Plans.creates(desired)).allSucceeded)
            cluster.server.clearRequestLog()
            // Expire the continue tokens while the namespace list is between pages.
            let observation = Task { try await cluster.target.list(.namespace, labelSelector: nil, pageSize: 2) }
            while !cluster.server.requestLog.contains(where: { $0.path == "/api/v1/namespaces" && $0.query.contains("continue=") }) {
                try await Task.sleep(for: .milliseconds(2))
            }
            cluster.server.expireContinueTokens()
            let namespaces = try await observation.value
            let names = Set(namespaces.map(\.ref.name))
            #expect(names.isSuperset(of: desired.map(\.ref.name)))
            #expect(names.count == namespaces.count, "no duplicates after the restart")
            let lists = cluster.server.requestLog.filter { $0.path == "/api/v1/namespaces" }
            #expect(lists.allSatisfy { $0.queryValue("limit") == "2" })
            #expect(lists.contains { $0.status == 410 })

            // Short pages from the server are followed too.
            cluster.server.setMaxListPageSize(1)
            let owned = try await cluster.target.list(.namespace, labelSelector: cluster.target.ownerSelector, pageSize: 500)
            #expect(owned.count == desired.count)
        }
    }

    @Test func droppedFieldsAreRemoved() async throws {
        try await withCluster { cluster in
            let q = Samples.q
            let ns = DesiredObject(
                ref: ObjectRef(kind: .namespace, namespace: nil, name: "drop"),
                labels: Samples.labels(extra: ["tier": "gold"]), annotations: ["accesssync.io/note": "n"],
                spec: .namespace, provenance: [])
            let quota = DesiredObject(
                ref: ObjectRef(kind: .resourceQuota, namespace: "drop", name: "quota"), labels: Samples.ownership,
                annotations: [:], spec: .resourceQuota(hard: ["pods": q("10"), "requests.cpu": q("2")]), provenance: [])
            let binding = DesiredObject(
                ref: ObjectRef(kind: .roleBinding, namespace: "drop", name: "rb"), labels: Samples.ownership, annotations: [:],
                spec: .roleBinding(
                    roleRef: RoleRef(kind: .clusterRole, name: "view"),
                    subjects: [Subject(kind: .user, name: "alice"), Subject(kind: .user, name: "bob")]), provenance: [])
            #expect(await cluster.target.apply(Plans.creates([ns, quota, binding])).allSucceeded)

            var ns2 = ns
            ns2.labels["tier"] = nil
            ns2.annotations = [:]
            var quota2 = quota
            quota2.spec = .resourceQuota(hard: ["pods": q("10")])
            var binding2 = binding
            binding2.spec = .roleBinding(roleRef: RoleRef(kind: .clusterRole, name: "view"), subjects: [Subject(kind: .user, name: "bob")])
            let observed = try await cluster.target.observe()
            let changes = Plans.diff(desired: [ns2, quota2, binding2], observed: observed)
            #expect(changes.count == 3)
            let report = await cluster.target.apply(changes)
            #expect(report.allSucceeded, "\(report.outcomes)")

            let after = try await cluster.target.observe()
            let storedNS = try #require(after.owned[ns.ref])
            #expect(storedNS.labels["tier"] == nil)
            #expect(storedNS.annotations["accesssync.io/note"] == nil)
            #expect(storedNS.labels[ManagedKeys.managedBy] == ManagedKeys.managedByValue)
            #expect(after.owned[quota.ref]?.spec == quota2.spec)
            #expect(after.owned[binding.ref]?.spec == binding2.spec)
            #expect(Plans.diff(desired: [ns2, quota2, binding2], observed: after).isEmpty)
        }
    }

    @Test func unownedObjectsAreNeverChangedOrDeleted() async throws {
        try await withCluster { cluster in
            try await cluster.createForeign(.namespace, namespace: nil, name: "taken")
            try await cluster.createForeign(
                .role, namespace: "taken", name: "theirs",
                extra: ["rules": .array([.object(["apiGroups": .array([.string("")]), "resources": .array([.string("pods")]), "verbs": .array([.string("get")])])])])
            let foreignNS = try #require(try await cluster.observed(ObjectRef(kind: .namespace, namespace: nil, name: "taken")))
            let foreignRole = try #require(try await cluster.observed(ObjectRef(kind: .role, namespace: "taken", name: "theirs")))
            cluster.server.clearRequestLog()

            // Observation does not count them as ours.
            let observed = try await cluster.target.observe()
            #expect(observed.owned[foreignNS.ref] == nil)
            #expect(observed.owned[foreignRole.ref] == nil)
            #expect(observed.allNamespaces["taken"] != nil)

            let desiredNS = DesiredObject(ref: foreignNS.ref, labels: Samples.ownership, annotations: [:], spec: .namespace, provenance: [])
            let desiredRole = DesiredObject(
                ref: foreignRole.ref, labels: Samples.ownership, annotations: [:], spec: .role(rules: []), provenance: [])
            var forged = foreignRole
            forged.labels = Samples.ownership  // a stale observation claiming ours: the uid precondition still protects
            forged.uid = "not-the-real-uid"
            let changes = [
                Change(id: "create-ns", target: .kube(.create(desiredNS)), removesAccess: false, provenance: [], reason: "t"),
                Change(id: "update-role", target: .kube(.update(from: foreignRole, to: desiredRole)), removesAccess: false, provenance: [], reason: "t"),
                Change(id: "delete-role", target: .kube(.delete(foreignRole)), removesAccess: true, provenance: [], reason: "t"),
                Change(id: "retire-ns", target: .kube(.retire(foreignNS, at: Date())), removesAccess: false, provenance: [], reason: "t"),
                Change(id: "delete-forged", target: .kube(.delete(forged)), removesAccess: true, provenance: [], reason: "t"),
                Change(id: "dependant", target: .kube(.create(DesiredObject(
                    ref: ObjectRef(kind: .serviceAccount, namespace: "taken", name: "sa"), labels: Samples.ownership,
                    annotations: [:], spec: .serviceAccount, provenance: []))),
                    removesAccess: false, dependsOn: ["create-ns"], provenance: [], reason: "t"),
            ]
            let report = await cluster.target.apply(changes)
            #expect(report["create-ns"]?.status == .conflict)
            #expect(report["create-ns"]?.httpStatus == 200)  // the read-back after the 409
            #expect(report["update-role"]?.status == .failed)
            #expect(report["update-role"]?.attempts == 0)
            #expect(report["delete-role"]?.status == .failed)
            #expect(report["retire-ns"]?.status == .failed)
            #expect(report["delete-forged"]?.status == .needsReplan)
            #expect(report["dependant"]?.status == .skipped)
            #expect(report["dependant"]?.message.contains("create-ns") == true)

            // The only writes were the refused POST and the refused DELETE; nothing changed.
            #expect(cluster.writes.map(\.method).sorted() == ["DELETE", "POST"])
            #expect(cluster.writes.allSatisfy { $0.status == 409 })
            #expect(try await cluster.observed(foreignNS.ref)?.resourceVersion == foreignNS.resourceVersion)
            #expect(try await cluster.observed(foreignRole.ref)?.resourceVersion == foreignRole.resourceVersion)
            #expect(try await cluster.observed(foreignNS.ref)?.labels[ManagedKeys.managedBy] == nil)
        }
    }

    @Test func staleObservationsNeedReplanning() async throws {
        try await withCluster { cluster in
            let objects = Samples.objects(namespace: "stale")
            #expect(await cluster.target.apply(Plans.creates(objects)).allSucceeded)
            let observed = try await cluster.target.observe()
            let quotaRef = ObjectRef(kind: .resourceQuota, namespace: "stale", name: "accesssync-quota")
            let roleRef = ObjectRef(kind: .role, namespace: "stale", name: "accesssync-user")
            let oldQuota = try #require(observed.owned[quotaRef])
            let oldRole = try #require(observed.owned[roleRef])
            // Someone changes both after the observation.
            var newer = objects.first { $0.ref == quotaRef }!
            newer.spec = .resourceQuota(hard: ["pods": Samples.q("3")])
            var newerRole = objects.first { $0.ref == roleRef }!
            newerRole.spec = .role(rules: [])
            let first = await cluster.target.apply([
                Change(id: "u1", target: .kube(.update(from: oldQuota, to: newer)), removesAccess: false, provenance: [], reason: "t"),
                Change(id: "u2", target: .kube(.update(from: oldRole, to: newerRole)), removesAccess: true, provenance: [], reason: "t"),
            ])
            #expect(first.allSucceeded)
            // Now the old observations are stale: both an update and a delete must ask for a new plan.
            var other = newer
            other.spec = .resourceQuota(hard: ["pods": Samples.q("4")])
            let second = await cluster.target.apply([
                Change(id: "stale-update", target: .kube(.update(from: oldQuota, to: other)), removesAccess: false, provenance: [], reason: "t"),
                Change(id: "stale-delete", target: .kube(.delete(oldRole)), removesAccess: true, provenance: [], reason: "t"),
                Change(id: "after", target: .kube(.update(from: oldQuota, to: other)), removesAccess: false,
                       dependsOn: ["stale-update"], provenance: [], reason: "t"),
            ])
            #expect(second["stale-update"]?.status == .needsReplan)
            #expect(second["stale-update"]?.httpStatus == 409)
            #expect(second["stale-delete"]?.status == .needsReplan)
            #expect(second["stale-delete"]?.message.contains("Precondition") == true)
            #expect(second["after"]?.status == .skipped)
            #expect(try await cluster.observed(quotaRef)?.spec == newer.spec)
            #expect(try await cluster.observed(roleRef) != nil)

            // With the current observation the delete works; deleting again is "already gone".
            let current = try #require(try await cluster.observed(roleRef))
            let third = await cluster.target.apply([
                Change(id: "delete", target: .kube(.delete(current)), removesAccess: true, provenance: [], reason: "t")
            ])
            #expect(third["delete"]?.status == .succeeded)
            #expect(try await cluster.observed(roleRef) == nil)
            let fourth = await cluster.target.apply([
                Change(id: "again", target: .kube(.delete(current)), removesAccess: true, provenance: [], reason: "t")
            ])
            #expect(fourth["again"]?.status == .succeeded)
            #expect(fourth["again"]?.message == "already gone")
            let deletes = cluster.server.requestLog.filter { $0.method == "DELETE" }
            #expect(deletes.count == 3)
        }
    }

    @Test func rejectionsAreReportedWithCausesAndDependantsSkipped() async throws {
        try await withCluster { cluster in
            let bad = DesiredObject(
                ref: ObjectRef(kind: .namespace, namespace: nil, name: "Bad_Name"), labels: Samples.ownership,
                annotations: [:], spec: .namespace, provenance: [])
            let inside = DesiredObject(
                ref: ObjectRef(kind: .serviceAccount, namespace: "Bad_Name", name: "sa"), labels: Samples.ownership,
                annotations: [:], spec: .serviceAccount, provenance: [])
            let deeper = DesiredObject(
                ref: ObjectRef(kind: .role, namespace: "Bad_Name", name: "r"), labels: Samples.ownership,
                annotations: [:], spec: .role(rules: []), provenance: [])
            let fine = Samples.objects(namespace: "fine")
            var changes = Plans.creates([bad, inside] + fine)
            changes.append(
                Change(id: "deeper", target: .kube(.create(deeper)), removesAccess: false, dependsOn: [Plans.id("create", inside.ref)],
                       provenance: [], reason: "t"))
            // A roleRef change cannot be applied: 422, not retried.
            let report = await cluster.target.apply(changes)
            let badOutcome = try #require(report[Plans.id("create", bad.ref)])
            #expect(badOutcome.status == .failed)
            #expect(badOutcome.httpStatus == 422)
            #expect(badOutcome.apiReason == "Invalid")
            #expect(badOutcome.attempts == 1)
            #expect(badOutcome.causes.contains { $0.field == "metadata.name" })
            #expect(report[Plans.id("create", inside.ref)]?.status == .skipped)
            #expect(report["deeper"]?.status == .skipped)
            for object in fine { #expect(report[Plans.id("create", object.ref)]?.status == .succeeded) }

            let bindingRef = ObjectRef(kind: .roleBinding, namespace: "fine", name: "accesssync-alice")
            let observed = try #require(try await cluster.observed(bindingRef))
            var changed = fine.first { $0.ref == bindingRef }!
            changed.spec = .roleBinding(roleRef: RoleRef(kind: .clusterRole, name: "edit"), subjects: [Subject(kind: .user, name: "x")])
            let roleRefChange = await cluster.target.apply([
                Change(id: "rr", target: .kube(.update(from: observed, to: changed)), removesAccess: false, provenance: [], reason: "t")
            ])
            #expect(roleRefChange["rr"]?.status == .failed)
            #expect(roleRefChange["rr"]?.httpStatus == 422)
            #expect(roleRefChange["rr"]?.message.contains("roleRef") == true)
            #expect(roleRefChange["rr"]?.attempts == 1)
        }
    }

    @Test func forbiddenIsReportedNotRetried() async throws {
        try await withCluster(configure: { config in
            config.tokens["limited"] = UserInfo(
                name: "limited",
                rules: [
                    PermissionRule(verbs: ["get", "list"], apiGroups: ["*"], resources: ["*"]),
                    // What every authenticated user has on a real cluster (system:basic-user).
                    PermissionRule(verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews"]),
                ])
        }) { cluster in
            let limitedConfig = KubeClientConfiguration(server: cluster.server.url, credentials: .token("limited"))
            let client = try KubeClient(configuration: limitedConfig, options: TestCluster.fastOptions)
            defer { Task { try? await client.shutdown() } }
            let target = KubeClusterTarget(client: client, instance: "test")
            let report = await target.apply(Plans.creates(Samples.objects(namespace: "nope")))
            let namespaceOutcome = try #require(report.outcomes.first { $0.ref.kind == .namespace })
            #expect(namespaceOutcome.status == .failed)
            #expect(namespaceOutcome.httpStatus == 403)
            #expect(namespaceOutcome.attempts == 1)
            #expect(namespaceOutcome.message.contains("forbidden"))
            #expect(report.outcomes.filter { $0.ref.kind != .namespace }.allSatisfy { $0.status == .skipped })
            #expect(try await target.canI(verb: "list", group: "", resource: "namespaces", namespace: nil))
            #expect(try await !target.canI(verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: "x"))
            // Observation works with read rights only.
            _ = try await target.observe()
            try await client.shutdown()
        }
    }

    @Test func removalsRunFirstAndDependenciesAreOrdered() async throws {
        try await withCluster(options: KubeClientOptions(requestsPerSecond: nil, burst: 1, maxConnections: 4)) { cluster in
            let old = Samples.objects(namespace: "old")
            #expect(await cluster.target.apply(Plans.creates(old)).allSucceeded)
            let observed = try await cluster.target.observe()
            let bindingRef = ObjectRef(kind: .roleBinding, namespace: "old", name: "accesssync-alice")
            let removal = Change(
                id: "revoke", target: .kube(.delete(observed.owned[bindingRef]!)), removesAccess: true, provenance: [], reason: "t")
            cluster.server.clearRequestLog()
            // The additions come first in the list; the removal still runs before any of them.
            let report = await cluster.target.apply(Plans.creates(Samples.objects(namespace: "new")) + [removal])
            #expect(report.allSucceeded)
            #expect(report.outcomes.last?.changeID == "revoke", "outcomes keep the input order")
            let writes = cluster.writes
            #expect(writes.first?.method == "DELETE")
            // Within the additions: the namespace before anything inside it, roles before bindings.
            func firstIndex(_ path: String) -> Int { writes.firstIndex { $0.path.hasSuffix(path) }! }
            let namespacePOST = writes.firstIndex { $0.method == "POST" && $0.path == "/api/v1/namespaces" }!
            #expect(writes.indices.filter { writes[$0].path.contains("/namespaces/new/") }.allSatisfy { $0 > namespacePOST + 1 })
            #expect(firstIndex("/namespaces/new/roles/accesssync-user") < firstIndex("/namespaces/new/rolebindings/accesssync-alice"))
        }
    }

    @Test func boundedConcurrencyAndRequestRate() async throws {
        let options = KubeClientOptions(requestsPerSecond: 40, burst: 1, maxConnections: 8)
        try await withCluster(options: options, configure: { $0.latency = .milliseconds(30) }) { cluster in
            let namespaces = (0..<20).map {
                DesiredObject(
                    ref: ObjectRef(kind: .namespace, namespace: nil, name: "rate-\($0)"), labels: Samples.ownership,
                    annotations: [:], spec: .namespace, provenance: [])
            }
            let report = await cluster.target.apply(Plans.creates(namespaces), options: KubeApplyOptions(concurrency: 4))
            #expect(report.allSucceeded)
            // 40 requests at 40/s with a burst of 1 take about a second.
            #expect(report.duration >= .milliseconds(900))
            #expect(report.requests.total == 40)
        }
        // Unlimited: concurrency 8 is far faster than one at a time when latency dominates.
        try await withCluster(configure: { $0.latency = .milliseconds(60) }) { cluster in
            func namespaces(_ prefix: String) -> [DesiredObject] {
                (0..<16).map {
                    DesiredObject(
                        ref: ObjectRef(kind: .namespace, namespace: nil, name: "\(prefix)-\($0)"), labels: Samples.ownership,
                        annotations: [:], spec: .namespace, provenance: [])
                }
            }
            let serial = await cluster.target.apply(Plans.creates(namespaces("serial")), options: KubeApplyOptions(concurrency: 1))
            let parallel = await cluster.target.apply(Plans.creates(namespaces("parallel")), options: KubeApplyOptions(concurrency: 8))
            #expect(serial.allSucceeded)
            #expect(parallel.allSucceeded)
            // 32 requests × 60 ms one at a time ≥ 1.9 s.
            #expect(serial.duration >= .milliseconds(1_900))
            #expect(parallel.duration * 3 < serial.duration, "parallel \(parallel.duration), serial \(serial.duration)")
        }
    }

    @Test func dependencyCyclesAreSkipped() async throws {
        try await withCluster { cluster in
            let a = DesiredObject(
                ref: ObjectRef(kind: .namespace, namespace: nil, name: "cyc-a"), labels: Samples.ownership, annotations: [:],
                spec: .namespace, provenance: [])
            var b = a
            b.ref.name = "cyc-b"
            var c = a
            c.ref.name = "cyc-c"
            let report = await cluster.target.apply([
                Change(id: "a", target: .kube(.create(a)), removesAccess: false, dependsOn: ["b"], provenance: [], reason: "t"),
                Change(id: "b", target: .kube(.create(b)), removesAccess: false, dependsOn: ["a"], provenance: [], reason: "t"),
                Change(id: "c", target: .kube(.create(c)), removesAccess: false, dependsOn: ["hub/create-user/x"], provenance: [], reason: "t"),
                Change(id: "hub/create-user/x", target: .hub(.createUser(name: "x", admin: false)), removesAccess: false, provenance: [], reason: "t"),
            ])
            #expect(report.outcomes.map(\.changeID) == ["a", "b", "c"])
            #expect(report["a"]?.status == .skipped)
            #expect(report["b"]?.status == .skipped)
            #expect(report["c"]?.status == .succeeded)
        }
    }
}

@Suite struct LifecycleTests {
    @Test func retireMarksNamespaceAndStopsPods() async throws {
        try await withCluster { cluster in
            let objects = Samples.objects(namespace: "leaver")
            #expect(await cluster.target.apply(Plans.creates(objects)).allSucceeded)
            let observed = try await cluster.target.observe()
            let nsRef = ObjectRef(kind: .namespace, namespace: nil, name: "leaver")
            let namespace = try #require(observed.owned[nsRef])
            let at = Date(timeIntervalSince1970: 1_780_000_000)
            let report = await cluster.target.apply([
                Change(id: "retire", target: .kube(.retire(namespace, at: at)), removesAccess: true, provenance: [], reason: "left")
            ])
            #expect(report["retire"]?.status == .succeeded, "\(report.outcomes)")
            let after = try #require(try await cluster.observed(nsRef))
            #expect(after.annotations[ManagedKeys.retiredAt] == ManifestDecoding.formatTimestamp(at))
            // Everything else the namespace carried stays.
            let desiredNS = objects.first { $0.ref == nsRef }!
            for (key, value) in desiredNS.labels { #expect(after.labels[key] == value) }
            for (key, value) in desiredNS.annotations { #expect(after.annotations[key] == value) }
            let quota = try #require(try await cluster.observed(
                ObjectRef(kind: .resourceQuota, namespace: "leaver", name: KubeClusterTarget.retiredQuotaName)))
            #expect(quota.spec == .resourceQuota(hard: ["pods": Samples.q("0")]))
            #expect(quota.isOwned(byInstance: "test"))

            // Retiring again (a re-run) converges and keeps the quota.
            let current = try #require(try await cluster.observed(nsRef))
            let again = await cluster.target.apply([
                Change(id: "retire", target: .kube(.retire(current, at: at)), removesAccess: true, provenance: [], reason: "left")
            ])
            #expect(again["retire"]?.status == .succeeded, "\(again.outcomes)")
        }
    }

    @Test func adoptTakesOverAnExistingObject() async throws {
        try await withCluster { cluster in
            try await cluster.createForeign(.namespace, namespace: nil, name: "legacy")
            let existing = try #require(try await cluster.observed(ObjectRef(kind: .namespace, namespace: nil, name: "legacy")))
            let desired = DesiredObject(
                ref: existing.ref, labels: Samples.ownership, annotations: [ManagedKeys.adopted: "true"], spec: .namespace,
                provenance: [])
            let report = await cluster.target.apply([
                Change(id: "adopt", target: .kube(.adopt(from: existing, to: desired)), removesAccess: false, provenance: [], reason: "--adopt")
            ])
            #expect(report["adopt"]?.status == .succeeded)
            let observed = try await cluster.target.observe()
            let adopted = try #require(observed.owned[existing.ref])
            #expect(adopted.uid == existing.uid)
            #expect(adopted.annotations[ManagedKeys.adopted] == "true")
            #expect(adopted.labels["owner"] == "someone-else", "other labels stay")
        }
    }

    @Test func terminatingNamespaceIsReported() async throws {
        try await withCluster { cluster in
            let objects = Samples.objects(namespace: "going")
            #expect(await cluster.target.apply(Plans.creates(objects)).allSucceeded)
            let nsRef = ObjectRef(kind: .namespace, namespace: nil, name: "going")
            let namespace = try #require(try await cluster.target.observe().owned[nsRef])
            let deleted = await cluster.target.apply([
                Change(id: "delete", target: .kube(.delete(namespace)), removesAccess: true, provenance: [], reason: "t")
            ])
            #expect(deleted["delete"]?.status == .succeeded)
            let observed = try await cluster.target.observe()
            let terminating = try #require(observed.allNamespaces["going"])
            #expect(terminating.isTerminating)
            #expect(terminating.phase == "Terminating")
            #expect(observed.owned[nsRef]?.isTerminating == true)
            // A person returning: creating inside the terminating namespace is refused and reported.
            let binding = DesiredObject(
                ref: ObjectRef(kind: .serviceAccount, namespace: "going", name: "back"), labels: Samples.ownership,
                annotations: [:], spec: .serviceAccount, provenance: [])
            let report = await cluster.target.apply(Plans.creates([binding]))
            let outcome = try #require(report.outcomes.first)
            #expect(outcome.status == .failed)
            #expect(outcome.httpStatus == 403)
            #expect(outcome.message.contains("terminating"))
            #expect(outcome.causes.contains { $0.reason == "NamespaceTerminating" })
            cluster.server.finalizeNamespace("going")
            #expect(try await cluster.target.observe().allNamespaces["going"] == nil)
        }
    }

    @Test func serverDryRunValidatesWithoutStoring() async throws {
        try await withCluster { cluster in
            let objects = Samples.objects(namespace: "dry")
            let bad = DesiredObject(
                ref: ObjectRef(kind: .namespace, namespace: nil, name: "dry-BAD"), labels: Samples.ownership,
                annotations: [:], spec: .namespace, provenance: [])
            let report = await cluster.target.apply(Plans.creates(objects + [bad]), options: KubeApplyOptions(dryRun: true))
            #expect(report.outcomes.allSatisfy { $0.dryRun })
            #expect(report[Plans.id("create", bad.ref)]?.status == .failed)
            #expect(report[Plans.id("create", bad.ref)]?.httpStatus == 422)
            for object in objects {
                #expect(report[Plans.id("create", object.ref)]?.status == .succeeded, "\(object.ref)")
            }
            #expect(report.requests.writes == 0)
            #expect(report.requests.dryRunWrites > 0)
            let writes = cluster.server.requestLog.filter { ["POST", "PATCH", "DELETE"].contains($0.method) }
            #expect(!writes.isEmpty)
            #expect(writes.allSatisfy { $0.dryRun })
            #expect(try await cluster.target.observe().owned.isEmpty)

            // Against existing objects every write is validated for real: a stale update and a roleRef change.
            #expect(await cluster.target.apply(Plans.creates(objects)).allSucceeded)
            let observed = try await cluster.target.observe()
            let bindingRef = ObjectRef(kind: .roleBinding, namespace: "dry", name: "accesssync-alice")
            var changed = objects.first { $0.ref == bindingRef }!
            changed.spec = .roleBinding(roleRef: RoleRef(kind: .clusterRole, name: "edit"), subjects: [])
            let quotaRef = ObjectRef(kind: .resourceQuota, namespace: "dry", name: "accesssync-quota")
            var quota = objects.first { $0.ref == quotaRef }!
            quota.spec = .resourceQuota(hard: ["pods": Samples.q("1")])
            let nsRef = ObjectRef(kind: .namespace, namespace: nil, name: "dry")
            let before = cluster.server.currentResourceVersion
            let dry = await cluster.target.apply(
                [
                    Change(id: "rr", target: .kube(.update(from: observed.owned[bindingRef]!, to: changed)), removesAccess: false, provenance: [], reason: "t"),
                    Change(id: "quota", target: .kube(.update(from: observed.owned[quotaRef]!, to: quota)), removesAccess: false, provenance: [], reason: "t"),
                    Change(id: "retire", target: .kube(.retire(observed.owned[nsRef]!, at: Date())), removesAccess: true, provenance: [], reason: "t"),
                    Change(id: "delete", target: .kube(.delete(observed.owned[quotaRef]!)), removesAccess: true, provenance: [], reason: "t"),
                ], options: KubeApplyOptions(dryRun: true))
            #expect(dry["rr"]?.status == .failed)
            #expect(dry["rr"]?.httpStatus == 422)
            #expect(dry["quota"]?.status == .succeeded)
            #expect(dry["retire"]?.status == .succeeded, "\(dry.outcomes)")
            #expect(dry["delete"]?.status == .succeeded)
            #expect(cluster.server.currentResourceVersion == before)
            #expect(try await cluster.observed(quotaRef)?.spec == objects.first { $0.ref == quotaRef }!.spec)
        }
    }
}
