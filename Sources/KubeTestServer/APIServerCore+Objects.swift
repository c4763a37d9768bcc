// Object verbs: get, list, create, update, patch (apply, merge), delete, deletecollection.
// Models k8s.io/apiserver/pkg/endpoints/handlers/{create,update,patch,delete,get}.go, the generic registry store
// (k8s.io/apiserver/pkg/registry/generic/registry/store.go: preconditions, AllowCreateOnUpdate, no-op updates keep
// the resourceVersion), plugin/pkg/admission/namespace/lifecycle/admission.go and
// pkg/registry/core/namespace/storage/storage.go (namespace deletion).

import Foundation

extension APIServerCore {
    // MARK: - Shared steps

    /// Validates dryRun / fieldManager / fieldValidation / force like `ValidateCreateOptions` & co.
    func validateOptions(_ c: RequestContext, kind: String, isApply: Bool = false) throws(APIError) {
        var errs: [FieldError] = []
        let dry = c.query.all("dryRun")
        if !dry.allSatisfy({ $0 == "All" }) {
            errs.append(.notSupported("dryRun", dry.joined(separator: ","), ["All"]))
        }
        let manager = c.query["fieldManager"] ?? ""
        if isApply && manager.isEmpty {
            errs.append(.required("fieldManager", "is required for apply patch"))
        }
        if manager.utf8.count > 128 { errs.append(.tooLong("fieldManager", 128)) }
        if kind == "PatchOptions", !isApply, c.query["force"] != nil {
            errs.append(.forbidden("force", "may not be specified for non-apply patch"))
        }
        if let v = c.query["fieldValidation"], !["", "Ignore", "Warn", "Strict"].contains(v) {
            errs.append(.notSupported("fieldValidation", v, ["Ignore", "Warn", "Strict"]))
        }
        if !errs.isEmpty {
            var e = APIError.invalid(ResourceType.namespaces, "", errs)
            e.group = "meta.k8s.io"
            e.kind = kind
            e.name = nil
            let aggregate = errs.count == 1 ? errs[0].message : "[" + errs.map(\.message).joined(separator: ", ") + "]"
            e.message = "\(kind).meta.k8s.io \"\" is invalid: \(aggregate)"
            throw e
        }
    }

    /// The manager recorded for non-apply writes: `fieldManager` or the User-Agent's first word.
    func updateManager(_ c: RequestContext) -> String {
        if let m = c.query["fieldManager"], !m.isEmpty { return m }
        let ua = c.request.headers["user-agent"] ?? "unknown"
        return String(ua.split(separator: "/").first ?? "unknown")
    }

    func parseObject(_ c: RequestContext, apply: Bool = false) throws(APIError) -> JSONObject {
        let body = c.request.body
        var parsed: JSONValue?
        if !apply {
            let mediaType = (c.request.headers["content-type"] ?? "application/json").split(separator: ";").first.map {
                String($0).trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
            if mediaType == "application/vnd.kubernetes.protobuf" {
                parsed = .object(try ProtobufDecoding.decode(body, as: c.type))
            } else if mediaType != "application/json" && mediaType != "" && mediaType != "*/*" {
                throw APIError(
                    code: 415, reason: "UnsupportedMediaType",
                    message: "the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf")
            }
        }
        if parsed == nil {
            do {
                parsed = try JSONValue.parse(body, rejectSlashEscape: apply)
            } catch {
                if apply {
                    throw .badRequest(
                        "error decoding YAML: error converting YAML to JSON: yaml: line \(error.line): \(error.message)")
                }
                throw .badRequest("couldn't get version/kind; json parse error: \(error.message)")
            }
        }
        let value = parsed!
        guard var object = value.objectValue else {
            throw .badRequest("couldn't get version/kind; json parse error: json: cannot unmarshal \(value.isNull ? "null" : "value") into Go value of type struct")
        }
        if let kind = object["kind"]?.stringValue, !kind.isEmpty, kind != c.type.kind {
            throw .badRequest(
                "\(kind) in version \(goQuote(object["apiVersion"]?.stringValue ?? "")) cannot be handled as a \(c.type.kind): no kind \(goQuote(kind)) is registered for version \(goQuote(c.type.apiVersion))"
            )
        }
        if let av = object["apiVersion"]?.stringValue, !av.isEmpty, av != c.type.apiVersion {
            throw .badRequest("the API version in the data (\(av)) does not match the expected API version (\(c.type.apiVersion))")
        }
        if apply {
            if (object["kind"]?.stringValue ?? "").isEmpty || (object["apiVersion"]?.stringValue ?? "").isEmpty {
                throw .badRequest("Object 'Kind' is missing in '\(String(decoding: body.prefix(200), as: UTF8.self))'")
            }
        }
        object["kind"] = .string(c.type.kind)
        object["apiVersion"] = .string(c.type.apiVersion)
        if let m = object["metadata"], m.isNull { object["metadata"] = nil }
        return object
    }

    /// Drops top-level fields the kind does not have (warning), or fails under `fieldValidation=Strict`.
    func pruneUnknownFields(_ object: inout JSONObject, _ c: RequestContext, warnings: inout [String]) throws(APIError) {
        let known = Set(["apiVersion", "kind", "metadata"] + c.type.topLevelFields)
        let metaKnown: Set<String> = [
            "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
            "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
            "managedFields",
        ]
        var unknown: [String] = []
        for k in object.keys where !known.contains(k) {
            unknown.append(k)
            object[k] = nil
        }
        if var m = object["metadata"]?.objectValue {
            for k in m.keys where !metaKnown.contains(k) {
                unknown.append("metadata.\(k)")
                m[k] = nil
            }
            object["metadata"] = .object(m)
        }
        guard !unknown.isEmpty else { return }
        switch c.query["fieldValidation"] {
        case "Strict":
            if unknown.count == 1 {
                throw .badRequest("strict decoding error: unknown field \(goQuote(unknown[0]))")
            }
            throw .badRequest("strict decoding error: " + unknown.map { "unknown field \(goQuote($0))" }.joined(separator: ", "))
        case "Ignore":
            break
        default:
            warnings += unknown.map { "unknown field \(goQuote($0))" }
        }
    }

    func metadata(_ o: JSONObject) -> JSONObject { o["metadata"]?.objectValue ?? JSONObject() }

    func setMetadata(_ o: inout JSONObject, _ key: String, _ value: JSONValue?) {
        var m = metadata(o)
        m[key] = value
        o["metadata"] = .object(reorderedMetadata(m))
    }

    /// Kind, apiVersion, metadata first, like the server's encoder.
    func layout(_ o: JSONObject, _ type: ResourceType) -> JSONObject {
        var out = JSONObject()
        out["kind"] = .string(type.kind)
        out["apiVersion"] = .string(type.apiVersion)
        out["metadata"] = .object(reorderedMetadata(metadata(o)))
        for (k, v) in o where out[k] == nil && k != "status" { out[k] = v }
        out["status"] = o["status"]
        return out
    }

    /// Namespace lifecycle admission for writes that create objects in a namespace.
    func admitNamespace(_ c: RequestContext, name: String) throws(APIError) {
        guard c.type.namespaced else { return }
        guard let ns = stored(.namespaces, "", c.namespace) else {
            throw .namespaceNotFound(c.namespace)
        }
        if ns["metadata"]?["deletionTimestamp"] != nil || ns["status"]?["phase"]?.stringValue == "Terminating" {
            var e = APIError.forbidden(
                c.type, name,
                "unable to create new content in namespace \(c.namespace) because it is being terminated")
            e.causes = [
                .init(
                    reason: "NamespaceTerminating", message: "namespace \(c.namespace) is being terminated",
                    field: "metadata.namespace")
            ]
            throw e
        }
    }

    /// Decoding, identity checks, defaulting: everything before validation.
    func normalizeIncoming(
        _ object: inout JSONObject, _ c: RequestContext, warnings: inout [String]
    ) throws(APIError) {
        try pruneUnknownFields(&object, c, warnings: &warnings)
        var m = metadata(object)
        if let ns = m["namespace"]?.stringValue, !ns.isEmpty, c.type.namespaced, ns != c.namespace {
            throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        if c.type.namespaced { m["namespace"] = .string(c.namespace) }
        object["metadata"] = .object(m)
        try KindRules.decode(&object, type: c.type)
        KindRules.applyDefaults(&object, type: c.type)
    }

    func validate(_ object: JSONObject, old: JSONObject?, _ c: RequestContext) throws(APIError) {
        let errs = KindRules.validate(object, old: old, type: c.type)
        if !errs.isEmpty {
            throw .invalid(c.type, metadata(object)["name"]?.stringValue ?? c.name, errs)
        }
    }

    func respond(_ status: Int, _ object: JSONObject, _ type: ResourceType, warnings: [String]) -> HTTPResponseData {
        let headers = warnings.map { ("Warning", "299 - \(goQuote($0))") }
        return .json(status, .object(layout(object, type)), headers: headers)
    }

    /// Content equality that ignores managedFields timestamps and resourceVersion.
    func sameContent(_ a: JSONObject, _ b: JSONObject) -> Bool {
        var x = a
        var y = b
        setMetadata(&x, "resourceVersion", nil)
        setMetadata(&y, "resourceVersion", nil)
        return x == y
    }

    // MARK: - get

    func get(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        guard let o = stored(c.type, c.namespace, c.name) else { throw .notFound(c.type, c.name) }
        if wantsTable(c) { return .json(200, table(c.type, [o], listRV: String(resourceVersion), continueToken: nil)) }
        return .json(200, .object(layout(o, c.type)))
    }

    // MARK: - create

    func create(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        try validateOptions(c, kind: "CreateOptions")
        var warnings: [String] = []
        var object = try parseObject(c)
        try normalizeIncoming(&object, c, warnings: &warnings)
        var m = metadata(object)
        var name = m["name"]?.stringValue ?? ""
        if name.isEmpty, let prefix = m["generateName"]?.stringValue, !prefix.isEmpty {
            let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
            name = prefix + String((0..<5).map { _ in alphabet.randomElement()! })
            m["name"] = .string(name)
        }
        if let rv = m["resourceVersion"]?.stringValue, !rv.isEmpty {
            throw .badRequest("resourceVersion should not be set on objects to be created")
        }
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generation"] {
            m[k] = nil
        }
        object["metadata"] = .object(m)
        if c.type == .namespaces { KindRules.prepareNamespace(&object, old: nil) }
        if c.type == .resourceQuotas { object["status"] = nil }
        let ctx = RequestContext(
            request: c.request, query: c.query, user: c.user, type: c.type, namespace: c.namespace, name: name)
        try admitNamespace(ctx, name: name)
        try checkEscalation(ctx, object)
        try validate(object, old: nil, ctx)
        if stored(c.type, c.namespace, name) != nil { throw .alreadyExists(c.type, name) }
        FieldManager.update(old: nil, new: &object, manager: updateManager(c), apiVersion: c.type.apiVersion, now: Self.now())
        stamp(&object, rv: c.dryRun ? nil : nextResourceVersion())
        object = layout(object, c.type)
        if !c.dryRun { store(c.type, c.namespace, name, object) }
        return respond(201, object, c.type, warnings: warnings)
    }

    // MARK: - update

    func update(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        try validateOptions(c, kind: "UpdateOptions")
        var warnings: [String] = []
        var object = try parseObject(c)
        try normalizeIncoming(&object, c, warnings: &warnings)
        var m = metadata(object)
        let bodyName = m["name"]?.stringValue ?? ""
        if bodyName != c.name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(c.name))")
        }
        let requestedRV = m["resourceVersion"]?.stringValue ?? ""
        guard let old = stored(c.type, c.namespace, c.name) else {
            guard c.type.allowCreateOnUpdate else { throw .notFound(c.type, c.name) }
            if !requestedRV.isEmpty { throw .notFound(c.type, c.name) }
            // Create on update needs the create verb too.
            let a = RequestAttributes(
                verb: "create", group: c.type.group, resource: c.type.plural, namespace: c.namespace, name: c.name)
            if !authorize(c.user, a) {
                throw .forbidden(c.type, c.name, Authorizer.forbiddenMessage(user: c.user.name, a))
            }
            for k in ["uid", "creationTimestamp", "managedFields", "resourceVersion"] { m[k] = nil }
            object["metadata"] = .object(m)
            try admitNamespace(c, name: c.name)
            try checkEscalation(c, object)
            try validate(object, old: nil, c)
            FieldManager.update(old: nil, new: &object, manager: updateManager(c), apiVersion: c.type.apiVersion, now: Self.now())
            stamp(&object, rv: c.dryRun ? nil : nextResourceVersion())
            object = layout(object, c.type)
            if !c.dryRun { store(c.type, c.namespace, c.name, object) }
            return respond(201, object, c.type, warnings: warnings)
        }
        let oldMeta = metadata(old)
        if requestedRV.isEmpty {
            if !c.type.allowUnconditionalUpdate {
                throw .invalid(
                    c.type, c.name,
                    [.invalidRaw("metadata.resourceVersion", "0x0", "must be specified for an update")])
            }
        } else if requestedRV != oldMeta["resourceVersion"]?.stringValue {
            throw .staleUpdate(c.type, c.name)
        }
        if let uid = m["uid"]?.stringValue, !uid.isEmpty, uid != oldMeta["uid"]?.stringValue {
            throw .conflict(
                c.type, c.name,
                "Precondition failed: UID in precondition: \(uid), UID in object meta: \(oldMeta["uid"]?.stringValue ?? "")")
        }
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
            m[k] = oldMeta[k]
        }
        m["managedFields"] = oldMeta["managedFields"]
        m["resourceVersion"] = oldMeta["resourceVersion"]
        object["metadata"] = .object(m)
        if c.type == .namespaces { KindRules.prepareNamespace(&object, old: old) }
        if c.type == .resourceQuotas { object["status"] = old["status"] }
        try checkEscalation(c, object)
        try validate(object, old: old, c)
        FieldManager.update(old: old, new: &object, manager: updateManager(c), apiVersion: c.type.apiVersion, now: Self.now())
        return try commitUpdate(c, old: old, new: object, warnings: warnings)
    }

    /// Stores an updated object unless nothing changed (a no-op keeps the resourceVersion).
    func commitUpdate(
        _ c: RequestContext, old: JSONObject, new: JSONObject, warnings: [String], createdStatus: Int = 200
    ) throws(APIError) -> HTTPResponseData {
        var object = layout(new, c.type)
        if sameContent(object, old) {
            return respond(200, old, c.type, warnings: warnings)
        }
        // An object being deleted whose finalizers are now empty goes away.
        if metadata(object)["deletionTimestamp"] != nil, (metadata(object)["finalizers"]?.arrayValue ?? []).isEmpty,
            c.type != .namespaces
        {
            if !c.dryRun { store(c.type, c.namespace, c.name, nil) }
            return respond(200, object, c.type, warnings: warnings)
        }
        setMetadata(&object, "resourceVersion", c.dryRun ? metadata(old)["resourceVersion"] : .string(nextResourceVersion()))
        if !c.dryRun { store(c.type, c.namespace, c.name, object) }
        return respond(createdStatus, object, c.type, warnings: warnings)
    }

    // MARK: - patch

    func patch(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        let contentType = (c.request.headers["content-type"] ?? "").split(separator: ";").first.map {
            String($0).trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        switch contentType {
        case "application/apply-patch+yaml":
            return try apply(c)
        case "application/merge-patch+json", "application/strategic-merge-patch+json":
            return try mergePatch(c, strategic: contentType.hasPrefix("application/strategic"))
        default:
            throw APIError(
                code: 415, reason: "UnsupportedMediaType",
                message: "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
            )
        }
    }

    static func jsonMergePatch(_ target: JSONValue?, _ patch: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var result = target?.objectValue ?? JSONObject()
        for (k, v) in p {
            if k.hasPrefix("$") { continue }
            if case .null = v {
                result[k] = nil
            } else {
                result[k] = jsonMergePatch(result[k], v)
            }
        }
        return .object(result)
    }

    func mergePatch(_ c: RequestContext, strategic: Bool) throws(APIError) -> HTTPResponseData {
        try validateOptions(c, kind: "PatchOptions")
        guard let old = stored(c.type, c.namespace, c.name) else { throw .notFound(c.type, c.name) }
        let patch: JSONValue
        do {
            patch = try JSONValue.parse(c.request.body)
        } catch {
            throw .badRequest("error decoding patch: \(error.message)")
        }
        guard patch.objectValue != nil else { throw .badRequest("error decoding patch: not a JSON object") }
        if let rv = patch["metadata"]?["resourceVersion"]?.stringValue, rv != metadata(old)["resourceVersion"]?.stringValue {
            throw .staleUpdate(c.type, c.name)
        }
        guard var object = Self.jsonMergePatch(.object(old), patch).objectValue else { throw .badRequest("invalid patch") }
        var warnings: [String] = []
        object["kind"] = .string(c.type.kind)
        object["apiVersion"] = .string(c.type.apiVersion)
        try normalizeIncoming(&object, c, warnings: &warnings)
        var m = metadata(object)
        let oldMeta = metadata(old)
        if m["name"]?.stringValue != c.name {
            throw .badRequest("the name of the object (\(m["name"]?.stringValue ?? "")) does not match the name on the URL (\(c.name))")
        }
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "resourceVersion", "managedFields"] { m[k] = oldMeta[k] }
        object["metadata"] = .object(m)
        if c.type == .namespaces { KindRules.prepareNamespace(&object, old: old) }
        try checkEscalation(c, object)
        try validate(object, old: old, c)
        FieldManager.update(old: old, new: &object, manager: updateManager(c), apiVersion: c.type.apiVersion, now: Self.now())
        return try commitUpdate(c, old: old, new: object, warnings: warnings)
    }

    func apply(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        try validateOptions(c, kind: "PatchOptions", isApply: true)
        let manager = c.query["fieldManager"] ?? ""
        let force = c.query["force"] == "true" || c.query["force"] == "1"
        var config = try parseObject(c, apply: true)
        var m = metadata(config)
        if m["managedFields"] != nil {
            throw .badRequest("metadata.managedFields must be nil")
        }
        if let n = m["name"]?.stringValue, !n.isEmpty, n != c.name {
            throw .badRequest("the name of the object (\(n)) does not match the name on the URL (\(c.name))")
        }
        m["name"] = .string(c.name)
        config["metadata"] = .object(m)
        var warnings: [String] = []
        try normalizeIncoming(&config, c, warnings: &warnings)
        m = metadata(config)
        let requestedRV = m["resourceVersion"]?.stringValue ?? ""
        for k in ["resourceVersion", "uid", "creationTimestamp", "selfLink", "generation"] { m[k] = nil }
        config["metadata"] = .object(m)
        if c.type == .namespaces || c.type == .resourceQuotas { config["status"] = nil }

        let live = stored(c.type, c.namespace, c.name)
        if live == nil {
            let a = RequestAttributes(
                verb: "create", group: c.type.group, resource: c.type.plural, namespace: c.namespace, name: c.name)
            if !authorize(c.user, a) {
                throw .forbidden(c.type, c.name, Authorizer.forbiddenMessage(user: c.user.name, a))
            }
            try admitNamespace(c, name: c.name)
            if !requestedRV.isEmpty { throw .notFound(c.type, c.name) }
        } else if !requestedRV.isEmpty, requestedRV != metadata(live!)["resourceVersion"]?.stringValue {
            throw .staleUpdate(c.type, c.name)
        }
        var merged = try FieldManager.apply(
            live: live, config: config, manager: manager, force: force, apiVersion: c.type.apiVersion, now: Self.now())
        KindRules.applyDefaults(&merged, type: c.type)
        if c.type == .namespaces { KindRules.prepareNamespace(&merged, old: live) }
        try checkEscalation(c, merged)
        try validate(merged, old: live, c)
        if let live {
            return try commitUpdate(c, old: live, new: merged, warnings: warnings)
        }
        stamp(&merged, rv: c.dryRun ? nil : nextResourceVersion())
        merged = layout(merged, c.type)
        if !c.dryRun { store(c.type, c.namespace, c.name, merged) }
        return respond(201, merged, c.type, warnings: warnings)
    }

    // MARK: - delete

    func deleteOptions(_ c: RequestContext) throws(APIError) -> JSONObject {
        var options = JSONObject()
        if !c.request.body.isEmpty {
            do {
                options = try JSONValue.parse(c.request.body).objectValue ?? JSONObject()
            } catch {
                throw .badRequest("couldn't get version/kind; json parse error: \(error.message)")
            }
        }
        if let p = c.query["propagationPolicy"] { options["propagationPolicy"] = .string(p) }
        if c.query["dryRun"] != nil { options["dryRun"] = .array(c.query.all("dryRun").map(JSONValue.string)) }
        var errs: [FieldError] = []
        if let p = options["propagationPolicy"]?.stringValue, !["Orphan", "Background", "Foreground"].contains(p) {
            errs.append(.notSupported("propagationPolicy", p, ["Foreground", "Background", "Orphan", "nil"]))
        }
        if let d = options["dryRun"]?.arrayValue, !d.allSatisfy({ $0.stringValue == "All" }) {
            errs.append(.notSupported("dryRun", d.compactMap(\.stringValue).joined(separator: ","), ["All"]))
        }
        if !errs.isEmpty {
            var e = APIError.invalid(c.type, "", errs)
            e.group = "meta.k8s.io"
            e.kind = "DeleteOptions"
            e.name = nil
            e.message = "DeleteOptions.meta.k8s.io \"\" is invalid: " + (errs.count == 1 ? errs[0].message : "[" + errs.map(\.message).joined(separator: ", ") + "]")
            throw e
        }
        return options
    }

    func delete(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        let options = try deleteOptions(c)
        let dry = c.dryRun || (options["dryRun"]?.arrayValue?.contains("All") ?? false)
        guard var object = stored(c.type, c.namespace, c.name) else { throw .notFound(c.type, c.name) }
        let meta = metadata(object)
        if let pre = options["preconditions"]?.objectValue {
            if let uid = pre["uid"]?.stringValue, uid != meta["uid"]?.stringValue {
                throw .conflict(
                    c.type, c.name,
                    "Precondition failed: UID in precondition: \(uid), UID in object meta: \(meta["uid"]?.stringValue ?? "")")
            }
            if let rv = pre["resourceVersion"]?.stringValue, rv != meta["resourceVersion"]?.stringValue {
                throw .conflict(
                    c.type, c.name,
                    "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(meta["resourceVersion"]?.stringValue ?? "")"
                )
            }
        }
        if c.type == .namespaces {
            if ["default", "kube-system", "kube-public"].contains(c.name) {
                throw .forbidden(c.type, c.name, "this namespace may not be deleted")
            }
            if meta["deletionTimestamp"] != nil {
                throw .conflict(
                    c.type, c.name,
                    "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
                )
            }
            setMetadata(&object, "deletionTimestamp", .string(Self.now()))
            object["status"] = ["phase": "Terminating"]
            if !dry {
                setMetadata(&object, "resourceVersion", .string(nextResourceVersion()))
                store(c.type, "", c.name, object)
                scheduleFinalization(c.name)
            }
            return .json(200, .object(layout(object, c.type)))
        }
        if !(meta["finalizers"]?.arrayValue ?? []).isEmpty {
            if meta["deletionTimestamp"] == nil {
                setMetadata(&object, "deletionTimestamp", .string(Self.now()))
                setMetadata(&object, "deletionGracePeriodSeconds", 0)
                if !dry {
                    setMetadata(&object, "resourceVersion", .string(nextResourceVersion()))
                    store(c.type, c.namespace, c.name, object)
                }
            }
            return .json(200, .object(layout(object, c.type)))
        }
        if !dry { store(c.type, c.namespace, c.name, nil) }
        return .json(200, successStatus(c.type, c.name, uid: meta["uid"]?.stringValue))
    }

    func successStatus(_ type: ResourceType, _ name: String, uid: String?) -> JSONValue {
        var details = JSONObject()
        details["name"] = .string(name)
        if !type.group.isEmpty { details["group"] = .string(type.group) }
        details["kind"] = .string(type.plural)
        if let uid { details["uid"] = .string(uid) }
        return [
            "kind": "Status", "apiVersion": "v1", "metadata": .object(JSONObject()), "status": "Success",
            "details": .object(details),
        ]
    }

    func deleteCollection(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        _ = try deleteOptions(c)
        let selector = try labelSelector(c)
        var deleted: [JSONValue] = []
        for (key, o) in (objects[c.type.groupResource] ?? [:]).sorted(by: { $0.key < $1.key }) {
            let ns = metadata(o)["namespace"]?.stringValue ?? ""
            if c.type.namespaced, ns != c.namespace { continue }
            if c.type == .namespaces { continue }
            guard selector.matches(labels(of: o)) else { continue }
            if !c.dryRun { objects[c.type.groupResource]?[key] = nil }
            deleted.append(.object(o))
        }
        return .json(
            200,
            [
                "kind": .string(c.type.kind + "List"), "apiVersion": .string(c.type.apiVersion),
                "metadata": ["resourceVersion": .string(String(resourceVersion))], "items": .array(deleted),
            ])
    }

    // MARK: - namespaces

    /// Removes a terminating namespace and everything in it.
    func finalize(namespace: String) -> Bool {
        guard let ns = stored(.namespaces, "", namespace), ns["metadata"]?["deletionTimestamp"] != nil else {
            return false
        }
        for type in ResourceType.all where type.namespaced {
            objects[type.groupResource] = objects[type.groupResource]?.filter { !$0.key.hasPrefix(namespace + "/") }
        }
        store(.namespaces, "", namespace, nil)
        resourceVersion += 1
        return true
    }

    func scheduleFinalization(_ namespace: String) {
        guard let delay = config.namespaceFinalizationDelay else { return }
        Task { [self] in
            try? await Task.sleep(for: delay)
            _ = withLock { finalize(namespace: namespace) }
        }
    }

    /// `PUT /api/v1/namespaces/{name}/finalize`: sets spec.finalizers; an empty list completes a deletion.
    func finalizeSubresource(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        guard var old = stored(.namespaces, "", c.name) else { throw .notFound(.namespaces, c.name) }
        let body = try parseObject(c)
        var spec = old["spec"]?.objectValue ?? JSONObject()
        spec["finalizers"] = body["spec"]?["finalizers"] ?? .array([])
        if (spec["finalizers"]?.arrayValue ?? []).isEmpty { spec["finalizers"] = nil }
        old["spec"] = spec.isEmpty ? nil : .object(spec)
        if c.dryRun { return .json(200, .object(layout(old, .namespaces))) }
        if old["metadata"]?["deletionTimestamp"] != nil, spec["finalizers"] == nil {
            store(.namespaces, "", c.name, old)
            _ = finalize(namespace: c.name)
            return .json(200, .object(layout(old, .namespaces)))
        }
        setMetadata(&old, "resourceVersion", .string(nextResourceVersion()))
        store(.namespaces, "", c.name, old)
        return .json(200, .object(layout(old, .namespaces)))
    }

    // MARK: - escalation

    /// RBAC escalation prevention for Roles, ClusterRoles and their bindings.
    func checkEscalation(_ c: RequestContext, _ object: JSONObject) throws(APIError) {
        guard !c.user.isSuperuser else { return }
        let name = metadata(object)["name"]?.stringValue ?? c.name
        let rbac = ResourceType.rbacGroup
        switch c.type.plural {
        case "roles", "clusterroles":
            let escalate = RequestAttributes(
                verb: "escalate", group: rbac, resource: c.type.plural, namespace: c.namespace, name: name)
            if authorize(c.user, escalate) { return }
            let atoms = Authorizer.atoms(of: object["rules"]?.arrayValue ?? [])
            let owner = rules(for: c.user)
            let missing = atoms.filter { !Authorizer.covers(owner, namespace: c.namespace, $0) }
            if !missing.isEmpty {
                throw .forbidden(c.type, name, Authorizer.escalationMessage(user: c.user, missing: missing))
            }
        case "rolebindings", "clusterrolebindings":
            let roleRef = object["roleRef"]
            let refKind = roleRef?["kind"]?.stringValue ?? ""
            let refName = roleRef?["name"]?.stringValue ?? ""
            let refType: ResourceType = refKind == "Role" ? .roles : .clusterRoles
            let bind = RequestAttributes(
                verb: "bind", group: rbac, resource: refType.plural, namespace: c.namespace, name: refName)
            if authorize(c.user, bind) { return }
            guard let role = stored(refType, refType.namespaced ? c.namespace : "", refName) else {
                throw .forbidden(c.type, name, "\(refType.groupResource) \(goQuote(refName)) not found")
            }
            let atoms = Authorizer.atoms(of: role["rules"]?.arrayValue ?? [])
            let owner = rules(for: c.user)
            let missing = atoms.filter { !Authorizer.covers(owner, namespace: c.namespace, $0) }
            if !missing.isEmpty {
                throw .forbidden(c.type, name, Authorizer.escalationMessage(user: c.user, missing: missing))
            }
        default:
            return
        }
    }

    // MARK: - SelfSubjectAccessReview

    func selfSubjectAccessReview(_ c: RequestContext) throws(APIError) -> HTTPResponseData {
        var object = try parseObject(c)
        let spec = object["spec"]?.objectValue ?? JSONObject()
        var allowed = false
        if let ra = spec["resourceAttributes"]?.objectValue {
            let a = RequestAttributes(
                verb: ra["verb"]?.stringValue ?? "", group: ra["group"]?.stringValue ?? "",
                resource: ra["resource"]?.stringValue ?? "", subresource: ra["subresource"]?.stringValue ?? "",
                namespace: ra["namespace"]?.stringValue ?? "", name: ra["name"]?.stringValue ?? "")
            allowed = authorize(c.user, a)
        } else if let nra = spec["nonResourceAttributes"]?.objectValue {
            let path = nra["path"]?.stringValue ?? ""
            let verb = nra["verb"]?.stringValue ?? ""
            allowed =
                c.user.isSuperuser || verb == "get"
                || rules(for: c.user).contains { r in
                    (r.verbs.contains("*") || r.verbs.contains(verb))
                        && r.nonResourceURLs.contains { $0 == "*" || $0 == path || ($0.hasSuffix("*") && path.hasPrefix(String($0.dropLast()))) }
                }
        } else {
            throw .invalid(
                c.type, "",
                [.invalidRaw("spec.resourceAttributes", "nil", "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
        }
        var meta = metadata(object)
        meta["creationTimestamp"] = .null
        object["metadata"] = .object(meta)
        var status = JSONObject()
        status["allowed"] = .bool(allowed)
        if allowed { status["reason"] = "allowed by kube-test-server permissions" }
        object["status"] = .object(status)
        return .json(201, .object(layout(object, c.type)))
    }
}
