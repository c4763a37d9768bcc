public import Foundation
public import RBACModel

/// Builders for audit `before`/`after` documents in the shape `AuditLog.entitlements(at:)` reads.
///
/// Convention: the document is the object's full state, with
/// - RoleBinding: `roleRef {kind, name}`, `subjects [{kind, name, namespace?}]`, `person?`;
/// - HubUser: `name`, `admin`, `person?`;
/// - HubGroup: `name`, `users [..]`;
/// - other kinds: any document (not used for entitlements).
public enum AuditPayload {
    public static func roleBinding(roleRef: RoleRef, subjects: [Subject], person: PersonID? = nil) -> JSONValue {
        var document: [String: JSONValue] = [
            "roleRef": ["kind": .string(roleRef.kind.rawValue), "name": .string(roleRef.name)],
            "subjects": .array(subjects.sorted().map { subject in
                var entry: [String: JSONValue] = ["kind": .string(subject.kind.rawValue), "name": .string(subject.name)]
                if let namespace = subject.namespace { entry["namespace"] = .string(namespace) }
                return .object(entry)
            }),
        ]
        if let person { document["person"] = .string(person.rawValue) }
        return .object(document)
    }

    public static func hubUser(name: String, admin: Bool, person: PersonID? = nil) -> JSONValue {
        var document: [String: JSONValue] = ["name": .string(name), "admin": .bool(admin)]
        if let person { document["person"] = .string(person.rawValue) }
        return .object(document)
    }

    public static func hubGroup(name: String, users: [String]) -> JSONValue {
        ["name": .string(name), "users": .array(users.sorted().map(JSONValue.string))]
    }

    /// A desired Kubernetes object: labels, annotations and spec, plus the RoleBinding fields at the
    /// top level (so entitlements can read them) and the owner as `person`.
    public static func object(_ object: DesiredObject) throws -> JSONValue {
        var document: [String: JSONValue] = [
            "kind": .string(object.ref.kind.rawValue), "name": .string(object.ref.name),
            "labels": .object(object.labels.mapValues(JSONValue.string)),
            "annotations": .object(object.annotations.mapValues(JSONValue.string)),
            "spec": try JSONValue.encoding(object.spec),
        ]
        if let namespace = object.ref.namespace { document["namespace"] = .string(namespace) }
        if let owner = object.owner { document["person"] = .string(owner.rawValue) }
        if case .roleBinding(let roleRef, let subjects) = object.spec,
            case .object(let binding) = roleBinding(roleRef: roleRef, subjects: subjects)
        {
            document.merge(binding) { _, new in new }
        }
        return .object(document)
    }

    /// Provenance chain as a JSON array.
    public static func provenance(_ provenance: [Provenance]) throws -> JSONValue {
        try JSONValue.encoding(provenance.sorted())
    }
}

/// One access right held at a moment, reconstructed from the audit log.
public struct Entitlement: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Access: Hashable, Sendable {
        /// A hub user exists for the subject.
        case hubUser
        case hubAdmin
        case hubGroup(String)
        /// A RoleBinding in `namespace` binds the subject to `roleKind/roleName`.
        case role(namespace: String, binding: String, roleKind: String, roleName: String)
    }

    /// The hub user name, or `User:alice` / `Group:ds` / `ServiceAccount:ns/sa` for RBAC subjects.
    public var subject: String
    public var person: String?
    public var access: Access
    /// The audit row that established the state in force.
    public var sinceRow: Int64

    public var accessText: String {
        switch access {
        case .hubUser: "hub user"
        case .hubAdmin: "hub admin"
        case .hubGroup(let group): "hub group \(group)"
        case .role(let namespace, let binding, let kind, let name): "\(kind) \(name) in \(namespace) (RoleBinding \(binding))"
        }
    }

    public var description: String { "\(subject): \(accessText)" }

    public static func < (lhs: Entitlement, rhs: Entitlement) -> Bool {
        (lhs.subject, lhs.accessText) < (rhs.subject, rhs.accessText)
    }
}

extension AuditLog {
    /// Who had which access at `instant`: replays the succeeded RoleBinding, HubUser and HubGroup rows
    /// up to that instant (each row's `after` is the object's full state; a nil `after` removed it).
    ///
    /// Only as complete as the log: rows removed by retention before `instant` are read from the
    /// archive, not here, so ask for moments after the last archive.
    public func entitlements(at instant: Date) async throws -> [Entitlement] {
        var state: [String: (kind: String, namespace: String?, name: String, after: JSONValue, row: Int64)] = [:]
        var after: Int64 = Int64.min
        while true {
            let result = try await connection.query(
                """
                SELECT id, object_kind, object_namespace, object_name, after FROM accesssync.audit_log
                WHERE id > $1 AND at <= $2::timestamptz AND outcome = 'succeeded'
                  AND object_kind IN ('RoleBinding', 'HubUser', 'HubGroup')
                ORDER BY id LIMIT $3
                """, [after, instant, Self.pageSize])
            for row in result.rows {
                let kind = try row.string("object_kind")
                let namespace = row["object_namespace"]
                let name = try row.string("object_name")
                let key = "\(kind)\u{1}\(namespace ?? "")\u{1}\(name)"
                if let document = try row.json("after"), document != .null {
                    state[key] = (kind, namespace, name, document, Int64(try row.int("id")))
                } else {
                    state[key] = nil
                }
            }
            guard let last = result.rows.last else { break }
            after = Int64(try last.int("id"))
            if result.rows.count < Self.pageSize { break }
        }
        var entitlements: Set<Entitlement> = []
        for item in state.values {
            let person = item.after["person"]?.stringValue
            switch item.kind {
            case "HubUser":
                let user = item.after["name"]?.stringValue ?? item.name
                entitlements.insert(Entitlement(subject: user, person: person, access: .hubUser, sinceRow: item.row))
                if item.after["admin"]?.boolValue == true {
                    entitlements.insert(Entitlement(subject: user, person: person, access: .hubAdmin, sinceRow: item.row))
                }
            case "HubGroup":
                for user in item.after["users"]?.arrayValue ?? [] {
                    guard let name = user.stringValue else { continue }
                    entitlements.insert(Entitlement(
                        subject: name, person: nil, access: .hubGroup(item.name), sinceRow: item.row))
                }
            default:
                let roleRef = item.after["roleRef"]
                let access = Entitlement.Access.role(
                    namespace: item.namespace ?? "", binding: item.name,
                    roleKind: roleRef?["kind"]?.stringValue ?? "Role", roleName: roleRef?["name"]?.stringValue ?? "?")
                for subject in item.after["subjects"]?.arrayValue ?? [] {
                    let kind = subject["kind"]?.stringValue ?? "User"
                    let name = subject["name"]?.stringValue ?? "?"
                    let label = subject["namespace"]?.stringValue.map { "\(kind):\($0)/\(name)" } ?? "\(kind):\(name)"
                    entitlements.insert(Entitlement(
                        subject: label, person: kind == "User" ? person : nil, access: access, sinceRow: item.row))
                }
            }
        }
        return entitlements.sorted()
    }
}
