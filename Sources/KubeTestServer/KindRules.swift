// Per-kind decoding checks, defaulting and validation.
// Models pkg/apis/core/v1/defaults.go (SetDefaults_LimitRangeItem, SetDefaults_NetworkPolicy),
// pkg/apis/rbac/v1/defaults.go (Subject and RoleRef apiGroup), pkg/registry/core/namespace/strategy.go,
// pkg/apis/core/validation/validation.go (ValidateConfigMap, ValidateResourceQuota, ValidateLimitRange),
// pkg/apis/rbac/validation/validation.go, pkg/apis/coordination/validation/validation.go.

enum KindRules {
    static let quantityListFields = ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"]

    /// The decode step: type checks the server's Go structs would enforce and canonical quantities.
    /// Failures are 400 BadRequest "<Kind> in version "v1" cannot be handled as a <Kind>: ...".
    static func decode(_ object: inout JSONObject, type: ResourceType) throws(APIError) {
        func cannotHandle(_ detail: String) -> APIError {
            .badRequest("\(type.kind) in version \(goQuote(type.version)) cannot be handled as a \(type.kind): \(detail)")
        }
        if let m = object["metadata"], m.objectValue == nil, !m.isNull {
            throw cannotHandle("json: cannot unmarshal \(jsonTypeName(m)) into Go struct field \(type.kind).metadata of type v1.ObjectMeta")
        }
        if var metadata = object["metadata"]?.objectValue {
            for field in ["labels", "annotations"] {
                try checkStringMap(&metadata, field, goField: "ObjectMeta.metadata.\(field)", cannotHandle)
            }
            object["metadata"] = .object(metadata)
        }
        switch type.plural {
        case "configmaps":
            try checkStringMap(&object, "data", goField: "ConfigMap.data", cannotHandle)
            try checkStringMap(&object, "binaryData", goField: "ConfigMap.binaryData", cannotHandle)
        case "resourcequotas":
            for section in ["spec", "status"] {
                guard var s = object[section]?.objectValue else { continue }
                for field in section == "spec" ? ["hard"] : ["hard", "used"] {
                    if let list = s[field]?.objectValue {
                        s[field] = .object(try canonicalList(list, cannotHandle))
                    }
                }
                object[section] = .object(s)
            }
        case "limitranges":
            guard var spec = object["spec"]?.objectValue, let limits = spec["limits"]?.arrayValue else { break }
            var out: [JSONValue] = []
            for item in limits {
                guard var o = item.objectValue else {
                    out.append(item)
                    continue
                }
                for f in quantityListFields {
                    if let list = o[f]?.objectValue { o[f] = .object(try canonicalList(list, cannotHandle)) }
                }
                out.append(.object(o))
            }
            spec["limits"] = .array(out)
            object["spec"] = .object(spec)
        default:
            break
        }
    }

    private static func jsonTypeName(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "bool"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private static func checkStringMap(
        _ object: inout JSONObject, _ field: String, goField: String, _ fail: (String) -> APIError
    ) throws(APIError) {
        guard let value = object[field] else { return }
        if value.isNull {
            object[field] = nil
            return
        }
        guard let map = value.objectValue else {
            throw fail("json: cannot unmarshal \(jsonTypeName(value)) into Go struct field \(goField) of type map[string]string")
        }
        for (_, v) in map where v.stringValue == nil {
            throw fail("json: cannot unmarshal \(jsonTypeName(v)) into Go struct field \(goField) of type string")
        }
    }

    private static func canonicalList(_ list: JSONObject, _ fail: (String) -> APIError) throws(APIError) -> JSONObject {
        var out = JSONObject()
        for (key, value) in list {
            let text: String
            switch value {
            case .string(let s): text = s
            case .number(let n): text = n
            default: throw fail("quantities must be strings or numbers")
            }
            do {
                out[key] = .string(try Quantity.canonicalize(text))
            } catch {
                throw fail(error.message)
            }
        }
        return out
    }

    // MARK: - Defaulting

    /// Defaults applied to every write (decode-time defaulting in the real server).
    static func applyDefaults(_ object: inout JSONObject, type: ResourceType) {
        switch type.plural {
        case "rolebindings", "clusterrolebindings":
            if var roleRef = object["roleRef"]?.objectValue {
                if (roleRef["apiGroup"]?.stringValue ?? "").isEmpty { roleRef["apiGroup"] = .string(ResourceType.rbacGroup) }
                object["roleRef"] = .object(roleRef)
            }
            if let subjects = object["subjects"]?.arrayValue {
                object["subjects"] = .array(subjects.map(defaultSubject))
            }
        case "limitranges":
            guard var spec = object["spec"]?.objectValue, let limits = spec["limits"]?.arrayValue else { break }
            spec["limits"] = .array(limits.map(defaultLimitRangeItem))
            object["spec"] = .object(spec)
        case "networkpolicies":
            guard var spec = object["spec"]?.objectValue else { break }
            if (spec["policyTypes"]?.arrayValue ?? []).isEmpty {
                var types: [JSONValue] = ["Ingress"]
                if !(spec["egress"]?.arrayValue ?? []).isEmpty { types.append("Egress") }
                spec["policyTypes"] = .array(types)
            }
            for direction in ["ingress", "egress"] {
                guard let rules = spec[direction]?.arrayValue else { continue }
                spec[direction] = .array(
                    rules.map { rule in
                        guard var r = rule.objectValue, let ports = r["ports"]?.arrayValue else { return rule }
                        r["ports"] = .array(
                            ports.map { port in
                                guard var p = port.objectValue else { return port }
                                if p["protocol"] == nil { p["protocol"] = "TCP" }
                                return .object(p)
                            })
                        return .object(r)
                    })
            }
            object["spec"] = .object(spec)
        default:
            break
        }
    }

    static func defaultSubject(_ subject: JSONValue) -> JSONValue {
        guard var s = subject.objectValue else { return subject }
        if (s["apiGroup"]?.stringValue ?? "").isEmpty {
            switch s["kind"]?.stringValue {
            case "User", "Group": s["apiGroup"] = .string(ResourceType.rbacGroup)
            case "ServiceAccount": s["apiGroup"] = ""
            default: break
            }
        }
        return .object(s)
    }

    static func defaultLimitRangeItem(_ item: JSONValue) -> JSONValue {
        guard var o = item.objectValue, o["type"]?.stringValue == "Container" else { return item }
        var def = o["default"]?.objectValue ?? JSONObject()
        var defReq = o["defaultRequest"]?.objectValue ?? JSONObject()
        for (k, v) in o["max"]?.objectValue ?? JSONObject() where def[k] == nil { def[k] = v }
        for (k, v) in def where defReq[k] == nil { defReq[k] = v }
        for (k, v) in o["min"]?.objectValue ?? JSONObject() where defReq[k] == nil { defReq[k] = v }
        o["default"] = def.isEmpty ? nil : .object(def)
        o["defaultRequest"] = defReq.isEmpty ? nil : .object(defReq)
        return .object(o)
    }

    /// Namespace strategy: PrepareForCreate / PrepareForUpdate.
    static func prepareNamespace(_ object: inout JSONObject, old: JSONObject?) {
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        var labels = metadata["labels"]?.objectValue ?? JSONObject()
        labels["kubernetes.io/metadata.name"] = .string(name)
        metadata["labels"] = .object(labels)
        object["metadata"] = .object(metadata)
        var spec = object["spec"]?.objectValue ?? JSONObject()
        if let old {
            spec["finalizers"] = old["spec"]?["finalizers"]
            object["status"] = old["status"]
        } else {
            spec["finalizers"] = ["kubernetes"]
            object["status"] = ["phase": "Active"]
        }
        object["spec"] = spec.isEmpty ? nil : .object(spec)
    }

    // MARK: - Validation

    static func validate(_ object: JSONObject, old: JSONObject?, type: ResourceType) -> [FieldError] {
        var errs: [FieldError] = []
        let metadata = object["metadata"]?.objectValue ?? JSONObject()
        let name = metadata["name"]?.stringValue ?? ""
        if name.isEmpty {
            errs.append(.required("metadata.name", "name or generateName is required"))
        } else {
            for m in type.nameRule.errors(name) { errs.append(.invalid("metadata.name", name, m)) }
        }
        let namespace = metadata["namespace"]?.stringValue ?? ""
        if type.namespaced, namespace.isEmpty {
            errs.append(.required("metadata.namespace", ""))
        } else if !type.namespaced, !namespace.isEmpty {
            errs.append(.forbidden("metadata.namespace", "not allowed on this type"))
        }
        errs.append(contentsOf: Validation.metadataErrors(metadata))
        switch type.plural {
        case "configmaps": errs.append(contentsOf: validateConfigMap(object, old: old))
        case "resourcequotas": errs.append(contentsOf: validateResourceQuota(object))
        case "limitranges": errs.append(contentsOf: validateLimitRange(object))
        case "roles", "clusterroles": errs.append(contentsOf: validateRole(object, namespaced: type.namespaced))
        case "rolebindings", "clusterrolebindings":
            errs.append(contentsOf: validateBinding(object, old: old, namespaced: type.namespaced))
        case "leases": errs.append(contentsOf: validateLease(object))
        default: break
        }
        return errs
    }

    static func validateConfigMap(_ object: JSONObject, old: JSONObject?) -> [FieldError] {
        var errs: [FieldError] = []
        var total = 0
        let data = object["data"]?.objectValue ?? JSONObject()
        let binary = object["binaryData"]?.objectValue ?? JSONObject()
        for (key, value) in data {
            for m in Validation.configMapKeyErrors(key) { errs.append(.invalid("data[\(key)]", key, m)) }
            total += value.stringValue?.utf8.count ?? 0
        }
        for (key, value) in binary {
            for m in Validation.configMapKeyErrors(key) { errs.append(.invalid("binaryData[\(key)]", key, m)) }
            if data[key] != nil { errs.append(.invalid("binaryData[\(key)]", key, "duplicate of key present in data")) }
            total += (value.stringValue?.utf8.count ?? 0) * 3 / 4
        }
        if total > 1024 * 1024 {
            errs.append(.tooLong("", 1024 * 1024))
        }
        if let old, old["immutable"]?.boolValue == true {
            if object["immutable"]?.boolValue != true {
                errs.append(.forbidden("immutable", "field is immutable when `immutable` is set"))
            }
            if old["data"] != object["data"] {
                errs.append(.forbidden("data", "field is immutable when `immutable` is set"))
            }
            if old["binaryData"] != object["binaryData"] {
                errs.append(.forbidden("binaryData", "field is immutable when `immutable` is set"))
            }
        }
        return errs
    }

    static func validateResourceQuota(_ object: JSONObject) -> [FieldError] {
        var errs: [FieldError] = []
        for (key, value) in object["spec"]?["hard"]?.objectValue ?? JSONObject() {
            for m in Validation.qualifiedNameErrors(key) { errs.append(.invalid("spec.hard[\(key)]", key, m)) }
            if let s = value.stringValue, let q = try? Quantity(parsing: s), q.isNegative {
                errs.append(.invalid("spec.hard[\(key)]", s, "must be greater than or equal to 0"))
            }
        }
        let validScopes = [
            "Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity",
            "VolumeAttributesClass",
        ]
        for (i, scope) in (object["spec"]?["scopes"]?.arrayValue ?? []).enumerated() {
            let s = scope.stringValue ?? ""
            if !validScopes.contains(s) { errs.append(.notSupported("spec.scopes[\(i)]", s, validScopes)) }
        }
        return errs
    }

    static func validateLimitRange(_ object: JSONObject) -> [FieldError] {
        var errs: [FieldError] = []
        let types = ["Pod", "Container", "PersistentVolumeClaim"]
        for (i, item) in (object["spec"]?["limits"]?.arrayValue ?? []).enumerated() {
            let path = "spec.limits[\(i)]"
            let type = item["type"]?.stringValue ?? ""
            if type.isEmpty {
                errs.append(.required("\(path).type", ""))
            } else if !types.contains(type) {
                errs.append(.notSupported("\(path).type", type, types))
            }
            let max = item["max"]?.objectValue ?? JSONObject()
            let min = item["min"]?.objectValue ?? JSONObject()
            for (k, minValue) in min {
                guard let maxValue = max[k], let a = try? Quantity(parsing: minValue.stringValue ?? ""),
                    let b = try? Quantity(parsing: maxValue.stringValue ?? ""), Quantity.compare(a, b) > 0
                else { continue }
                errs.append(
                    .invalid(
                        "\(path).min[\(k)]", a.description,
                        "min value \(a.description) is greater than max value \(b.description)"))
            }
        }
        return errs
    }

    static func validateRole(_ object: JSONObject, namespaced: Bool) -> [FieldError] {
        var errs: [FieldError] = []
        for (i, rule) in (object["rules"]?.arrayValue ?? []).enumerated() {
            let path = "rules[\(i)]"
            let verbs = rule["verbs"]?.arrayValue ?? []
            let urls = rule["nonResourceURLs"]?.arrayValue ?? []
            let groups = rule["apiGroups"]?.arrayValue ?? []
            let resources = rule["resources"]?.arrayValue ?? []
            let names = rule["resourceNames"]?.arrayValue ?? []
            if verbs.isEmpty { errs.append(.required("\(path).verbs", "verbs must contain at least one value")) }
            if !urls.isEmpty {
                let rendered = "[]string{" + urls.map { goQuote($0.stringValue ?? "") }.joined(separator: ", ") + "}"
                if namespaced {
                    errs.append(
                        .invalidRaw("\(path).nonResourceURLs", rendered, "namespaced rules cannot apply to non-resource URLs"))
                }
                if !groups.isEmpty || !resources.isEmpty || !names.isEmpty {
                    errs.append(
                        .invalidRaw(
                            "\(path).nonResourceURLs", rendered,
                            "rules cannot apply to both regular resources and non-resource URLs"))
                }
                continue
            }
            if groups.isEmpty {
                errs.append(.required("\(path).apiGroups", "resource rules must supply at least one api group"))
            }
            if resources.isEmpty {
                errs.append(.required("\(path).resources", "resource rules must supply at least one resource"))
            }
        }
        return errs
    }

    static func renderRoleRef(_ v: JSONValue?) -> String {
        let group = v?["apiGroup"]?.stringValue ?? ""
        let kind = v?["kind"]?.stringValue ?? ""
        let name = v?["name"]?.stringValue ?? ""
        return "rbac.RoleRef{APIGroup:\(goQuote(group)), Kind:\(goQuote(kind)), Name:\(goQuote(name))}"
    }

    static func validateBinding(_ object: JSONObject, old: JSONObject?, namespaced: Bool) -> [FieldError] {
        var errs: [FieldError] = []
        let roleRef = object["roleRef"]
        let group = roleRef?["apiGroup"]?.stringValue ?? ""
        let kind = roleRef?["kind"]?.stringValue ?? ""
        let name = roleRef?["name"]?.stringValue ?? ""
        if group != ResourceType.rbacGroup {
            errs.append(.notSupported("roleRef.apiGroup", group, [ResourceType.rbacGroup]))
        }
        let kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"]
        if !kinds.contains(kind) { errs.append(.notSupported("roleRef.kind", kind, kinds)) }
        if name.isEmpty {
            errs.append(.required("roleRef.name", ""))
        } else {
            for m in Validation.pathSegmentErrors(name) { errs.append(.invalid("roleRef.name", name, m)) }
        }
        for (i, subject) in (object["subjects"]?.arrayValue ?? []).enumerated() {
            let path = "subjects[\(i)]"
            let sName = subject["name"]?.stringValue ?? ""
            let sGroup = subject["apiGroup"]?.stringValue ?? ""
            if sName.isEmpty { errs.append(.required("\(path).name", "")) }
            switch subject["kind"]?.stringValue ?? "" {
            case "ServiceAccount":
                if !sName.isEmpty {
                    for m in Validation.dns1123SubdomainErrors(sName) { errs.append(.invalid("\(path).name", sName, m)) }
                }
                if !sGroup.isEmpty { errs.append(.notSupported("\(path).apiGroup", sGroup, [""])) }
                if !namespaced, (subject["namespace"]?.stringValue ?? "").isEmpty {
                    errs.append(.required("\(path).namespace", ""))
                }
            case "User", "Group":
                if sGroup != ResourceType.rbacGroup {
                    errs.append(.notSupported("\(path).apiGroup", sGroup, [ResourceType.rbacGroup]))
                }
            case let other:
                errs.append(.notSupported("\(path).kind", other, ["ServiceAccount", "User", "Group"]))
            }
        }
        if let old, old["roleRef"] != object["roleRef"] {
            errs.append(.invalidRaw("roleRef", renderRoleRef(object["roleRef"]), "cannot change roleRef"))
        }
        return errs
    }

    static func validateLease(_ object: JSONObject) -> [FieldError] {
        var errs: [FieldError] = []
        if let d = object["spec"]?["leaseDurationSeconds"], let n = d.intValue, n <= 0 {
            errs.append(.invalidRaw("spec.leaseDurationSeconds", String(n), "must be greater than 0"))
        }
        if let t = object["spec"]?["leaseTransitions"], let n = t.intValue, n < 0 {
            errs.append(.invalidRaw("spec.leaseTransitions", String(n), "must be greater than or equal to 0"))
        }
        return errs
    }
}
