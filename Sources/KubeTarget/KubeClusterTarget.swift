import Foundation
public import Logging
public import RBACModel

/// The Kubernetes target: observes what this AccessSync instance owns and applies change lists.
///
/// Ownership is guarded here as well as in planning: updates, deletes and retirements touch only
/// objects that carry `app.kubernetes.io/managed-by=accesssync` and this instance's label, and new
/// objects are created by POST so an unowned object of the same name is a conflict, never adopted
/// by accident.
public final class KubeClusterTarget: Sendable {
    public let client: KubeClient
    /// Value of `accesssync.io/instance`.
    public let instance: String
    /// Server-side apply field manager.
    public let fieldManager: String
    let logger: Logger

    public init(client: KubeClient, instance: String, fieldManager: String = "accesssync", logger: Logger = Logger(label: "accesssync.kube")) {
        self.client = client
        self.instance = instance
        self.fieldManager = fieldManager
        self.logger = logger
    }

    /// `app.kubernetes.io/managed-by=accesssync,accesssync.io/instance=<instance>`.
    public var ownerSelector: String {
        "\(ManagedKeys.managedBy)=\(ManagedKeys.managedByValue),\(ManagedKeys.instance)=\(instance)"
    }

    /// Kinds listed by label (namespaces come from the unfiltered namespace list).
    public static let listedKinds: [ObjectKind] = ObjectKind.allCases.filter { $0 != .namespace }

    // MARK: - Observe

    /// One paginated cluster-wide LIST per managed kind filtered by the owner labels, plus one
    /// unfiltered namespace list (owned namespaces are picked from it, so it is not listed twice).
    /// Lists run concurrently; an expired continue token (410) restarts that list.
    ///
    /// - Throws: `KubeAPIError` (e.g. 403 when the service account may not list a kind),
    ///   `KubeClientError`; a partial observation is never returned.
    public func observe(pageSize: Int = 500) async throws -> ObservedCluster {
        let selector = ownerSelector
        return try await withThrowingTaskGroup(of: ([ObservedObject], Bool).self) { group in
            group.addTask {
                (try await self.list(.namespace, labelSelector: nil, pageSize: pageSize), true)
            }
            for kind in Self.listedKinds {
                group.addTask {
                    (try await self.list(kind, labelSelector: selector, pageSize: pageSize), false)
                }
            }
            var owned: [ObservedObject] = []
            var namespaces: [ObservedObject] = []
            for try await (objects, isNamespaceList) in group {
                if isNamespaceList {
                    namespaces = objects
                    owned.append(contentsOf: objects.filter { $0.isOwned(byInstance: instance) })
                } else {
                    // The selector already filtered; keep the check so a misbehaving server cannot hand us others' objects.
                    owned.append(contentsOf: objects.filter { $0.isOwned(byInstance: instance) })
                }
            }
            return ObservedCluster(owned: owned, allNamespaces: namespaces)
        }
    }

    /// Lists one kind across all namespaces, following `continue` tokens.
    public func list(_ kind: ObjectKind, labelSelector: String?, pageSize: Int = 500) async throws -> [ObservedObject] {
        var restarts = 0
        restart: while true {
            var objects: [ObservedObject] = []
            var token: String?
            repeat {
                var query: [(String, String)] = [("limit", String(max(1, pageSize)))]
                if let labelSelector { query.append(("labelSelector", labelSelector)) }
                if let token { query.append(("continue", token)) }
                let request = KubeRequest(method: "GET", path: KubePaths.collection(kind, namespace: nil), query: query)
                let response = try await client.send(request)
                guard response.isSuccess else {
                    let error = client.apiError(response, request)
                    if error.isExpired, token != nil, restarts < 5 {
                        restarts += 1
                        logger.info("kube.list.restart", metadata: ["k8s.kind": "\(kind.rawValue)", "reason": "continue token expired"])
                        continue restart
                    }
                    throw error
                }
                let page = try response.json()
                guard let items = page["items"]?.arrayValue else {
                    throw KubeClientError(.invalidResponse, "list of \(kind.plural) has no items")
                }
                for item in items {
                    do {
                        objects.append(try ManifestDecoding.observed(item, kind: kind))
                    } catch {
                        throw KubeClientError(.invalidResponse, "list of \(kind.plural): \(error)")
                    }
                }
                token = page["metadata"]?["continue"]?.stringValue
                if token?.isEmpty == true { token = nil }
            } while token != nil
            return objects
        }
    }

    /// GET one object; nil when it does not exist.
    public func get(_ ref: ObjectRef) async throws -> JSONValue? {
        let request = KubeRequest(method: "GET", path: KubePaths.object(ref))
        let response = try await client.send(request)
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw client.apiError(response, request) }
        return try response.json()
    }

    /// Asks the server whether the caller may do `verb` on `resource` (`kubectl auth can-i`).
    public func canI(verb: String, group: String, resource: String, namespace: String?) async throws -> Bool {
        var attributes: [String: JSONValue] = [
            "verb": .string(verb), "group": .string(group), "resource": .string(resource),
        ]
        if let namespace { attributes["namespace"] = .string(namespace) }
        let body = JSONValue.object([
            "apiVersion": .string("authorization.k8s.io/v1"), "kind": .string("SelfSubjectAccessReview"),
            "spec": .object(["resourceAttributes": .object(attributes)]),
        ])
        let answer = try await client.sendJSON(
            KubeRequest(method: "POST", path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body: body))
        return answer["status"]?["allowed"]?.boolValue ?? false
    }
}
