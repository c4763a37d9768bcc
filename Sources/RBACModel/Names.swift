/// The three names of a person: hub username, RBAC subject, personal namespace.
public struct PersonNames: Hashable, Sendable, Codable {
    public var hubUsername: String
    public var subject: String
    public var namespace: String

    public init(hubUsername: String, subject: String, namespace: String) {
        self.hubUsername = hubUsername
        self.subject = subject
        self.namespace = namespace
    }
}

/// A name template could not be expanded, or produced an invalid name.
public struct NameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which name: `hub-username`, `subject`, `namespace`, `group-subject`.
    public var name: String
    public var template: String
    public var reason: String

    public init(name: String, template: String, reason: String) {
        self.name = name
        self.template = template
        self.reason = reason
    }

    public var description: String { "\(name) template \"\(template)\": \(reason)" }
}

/// Name computation from the templates in `NamingSettings`. A name depends only on the person's own
/// identifiers, never on who else exists; collisions are reported, not resolved by renaming.
public enum Names {
    /// KubeSpawner's per-field slug limit (`_slug_max_length`).
    public static let kubeSpawnerSlugMaxLength = 48

    static let hubUsernameFields: Set<String> = ["uid", "id"]
    static let subjectFields: Set<String> = ["uid", "id", "username"]
    /// Fields a per-user namespace template may use. The `*_user_server` fields are refused: a
    /// per-user namespace must not depend on a server name, and for long names KubeSpawner renders
    /// them with `multi_slug`, which the parity test showed we do not reproduce.
    static let kubeSpawnerFields: Set<String> = [
        "username", "safe_username", "unescaped_username", "escaped_username",
        "hubnamespace", "servername", "safe_servername", "escaped_servername",
        "unescaped_servername",
    ]

    /// All three names of a person.
    public static func names(for person: Person, naming: NamingSettings) throws(NameError) -> PersonNames {
        try NameComputer(naming).names(for: person)
    }

    /// The hub username: `hubUsernameTemplate` with `{uid}` and `{id}`, then lowercased as
    /// JupyterHub's `Authenticator.normalize_username` does (Python `str.lower()`).
    public static func hubUsername(for person: Person, naming: NamingSettings) throws(NameError) -> String {
        try NameComputer(naming).hubUsername(for: person)
    }

    /// The RBAC User subject: `subjectTemplate` with `{uid}`, `{username}` (hub username) and `{id}`.
    public static func subject(for person: Person, hubUsername: String, naming: NamingSettings) throws(NameError) -> String {
        try NameComputer(naming).subject(for: person, hubUsername: hubUsername)
    }

    /// The Group subject of a project binding (`groupSubjectTemplate` with `{group}`).
    public static func groupSubject(group: String, template: String) throws(NameError) -> String {
        let format = try PythonFormat(template, name: "group-subject", allowed: ["group"])
        let name = format.render { _ in group }
        if let problem = subjectProblem(name) {
            throw NameError(name: "group-subject", template: template, reason: "\"\(name)\" \(problem)")
        }
        return name
    }

    /// The personal namespace exactly as KubeSpawner 7.1.0 computes it for `user_namespace_template`
    /// with `slug_scheme = "safe"` (`KubeSpawner._expand_user_properties`, default server): fields
    /// `{username}`/`{safe_username}` = `safe_slug(name, 48)`, `{user_server}`/`{safe_user_server}` the
    /// same unless it is longer than 46 (then `multi_slug([name, ""])`),
    /// `{escaped_username}` = `escape_slug(name)`, `{unescaped_username}` = the raw hub username,
    /// `{hubnamespace}` = the hub's namespace (`default` becomes `user`), server-name fields empty;
    /// trailing `-` stripped unless the template itself ends with `-`. `{userid}` (the hub database id)
    /// cannot be known in advance and is rejected. The result must be an RFC 1123 label.
    public static func namespace(forHubUsername hubUsername: String, naming: NamingSettings) throws(NameError) -> String {
        try NameComputer(naming).namespace(forHubUsername: hubUsername)
    }

    /// `KubeSpawner._expand_user_properties(template)` for the default (unnamed) server, without
    /// validating the result.
    public static func expandKubeSpawnerTemplate(
        _ template: String, hubUsername: String, hubNamespace: String
    ) throws(NameError) -> String {
        let format = try PythonFormat(template, name: "namespace", allowed: kubeSpawnerFields)
        return renderKubeSpawner(format, hubUsername: hubUsername, hubNamespace: hubNamespace)
    }

    static func renderKubeSpawner(_ format: PythonFormat, hubUsername: String, hubNamespace: String) -> String {
        let hubNS = hubNamespace == "default" ? "user" : hubNamespace
        var safeUsername: String?
        var escapedUsername: String?
        var rendered = format.render { field in
            switch field {
            case "username", "safe_username", "user_server", "safe_user_server":
                if safeUsername == nil {
                    safeUsername = KubeSpawnerSlug.safeSlug(hubUsername, maxLength: kubeSpawnerSlugMaxLength)
                }
                // `{safe_username}--{servername}` must fit 48 even with an empty server name; when it
                // does not, KubeSpawner uses multi_slug([username, servername]).
                if field.hasSuffix("user_server"), safeUsername!.utf8.count + 2 > kubeSpawnerSlugMaxLength {
                    return KubeSpawnerSlug.multiSlug([hubUsername, ""], maxLength: kubeSpawnerSlugMaxLength)
                }
                return safeUsername!
            case "unescaped_username": return hubUsername
            case "escaped_username", "escaped_user_server":
                if escapedUsername == nil { escapedUsername = KubeSpawnerSlug.escapeSlug(hubUsername) }
                return field == "escaped_username" ? escapedUsername! : escapedUsername! + "--"
            case "hubnamespace": return hubNS
            default: return ""  // server names: the default server has none
            }
        }
        if !format.template.hasSuffix("-") {
            while rendered.hasSuffix("-") { rendered.removeLast() }
        }
        return rendered
    }

    /// RFC 1123 label: 1–63 characters of `[a-z0-9-]`, starting and ending with `[a-z0-9]`.
    public static func isValidNamespaceName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) }
        guard alnum(bytes.first!), alnum(bytes.last!) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A Kubernetes RBAC object name (Role, RoleBinding): a path segment name — not empty, `.` or
    /// `..`, no `/` or `%`.
    public static func isValidRBACObjectName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("%")
    }

    /// Why a hub username is unusable, or nil. JupyterHub accepts almost any string, but the name
    /// travels in URL paths and must be non-empty and free of `/`, control characters and surrounding
    /// whitespace.
    public static func hubUsernameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.contains("/") { return "contains '/'" }
        if containsControlCharacters(name) { return "contains control characters" }
        if name.first!.isWhitespace || name.last!.isWhitespace { return "has leading or trailing whitespace" }
        return nil
    }

    /// Why an RBAC subject name is unusable, or nil.
    public static func subjectProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if containsControlCharacters(name) { return "contains control characters" }
        return nil
    }

    /// Unicode general category Cc anywhere in `text` (ASCII checked bytewise: C0 and DEL).
    static func containsControlCharacters(_ text: String) -> Bool {
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return true }
            if byte >= 0x80 { return text.unicodeScalars.contains { $0.properties.generalCategory == .control } }
        }
        return false
    }

    /// Checks the templates themselves (placeholders known, syntax valid), independent of any person.
    public static func validateTemplates(_ naming: NamingSettings, groupSubjectTemplate: String? = nil) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        func check(_ name: String, _ body: () throws -> Void) {
            do { try body() } catch {
                diagnostics.append(
                    Diagnostic(severity: .error, code: "invalid-name-template", subject: name, message: "\(error)"))
            }
        }
        check("hub-username") { _ = try PythonFormat(naming.hubUsernameTemplate, name: "hub-username", allowed: hubUsernameFields) }
        check("subject") { _ = try PythonFormat(naming.subjectTemplate, name: "subject", allowed: subjectFields) }
        check("namespace") { _ = try PythonFormat(naming.namespaceTemplate, name: "namespace", allowed: kubeSpawnerFields) }
        if let groupSubjectTemplate {
            check("group-subject") { _ = try PythonFormat(groupSubjectTemplate, name: "group-subject", allowed: ["group"]) }
        }
        return diagnostics
    }
}

/// Computes people's names with the templates parsed once (the planner names every person).
public struct NameComputer: Sendable {
    public let naming: NamingSettings
    let hubFormat: PythonFormat
    let subjectFormat: PythonFormat
    let namespaceFormat: PythonFormat

    /// - Throws: `NameError` when a template is malformed or uses unknown placeholders.
    public init(_ naming: NamingSettings) throws(NameError) {
        self.naming = naming
        hubFormat = try PythonFormat(naming.hubUsernameTemplate, name: "hub-username", allowed: Names.hubUsernameFields)
        subjectFormat = try PythonFormat(naming.subjectTemplate, name: "subject", allowed: Names.subjectFields)
        namespaceFormat = try PythonFormat(naming.namespaceTemplate, name: "namespace", allowed: Names.kubeSpawnerFields)
    }

    public func names(for person: Person) throws(NameError) -> PersonNames {
        let hub = try hubUsername(for: person)
        return PersonNames(
            hubUsername: hub, subject: try subject(for: person, hubUsername: hub),
            namespace: try namespace(forHubUsername: hub))
    }

    public func hubUsername(for person: Person) throws(NameError) -> String {
        var name = hubFormat.render { $0 == "uid" ? person.uid : person.id.rawValue }
        if naming.lowercaseHubUsername { name = PythonString.lower(name) }
        if let problem = Names.hubUsernameProblem(name) {
            throw NameError(name: "hub-username", template: hubFormat.template, reason: "\"\(name)\" \(problem)")
        }
        return name
    }

    /// True when the subject template needs the hub username.
    public var subjectUsesHubUsername: Bool { subjectFormat.uses("username") }

    public func subject(for person: Person, hubUsername: String) throws(NameError) -> String {
        let name = subjectFormat.render { field in
            switch field {
            case "uid": person.uid
            case "username": hubUsername
            default: person.id.rawValue
            }
        }
        if let problem = Names.subjectProblem(name) {
            throw NameError(name: "subject", template: subjectFormat.template, reason: "\"\(name)\" \(problem)")
        }
        return name
    }

    public func namespace(forHubUsername hubUsername: String) throws(NameError) -> String {
        let rendered = Names.renderKubeSpawner(namespaceFormat, hubUsername: hubUsername, hubNamespace: naming.hubNamespace)
        guard Names.isValidNamespaceName(rendered) else {
            throw NameError(
                name: "namespace", template: namespaceFormat.template,
                reason: "\"\(rendered)\" is not a valid namespace name (RFC 1123 label: at most 63 of [a-z0-9-], "
                    + "starting and ending with a letter or digit)")
        }
        return rendered
    }
}

/// The subset of Python's `str.format` that name templates use: `{field}` replacement and `{{`/`}}`
/// escapes. Conversions (`!r`), format specs (`:>10`), attribute or index access and positional
/// fields are rejected rather than misinterpreted.
struct PythonFormat: Hashable, Sendable {
    enum Segment: Hashable, Sendable {
        case literal(String)
        case field(String)
    }

    let template: String
    let segments: [Segment]

    /// Parses `template`; `allowed` lists the placeholders the caller can fill.
    init(_ template: String, name: String, allowed: Set<String>) throws(NameError) {
        self.template = template
        var segments: [Segment] = []
        var literal = ""
        var iterator = Array(template.unicodeScalars)[...]
        while let scalar = iterator.popFirst() {
            if scalar == "{" {
                if iterator.first == "{" {
                    iterator.removeFirst()
                    literal += "{"
                    continue
                }
                var field = ""
                var closed = false
                while let next = iterator.popFirst() {
                    if next == "}" { closed = true; break }
                    if next == "{" { break }
                    field.unicodeScalars.append(next)
                }
                guard closed else {
                    throw NameError(name: name, template: template, reason: "unmatched '{'")
                }
                if field.contains(where: { "!:.[".contains($0) }) {
                    throw NameError(
                        name: name, template: template,
                        reason: "field \"{\(field)}\" uses conversions, format specs or attribute access, which are not supported")
                }
                if field.isEmpty || field.allSatisfy(\.isNumber) {
                    throw NameError(name: name, template: template, reason: "positional fields are not supported")
                }
                if field == "userid" {
                    throw NameError(
                        name: name, template: template,
                        reason: "{userid} is JupyterHub's database id, which AccessSync cannot know in advance")
                }
                guard allowed.contains(field) else {
                    throw NameError(
                        name: name, template: template,
                        reason: "unknown placeholder {\(field)} (known: \(allowed.sorted().map { "{\($0)}" }.joined(separator: ", ")))")
                }
                if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
                segments.append(.field(field))
            } else if scalar == "}" {
                guard iterator.first == "}" else {
                    throw NameError(name: name, template: template, reason: "single '}' encountered")
                }
                iterator.removeFirst()
                literal += "}"
            } else {
                literal.unicodeScalars.append(scalar)
            }
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    /// Expands the parsed template; `lookup` must answer every allowed field.
    func render(_ lookup: (String) -> String) -> String {
        if segments.count == 1, case .field(let field) = segments[0] { return lookup(field) }
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let text): out += text
            case .field(let field): out += lookup(field)
            }
        }
        return out
    }

    func uses(_ field: String) -> Bool { segments.contains(.field(field)) }
}
