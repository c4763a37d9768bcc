import Foundation
import PolicyFiles
import RBACModel

extension Configuration {
    /// Reads and validates a configuration file.
    /// - Throws: `ConfigurationError` (exit status 78) naming file, line and key path of every problem.
    public static func load(path: String) throws(ConfigurationError) -> Configuration {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError([.init(file: path, line: nil, field: "", message: "configuration file does not exist")])
        }
        guard !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: path)
        else {
            throw ConfigurationError([.init(file: path, line: nil, field: "", message: "cannot read the configuration file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError([.init(file: path, line: nil, field: "", message: "not valid UTF-8")])
        }
        return try parse(text, file: path).applyingSecretOverrides()
    }

    /// Where commands look for the configuration without `--config` or `$ACCESSSYNC_CONFIG`.
    public static let defaultPath = "/etc/accesssync/accesssync.yaml"

    /// The configuration file a command uses: `explicit` (`--config`), else `$ACCESSSYNC_CONFIG`,
    /// else `defaultPath` when it exists; nil means built-in defaults.
    public static func resolvePath(explicit: String?, environment: [String: String]? = nil) -> String? {
        let environment = environment ?? ProcessInfo.processInfo.environment
        return explicit ?? environment["ACCESSSYNC_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
    }

    /// The configuration with the secret-file overrides from the environment applied:
    /// `ACCESSSYNC_LDAP_BIND_PASSWORD_FILE`, `ACCESSSYNC_POSTGRES_PASSWORD_FILE`,
    /// `ACCESSSYNC_HUB_TOKEN_FILE` (paths decided at deploy time; values are paths, never secrets).
    public func applyingSecretOverrides(environment: [String: String]? = nil) -> Configuration {
        let environment = environment ?? ProcessInfo.processInfo.environment
        var copy = self
        func path(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let file = path("ACCESSSYNC_LDAP_BIND_PASSWORD_FILE") { copy.ldap.bindPassword = .file(file) }
        if let file = path("ACCESSSYNC_POSTGRES_PASSWORD_FILE") { copy.postgres.password = .file(file) }
        if let file = path("ACCESSSYNC_HUB_TOKEN_FILE") { copy.hub.token = .file(file) }
        return copy
    }

    /// Parses configuration text.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> Configuration {
        let reader = YAMLReader(file: file)
        var configuration = Configuration()
        configuration.file = file
        let documents = reader.documents(text)
        if documents.count > 1 {
            documents[1].report("the configuration is one YAML document; remove the extra '---'")
        }
        if let root = documents.first, !root.isNull {
            var parser = ConfigurationParser(configuration: configuration)
            parser.read(root: root)
            configuration = parser.configuration
        }
        guard reader.errors.isEmpty else { throw ConfigurationError(reader.errors) }
        return configuration
    }
}

/// Reads the sections into a `Configuration`, reporting through the values' reader.
struct ConfigurationParser {
    var configuration: Configuration

    mutating func read(root: YAMLValue) {
        let sections = ["ldap", "postgres", "kubernetes", "hub", "naming", "safety", "sync"]
        guard let map = root.mapping(allowedKeys: sections, nullMeansAbsent: true) else { return }
        if let value = map["ldap"] { readLDAP(value) }
        if let value = map["postgres"] { readPostgres(value) }
        if let value = map["kubernetes"] { readKubernetes(value) }
        if let value = map["hub"] { readHub(value) }
        if let value = map["naming"] { readNaming(value) }
        if let value = map["safety"] { readSafety(value) }
        if let value = map["sync"] { readSync(value) }
    }

    // MARK: Sections

    private mutating func readLDAP(_ value: YAMLValue) {
        let keys = [
            "uri", "baseDN", "bindDN", "bindPasswordFile", "bindPasswordEnv", "bindPassword", "password", "tls",
            "networkTimeoutSeconds", "operationTimeoutSeconds", "searchTimeLimitSeconds", "pageSize", "schema", "people",
            "groups", "disabled", "unresolvedMembers", "memberReadCheck", "writer",
        ]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var ldap = configuration.ldap
        if let v = map["uri"], let text = v.nonEmptyString() {
            if ["ldap://", "ldaps://", "ldapi://"].contains(where: { text.lowercased().hasPrefix($0) }) {
                ldap.uri = text
            } else {
                v.report("expected an ldap://, ldaps:// or ldapi:// URI")
            }
        }
        if let v = map["baseDN"] { ldap.baseDN = dn(v) }
        if let v = map["bindDN"] { ldap.bindDN = dn(v) }
        ldap.bindPassword = secret(map, file: "bindPasswordFile", env: "bindPasswordEnv", literals: ["bindPassword", "password"])
        if let v = map["tls"], let tls = v.mapping(allowedKeys: ["startTLS", "caFile", "certificateFile", "keyFile", "verify"], nullMeansAbsent: true) {
            if let flag = tls["startTLS"]?.bool() { ldap.tls.startTLS = flag }
            if let path = tls["caFile"]?.nonEmptyString() { ldap.tls.caFile = path }
            if let path = tls["certificateFile"]?.nonEmptyString() { ldap.tls.certificateFile = path }
            if let path = tls["keyFile"]?.nonEmptyString() { ldap.tls.keyFile = path }
            if let flag = tls["verify"]?.bool() { ldap.tls.verify = flag }
            if (ldap.tls.certificateFile == nil) != (ldap.tls.keyFile == nil), tls["certificateFile"] != nil || tls["keyFile"] != nil {
                v.report("set both certificateFile and keyFile for a client certificate")
            }
        }
        if let n = positive(map["networkTimeoutSeconds"]) { ldap.networkTimeoutSeconds = n }
        if let n = positive(map["operationTimeoutSeconds"]) { ldap.operationTimeoutSeconds = n }
        if let n = positive(map["searchTimeLimitSeconds"]) { ldap.searchTimeLimitSeconds = n }
        if let n = positive(map["pageSize"]) { ldap.pageSize = n }
        if let v = map["schema"], let schema: Configuration.LDAP.Schema = choice(v) { ldap.schema = schema }
        if let v = map["people"], let search = search(v, defaults: ldap.people) { ldap.people = search }
        if let v = map["groups"], let search = search(v, defaults: ldap.groups) { ldap.groups = search }
        if let v = map["disabled"],
            let d = v.mapping(allowedKeys: ["attributesPresent", "attributeEquals", "shadowExpire", "filter", "activeDirectory"], nullMeansAbsent: true)
        {
            if let list = d["attributesPresent"]?.stringList() { ldap.disabled.attributesPresent = list }
            if let entries = d["attributeEquals"]?.entries() {
                var pairs: [String: String] = [:]
                for (key, pairValue) in entries { if let text = pairValue.scalarText() { pairs[key] = text } }
                ldap.disabled.attributeEquals = pairs
            }
            if let flag = d["shadowExpire"]?.bool() { ldap.disabled.shadowExpire = flag }
            if let filterValue = d["filter"], let filter = filter(filterValue) { ldap.disabled.filter = filter }
            if let flag = d["activeDirectory"]?.bool() { ldap.disabled.activeDirectory = flag }
        }
        if let v = map["unresolvedMembers"], let text = v.string() {
            switch text {
            case "tolerate": ldap.failOnUnresolvedMembers = false
            case "fail": ldap.failOnUnresolvedMembers = true
            default: v.report("expected tolerate or fail")
            }
        }
        if let v = map["memberReadCheck"],
            let m = v.mapping(allowedKeys: ["schemaRequired", "compareProbe", "rejectAllGroupsEmpty", "canaryGroups"], nullMeansAbsent: true)
        {
            if let flag = m["schemaRequired"]?.bool() { ldap.memberReadCheck.schemaRequired = flag }
            if let flag = m["compareProbe"]?.bool() { ldap.memberReadCheck.compareProbe = flag }
            if let flag = m["rejectAllGroupsEmpty"]?.bool() { ldap.memberReadCheck.rejectAllGroupsEmpty = flag }
            if let list = m["canaryGroups"]?.stringList() { ldap.memberReadCheck.canaryGroups = list }
        }
        if let v = map["writer"], let w = v.mapping(allowedKeys: ["bindDN", "bindPasswordFile", "bindPasswordEnv", "removeUser"], nullMeansAbsent: true) {
            if let dnValue = w["bindDN"] { ldap.writer.bindDN = dn(dnValue) }
            ldap.writer.bindPassword = secret(w, file: "bindPasswordFile", env: "bindPasswordEnv", literals: [])
            if let choiceValue = w["removeUser"], let mode: Configuration.LDAP.Writer.RemoveUser = choice(choiceValue) {
                ldap.writer.removeUser = mode
            }
            if ldap.writer.bindDN != nil, ldap.writer.bindPassword == nil {
                v.report("writer.bindDN needs writer.bindPasswordFile or writer.bindPasswordEnv")
            }
        }
        configuration.ldap = ldap
    }

    private mutating func readPostgres(_ value: YAMLValue) {
        let keys = [
            "host", "port", "database", "user", "passwordFile", "passwordEnv", "password", "sslMode", "sslRootCert",
            "connectTimeoutSeconds", "applicationName", "url", "conninfo",
        ]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var postgres = configuration.postgres
        for key in ["url", "conninfo"] where map[key] != nil {
            map[key]!.report("connection strings can carry passwords; use host, port, database, user and passwordFile/passwordEnv")
        }
        if let text = map["host"]?.nonEmptyString() { postgres.host = text }
        if let v = map["port"], let port = v.int() {
            if (1...65_535).contains(port) { postgres.port = port } else { v.report("port must be 1–65535") }
        }
        if let text = map["database"]?.nonEmptyString() { postgres.database = text }
        if let text = map["user"]?.nonEmptyString() { postgres.user = text }
        postgres.password = secret(map, file: "passwordFile", env: "passwordEnv", literals: ["password"])
        if let v = map["sslMode"], let text = v.string() {
            if Configuration.Postgres.sslModes.contains(text) {
                postgres.sslMode = text
            } else {
                v.report("unknown sslMode '\(text)'; expected \(Configuration.Postgres.sslModes.joined(separator: ", "))")
            }
        }
        if let text = map["sslRootCert"]?.nonEmptyString() { postgres.sslRootCert = text }
        if let n = positive(map["connectTimeoutSeconds"]) { postgres.connectTimeoutSeconds = n }
        if let text = map["applicationName"]?.nonEmptyString() { postgres.applicationName = text }
        configuration.postgres = postgres
    }

    private mutating func readKubernetes(_ value: YAMLValue) {
        let keys = [
            "mode", "kubeconfig", "context", "renderDirectory", "fieldManager", "concurrency", "requestsPerSecond", "burst",
            "hubServiceAccount",
            "hubServiceAccountRole", "notebookServiceAccount", "projectSubjects", "networkPolicy", "hubPodLabels",
            "proxyPodLabels", "token", "tokenFile",
        ]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var kube = configuration.kubernetes
        for key in ["token", "tokenFile"] where map[key] != nil {
            map[key]!.report("cluster credentials come from the kubeconfig or the in-cluster ServiceAccount, not from this file")
        }
        if let v = map["mode"], let mode: Configuration.Kubernetes.Mode = choice(v) { kube.mode = mode }
        if let text = map["kubeconfig"]?.nonEmptyString() { kube.kubeconfig = text }
        if let text = map["context"]?.nonEmptyString() { kube.context = text }
        if let text = map["renderDirectory"]?.nonEmptyString() { kube.renderDirectory = text }
        if kube.mode == .render, kube.renderDirectory == nil {
            (map["mode"] ?? value).report("mode render needs renderDirectory")
        }
        if let text = map["fieldManager"]?.nonEmptyString() { kube.fieldManager = text }
        if let n = positive(map["concurrency"]) { kube.concurrency = n }
        if let v = map["requestsPerSecond"], let rate = v.double() {
            if rate < 0 {
                v.report("must not be negative (0 means no limit)")
            } else {
                kube.requestsPerSecond = rate == 0 ? nil : rate
            }
        }
        if let n = positive(map["burst"]) { kube.burst = n }
        if let v = map["hubServiceAccount"], let name = label(v) { kube.hubServiceAccount = name }
        if let v = map["hubServiceAccountRole"], let role = v.mapping(allowedKeys: ["clusterRole", "role"], nullMeansAbsent: true) {
            switch role.exactlyOne(of: ["clusterRole", "role"]) {
            case "clusterRole":
                if let name = role["clusterRole"]!.nonEmptyString() { kube.hubServiceAccountRole = RoleRef(kind: .clusterRole, name: name) }
            case "role":
                if let name = role["role"]!.nonEmptyString() { kube.hubServiceAccountRole = RoleRef(kind: .role, name: name) }
            default:
                break
            }
        }
        if let v = map["notebookServiceAccount"], let name = label(v) { kube.notebookServiceAccount = name }
        if let v = map["projectSubjects"], let mode: Configuration.Kubernetes.ProjectSubjects = choice(v) {
            kube.projectSubjects = mode
        }
        if let flag = map["networkPolicy"]?.bool() { kube.networkPolicy = flag }
        if let v = map["hubPodLabels"], let labels = labels(v) { kube.hubPodLabels = labels }
        if let v = map["proxyPodLabels"], let labels = labels(v) { kube.proxyPodLabels = labels }
        configuration.kubernetes = kube
    }

    private mutating func readHub(_ value: YAMLValue) {
        let keys = ["url", "tokenFile", "tokenEnv", "token", "caFile", "verifyTLS", "syncGroups", "managesGroups", "requestTimeoutSeconds"]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var hub = configuration.hub
        if let v = map["url"], let text = v.nonEmptyString() {
            if let url = URL(string: text), url.user != nil || url.password != nil {
                v.report("the hub URL must not carry a user or password; put the token in tokenFile or tokenEnv")
            } else if let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil {
                hub.url = text
            } else {
                v.report("expected an http:// or https:// URL of the hub API, e.g. http://hub:8081/hub/api")
            }
        }
        hub.token = secret(map, file: "tokenFile", env: "tokenEnv", literals: ["token"])
        if let text = map["caFile"]?.nonEmptyString() { hub.caFile = text }
        if let flag = map["verifyTLS"]?.bool() { hub.verifyTLS = flag }
        if let flag = map["syncGroups"]?.bool() { hub.syncGroups = flag }
        if let flag = map["managesGroups"]?.bool() { hub.managesGroups = flag }
        if let n = positive(map["requestTimeoutSeconds"]) { hub.requestTimeoutSeconds = n }
        configuration.hub = hub
    }

    private mutating func readNaming(_ value: YAMLValue) {
        let keys = ["hubUsername", "lowercaseHubUsername", "subject", "namespace", "hubNamespace", "groupSubject"]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var naming = configuration.naming
        if let text = map["hubUsername"]?.nonEmptyString() { naming.hubUsernameTemplate = text }
        if let flag = map["lowercaseHubUsername"]?.bool() { naming.lowercaseHubUsername = flag }
        if let text = map["subject"]?.nonEmptyString() { naming.subjectTemplate = text }
        if let text = map["namespace"]?.nonEmptyString() { naming.namespaceTemplate = text }
        if let v = map["hubNamespace"], let name = label(v) { naming.hubNamespace = name }
        if let text = map["groupSubject"]?.nonEmptyString() { configuration.groupSubjectTemplate = text }
        // The model's own template checks (the placeholders KubeSpawner and the planner know).
        let keyForName = ["hub-username": "hubUsername", "subject": "subject", "namespace": "namespace", "group-subject": "groupSubject"]
        for diagnostic in Names.validateTemplates(naming, groupSubjectTemplate: configuration.groupSubjectTemplate)
        where diagnostic.severity == .error {
            let at = keyForName[diagnostic.subject].flatMap { map[$0] } ?? value
            at.report(diagnostic.message)
        }
        configuration.naming = naming
    }

    private mutating func readSafety(_ value: YAMLValue) {
        let keys = [
            "maxPeopleLosingAccess", "maxPeopleLosingAccessPercent", "maxDeletionsPerKind", "maxDeletionsPercent",
            "maxDirectoryShrinkPercent", "maxNewPrivilegedBindings", "protectedNamespaces", "retirementGracePeriod",
            "maxNamespaceDeletionsPerRun", "stopRunningPodsOnRetirement", "onRename",
        ]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var safety = configuration.safety
        if let n = nonNegative(map["maxPeopleLosingAccess"]) { safety.thresholds.maxPeopleLosingAccess = n }
        if let p = percent(map["maxPeopleLosingAccessPercent"]) { safety.thresholds.maxPeopleLosingAccessPercent = p }
        if let n = nonNegative(map["maxDeletionsPerKind"]) { safety.thresholds.maxDeletionsPerKind = n }
        if let p = percent(map["maxDeletionsPercent"]) { safety.thresholds.maxDeletionsPercent = p }
        if let p = percent(map["maxDirectoryShrinkPercent"]) { safety.thresholds.maxDirectoryShrinkPercent = p }
        if let n = nonNegative(map["maxNewPrivilegedBindings"]) { safety.thresholds.maxNewPrivilegedBindings = n }
        if let list = map["protectedNamespaces"]?.list() {
            safety.protectedNamespaces = list.compactMap { label($0) }
        }
        if let v = map["retirementGracePeriod"], let text = v.scalarText() {
            if let seconds = ConfigurationParser.duration(text) {
                safety.retirementGracePeriod = seconds
            } else {
                v.report("invalid duration '\(text)'; write a number with s, m, h or d, e.g. 30d")
            }
        }
        if let n = nonNegative(map["maxNamespaceDeletionsPerRun"]) { safety.maxNamespaceDeletionsPerRun = n }
        if let v = map["stopRunningPodsOnRetirement"], let flag = v.bool() {
            if flag {
                v.report(
                    "not supported yet: a retired namespace stops new pods (quota pods: 0) and the leaver's notebook "
                        + "server is stopped through the hub before the hub user is deleted; other running pods stay "
                        + "until the namespace is deleted after the grace period")
            }
            safety.stopRunningPodsOnRetirement = false
        }
        if let v = map["onRename"], let text = v.scalarText() {
            if let handling = RenameHandling(rawValue: text) {
                safety.onRename = handling
            } else {
                v.report(
                    "unknown value '\(text)'; use one of "
                        + RenameHandling.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        configuration.safety = safety
    }

    private mutating func readSync(_ value: YAMLValue) {
        let keys = [
            "instance", "policySource", "policyDirectory", "waitForLock", "lockTimeoutSeconds", "logFormat", "logLevel",
            "metricsFile", "pushgatewayURL",
        ]
        guard let map = value.mapping(allowedKeys: keys, nullMeansAbsent: true) else { return }
        var sync = configuration.sync
        if let v = map["instance"], let text = v.string() {
            // The instance is a label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends.
            let allowed = text.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
            }
            if !text.isEmpty, text.count <= 63, allowed, text.first!.isLetter || text.first!.isNumber,
                text.last!.isLetter || text.last!.isNumber
            {
                sync.instance = text
            } else {
                v.report("invalid instance '\(text)': it is a label value (≤ 63 characters: letters, digits, '.', '_', '-')")
            }
        }
        if let v = map["policySource"], let source: Configuration.Sync.PolicySource = choice(v) { sync.policySource = source }
        if let text = map["policyDirectory"]?.nonEmptyString() { sync.policyDirectory = text }
        if let flag = map["waitForLock"]?.bool() { sync.waitForLock = flag }
        if let n = nonNegative(map["lockTimeoutSeconds"]) { sync.lockTimeoutSeconds = n }
        if let v = map["logFormat"], let format: Configuration.Sync.LogFormat = choice(v) { sync.logFormat = format }
        if let v = map["logLevel"], let text = v.string() {
            if Configuration.Sync.logLevels.contains(text) {
                sync.logLevel = text
            } else {
                v.report("unknown logLevel '\(text)'; expected \(Configuration.Sync.logLevels.joined(separator: ", "))")
            }
        }
        if let text = map["metricsFile"]?.nonEmptyString() { sync.metricsFile = text }
        if let v = map["pushgatewayURL"], let text = v.nonEmptyString() {
            if let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil {
                sync.pushgatewayURL = text
            } else {
                v.report("pushgatewayURL must be an http(s) URL such as http://pushgateway:9091, not '\(text)'")
            }
        }
        configuration.sync = sync
    }

    // MARK: Values

    private func secret(_ map: YAMLMapping, file: String, env: String, literals: [String]) -> Configuration.SecretSource? {
        for key in literals where map[key] != nil {
            map[key]!.report("secrets may not be written in the configuration; use \(file) (a file path) or \(env) (an environment variable name)")
        }
        guard map[file] != nil || map[env] != nil else { return nil }
        guard map[file] == nil || map[env] == nil else {
            map.value.report("set only one of '\(file)' or '\(env)'")
            return nil
        }
        if let value = map[file], let path = value.nonEmptyString() { return .file(path) }
        if let value = map[env], let name = value.nonEmptyString() {
            let valid = name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
                && !(name.first!.isNumber)
            guard valid else {
                value.report("'\(name)' is not an environment variable name")
                return nil
            }
            return .environment(name)
        }
        return nil
    }

    private func choice<T: RawRepresentable & CaseIterable>(_ value: YAMLValue) -> T? where T.RawValue == String {
        guard let text = value.string() else { return nil }
        guard let result = T(rawValue: text) else {
            value.report("unknown value '\(text)'; expected \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return result
    }

    private func search(_ value: YAMLValue, defaults: Configuration.LDAP.Search) -> Configuration.LDAP.Search? {
        guard let map = value.mapping(allowedKeys: ["base", "scope", "filter"], nullMeansAbsent: true) else { return nil }
        var search = defaults
        if let v = map["base"] { search.base = dn(v) }
        if let v = map["scope"], let scope: Configuration.LDAP.Scope = choice(v) { search.scope = scope }
        if let v = map["filter"] { search.filter = filter(v) }
        return search
    }

    private func dn(_ value: YAMLValue) -> String? {
        guard let text = value.nonEmptyString() else { return nil }
        do {
            _ = try DistinguishedName(text)
            return text
        } catch {
            value.report("invalid DN '\(text)': \(error.reason)")
            return nil
        }
    }

    private func filter(_ value: YAMLValue) -> String? {
        guard let text = value.nonEmptyString() else { return nil }
        var depth = 0
        var balanced = text.hasPrefix("(") && text.hasSuffix(")")
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if depth < 0 { balanced = false }
        }
        guard balanced, depth == 0 else {
            value.report("invalid LDAP filter '\(text)': it must be parenthesised, e.g. (objectClass=inetOrgPerson)")
            return nil
        }
        return text
    }

    private func label(_ value: YAMLValue) -> String? {
        guard let text = value.string() else { return nil }
        if let problem = KubernetesNames.dns1123LabelProblem(text) {
            value.report("invalid name '\(text)': \(problem)")
            return nil
        }
        return text
    }

    private func labels(_ value: YAMLValue) -> [String: String]? {
        guard let entries = value.entries() else { return nil }
        var result: [String: String] = [:]
        for (key, labelValue) in entries {
            if let problem = KubernetesNames.qualifiedNameProblem(key) {
                labelValue.report("invalid label key '\(key)': \(problem)")
                continue
            }
            if let text = labelValue.scalarText() { result[key] = text }
        }
        if result.isEmpty { value.report("needs at least one label") }
        return result.isEmpty ? nil : result
    }

    private func positive(_ value: YAMLValue?) -> Int? {
        guard let value, let number = value.int() else { return nil }
        guard number > 0 else {
            value.report("must be greater than zero")
            return nil
        }
        return number
    }

    private func nonNegative(_ value: YAMLValue?) -> Int? {
        guard let value, let number = value.int() else { return nil }
        guard number >= 0 else {
            value.report("must not be negative")
            return nil
        }
        return number
    }

    private func percent(_ value: YAMLValue?) -> Double? {
        guard let value, let number = value.double() else { return nil }
        guard (0...100).contains(number) else {
            value.report("must be a percentage between 0 and 100")
            return nil
        }
        return number
    }

    /// `30d`, `12h`, `90m`, `45s`, or a plain number of seconds.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 { return seconds }
        guard let unit = text.last, let factor = units[unit], let amount = Double(text.dropLast()), amount.isFinite, amount >= 0 else {
            return nil
        }
        return amount * factor
    }
}
