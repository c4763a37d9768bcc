import Foundation

/// One item of the hub configuration check (`accesssync doctor`).
public struct HubCheck: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// Verified through the API and as required.
        case ok
        /// Verified and not as recommended; sync can run but something is weaker than it should be.
        case warning
        /// Verified and wrong: sync would fail or revocation would not hold.
        case failed
        /// Cannot be seen through the hub API: the operator must check the hub's configuration.
        case manual
    }

    /// Stable identifier (`hub.version`, `hub.token.scopes`, `hub.config.allow_existing_users`...).
    public var id: String
    public var status: Status
    /// What was found (or, for `manual`, what must be true and why).
    public var detail: String
    /// What to change, when something must change.
    public var remedy: String?

    public init(id: String, status: Status, detail: String, remedy: String? = nil) {
        self.id = id
        self.status = status
        self.detail = detail
        self.remedy = remedy
    }
}

extension HubTarget {
    /// Scopes the token needs, unfiltered, for what AccessSync does (as `GET /user` lists them,
    /// expanded). Group scopes only matter when group sync is on.
    public static let requiredUserScopes = [
        "list:users", "read:users", "read:servers", "admin:users", "delete:users", "delete:servers",
    ]
    public static let requiredGroupScopes = ["list:groups", "read:groups", "admin:groups", "groups", "delete:groups"]

    /// Checks the hub through its API and lists, as `manual` items, the settings the API cannot
    /// reveal but revocation depends on.
    ///
    /// Never throws: an unreachable hub or a refused token is reported as a failed check.
    /// - Parameter usernameTemplate: AccessSync's hub username template, quoted in the checklist.
    /// - Parameter namespaceTemplate: AccessSync's namespace template, compared by the operator with
    ///   KubeSpawner's `user_namespace_template`.
    public func checkConfiguration(
        usernameTemplate: String = "{uid}", namespaceTemplate: String = "{hubnamespace}-{username}"
    ) async -> [HubCheck] {
        var checks: [HubCheck] = []

        // Version (unauthenticated).
        var version: (major: Int, minor: Int)?
        do {
            let text = try await client.version()
            let parts = text.split(separator: ".").map { Int($0.prefix(while: \.isNumber)) ?? 0 }
            version = (parts.first ?? 0, parts.count > 1 ? parts[1] : 0)
            let old = (version?.major ?? 0) < 5
            checks.append(
                HubCheck(
                    id: "hub.version", status: old ? .warning : .ok,
                    detail: "JupyterHub \(text) answers at \(client.configuration.apiURL.absoluteString)",
                    remedy: old
                        ? "Before 5.0 an empty allowed_users list admits every authenticated user; upgrade, or make sure the authenticator admits only existing users."
                        : nil))
        } catch {
            checks.append(
                HubCheck(
                    id: "hub.version", status: .failed, detail: "the hub API cannot be reached: \(error)",
                    remedy: "Check the hub URL, the CA file and that the hub is running."))
            return checks + Self.manualChecks(usernameTemplate: usernameTemplate, namespaceTemplate: namespaceTemplate)
        }

        // Token identity, admin flag and scopes.
        do {
            let identity = try await client.tokenIdentity()
            checks.append(
                HubCheck(
                    id: "hub.token", status: .ok,
                    detail: "the token belongs to \(identity.kind) \(identity.name) (roles: \(identity.roles.sorted().joined(separator: ", ")))"
                ))
            let isAdmin = identity.admin ?? identity.roles.contains("admin")
            checks.append(
                isAdmin
                    ? HubCheck(id: "hub.token.admin", status: .ok, detail: "\(identity.name) is a hub admin")
                    : HubCheck(
                        id: "hub.token.admin", status: .failed,
                        detail: "\(identity.name) is not a hub admin: the hub refuses to grant admin (403 \"Only admins can grant admin permissions\") and to change admins",
                        remedy: "Declare the service with \"admin\": True in JupyterHub.services."))
            let scopes = Set(identity.scopes)
            let required = Self.requiredUserScopes + (options.syncGroups ? Self.requiredGroupScopes : [])
            let missing = required.filter { !scopes.contains($0) }
            checks.append(
                missing.isEmpty
                    ? HubCheck(
                        id: "hub.token.scopes", status: .ok,
                        detail: "the token holds every scope AccessSync uses (\(required.joined(separator: ", ")))")
                    : HubCheck(
                        id: "hub.token.scopes", status: .failed,
                        detail: "the token lacks \(missing.joined(separator: ", ")) (filtered scopes such as list:users!group=x do not count)",
                        remedy: "Give the AccessSync service the admin role, or a role with these scopes."))
        } catch {
            checks.append(
                HubCheck(
                    id: "hub.token", status: .failed, detail: "GET /user failed: \(error)",
                    remedy: "Check the token file and that the hub declares the AccessSync service with this token."))
        }

        // Authenticator and spawner classes (read:hub), for the operator's checklist.
        if let info = try? await client.info() {
            checks.append(
                HubCheck(
                    id: "hub.info", status: .ok,
                    detail: "authenticator \(info.authenticator), spawner \(info.spawner)"))
        }

        // Authenticator-managed groups.
        if options.syncGroups {
            let detectable = version.map { $0.major < 5 || ($0.major == 5 && $0.minor < 3) } ?? false
            do {
                if options.hubManagesGroups {
                    checks.append(
                        HubCheck(
                            id: "hub.groups.managed", status: .failed,
                            detail: "AccessSync's configuration says the hub's authenticator manages groups, and group sync is on",
                            remedy: "Turn off hub group sync, or Authenticator.manage_groups on the hub."))
                } else if try await client.groupAPIDisabledByAuthenticator() {
                    checks.append(
                        HubCheck(
                            id: "hub.groups.managed", status: .failed,
                            detail: "the hub answers \"\(Self.managedGroupsMessage)\": its authenticator manages groups",
                            remedy: "Turn off hub group sync, or Authenticator.manage_groups on the hub."))
                } else if detectable {
                    checks.append(
                        HubCheck(id: "hub.groups.managed", status: .ok, detail: "the hub accepts group membership changes"))
                } else {
                    checks.append(
                        HubCheck(
                            id: "hub.groups.managed", status: .manual,
                            detail: "JupyterHub 5.3 and later accept group API calls even with Authenticator.manage_groups = True "
                                + "(the authenticator then overwrites memberships at each login), so the API cannot tell. "
                                + "manage_groups must be False while AccessSync syncs groups.",
                            remedy: "If the hub sets manage_groups, declare it in AccessSync's hub configuration (sync then refuses) or turn off group sync."))
                }
            } catch {
                checks.append(HubCheck(id: "hub.groups.managed", status: .failed, detail: "probe failed: \(error)"))
            }
        }
        return checks + Self.manualChecks(usernameTemplate: usernameTemplate, namespaceTemplate: namespaceTemplate)
    }

    /// What the API cannot show but revocation depends on: the operator's checklist.
    public static func manualChecks(usernameTemplate: String, namespaceTemplate: String) -> [HubCheck] {
        [
            HubCheck(
                id: "hub.config.allow_existing_users", status: .manual,
                detail: "Authenticator.allow_existing_users = True: the hub admits users that exist in its database, "
                    + "so deleting a user through the API revokes access.",
                remedy: "c.Authenticator.allow_existing_users = True"),
            HubCheck(
                id: "hub.config.allow_all", status: .manual,
                detail: "Authenticator.allow_all must be False (the default since JupyterHub 5): with it, anyone who "
                    + "authenticates is (re)created at login and a deleted user simply logs in again.",
                remedy: "remove c.Authenticator.allow_all"),
            HubCheck(
                id: "hub.config.allowed_groups", status: .manual,
                detail: "No allowed_groups (or authenticator-specific group allow lists): membership of an allowed "
                    + "group re-admits and re-creates a deleted user at login.",
                remedy: "remove c.Authenticator.allowed_groups / c.<Authenticator>.allowed_groups"),
            HubCheck(
                id: "hub.config.allowed_users", status: .manual,
                detail: "No allowed_users and no admin_users lists: names listed there are admitted (or made admin) "
                    + "again whatever AccessSync deletes or revokes; config lists never revoke.",
                remedy: "empty c.Authenticator.allowed_users and c.Authenticator.admin_users"),
            HubCheck(
                id: "hub.config.delete_pvc", status: .manual,
                detail: "KubeSpawner.delete_pvc = False: deleting a hub user deletes its spawner, and KubeSpawner "
                    + "then deletes the user's home volume unless this is False (it defaults to True).",
                remedy: "c.KubeSpawner.delete_pvc = False"),
            HubCheck(
                id: "hub.config.user_namespaces", status: .manual,
                detail: "KubeSpawner.enable_user_namespaces = True and KubeSpawner.user_namespace_template must "
                    + "expand to AccessSync's namespace name (\(namespaceTemplate)); otherwise KubeSpawner creates "
                    + "its own unowned namespace.",
                remedy: "c.KubeSpawner.enable_user_namespaces = True; c.KubeSpawner.user_namespace_template = "
                    + "\"\(namespaceTemplate)\""),
            HubCheck(
                id: "hub.config.usernames", status: .manual,
                detail: "AccessSync's hub username template (\(usernameTemplate), lowercased) must produce exactly "
                    + "the name the authenticator produces at login (after normalize_username / username_map).",
                remedy: nil),
            HubCheck(
                id: "hub.config.load_groups", status: .manual,
                detail: "When AccessSync syncs groups, JupyterHub.load_groups must not define the same groups "
                    + "(the hub would re-add members at each start) and Authenticator.manage_groups must be False.",
                remedy: nil),
        ]
    }
}

/// `GET /info`: the hub's version and the classes it runs.
public struct HubInfo: Sendable, Hashable, Decodable {
    public struct ClassInfo: Sendable, Hashable, Decodable, CustomStringConvertible {
        public var `class`: String
        public var version: String?
        public var description: String { "\(`class`) \(version ?? "")".trimmingCharacters(in: .whitespaces) }
    }

    public var version: String
    public var authenticator: ClassInfo
    public var spawner: ClassInfo
}

extension HubClient {
    /// `GET /info` (needs `read:hub`): version and authenticator / spawner classes.
    public func info() async throws(HubError) -> HubInfo {
        try await requestJSON(.GET, "/info")
    }
}
