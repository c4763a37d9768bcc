public import Foundation
public import LDAPBridge
import RBACModel

extension Configuration {
    /// The state of a configured secret, checked without revealing it.
    public enum SecretStatus: Hashable, Sendable {
        case available
        case missing(String)
    }

    /// Whether a secret can be read (the value itself is discarded at once).
    public static func status(
        of secret: SecretSource, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> SecretStatus {
        do {
            _ = try secret.read(environment: environment)
            return .available
        } catch {
            return .missing(error.message)
        }
    }

    /// Every configured secret with the key path it is configured at.
    public var secrets: [(path: String, source: SecretSource)] {
        var result: [(String, SecretSource)] = []
        if let source = ldap.bindPassword { result.append(("ldap.bindPassword", source)) }
        if let source = ldap.writer.bindPassword { result.append(("ldap.writer.bindPassword", source)) }
        if let source = postgres.password { result.append(("postgres.password", source)) }
        if let source = hub.token { result.append(("hub.token", source)) }
        return result
    }

    /// The effective configuration (defaults filled in) as YAML that `parse` reads back to an equal
    /// value. Secrets appear only as their source (file path or variable name), followed by a
    /// comment saying whether they can be read — never their content.
    public func effectiveYAML(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        var out = YAMLLines()
        func secret(_ key: String, _ source: SecretSource?, fileKey: String, envKey: String, indent: Int) {
            guard let source else {
                out.line(indent, "\(fileKey): null")
                return
            }
            let status: String
            switch Configuration.status(of: source, environment: environment) {
            case .available: status = "# readable (content not shown)"
            case .missing(let reason): status = "# NOT READABLE: \(reason)"
            }
            switch source {
            case .file(let path): out.line(indent, "\(fileKey): \(quote(path))  \(status)")
            case .environment(let name): out.line(indent, "\(envKey): \(quote(name))  \(status)")
            }
        }
        out.comment("effective configuration\(file.map { " from \($0)" } ?? " (defaults)")")
        out.line(0, "ldap:")
        out.line(1, "uri: \(quote(ldap.uri))")
        out.line(1, "baseDN: \(quote(ldap.baseDN))")
        out.line(1, "bindDN: \(quote(ldap.bindDN))")
        secret("bindPassword", ldap.bindPassword, fileKey: "bindPasswordFile", envKey: "bindPasswordEnv", indent: 1)
        out.line(1, "tls:")
        out.line(2, "startTLS: \(ldap.tls.startTLS)")
        out.line(2, "caFile: \(quote(ldap.tls.caFile))")
        out.line(2, "certificateFile: \(quote(ldap.tls.certificateFile))")
        out.line(2, "keyFile: \(quote(ldap.tls.keyFile))")
        out.line(2, "verify: \(ldap.tls.verify)")
        out.line(1, "networkTimeoutSeconds: \(ldap.networkTimeoutSeconds)")
        out.line(1, "operationTimeoutSeconds: \(ldap.operationTimeoutSeconds)")
        out.line(1, "searchTimeLimitSeconds: \(ldap.searchTimeLimitSeconds.map(String.init) ?? "null")")
        out.line(1, "pageSize: \(ldap.pageSize)")
        out.line(1, "schema: \(ldap.schema.rawValue)")
        for (key, search) in [("people", ldap.people), ("groups", ldap.groups)] {
            out.line(1, "\(key):")
            out.line(2, "base: \(quote(search.base))  # resolved: \(ldap.resolvedBase(search) ?? "(libldap default base)")")
            out.line(2, "scope: \(search.scope.rawValue)")
            out.line(2, "filter: \(quote(search.filter))")
        }
        if ldap.disabled.isDefault {
            out.line(1, "disabled: {}  # the schema's default test")
        } else {
            out.line(1, "disabled:")
            if let list = ldap.disabled.attributesPresent { out.line(2, "attributesPresent: \(flow(list))") }
            if let pairs = ldap.disabled.attributeEquals {
                out.line(2, "attributeEquals: {\(pairs.sorted { $0.key < $1.key }.map { "\(quote($0.key)): \(quote($0.value))" }.joined(separator: ", "))}")
            }
            if let flag = ldap.disabled.shadowExpire { out.line(2, "shadowExpire: \(flag)") }
            if let filter = ldap.disabled.filter { out.line(2, "filter: \(quote(filter))") }
            if let flag = ldap.disabled.activeDirectory { out.line(2, "activeDirectory: \(flag)") }
        }
        out.line(1, "unresolvedMembers: \(ldap.failOnUnresolvedMembers ? "fail" : "tolerate")")
        out.line(1, "memberReadCheck:")
        out.line(2, "schemaRequired: \(ldap.memberReadCheck.schemaRequired)")
        out.line(2, "compareProbe: \(ldap.memberReadCheck.compareProbe)")
        out.line(2, "rejectAllGroupsEmpty: \(ldap.memberReadCheck.rejectAllGroupsEmpty)")
        out.line(2, "canaryGroups: \(flow(ldap.memberReadCheck.canaryGroups))")
        out.line(1, "writer:")
        out.line(2, "bindDN: \(quote(ldap.writer.bindDN))")
        secret(
            "bindPassword", ldap.writer.bindPassword, fileKey: "bindPasswordFile", envKey: "bindPasswordEnv", indent: 2)
        out.line(2, "removeUser: \(ldap.writer.removeUser.rawValue)")

        out.line(0, "postgres:")
        out.line(1, "host: \(quote(postgres.host))")
        out.line(1, "port: \(postgres.port.map(String.init) ?? "null")")
        out.line(1, "database: \(quote(postgres.database))")
        out.line(1, "user: \(quote(postgres.user))")
        secret("password", postgres.password, fileKey: "passwordFile", envKey: "passwordEnv", indent: 1)
        out.line(1, "sslMode: \(quote(postgres.sslMode))")
        out.line(1, "sslRootCert: \(quote(postgres.sslRootCert))")
        out.line(1, "connectTimeoutSeconds: \(postgres.connectTimeoutSeconds)")
        out.line(1, "applicationName: \(quote(postgres.applicationName))")

        out.line(0, "kubernetes:")
        out.line(1, "mode: \(kubernetes.mode.rawValue)")
        out.line(1, "kubeconfig: \(quote(kubernetes.kubeconfig))")
        out.line(1, "context: \(quote(kubernetes.context))")
        out.line(1, "renderDirectory: \(quote(kubernetes.renderDirectory))")
        out.line(1, "fieldManager: \(quote(kubernetes.fieldManager))")
        out.line(1, "concurrency: \(kubernetes.concurrency)")
        out.line(1, "requestsPerSecond: \(kubernetes.requestsPerSecond.map(number) ?? "0")")
        out.line(1, "burst: \(kubernetes.burst)")
        out.line(1, "hubServiceAccount: \(quote(kubernetes.hubServiceAccount))")
        let roleKey = kubernetes.hubServiceAccountRole.kind == .clusterRole ? "clusterRole" : "role"
        out.line(1, "hubServiceAccountRole: {\(roleKey): \(quote(kubernetes.hubServiceAccountRole.name))}")
        out.line(1, "notebookServiceAccount: \(quote(kubernetes.notebookServiceAccount))")
        out.line(1, "projectSubjects: \(kubernetes.projectSubjects.rawValue)")
        out.line(1, "networkPolicy: \(kubernetes.networkPolicy)")
        out.line(1, "hubPodLabels: \(flow(kubernetes.hubPodLabels))")
        out.line(1, "proxyPodLabels: \(flow(kubernetes.proxyPodLabels))")

        out.line(0, "hub:")
        out.line(1, "url: \(quote(hub.url))")
        secret("token", hub.token, fileKey: "tokenFile", envKey: "tokenEnv", indent: 1)
        out.line(1, "caFile: \(quote(hub.caFile))")
        out.line(1, "verifyTLS: \(hub.verifyTLS)")
        out.line(1, "syncGroups: \(hub.syncGroups)")
        out.line(1, "managesGroups: \(hub.managesGroups)")
        out.line(1, "requestTimeoutSeconds: \(hub.requestTimeoutSeconds)")

        out.line(0, "naming:")
        out.line(1, "hubUsername: \(quote(naming.hubUsernameTemplate))")
        out.line(1, "lowercaseHubUsername: \(naming.lowercaseHubUsername)")
        out.line(1, "subject: \(quote(naming.subjectTemplate))")
        out.line(1, "namespace: \(quote(naming.namespaceTemplate))")
        out.line(1, "hubNamespace: \(quote(naming.hubNamespace))")
        out.line(1, "groupSubject: \(quote(groupSubjectTemplate))")

        out.line(0, "safety:")
        let t = safety.thresholds
        out.line(1, "maxPeopleLosingAccess: \(t.maxPeopleLosingAccess)")
        out.line(1, "maxPeopleLosingAccessPercent: \(number(t.maxPeopleLosingAccessPercent))")
        out.line(1, "maxDeletionsPerKind: \(t.maxDeletionsPerKind)")
        out.line(1, "maxDeletionsPercent: \(number(t.maxDeletionsPercent))")
        out.line(1, "maxDirectoryShrinkPercent: \(number(t.maxDirectoryShrinkPercent))")
        out.line(1, "maxNewPrivilegedBindings: \(t.maxNewPrivilegedBindings)")
        out.line(
            1,
            "protectedNamespaces: \(flow(safety.protectedNamespaces))  # always also: "
                + Safety.builtInProtectedNamespaces.joined(separator: ", "))
        out.line(1, "retirementGracePeriod: \(quote(Self.durationText(safety.retirementGracePeriod)))")
        out.line(1, "maxNamespaceDeletionsPerRun: \(safety.maxNamespaceDeletionsPerRun)")
        out.line(1, "stopRunningPodsOnRetirement: \(safety.stopRunningPodsOnRetirement)")
        out.line(1, "onRename: \(safety.onRename.rawValue)")

        out.line(0, "sync:")
        out.line(1, "instance: \(quote(sync.instance))")
        out.line(1, "policySource: \(sync.policySource.rawValue)")
        out.line(1, "policyDirectory: \(quote(sync.policyDirectory))")
        out.line(1, "waitForLock: \(sync.waitForLock)")
        out.line(1, "lockTimeoutSeconds: \(sync.lockTimeoutSeconds)")
        out.line(1, "logFormat: \(sync.logFormat.rawValue)")
        out.line(1, "logLevel: \(sync.logLevel)")
        out.line(1, "metricsFile: \(quote(sync.metricsFile))")
        out.line(1, "pushgatewayURL: \(quote(sync.pushgatewayURL))")
        return out.text
    }

    /// `30d`, `12h`, `90m` or seconds, whichever is exact.
    static func durationText(_ seconds: TimeInterval) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3600), ("m", 60)] where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(seconds / size))\(unit)"
        }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }

    // MARK: LDIF mapping for `render`

    /// How `render` maps LDIF entries: the configured schema and people/group bases.
    public var ldifMapping: LDIFDirectoryMapping {
        let style: LDIFDirectoryMapping.Style
        switch ldap.schema {
        case .rfc2307: style = .rfc2307
        case .rfc2307bis: style = .rfc2307bis
        case .activeDirectory: style = .activeDirectory
        }
        // Without a baseDN relative bases cannot be resolved; then every entry counts.
        let peopleBase = ldap.baseDN == nil && ldap.people.base.map(isRelative) == true ? nil : ldap.resolvedBase(ldap.people)
        let groupsBase = ldap.baseDN == nil && ldap.groups.base.map(isRelative) == true ? nil : ldap.resolvedBase(ldap.groups)
        return .preset(style, peopleBase: peopleBase, groupsBase: groupsBase)
    }

    private func isRelative(_ base: String) -> Bool {
        // A base naming a domain component or organisation is taken as absolute.
        let dn = (try? DistinguishedName(base))?.rdns ?? []
        return !dn.contains { $0.contains { $0.type == "dc" || $0.type == "o" } }
    }
}

/// A tiny deterministic YAML writer for `effectiveYAML`.
private struct YAMLLines {
    var text = ""
    mutating func line(_ indent: Int, _ content: String) {
        text += String(repeating: "  ", count: indent) + content + "\n"
    }
    mutating func comment(_ content: String) {
        text += "# " + content + "\n"
    }
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML), or `null`.
private func quote(_ value: String?) -> String {
    guard let value else { return "null" }
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

private func flow(_ values: [String]) -> String {
    "[" + values.map { quote($0) }.joined(separator: ", ") + "]"
}

private func flow(_ values: [String: String]) -> String {
    "{" + values.sorted { $0.key < $1.key }.map { "\(quote($0.key)): \(quote($0.value))" }.joined(separator: ", ") + "}"
}

private func number(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
}
