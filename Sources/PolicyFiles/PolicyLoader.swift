import Foundation
public import RBACModel

/// A policy read from YAML files, with the files it came from.
public struct LoadedPolicy: Hashable, Sendable {
    public var policy: Policy
    /// Files read, as relative paths (the `path` of every row's `PolicySource.file`), sorted.
    public var files: [String]

    public init(policy: Policy, files: [String]) {
        self.policy = policy
        self.files = files
    }
}

/// One policy file's text, for loading without the file system.
public struct PolicyFileText: Hashable, Sendable {
    /// Path recorded in each row's `PolicySource.file` (relative to the policy directory).
    public var sourcePath: String
    /// Path used in error messages (e.g. `policies/tiers.yaml`).
    public var displayPath: String
    public var text: String

    public init(sourcePath: String, displayPath: String? = nil, text: String) {
        self.sourcePath = sourcePath
        self.displayPath = displayPath ?? sourcePath
        self.text = text
    }
}

/// Loads and validates the policy YAML (`policies/`); the schema is documented in `policies/README.md`.
///
/// Every file holds one or more YAML documents; each document is a mapping with any of the
/// sections `tiers`, `roleTemplates`, `grants`, `overrides` (lists, concatenated across files) and
/// `defaults` (at most once in the whole policy), plus an optional `apiVersion: accesssync.io/v1`.
/// Loading is strict: unknown keys, wrong types, bad names, quantities and timestamps, unknown
/// references, duplicates and forbidden role rules are errors naming file, line and field. All
/// errors are collected and thrown together.
public enum PolicyLoader {
    public static let apiVersion = "accesssync.io/v1"
    static let sections = ["apiVersion", "tiers", "roleTemplates", "grants", "overrides", "defaults"]

    /// Loads every `*.yaml` / `*.yml` file below `directory` (recursively, in path order; hidden
    /// files and directories are skipped).
    /// - Throws: `YAMLFileErrors` with every problem found.
    public static func load(directory: String) throws(YAMLFileErrors) -> LoadedPolicy {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw YAMLFileErrors([.init(file: directory, line: nil, field: "", message: "policy directory does not exist")])
        }
        guard isDirectory.boolValue else {
            throw YAMLFileErrors([.init(file: directory, line: nil, field: "", message: "not a directory; pass the policy directory")])
        }
        let base = URL(fileURLWithPath: directory)
        guard let enumerator = manager.enumerator(atPath: directory) else {
            throw YAMLFileErrors([.init(file: directory, line: nil, field: "", message: "cannot list the policy directory")])
        }
        var relativePaths: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            var isDir: ObjCBool = false
            if manager.fileExists(atPath: base.appendingPathComponent(relative).path, isDirectory: &isDir), !isDir.boolValue {
                relativePaths.append(relative)
            }
        }
        relativePaths.sort()
        guard !relativePaths.isEmpty else {
            throw YAMLFileErrors([.init(file: directory, line: nil, field: "", message: "no policy files (*.yaml, *.yml) in the directory")])
        }
        var files: [PolicyFileText] = []
        var errors: [YAMLFileError] = []
        for relative in relativePaths {
            let display = directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
            do {
                let data = try Data(contentsOf: base.appendingPathComponent(relative))
                guard let text = String(data: data, encoding: .utf8) else {
                    errors.append(.init(file: display, line: nil, field: "", message: "not valid UTF-8"))
                    continue
                }
                files.append(PolicyFileText(sourcePath: relative, displayPath: display, text: text))
            } catch {
                errors.append(.init(file: display, line: nil, field: "", message: "cannot read: \(error.localizedDescription)"))
            }
        }
        if !errors.isEmpty { throw YAMLFileErrors(errors) }
        return try load(files: files)
    }

    /// Loads policy files given as text.
    /// - Throws: `YAMLFileErrors` with every problem found.
    public static func load(files: [PolicyFileText]) throws(YAMLFileErrors) -> LoadedPolicy {
        var builder = PolicyBuilder()
        var readers: [YAMLReader] = []
        for file in files.sorted(by: { $0.sourcePath < $1.sourcePath }) {
            let reader = YAMLReader(file: file.displayPath)
            readers.append(reader)
            for document in reader.documents(file.text) where !document.isNull {
                builder.read(document: document, sourcePath: file.sourcePath)
            }
        }
        builder.crossCheck()
        let errors = readers.flatMap(\.errors)
        if !errors.isEmpty { throw YAMLFileErrors(errors) }
        return LoadedPolicy(policy: builder.policy(), files: files.map(\.sourcePath).sorted())
    }
}

/// Rows as read, with the values to point at when cross-file checks fail.
struct PolicyBuilder {
    struct Located<Row> {
        var row: Row
        var at: YAMLValue
        var location: String { "\(at.reader.file):\(at.line.map(String.init) ?? "?")" }
    }
    struct Reference {
        enum Kind: String { case tier, roleTemplate = "role template" }
        var kind: Kind
        var name: String
        var at: YAMLValue
    }
    struct ProjectUse {
        var namespace: String
        var tier: String?
        var at: YAMLValue
    }

    var tiers: [Located<Tier>] = []
    var templates: [Located<RoleTemplate>] = []
    var grants: [Located<Grant>] = []
    var overrides: [Located<Override>] = []
    var defaults: [Located<(tier: String?, personalRoleTemplate: String?)>] = []
    var references: [Reference] = []
    var projectUses: [ProjectUse] = []

    func policy() -> Policy {
        Policy(
            tiers: tiers.map(\.row), roleTemplates: templates.map(\.row), grants: grants.map(\.row),
            overrides: overrides.map(\.row), defaultTier: defaults.first?.row.tier,
            personalRoleTemplate: defaults.first?.row.personalRoleTemplate
        )
    }

    // MARK: Documents

    mutating func read(document: YAMLValue, sourcePath: String) {
        guard let root = document.mapping(allowedKeys: PolicyLoader.sections) else { return }
        if let version = root["apiVersion"], let text = version.string(), text != PolicyLoader.apiVersion {
            version.report("unsupported apiVersion '\(text)'; expected '\(PolicyLoader.apiVersion)'")
        }
        func source(_ value: YAMLValue) -> PolicySource { .file(path: sourcePath, line: value.line) }
        for item in root["tiers"]?.list() ?? [] {
            if let tier = readTier(item, source: source(item)) { tiers.append(.init(row: tier, at: item)) }
        }
        for item in root["roleTemplates"]?.list() ?? [] {
            if let template = readTemplate(item, source: source(item)) { templates.append(.init(row: template, at: item)) }
        }
        for item in root["grants"]?.list() ?? [] {
            if let grant = readGrant(item, source: source(item)) { grants.append(.init(row: grant, at: item)) }
        }
        for item in root["overrides"]?.list() ?? [] {
            if let override = readOverride(item, source: source(item)) { overrides.append(.init(row: override, at: item)) }
        }
        if let value = root["defaults"], let map = value.mapping(allowedKeys: ["tier", "personalRoleTemplate"]) {
            let tier = map["tier"].flatMap { reference(.tier, $0) }
            let personal = map["personalRoleTemplate"].flatMap { reference(.roleTemplate, $0) }
            defaults.append(.init(row: (tier, personal), at: value))
        }
    }

    // MARK: Tiers

    private mutating func readTier(_ item: YAMLValue, source: PolicySource) -> Tier? {
        guard
            let map = item.mapping(allowedKeys: ["name", "description", "rank", "podSecurity", "quota", "limitRange"])
        else { return nil }
        let name = map.required("name").flatMap(labelName)
        _ = map["description"]?.string()
        var rank: Int?
        if let value = map.required("rank"), let number = value.int() {
            if number < 0 { value.report("rank must not be negative") } else { rank = number }
        }
        var podSecurity = PodSecurityLevel.baseline
        if let value = map["podSecurity"], let text = value.string() {
            if let level = PodSecurityLevel(rawValue: text) {
                podSecurity = level
            } else {
                value.report("unknown Pod Security level '\(text)'; expected privileged, baseline or restricted")
            }
        }
        var quota: [String: Quantity]?
        if let value = map.required("quota") {
            quota = resourceQuantities(value, allowEmpty: false)
        }
        var limitRange: [LimitRangeItem] = []
        var limitRangeOK = true
        if let value = map["limitRange"], let items = value.list() {
            var seenTypes: Set<LimitRangeItem.ItemType> = []
            for element in items {
                guard let limit = readLimitRangeItem(element) else {
                    limitRangeOK = false
                    continue
                }
                if !seenTypes.insert(limit.type).inserted {
                    element.report("a second \(limit.type.rawValue) item; use one item per type")
                    limitRangeOK = false
                }
                limitRange.append(limit)
            }
        }
        guard let name, let rank, let quota, limitRangeOK else { return nil }
        return Tier(name: name, rank: rank, quota: quota, limitRange: limitRange, podSecurity: podSecurity, source: source)
    }

    private func readLimitRangeItem(_ item: YAMLValue) -> LimitRangeItem? {
        let keys = ["type", "max", "min", "default", "defaultRequest", "maxLimitRequestRatio"]
        guard let map = item.mapping(allowedKeys: keys) else { return nil }
        var type: LimitRangeItem.ItemType?
        if let value = map.required("type"), let text = value.string() {
            type = LimitRangeItem.ItemType(rawValue: text)
            if type == nil { value.report("unknown limit type '\(text)'; expected Container, Pod or PersistentVolumeClaim") }
        }
        var failed = false
        func quantities(_ key: String) -> [String: Quantity] {
            guard let value = map[key] else { return [:] }
            guard let result = resourceQuantities(value, allowEmpty: true) else {
                failed = true
                return [:]
            }
            return result
        }
        let max = quantities("max")
        let min = quantities("min")
        let defaultLimit = quantities("default")
        let defaultRequest = quantities("defaultRequest")
        let ratio = quantities("maxLimitRequestRatio")
        guard let type, !failed else { return nil }
        // The API server's ValidateLimitRange, so that a bad tier fails here and not at apply time.
        if type == .pod {
            for key in ["default", "defaultRequest"] where map[key] != nil {
                map[key]!.report("may not be set when type is Pod")
                failed = true
            }
        }
        if type == .persistentVolumeClaim, min["storage"] == nil, max["storage"] == nil {
            item.report("a PersistentVolumeClaim item needs min or max storage")
            failed = true
        }
        func check(_ lowerKey: String, _ lower: [String: Quantity], _ upperKey: String, _ upper: [String: Quantity]) {
            for (resource, low) in lower.sorted(by: { $0.key < $1.key }) {
                if let high = upper[resource], low > high {
                    (map[lowerKey] ?? item).report(
                        "\(lowerKey) \(resource) \(low) must be less than or equal to \(upperKey) \(resource) \(high)")
                    failed = true
                }
            }
        }
        check("min", min, "max", max)
        check("defaultRequest", defaultRequest, "max", max)
        check("default", defaultLimit, "max", max)
        check("min", min, "defaultRequest", defaultRequest)
        check("min", min, "default", defaultLimit)
        check("defaultRequest", defaultRequest, "default", defaultLimit)
        let one = Quantity(1)
        for (resource, value) in ratio.sorted(by: { $0.key < $1.key }) where value < one {
            map["maxLimitRequestRatio"]?.report("maxLimitRequestRatio \(resource) \(value) must be at least 1")
            failed = true
        }
        if failed { return nil }
        return LimitRangeItem(
            type: type, max: max, min: min, default: defaultLimit, defaultRequest: defaultRequest,
            maxLimitRequestRatio: ratio
        )
    }

    /// A mapping of resource names to non-negative quantities (`requests.cpu: "2"`).
    private func resourceQuantities(_ value: YAMLValue, allowEmpty: Bool) -> [String: Quantity]? {
        guard let entries = value.entries() else { return nil }
        if !allowEmpty, entries.isEmpty {
            value.report("must list at least one resource")
            return nil
        }
        var result: [String: Quantity] = [:]
        var failed = false
        for (resource, quantityValue) in entries {
            if let problem = KubernetesNames.qualifiedNameProblem(resource) {
                quantityValue.report("invalid resource name '\(resource)': \(problem)")
                failed = true
                continue
            }
            guard let text = quantityValue.scalarText() else {
                failed = true
                continue
            }
            do {
                let quantity = try Quantity(text)
                if quantity.isNegative {
                    quantityValue.report("quantity \(text) must not be negative")
                    failed = true
                }
                result[resource] = quantity
            } catch {
                quantityValue.report(error.description)
                failed = true
            }
        }
        return failed ? nil : result
    }

    // MARK: Role templates

    private mutating func readTemplate(_ item: YAMLValue, source: PolicySource) -> RoleTemplate? {
        guard
            let map = item.mapping(allowedKeys: ["name", "description", "rules", "clusterRole", "privileged"])
        else { return nil }
        let name = map.required("name").flatMap(labelName)
        _ = map["description"]?.string()
        var privileged = false
        if let value = map["privileged"] {
            guard let flag = value.bool() else { return nil }
            privileged = flag
        }
        var body: RoleTemplateBody?
        switch map.exactlyOne(of: ["rules", "clusterRole"]) {
        case "rules":
            guard let elements = map["rules"]!.list() else { break }
            if elements.isEmpty { map["rules"]!.report("must list at least one rule") }
            var rules: [PolicyRule] = []
            var failed = elements.isEmpty
            for element in elements {
                if let rule = readRule(element) { rules.append(rule) } else { failed = true }
            }
            if !failed { body = .rules(rules) }
        case "clusterRole":
            let value = map["clusterRole"]!
            guard let roleName = value.string() else { break }
            if let problem = KubernetesNames.pathSegmentProblem(roleName) {
                value.report("invalid ClusterRole name '\(roleName)': \(problem)")
            } else if RoleTemplateSafety.privilegedClusterRoles.contains(roleName), !privileged {
                value.report(
                    "ClusterRole '\(roleName)' is cluster-admin-like; referencing it needs 'privileged: true' "
                        + "(privileged bindings are counted by the guard)")
            } else {
                body = .clusterRole(roleName)
            }
        default:
            break
        }
        guard let name, let body else { return nil }
        return RoleTemplate(name: name, body: body, privileged: privileged, source: source)
    }

    private func readRule(_ item: YAMLValue) -> PolicyRule? {
        guard let map = item.mapping(allowedKeys: ["apiGroups", "resources", "verbs", "resourceNames"]) else {
            return nil
        }
        let apiGroups = map.required("apiGroups")?.stringList(allowEmpty: false)
        let resources = map.required("resources")?.stringList(allowEmpty: false)
        let verbs = map.required("verbs")?.stringList(allowEmpty: false)
        var resourceNames: [String] = []
        if let value = map["resourceNames"] {
            guard let names = value.stringList() else { return nil }
            resourceNames = names
        }
        guard let apiGroups, let resources, let verbs else { return nil }
        let rule = PolicyRule(apiGroups: apiGroups, resources: resources, verbs: verbs, resourceNames: resourceNames)
        let violations = RoleTemplateSafety.violations(of: rule)
        guard violations.isEmpty else {
            item.report("forbidden rule: " + violations.joined(separator: "; "))
            return nil
        }
        return rule
    }

    // MARK: Grants and overrides

    private mutating func readGrant(_ item: YAMLValue, source: PolicySource) -> Grant? {
        let keys = ["id", "description", "group", "hubAccess", "hubAdmin", "hubGroup", "tier", "project", "expires"]
        guard let map = item.mapping(allowedKeys: keys) else { return nil }
        var failed = false
        let id = map.required("id").flatMap(rowID)
        _ = map["description"]?.string()
        let group = map.required("group")?.nonEmptyString()
        func flag(_ key: String) -> Bool {
            guard let value = map[key] else { return false }
            guard let flag = value.bool() else {
                failed = true
                return false
            }
            return flag
        }
        let hubAccess = flag("hubAccess")
        let hubAdmin = flag("hubAdmin")
        let hubGroup = flag("hubGroup")
        let tier = map["tier"].flatMap { reference(.tier, $0) }
        var project: ProjectGrant?
        if let value = map["project"] {
            project = readProject(value)
            if project == nil { failed = true }
        }
        let expires = map["expires"].flatMap(timestamp)
        if map["expires"] != nil, expires == nil { failed = true }
        if !failed, id != nil, !hubAccess, !hubAdmin, !hubGroup, tier == nil, project == nil, map["tier"] == nil {
            item.report("grant gives nothing; set hubAccess, hubAdmin, hubGroup, tier or project")
            failed = true
        }
        guard let id, let group, !failed, map["tier"] == nil || tier != nil else { return nil }
        return Grant(
            id: id, group: group, hubAccess: hubAccess, hubAdmin: hubAdmin, hubGroup: hubGroup, tier: tier,
            project: project, expires: expires, source: source
        )
    }

    private mutating func readOverride(_ item: YAMLValue, source: PolicySource) -> Override? {
        let keys = [
            "id", "description", "uid", "personId", "tier", "hubAccess", "hubAdmin", "project", "suspended", "expires",
            "reason",
        ]
        guard let map = item.mapping(allowedKeys: keys) else { return nil }
        var failed = false
        let id = map.required("id").flatMap(rowID)
        _ = map["description"]?.string()
        var person: PersonSelector?
        switch map.exactlyOne(of: ["uid", "personId"]) {
        case "uid":
            person = map["uid"]!.nonEmptyString().map(PersonSelector.uid)
        case "personId":
            let value = map["personId"]!
            if let text = value.string() {
                if UUID(uuidString: text) != nil {
                    person = .id(PersonID(text))
                } else {
                    value.report("personId '\(text)' is not a UUID (entryUUID or objectGUID)")
                }
            }
        default:
            break
        }
        func optionalFlag(_ key: String) -> Bool? {
            guard let value = map[key] else { return nil }
            guard let flag = value.bool() else {
                failed = true
                return nil
            }
            return flag
        }
        let hubAccess = optionalFlag("hubAccess")
        let hubAdmin = optionalFlag("hubAdmin")
        let suspended = optionalFlag("suspended") ?? false
        let tier = map["tier"].flatMap { reference(.tier, $0) }
        if map["tier"] != nil, tier == nil { failed = true }
        var project: ProjectGrant?
        if let value = map["project"] {
            project = readProject(value)
            if project == nil { failed = true }
        }
        let expires = map["expires"].flatMap(timestamp)
        if map["expires"] != nil, expires == nil { failed = true }
        let reason = map["reason"]?.string()
        if !failed, id != nil, tier == nil, hubAccess == nil, hubAdmin == nil, project == nil, !suspended {
            item.report("override changes nothing; set tier, hubAccess, hubAdmin, project or suspended")
            failed = true
        }
        guard let id, let person, !failed else { return nil }
        return Override(
            id: id, person: person, tier: tier, hubAccess: hubAccess, hubAdmin: hubAdmin, project: project,
            suspended: suspended, expires: expires, reason: reason, source: source
        )
    }

    private mutating func readProject(_ value: YAMLValue) -> ProjectGrant? {
        guard let map = value.mapping(allowedKeys: ["namespace", "roleTemplates", "tier"]) else { return nil }
        var namespace: String?
        if let nsValue = map.required("namespace"), let text = nsValue.string() {
            if let problem = KubernetesNames.dns1123LabelProblem(text) {
                nsValue.report("invalid namespace name '\(text)': \(problem)")
            } else if text == "default" || text.hasPrefix("kube-") {
                nsValue.report("namespace '\(text)' is reserved by Kubernetes")
            } else {
                namespace = text
            }
        }
        var templates: [String]?
        if let list = map.required("roleTemplates")?.list() {
            if list.isEmpty { map["roleTemplates"]!.report("must list at least one role template") }
            let names = list.compactMap { reference(.roleTemplate, $0) }
            if names.count == list.count, !list.isEmpty {
                if Set(names).count != names.count { map["roleTemplates"]!.report("lists a role template twice") } else { templates = names }
            }
        }
        let tier = map["tier"].flatMap { reference(.tier, $0) }
        guard let namespace, let templates, map["tier"] == nil || tier != nil else { return nil }
        projectUses.append(ProjectUse(namespace: namespace, tier: tier, at: map["namespace"]!))
        return ProjectGrant(namespace: namespace, roleTemplates: templates, tier: tier)
    }

    // MARK: Scalars

    private func labelName(_ value: YAMLValue) -> String? {
        guard let text = value.string() else { return nil }
        if let problem = KubernetesNames.dns1123LabelProblem(text) {
            value.report("invalid name '\(text)': \(problem)")
            return nil
        }
        return text
    }

    /// Row ids: letters, digits, `.`, `_`, `-`, `/`, `:`; at most 128 characters.
    private func rowID(_ value: YAMLValue) -> String? {
        guard let text = value.nonEmptyString() else { return nil }
        let allowed = text.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-/:".unicodeScalars.contains($0))
        }
        guard allowed, text.count <= 128 else {
            value.report("invalid id '\(text)': use at most 128 letters, digits, '.', '_', '-', '/' or ':'")
            return nil
        }
        return text
    }

    private func timestamp(_ value: YAMLValue) -> Date? {
        guard let text = value.scalarText() else { return nil }
        guard let date = RFC3339.parse(text) else {
            value.report("invalid timestamp '\(text)': expected RFC 3339, e.g. 2025-12-31T23:59:59Z")
            return nil
        }
        return date
    }

    private mutating func reference(_ kind: Reference.Kind, _ value: YAMLValue) -> String? {
        guard let name = value.nonEmptyString() else { return nil }
        references.append(Reference(kind: kind, name: name, at: value))
        return name
    }

    // MARK: Cross-file checks

    mutating func crossCheck() {
        func duplicates<Row>(_ rows: [Located<Row>], _ what: String, key: (Row) -> String) {
            var first: [String: Located<Row>] = [:]
            for row in rows {
                let name = key(row.row)
                if let earlier = first[name] {
                    row.at.report("duplicate \(what) '\(name)' (first defined at \(earlier.location))")
                } else {
                    first[name] = row
                }
            }
        }
        duplicates(tiers, "tier", key: \.name)
        duplicates(templates, "role template", key: \.name)
        duplicates(grants, "grant id", key: \.id)
        duplicates(overrides, "override id", key: \.id)
        duplicates(tiers, "tier rank", key: { String($0.rank) })
        for extra in defaults.dropFirst() {
            extra.at.report("a second 'defaults' section (first at \(defaults[0].location)); keep one")
        }
        let tierNames = Set(tiers.map(\.row.name))
        let templateNames = Set(templates.map(\.row.name))
        for reference in references {
            let known = reference.kind == .tier ? tierNames : templateNames
            guard !known.contains(reference.name) else { continue }
            let list = known.isEmpty ? "none are defined" : "defined: " + known.sorted().joined(separator: ", ")
            reference.at.report("unknown \(reference.kind.rawValue) '\(reference.name)' (\(list))")
        }
        var projectTiers: [String: ProjectUse] = [:]
        for use in projectUses where use.tier != nil {
            if let earlier = projectTiers[use.namespace], earlier.tier != use.tier {
                use.at.report(
                    "project namespace '\(use.namespace)' has tier '\(use.tier!)' here but '\(earlier.tier!)' at "
                        + "\(earlier.at.reader.file):\(earlier.at.line.map(String.init) ?? "?")")
            } else {
                projectTiers[use.namespace] = use
            }
        }
    }
}
