import Foundation
import HubTarget
import KubeTarget
import LDAPBridge
public import Logging
import PolicyStore
import RBACModel

/// `accesssync doctor`: checks, one line each, that every server accepts what the sync will ask of
/// it, and says how to fix what does not. Never changes anything (no lock, no writes).
public enum Doctor {
    /// One check's result.
    public struct Check: Sendable, Hashable, Codable {
        public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
            /// Verified and as required.
            case ok
            /// Verified; the sync can run but something is weaker than recommended.
            case warning
            /// Verified and wrong: the sync would fail, or revocation would not hold.
            case failed
            /// Cannot be seen from here: the operator must confirm it (the checklist).
            case manual
            /// Not checked (not configured, or an earlier check failed).
            case skipped
        }

        /// Stable identifier, e.g. `ldap.bind`, `postgres.audit_rights`, `kubernetes.rbac.roles`.
        public var id: String
        public var status: Status
        /// What was found (or, for `manual`, what must be true and why).
        public var detail: String
        /// What to change, when something must change.
        public var fix: String?

        public init(_ id: String, _ status: Status, _ detail: String, fix: String? = nil) {
            self.id = id
            self.status = status
            self.detail = detail
            self.fix = fix
        }
    }

    /// All checks of one run.
    public struct Report: Sendable, Hashable {
        public var checks: [Check]

        public init(checks: [Check]) { self.checks = checks }

        public var failed: [Check] { checks.filter { $0.status == .failed } }
        /// `verification-failed` (6) when any check failed, else `ok`.
        public var exitStatus: ExitStatus { failed.isEmpty ? .ok : .verificationFailed }
        public func check(_ id: String) -> Check? { checks.first { $0.id == id } }
    }

    /// Runs every check of the configuration's servers. Never throws: a failure is a failed check.
    public static func run(configuration: Configuration, logger: Logger) async -> Report {
        async let ldap = checkLDAP(configuration.ldap, logger: logger)
        async let postgres = checkPostgres(configuration.postgres)
        async let kubernetes = checkKubernetes(configuration, logger: logger)
        async let hub = checkHub(configuration)
        return Report(checks: await ldap + postgres + kubernetes + hub)
    }

    // MARK: Output

    /// One line per check: `STATUS id: detail. Fix: ...`, then a one-line verdict.
    public static func text(_ report: Report) -> String {
        var lines: [String] = []
        for check in report.checks {
            let label: String
            switch check.status {
            case .ok: label = "ok     "
            case .warning: label = "WARN   "
            case .failed: label = "FAIL   "
            case .manual: label = "CHECK  "
            case .skipped: label = "skip   "
            }
            var line = "\(label)\(check.id): \(check.detail)"
            if let fix = check.fix, check.status != .ok { line += " Fix: \(fix)" }
            lines.append(line)
        }
        let failed = report.failed.count
        let manual = report.checks.filter { $0.status == .manual }.count
        lines.append(
            failed == 0
                ? "doctor: all checks passed; confirm the \(manual) CHECK item(s) by reading the hub's configuration"
                : "doctor: \(failed) check(s) failed: \(report.failed.map(\.id).joined(separator: ", "))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `{"checks": [...], "failed": N, "exitStatus": 6}`.
    public static func json(_ report: Report) -> String {
        struct Output: Encodable {
            var checks: [Check]
            var failed: Int
            var exitStatus: Int32
            var exitStatusName: String
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let output = Output(
            checks: report.checks, failed: report.failed.count, exitStatus: report.exitStatus.rawValue,
            exitStatusName: report.exitStatus.name)
        let data = (try? encoder.encode(output)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: LDAP

    /// Bind; people and group bases readable with paged searches the size limit does not cap; the
    /// complete read the sync does, including the checks that the bind can read `member`/`memberUid`.
    public static func checkLDAP(_ section: Configuration.LDAP, logger: Logger) async -> [Check] {
        let config = section.ldapConfiguration
        let bind = section.bindDN ?? "anonymous"
        let uri = section.uri ?? "libldap's default URI"
        let connection: LDAPConnection
        do {
            connection = try await LDAPConnection.connect(config, logger: logger)
        } catch {
            let fix: String
            switch (error as? LDAPError)?.code {
            case .invalidCredentials?:
                fix = "the server refused \(bind): check ldap.bindDN and the password in "
                    + "\(section.bindPassword.map(\.description) ?? "ldap.bindPasswordFile")."
            case .passwordUnavailable?, .invalidConfiguration?:
                fix = "set ldap.bindPasswordFile (or ldap.bindPasswordEnv) to a readable secret for ldap.bindDN."
            case .tlsFailed?:
                fix = "check ldap.tls.caFile (the CA that signed the server's certificate) and that the host name "
                    + "in ldap.uri is in the certificate; with ldap:// the server must offer StartTLS."
            default:
                fix = "check ldap.uri (\(uri)), that the server is running and reachable from here, and the firewall."
            }
            return [
                Check("ldap.bind", .failed, "cannot bind to \(uri) as \(bind): \(error)", fix: fix),
                Check("ldap.paging", .skipped, "not checked: no connection"),
                Check("ldap.members", .skipped, "not checked: no connection"),
            ]
        }
        var checks = [Check("ldap.bind", .ok, "bound to \(connection.uri) as \(bind)")]

        // Paged searches of both bases, as the sync does them (attributes 1.1: nothing to convert).
        var pagingFailed = false
        var found: [String] = []
        searches: for (name, search, scope, filter) in [
            ("people", section.people, config.people.scope, config.schema.personFilter),
            ("groups", section.groups, config.groups.scope, config.schema.groupFilter),
        ] {
            let key = name == "people" ? "ldap.people" : "ldap.groups"
            guard let base = section.resolvedBase(search) else {
                checks.append(
                    Check(
                        "ldap.paging", .failed, "no base for the \(name) search",
                        fix: "set ldap.baseDN (and \(key).base)."))
                pagingFailed = true
                break searches
            }
            do {
                let (_, summary) = try await connection.search(
                    base: base, scope: scope, filter: LDAPFilter.and([filter, search.filter]),
                    attributes: ["1.1"], pageSize: config.pageSize
                ) { _ in () }
                found.append("\(summary.entries) \(name) under \(base) in \(summary.pages) page(s)")
            } catch let error as LDAPError {
                pagingFailed = true
                let fix: String
                switch error.code {
                case .sizeLimitExceeded, .adminLimitExceeded:
                    fix = "the server's size limit caps a paged search for \(bind): raise it for this DN "
                        + "(OpenLDAP: olcLimits: dn.exact=\"\(bind)\" size=unlimited size.pr=unlimited "
                        + "size.prtotal=unlimited; Active Directory: MaxPageSize/MaxResultSetSize), or lower ldap.pageSize."
                case .noSuchObject:
                    fix = "\(base) does not exist: correct ldap.baseDN or \(key).base."
                case .insufficientAccess:
                    fix = "grant \(bind) read (search) access to \(base)."
                case .timeLimitExceeded, .timeout:
                    fix = "the search timed out: raise ldap.searchTimeLimitSeconds / ldap.operationTimeoutSeconds, or the server's time limit for \(bind)."
                case .referral:
                    fix = "\(base) is a referral: point \(key).base at the server that holds it."
                default:
                    fix = "check \(key).base, \(key).filter and the server's log."
                }
                checks.append(Check("ldap.paging", .failed, "paged search of \(name) under \(base) failed: \(error)", fix: fix))
                break searches
            } catch {
                pagingFailed = true
                checks.append(
                    Check(
                        "ldap.paging", .failed, "paged search of \(name) under \(base) failed: \(error)",
                        fix: "check \(key).base and the server's log."))
                break searches
            }
        }
        if !pagingFailed {
            checks.append(
                Check(
                    "ldap.paging", .ok,
                    "read \(found.joined(separator: " and ")) (page size \(config.pageSize)); no size limit cut them short"))
        }

        // The complete read, including the membership readability checks.
        if pagingFailed {
            checks.append(Check("ldap.members", .skipped, "not checked: the paged searches failed"))
        } else {
            do {
                let read = try await DirectoryReader.read(connection: connection, config: config, now: Date(), logger: logger)
                let groups = read.snapshot.groups.values
                let values = groups.reduce(0) { $0 + $1.memberPeople.count + $1.memberGroups.count + $1.unresolvedMembers.count }
                checks.append(
                    Check(
                        "ldap.members", .ok,
                        "\(bind) reads \(config.schema.memberAttribute): \(read.snapshot.people.count) people, "
                            + "\(groups.count) groups, \(values) membership value(s)"))
            } catch let error as LDAPError where error.code == .memberAttributeUnreadable {
                checks.append(
                    Check(
                        "ldap.members", .failed, error.description,
                        fix: "grant \(bind) read access to \(config.schema.memberAttribute) on the groups "
                            + "(OpenLDAP: olcAccess: to attrs=member,memberUid by dn.exact=\"\(bind)\" read; Active "
                            + "Directory: Read Members on the group OUs)."))
            } catch {
                checks.append(
                    Check(
                        "ldap.members", .failed, "the complete directory read failed: \(error)",
                        fix: "run `accesssync plan --verbose` for the full error; check ldap.schema and the filters."))
            }
        }
        await connection.close()
        return checks
    }

    // MARK: PostgreSQL

    /// Tables the sync role writes or reads; their absence means the schema is not migrated.
    static let auditTable = "accesssync.audit_log"

    /// Connection, migration state, and the application role's rights on the audit log (it must be
    /// able to SELECT and INSERT and must NOT be able to UPDATE, DELETE or TRUNCATE).
    public static func checkPostgres(_ section: Configuration.Postgres) async -> [Check] {
        let options = section.connectionOptions
        let connection: PGConnection
        do {
            connection = try await PGConnection.connect(options)
        } catch {
            return [
                Check(
                    "postgres.connect", .failed, "cannot connect (\(options.redactedConninfo)): \(error)",
                    fix: "check postgres.host, postgres.port, postgres.database, postgres.user and the password in "
                        + "\(section.password.map(\.description) ?? "postgres.passwordFile or ~/.pgpass"); "
                        + "pg_hba.conf must admit this client."),
                Check("postgres.migrations", .skipped, "not checked: no connection"),
                Check("postgres.audit_rights", .skipped, "not checked: no connection"),
            ]
        }
        var checks: [Check] = []
        var role = "?"
        do {
            let row = try await connection.query(
                "SELECT current_user AS role, current_database() AS db, current_setting('server_version') AS version"
            ).first
            role = row?["role"] ?? "?"
            checks.append(
                Check(
                    "postgres.connect", .ok,
                    "connected to database \(row?["db"] ?? "?") as \(role) (PostgreSQL \(row?["version"] ?? "?"))"))
        } catch {
            checks.append(
                Check("postgres.connect", .failed, "connected but a query failed: \(error)", fix: "check the server's log."))
            await connection.close()
            return checks
        }
        checks.append(await migrationCheck(connection, role: role))
        checks.append(await auditRightsCheck(connection, role: role))
        await connection.close()
        return checks
    }

    static func migrationCheck(_ connection: PGConnection, role: String) async -> Check {
        let migrator: Migrator
        do {
            migrator = try Migrator()
        } catch {
            return Check("postgres.migrations", .failed, "the embedded migrations are invalid: \(error)")
        }
        let known = migrator.migrations
        let latest = known.last?.name ?? "-"
        do {
            let applied = try await migrator.status(on: connection)
            if applied.isEmpty {
                return Check(
                    "postgres.migrations", .failed,
                    "the database has no AccessSync schema (none of the \(known.count) migrations is applied)",
                    fix: "run `accesssync migrate` as the owner role (not the application role).")
            }
            let byVersion = Dictionary(uniqueKeysWithValues: known.map { ($0.version, $0) })
            for row in applied {
                guard let migration = byVersion[row.version] else {
                    return Check(
                        "postgres.migrations", .failed,
                        "migration \(row.version) (\(row.name)) is applied but unknown to this binary (a newer AccessSync migrated it)",
                        fix: "upgrade accesssync to the version that migrated the database.")
                }
                if migration.checksum != row.checksum {
                    return Check(
                        "postgres.migrations", .failed, "migration \(row.name) was edited after it was applied",
                        fix: "restore migrations/\(row.name) as released; never edit an applied migration.")
                }
            }
            let done = Set(applied.map(\.version))
            let pending = known.filter { !done.contains($0.version) }
            if !pending.isEmpty {
                return Check(
                    "postgres.migrations", .failed,
                    "\(pending.count) migration(s) pending: \(pending.map(\.name).joined(separator: ", "))",
                    fix: "run `accesssync migrate` as the owner role.")
            }
            return Check("postgres.migrations", .ok, "all \(known.count) migrations applied (latest \(latest))")
        } catch let error as PostgresError where error.sqlState == "42501" {
            // The application role may not read the owner's bookkeeping table: check the tables it uses.
            let tables = [
                auditTable, "accesssync.audit_head", "accesssync.sync_runs", "accesssync.approvals",
                "accesssync.hub_users", "accesssync.hub_groups",
            ]
            do {
                var missing: [String] = []
                for table in tables {
                    let row = try await connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]).first
                    if try row?.bool("present") != true { missing.append(table) }
                }
                if !missing.isEmpty {
                    return Check(
                        "postgres.migrations", .failed, "tables missing: \(missing.joined(separator: ", "))",
                        fix: "run `accesssync migrate` as the owner role.")
                }
                return Check(
                    "postgres.migrations", .warning,
                    "\(role) may not read accesssync.schema_migrations; the tables the sync uses exist",
                    fix: "run `accesssync migrate --status` as the owner role to see whether migrations are pending.")
            } catch {
                return Check("postgres.migrations", .failed, "cannot read the catalog: \(error)")
            }
        } catch {
            return Check(
                "postgres.migrations", .failed, "cannot read the migration state: \(error)",
                fix: "run `accesssync migrate --status` as the owner role.")
        }
    }

    static func auditRightsCheck(_ connection: PGConnection, role: String) async -> Check {
        do {
            let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [auditTable]).first
            guard try exists?.bool("present") == true else {
                return Check(
                    "postgres.audit_rights", .failed, "\(auditTable) does not exist",
                    fix: "run `accesssync migrate` as the owner role.")
            }
            let privileges = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"]
            let columns = privileges.map { "has_table_privilege(current_user, $1, '\($0)') AS \($0.lowercased())" }
            let row = try await connection.query("SELECT " + columns.joined(separator: ", "), [auditTable]).first
            var has: [String: Bool] = [:]
            for privilege in privileges { has[privilege] = try row?.bool(privilege.lowercased()) ?? false }
            let superuser = try await connection.query(
                "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"
            ).first.map { try $0.bool("rolsuper") } ?? false
            let forbidden = ["UPDATE", "DELETE", "TRUNCATE"].filter { has[$0] == true }
            let missing = ["SELECT", "INSERT"].filter { has[$0] != true }
            if !forbidden.isEmpty {
                let who = superuser ? "\(role) is a superuser and" : "\(role)"
                return Check(
                    "postgres.audit_rights", .failed,
                    "\(who) can \(forbidden.joined(separator: "/")) \(auditTable): the audit log is not append-only for the sync's role",
                    fix: "connect as a login role that is only a member of accesssync_app (CREATE ROLE accesssync LOGIN "
                        + "PASSWORD ...; GRANT accesssync_app TO accesssync), never as the owner or a superuser.")
            }
            if !missing.isEmpty {
                return Check(
                    "postgres.audit_rights", .failed,
                    "\(role) cannot \(missing.joined(separator: "/")) \(auditTable): the sync could not write audit rows",
                    fix: "GRANT accesssync_app TO \(role);")
            }
            return Check(
                "postgres.audit_rights", .ok,
                "\(role) may SELECT and INSERT \(auditTable) and may not UPDATE, DELETE or TRUNCATE it")
        } catch {
            return Check(
                "postgres.audit_rights", .failed, "cannot read the privileges on \(auditTable): \(error)",
                fix: "check that \(role) has USAGE on the schema accesssync (GRANT accesssync_app TO \(role)).")
        }
    }
}
