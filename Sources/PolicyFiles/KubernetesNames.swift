/// Kubernetes name syntax checks (k8s.io/apimachinery `pkg/util/validation`), returning a reason or nil.
public enum KubernetesNames {
    /// RFC 1123 label (`IsDNS1123Label`): namespaces, and our tier and role template names.
    public static func dns1123LabelProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > 63 { return "must be at most 63 characters (has \(name.utf8.count))" }
        let bytes = Array(name.utf8)
        guard bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }) else {
            return "must consist of lower case letters, digits and '-'"
        }
        guard isLowerAlphanumeric(bytes.first!), isLowerAlphanumeric(bytes.last!) else {
            return "must start and end with a lower case letter or digit"
        }
        return nil
    }

    /// RFC 1123 subdomain (`IsDNS1123Subdomain`).
    public static func dns1123SubdomainProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > 253 { return "must be at most 253 characters" }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty { return "must not contain empty labels ('..', leading or trailing '.')" }
            if let problem = dns1123LabelProblem(String(label)) { return "label '\(label)' \(problem)" }
        }
        return nil
    }

    /// A name usable in an object's path (`ValidatePathSegmentName`), e.g. a ClusterRole reference.
    public static func pathSegmentProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name == "." || name == ".." { return "must not be '.' or '..'" }
        if name.contains("/") || name.contains("%") { return "must not contain '/' or '%'" }
        if name.utf8.count > 253 { return "must be at most 253 characters" }
        return nil
    }

    /// A qualified name (`IsQualifiedName`): `[prefix/]name`, as resource names in quotas are
    /// (`requests.cpu`, `requests.nvidia.com/gpu`, `count/deployments.apps`).
    public static func qualifiedNameProblem(_ name: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "must be a name with an optional 'prefix/'" }
        if parts.count == 2, let problem = dns1123SubdomainProblem(String(parts[0])) {
            return "prefix \(problem)"
        }
        let local = Array(parts.last!.utf8)
        if local.isEmpty { return "name part must not be empty" }
        if local.count > 63 { return "name part must be at most 63 characters" }
        func alnum(_ byte: UInt8) -> Bool {
            isLowerAlphanumeric(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        }
        guard local.allSatisfy({ alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }),
            alnum(local.first!), alnum(local.last!)
        else {
            return "name part must consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
        }
        return nil
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
