import Foundation
public import RBACModel

/// A RoleBinding or ClusterRoleBinding as listed from the cluster, whoever made it.
public struct ClusterBinding: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case roleBinding = "RoleBinding", clusterRoleBinding = "ClusterRoleBinding" }
    public var kind: Kind
    /// nil for ClusterRoleBindings.
    public var namespace: String?
    public var name: String
    public var labels: [String: String]
    public var roleRef: RoleRef
    public var subjects: [Subject]

    public init(
        kind: Kind, namespace: String?, name: String, labels: [String: String], roleRef: RoleRef, subjects: [Subject]
    ) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.roleRef = roleRef
        self.subjects = subjects
    }

    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    public var reference: String { namespace.map { "\(kind.rawValue) \($0)/\(name)" } ?? "\(kind.rawValue) \(name)" }
}

extension KubeClusterTarget {
    /// Every RoleBinding (all namespaces) and ClusterRoleBinding, unfiltered by labels — for
    /// `accesssync report unmanaged`. Paginated; an expired continue token restarts the list.
    /// Subjects of kinds other than User, Group and ServiceAccount are skipped.
    public func listAllBindings(pageSize: Int = 500) async throws -> [ClusterBinding] {
        var bindings: [ClusterBinding] = []
        for kind in [ClusterBinding.Kind.roleBinding, .clusterRoleBinding] {
            let plural = kind == .roleBinding ? "rolebindings" : "clusterrolebindings"
            let path = "/apis/rbac.authorization.k8s.io/v1/\(plural)"
            var restarts = 0
            var token: String?
            var listed: [ClusterBinding] = []
            repeat {
                var query: [(String, String)] = [("limit", String(max(1, pageSize)))]
                if let token { query.append(("continue", token)) }
                let request = KubeRequest(method: "GET", path: path, query: query)
                let response = try await client.send(request)
                guard response.isSuccess else {
                    let error = client.apiError(response, request)
                    if error.isExpired, token != nil, restarts < 5 {
                        restarts += 1
                        token = nil
                        listed = []
                        continue
                    }
                    throw error
                }
                let page = try response.json()
                guard let items = page["items"]?.arrayValue else {
                    throw KubeClientError(.invalidResponse, "list of \(plural) has no items")
                }
                for item in items { listed.append(try Self.binding(item, kind: kind)) }
                token = page["metadata"]?["continue"]?.stringValue
                if token?.isEmpty == true { token = nil }
            } while token != nil
            bindings += listed
        }
        return bindings
    }

    static func binding(_ item: JSONValue, kind: ClusterBinding.Kind) throws -> ClusterBinding {
        let metadata = item["metadata"]
        guard let name = metadata?["name"]?.stringValue else {
            throw KubeClientError(.invalidResponse, "a \(kind.rawValue) without a name")
        }
        var labels: [String: String] = [:]
        for (key, value) in metadata?["labels"]?.objectValue ?? [:] { labels[key] = value.stringValue ?? "" }
        let roleKind = item["roleRef"]?["kind"]?.stringValue == "Role" ? RoleRef.Kind.role : .clusterRole
        let roleRef = RoleRef(kind: roleKind, name: item["roleRef"]?["name"]?.stringValue ?? "")
        var subjects: [Subject] = []
        for subject in item["subjects"]?.arrayValue ?? [] {
            guard let kindText = subject["kind"]?.stringValue, let subjectKind = Subject.Kind(rawValue: kindText),
                let subjectName = subject["name"]?.stringValue
            else { continue }
            subjects.append(Subject(kind: subjectKind, name: subjectName, namespace: subject["namespace"]?.stringValue))
        }
        return ClusterBinding(
            kind: kind, namespace: kind == .roleBinding ? metadata?["namespace"]?.stringValue : nil, name: name,
            labels: labels, roleRef: roleRef, subjects: subjects)
    }
}
