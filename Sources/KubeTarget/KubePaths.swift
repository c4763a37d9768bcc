public import RBACModel

/// REST paths of the kinds AccessSync manages.
public enum KubePaths {
    /// `/api/v1` or `/apis/<group>/v1`.
    public static func groupVersionPrefix(_ kind: ObjectKind) -> String {
        kind.group.isEmpty ? "/api/\(kind.apiVersion)" : "/apis/\(kind.apiVersion)"
    }

    /// The collection in one namespace, or across all namespaces when `namespace` is nil.
    public static func collection(_ kind: ObjectKind, namespace: String?) -> String {
        if kind.isNamespaced, let namespace {
            return "\(groupVersionPrefix(kind))/namespaces/\(segment(namespace))/\(kind.plural)"
        }
        return "\(groupVersionPrefix(kind))/\(kind.plural)"
    }

    public static func object(_ ref: ObjectRef) -> String {
        collection(ref.kind, namespace: ref.namespace) + "/" + segment(ref.name)
    }

    /// Percent-encodes a path segment (RBAC names may hold `:` and other characters; `/` and `%` are
    /// never valid in names).
    static func segment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "@"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
