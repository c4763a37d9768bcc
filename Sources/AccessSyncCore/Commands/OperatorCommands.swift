public import Foundation
import LDAPBridge
public import Logging
import PolicyStore
public import RBACModel

/// What an operator command changed. `changes` is empty when everything was already as asked.
public struct OperatorOutcome: Sendable {
    /// One line per change made, e.g. `added cn=…`, `added to group data-science`.
    public var changes: [String]
    /// Lines about things left as they were (an existing person's differing mail, ...).
    public var notes: [String]
    /// The summary line printed last.
    public var message: String
    /// The person's directory identifier (add-user, remove-user).
    public var personID: PersonID?
    /// The sync run that followed (`--sync`), if any.
    public var sync: SyncCommand.Result?

    public var changed: Bool { !changes.isEmpty }
}

/// `accesssync add-user`, `remove-user`, `grant` and `revoke`: every one takes the writer lock (the
/// run lock a sync takes), so none of them runs while a sync is applying, and audits what it did with
/// the actor (OS user and database role).
public enum OperatorCommands {
    // MARK: Requests

    public struct AddUser: Sendable, Hashable {
        public var uid: String
        /// Full name: the last word becomes `sn`, the rest `givenName`; `cn`/`displayName` are the whole.
        public var name: String
        public var mail: String
        public var groups: [String]
        public var tier: String?
        public var hubAdmin: Bool
        /// Expiry of the overrides recorded for `tier` / `hubAdmin`.
        public var expires: Date?

        public init(
            uid: String, name: String, mail: String, groups: [String] = [], tier: String? = nil, hubAdmin: Bool = false,
            expires: Date? = nil
        ) {
            self.uid = uid
            self.name = name
            self.mail = mail
            self.groups = groups
            self.tier = tier
            self.hubAdmin = hubAdmin
            self.expires = expires
        }

        /// The id of the override row `add-user` records for this person.
        public var overrideID: String { "add-user/\(uid)" }
    }

    public enum RemoveMode: String, Sendable, Hashable, CaseIterable {
        case disable, removeMemberships
    }

    public struct GrantRequest: Sendable, Hashable {
        /// nil: `cli/<group>` (add `--id` to give one group several grants).
        public var id: String?
        public var group: String
        public var hubAccess: Bool
        public var hubAdmin: Bool
        public var hubGroup: Bool
        public var tier: String?
        public var projectNamespace: String?
        public var roleTemplates: [String]
        public var projectTier: String?
        public var expires: Date?

        public init(
            id: String? = nil, group: String, hubAccess: Bool = false, hubAdmin: Bool = false, hubGroup: Bool = false,
            tier: String? = nil, projectNamespace: String? = nil, roleTemplates: [String] = [], projectTier: String? = nil,
            expires: Date? = nil
        ) {
            self.id = id
            self.group = group
            self.hubAccess = hubAccess
            self.hubAdmin = hubAdmin
            self.hubGroup = hubGroup
            self.tier = tier
            self.projectNamespace = projectNamespace
            self.roleTemplates = roleTemplates
            self.projectTier = projectTier
            self.expires = expires
        }

        public var grantID: String { id ?? "cli/\(group)" }
    }

    // MARK: add-user

    /// Creates the person (if missing), adds the memberships (those missing), records the override
    /// (if it differs) and audits each change. Nothing is written when any argument is invalid.
    ///
    /// - Parameter sync: after releasing the lock, sync just this person: the whole directory and
    ///   policy are read and planned, only the changes concerning them are applied (the others are
    ///   counted and left for the next full sync).
    public static func addUser(
        _ request: AddUser, configuration: Configuration, actor: String? = nil, now: Date = Date(), sync: Bool = false,
        logger: Logger
    ) async throws(CommandFailure) -> OperatorOutcome {
        let actor = actor ?? ProcessIdentity.osUser
        try validateAddUser(request, now: now)
        let needsOverride = request.tier != nil || request.hubAdmin
        if needsOverride, configuration.sync.policySource == .files {
            throw CommandFailure(
                .configuration,
                "--tier and --hub-admin record overrides in PostgreSQL, but sync.policySource is files: "
                    + "add the override to \(configuration.sync.policyDirectory)/overrides.yaml instead")
        }
        var outcome = try await withWriterLock(configuration) { (connection) async throws(CommandFailure) -> OperatorOutcome in
            if let tier = request.tier {
                let policy = try await loadPolicy(connection)
                try requireTier(tier, in: policy)
            }
            let ldap = try await connectWriter(configuration, logger: logger)
            defer { Task { await ldap.connection.close() } }
            var changes: [String] = []
            var notes: [String] = []
            let audit = OperatorAudit(log: AuditLog(connection: connection, osUser: actor))
            return try await ldapCall {
                for group in request.groups where try await ldap.findGroup(name: group) == nil {
                    throw CommandFailure(.usage, "unknown group '\(group)': no group with that name under \(groupsBase(configuration))")
                }
                let person: Person
                if let existing = try await ldap.findPerson(uid: request.uid) {
                    person = existing
                    if let mail = existing.mail, mail.lowercased() != request.mail.lowercased() {
                        notes.append("\(request.uid) exists with mail \(mail); the directory entry was not changed")
                    }
                    if existing.disabled {
                        notes.append("\(request.uid) exists but is disabled in the directory; it gets no access until re-enabled")
                    }
                } else {
                    let parts = request.name.split(separator: " ").map(String.init)
                    let intent = AuditEntry(
                        action: "ldap.add-person", objectKind: "Person", objectName: request.uid,
                        after: .object(["name": .string(request.name), "mail": .string(request.mail)]),
                        outcome: .intent, message: "accesssync add-user")
                    person = try await audit.write(intent) {
                        try await ldap.addPerson(
                            DirectoryWriter.NewPerson(
                                uid: request.uid, surname: parts.last ?? request.name,
                                givenName: parts.count > 1 ? parts.dropLast().joined(separator: " ") : nil,
                                commonName: request.name, displayName: request.name, mail: request.mail))
                    } outcome: { person in
                        (
                            .succeeded,
                            .object([
                                "dn": .string(person.dn.original), "entryUUID": .string(person.id.rawValue),
                                "uidNumber": person.uidNumber.map { .number(String($0)) } ?? .null,
                                "name": .string(request.name), "mail": .string(request.mail),
                            ])
                        )
                    }
                    changes.append("added \(person.dn.original) (uidNumber \(person.uidNumber.map(String.init) ?? "?"))")
                }
                let current = Set(try await groups(of: person, ldap: ldap, configuration: configuration))
                for group in request.groups where !current.contains(group) {
                    let intent = AuditEntry(
                        action: "ldap.add-member", objectKind: "GroupMember", objectName: "\(group)/\(request.uid)",
                        after: .object(["group": .string(group), "member": .string(person.dn.original)]),
                        outcome: .intent, message: "accesssync add-user")
                    let added = try await audit.write(intent) {
                        try await ldap.addMember(uid: request.uid, toGroup: group)
                    } outcome: { added in
                        added ? (.succeeded, nil) : (.skipped, nil)
                    }
                    if added { changes.append("added to group \(group)") }
                }
                if needsOverride {
                    let override = Override(
                        id: request.overrideID, person: .id(person.id), tier: request.tier,
                        hubAdmin: request.hubAdmin ? true : nil, expires: request.expires,
                        reason: "accesssync add-user", source: .cli(actor: actor))
                    let change = try await policyCall {
                        try await PolicyRepository(connection: connection, osUser: actor).upsertOverride(override)
                    }
                    if let change { changes.append("\(change.action.rawValue)d override \(override.id)") }
                }
                let message =
                    changes.isEmpty
                    ? "\(request.uid) already exists with these groups and overrides; nothing changed"
                    : "\(request.uid): \(changes.count) change(s) recorded and audited"
                return OperatorOutcome(changes: changes, notes: notes, message: message, personID: person.id)
            }
        }
        if sync {
            outcome.sync = try await runSync(configuration, actor: actor, now: now, onlyUser: request.uid, logger: logger)
        }
        return outcome
    }

    static func validateAddUser(_ request: AddUser, now: Date) throws(CommandFailure) {
        try validateLogin(request.uid)
        let name = request.name.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw CommandFailure(.usage, "--name must be a non-empty name without control characters")
        }
        let mailParts = request.mail.split(separator: "@", omittingEmptySubsequences: false)
        guard mailParts.count == 2, !mailParts[0].isEmpty, mailParts[1].contains("."),
            !request.mail.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true })
        else {
            throw CommandFailure(.usage, "--mail must be an address such as alice@example.org, not '\(request.mail)'")
        }
        for group in request.groups where group.isEmpty || group.utf8.contains(0) {
            throw CommandFailure(.usage, "--group must name a group")
        }
        if let expires = request.expires {
            guard request.tier != nil || request.hubAdmin else {
                throw CommandFailure(.usage, "--expires is the expiry of the --tier / --hub-admin override; give one of them")
            }
            guard expires > now else {
                throw CommandFailure(.usage, "--expires \(Timestamp.format(expires)) is not in the future")
            }
        }
    }

    /// The checks a login name must pass before it reaches the directory (DirectoryWriter escapes
    /// it for DNs and filters; these are the names that escaping cannot make sane).
    static func validateLogin(_ uid: String) throws(CommandFailure) {
        if uid.isEmpty { throw CommandFailure(.usage, "the login name is empty") }
        if uid.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw CommandFailure(.usage, "the login name contains a control character (NUL, newline, ...)")
        }
        if uid.first!.isWhitespace || uid.last!.isWhitespace {
            throw CommandFailure(.usage, "the login name has leading or trailing spaces")
        }
    }

    // MARK: remove-user

    /// Disables the person or removes them from every group (`mode` nil: `ldap.writer.removeUser`).
    public static func removeUser(
        uid: String, mode: RemoveMode?, configuration: Configuration, actor: String? = nil, now: Date = Date(),
        sync: Bool = false, logger: Logger
    ) async throws(CommandFailure) -> OperatorOutcome {
        let actor = actor ?? ProcessIdentity.osUser
        try validateLogin(uid)
        let mode =
            mode
            ?? (configuration.ldap.writer.removeUser == .disable ? RemoveMode.disable : RemoveMode.removeMemberships)
        var outcome = try await withWriterLock(configuration) { (connection) async throws(CommandFailure) -> OperatorOutcome in
            let ldap = try await connectWriter(configuration, logger: logger)
            defer { Task { await ldap.connection.close() } }
            return try await ldapCall {
                guard let person = try await ldap.findPerson(uid: uid) else {
                    throw CommandFailure(.usage, "no person with the login name '\(uid)' in the directory")
                }
                var changes: [String] = []
                let audit = OperatorAudit(log: AuditLog(connection: connection, osUser: actor))
                var failures: [String] = []
                switch mode {
                case .disable:
                    if !person.disabled {
                        let intent = AuditEntry(
                            action: "ldap.disable-person", objectKind: "Person", objectName: uid,
                            before: .object(["dn": .string(person.dn.original), "disabled": .bool(false)]),
                            after: .object(["dn": .string(person.dn.original), "disabled": .bool(true)]),
                            outcome: .intent, message: "accesssync remove-user --disable")
                        try await audit.write(intent) { try await ldap.disablePerson(uid: uid) } outcome: { _ in (.succeeded, nil) }
                        changes.append("disabled \(person.dn.original)")
                    }
                case .removeMemberships:
                    for group in try await groups(of: person, ldap: ldap, configuration: configuration) {
                        let intent = AuditEntry(
                            action: "ldap.remove-member", objectKind: "GroupMember", objectName: "\(group)/\(uid)",
                            before: .object(["group": .string(group), "member": .string(person.dn.original)]),
                            outcome: .intent, message: "accesssync remove-user --remove-memberships")
                        do {
                            let removed = try await audit.write(intent) {
                                try await ldap.removeMember(uid: uid, fromGroup: group)
                            } outcome: { removed in
                                removed ? (.succeeded, nil) : (.skipped, nil)
                            }
                            if removed { changes.append("removed from group \(group)") }
                        } catch let error as LDAPError where error.code == .objectClassViolation {
                            failures.append(error.message)
                        }
                    }
                }
                if !failures.isEmpty {
                    throw CommandFailure(
                        .dataError,
                        (changes.isEmpty ? "" : changes.joined(separator: "; ") + " (audited); but ")
                            + failures.joined(separator: "; "))
                }
                let message =
                    changes.isEmpty
                    ? (mode == .disable
                        ? "\(uid) is already disabled; nothing changed" : "\(uid) is in no group; nothing changed")
                    : "\(uid): \(changes.count) change(s) recorded and audited; access goes on the next sync"
                return OperatorOutcome(changes: changes, notes: [], message: message, personID: person.id)
            }
        }
        if sync { outcome.sync = try await runSync(configuration, actor: actor, now: now, logger: logger) }
        return outcome
    }

    /// Names of the groups that list the person directly.
    static func groups(of person: Person, ldap: DirectoryWriter, configuration: Configuration) async throws -> [String] {
        let schema = ldap.config.schema
        let value = schema.memberValue == .loginName ? person.uid : person.dn.original
        let filter = LDAPFilter.and([schema.groupFilter, LDAPFilter.equals(schema.memberAttribute, value)])
        let base = groupsBase(configuration)
        let (names, _) = try await ldap.connection.search(
            base: base, scope: ldap.config.groups.scope, filter: filter, attributes: [schema.groupNameAttribute],
            pageSize: nil
        ) { entry in entry.string(schema.groupNameAttribute) }
        return names.sorted()
    }

    static func groupsBase(_ configuration: Configuration) -> String {
        configuration.ldap.resolvedBase(configuration.ldap.groups) ?? "(the default base)"
    }

    // MARK: grant / revoke

    /// Creates or replaces a CLI-sourced grant after checking its group, tiers and templates.
    public static func grant(
        _ request: GrantRequest, configuration: Configuration, actor: String? = nil, now: Date = Date(), logger: Logger
    ) async throws(CommandFailure) -> OperatorOutcome {
        let actor = actor ?? ProcessIdentity.osUser
        guard !request.group.isEmpty, !request.group.utf8.contains(0) else {
            throw CommandFailure(.usage, "the group name is empty")
        }
        guard request.hubAccess || request.hubAdmin || request.hubGroup || request.tier != nil
            || request.projectNamespace != nil
        else {
            throw CommandFailure(
                .usage, "a grant must give something: --hub-access, --hub-admin, --hub-group, --tier or --project")
        }
        if request.projectNamespace == nil, !request.roleTemplates.isEmpty || request.projectTier != nil {
            throw CommandFailure(.usage, "--template and --project-tier need --project NAMESPACE")
        }
        if let namespace = request.projectNamespace {
            guard Names.isValidNamespaceName(namespace) else {
                throw CommandFailure(.usage, "--project '\(namespace)' is not a valid namespace name (RFC 1123 label)")
            }
            guard !request.roleTemplates.isEmpty else {
                throw CommandFailure(.usage, "--project needs at least one --template (the role bound for the members)")
            }
        }
        if let expires = request.expires, expires <= now {
            throw CommandFailure(.usage, "--expires \(Timestamp.format(expires)) is not in the future")
        }
        if configuration.sync.policySource == .files {
            throw CommandFailure(
                .configuration,
                "grant writes to the policy in PostgreSQL, but sync.policySource is files: "
                    + "add the grant to \(configuration.sync.policyDirectory)/grants.yaml instead")
        }
        return try await withWriterLock(configuration) { (connection) async throws(CommandFailure) -> OperatorOutcome in
            let policy = try await loadPolicy(connection)
            if let tier = request.tier { try requireTier(tier, in: policy) }
            if let tier = request.projectTier { try requireTier(tier, in: policy) }
            for template in request.roleTemplates where policy.roleTemplates[template] == nil {
                throw CommandFailure(
                    .usage,
                    "unknown role template '\(template)'; the policy defines: "
                        + policy.roleTemplates.keys.sorted().joined(separator: ", "))
            }
            try await requireGroup(request.group, configuration: configuration, logger: logger)
            let grant = Grant(
                id: request.grantID, group: request.group, hubAccess: request.hubAccess, hubAdmin: request.hubAdmin,
                hubGroup: request.hubGroup, tier: request.tier,
                project: request.projectNamespace.map {
                    ProjectGrant(namespace: $0, roleTemplates: request.roleTemplates, tier: request.projectTier)
                }, expires: request.expires, source: .cli(actor: actor))
            let change = try await policyCall {
                try await PolicyRepository(connection: connection, osUser: actor).upsertGrant(grant)
            }
            guard let change else {
                return OperatorOutcome(
                    changes: [], notes: [], message: "grant \(grant.id) already exists as given; nothing changed")
            }
            return OperatorOutcome(
                changes: ["\(change.action.rawValue)d grant \(grant.id)"], notes: [],
                message: "grant \(grant.id) \(change.action.rawValue)d and audited; it applies from the next sync")
        }
    }

    /// Deletes a CLI-sourced grant by id.
    public static func revoke(
        grantID: String, configuration: Configuration, actor: String? = nil, logger: Logger
    ) async throws(CommandFailure) -> OperatorOutcome {
        let actor = actor ?? ProcessIdentity.osUser
        guard !grantID.isEmpty else { throw CommandFailure(.usage, "the grant id is empty") }
        return try await withWriterLock(configuration) { (connection) async throws(CommandFailure) -> OperatorOutcome in
            do {
                try await PolicyRepository(connection: connection, osUser: actor).revokeGrant(id: grantID, actor: actor)
            } catch PolicyEditError.notFound {
                throw CommandFailure(.usage, "no grant with the id '\(grantID)' (see `accesssync policy show`)")
            } catch {
                throw PostgresFailure.map(error)
            }
            return OperatorOutcome(
                changes: ["deleted grant \(grantID)"], notes: [],
                message: "grant \(grantID) deleted and audited; its access goes on the next sync")
        }
    }

    // MARK: Shared

    /// Takes the writer lock on its own connection, opens a second connection for policy and audit
    /// writes, runs `body`, and releases both.
    static func withWriterLock<T: Sendable>(
        _ configuration: Configuration, _ body: (PGConnection) async throws(CommandFailure) -> T
    ) async throws(CommandFailure) -> T {
        let options = configuration.postgres.connectionOptions
        let lock: RunLock
        do {
            lock = try await RunLock.acquire(
                options, wait: configuration.sync.waitForLock ? .seconds(configuration.sync.lockTimeoutSeconds) : nil)
        } catch let error as RunLockError {
            throw CommandFailure(.lockHeld, "\(error.description); try again when it has finished")
        } catch {
            throw PostgresFailure.map(error)
        }
        let connection: PGConnection
        do {
            connection = try await PGConnection.connect(options)
        } catch {
            await lock.release()
            throw PostgresFailure.map(error)
        }
        let result: Result<T, CommandFailure>
        do {
            result = .success(try await body(connection))
        } catch {
            result = .failure(error)
        }
        await connection.close()
        await lock.release()
        return try result.get()
    }

    static func loadPolicy(_ connection: PGConnection) async throws(CommandFailure) -> Policy {
        try await policyCall { try await PolicyRepository(connection: connection).loadPolicy() }
    }

    static func requireTier(_ tier: String, in policy: Policy) throws(CommandFailure) {
        guard policy.tiers[tier] == nil else { return }
        throw CommandFailure(
            .usage, "unknown tier '\(tier)'; the policy defines: \(policy.tiers.keys.sorted().joined(separator: ", "))")
    }

    /// Checks with the reader's bind that the group exists (a grant naming a missing group would
    /// stop every sync).
    static func requireGroup(_ name: String, configuration: Configuration, logger: Logger) async throws(CommandFailure) {
        try await ldapCall {
            let config = configuration.ldap.ldapConfiguration
            let connection = try await LDAPConnection.connect(config, logger: logger)
            let writer = DirectoryWriter(connection: connection, config: config)
            let found: DistinguishedName?
            do {
                found = try await writer.findGroup(name: name)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
            if found == nil {
                throw CommandFailure(.usage, "unknown group '\(name)': no group with that name under \(groupsBase(configuration))")
            }
        }
    }

    /// A DirectoryWriter bound as `ldap.writer` (or the reader's account when none is configured).
    static func connectWriter(_ configuration: Configuration, logger: Logger) async throws(CommandFailure)
        -> DirectoryWriter
    {
        var config = configuration.ldap.ldapConfiguration
        if let dn = configuration.ldap.writer.bindDN {
            config.bindDN = dn
            config.password = configuration.ldap.writer.bindPassword?.ldapPassword
        }
        return try await ldapCall {
            DirectoryWriter(connection: try await LDAPConnection.connect(config, logger: logger), config: config)
        }
    }

    /// Runs directory work, mapping LDAP errors to exit statuses (CommandFailure passes through).
    static func ldapCall<T: Sendable>(_ body: () async throws -> T) async throws(CommandFailure) -> T {
        do {
            return try await body()
        } catch let failure as CommandFailure {
            throw failure
        } catch let error as LDAPError {
            throw map(error)
        } catch {
            throw PostgresFailure.map(error)
        }
    }

    static func policyCall<T: Sendable>(_ body: () async throws -> T) async throws(CommandFailure) -> T {
        do {
            return try await body()
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw PostgresFailure.map(error)
        }
    }

    static func map(_ error: LDAPError) -> CommandFailure {
        let text = error.description
        switch error.code {
        case .invalidInput, .notFound, .ambiguous: return CommandFailure(.usage, text)
        case .alreadyExists, .constraintViolation, .objectClassViolation, .invalidAttributeSyntax, .invalidEntry:
            return CommandFailure(.dataError, text)
        case .insufficientAccess, .unwillingToPerform:
            return CommandFailure(
                .configuration,
                text + ": the bind account may not write; set ldap.writer.bindDN and its password to an account that may")
        case .invalidConfiguration, .passwordUnavailable, .unsupported:
            return CommandFailure(.configuration, text)
        case .connectFailed, .tlsFailed, .serverDown, .timeout, .invalidCredentials, .busy:
            return CommandFailure(.ldapUnavailable, text)
        default:
            return CommandFailure(.failure, text)
        }
    }

    static func runSync(
        _ configuration: Configuration, actor: String, now: Date, onlyUser: String? = nil, logger: Logger
    ) async throws(CommandFailure) -> SyncCommand.Result {
        try await SyncCommand.run(
            SyncCommand.Options(configuration: configuration, mode: .sync, onlyUser: onlyUser, now: now, actor: actor),
            logger: logger)
    }
}

/// The audit of one operator command's directory writes: an intent row before each LDAP write and
/// its outcome row after (`succeeded`, `skipped` when there was nothing to do, `failed` with the
/// error), as the sync does for cluster changes, so a crash between the write and the record leaves
/// the intent, and a failed write leaves intent + failed.
struct OperatorAudit: Sendable {
    var log: AuditLog

    /// Writes the intent, runs `write`, writes the outcome (`outcome` maps the result to the status
    /// and, when not nil, the `after` payload). A failed write is recorded as failed and rethrown;
    /// an intent or outcome row that cannot be written stops the command.
    @discardableResult
    func write<T: Sendable>(
        _ intent: AuditEntry, _ write: () async throws -> T,
        outcome: (T) -> (AuditOutcome, PolicyStore.JSONValue?)
    ) async throws -> T {
        let record = try await log.append(intent)
        let result: T
        do {
            result = try await write()
        } catch {
            _ = try await log.append(AuditEntry.outcome(of: record, .failed, message: "\(error)"))
            throw error
        }
        let (status, after) = outcome(result)
        _ = try await log.append(
            AuditEntry.outcome(of: record, status, after: after.map { Optional($0) }))
        return result
    }
}
