import AccessSyncCore
import ArgumentParser
import Foundation
import Logging

/// Prints an operator command's outcome and, after `--sync`, the sync's summary; exits with the
/// sync's status when it was not ok.
func report(_ outcome: OperatorOutcome, output: OutputFormat = .text) throws {
    for change in outcome.changes { print("  \(change)") }
    for note in outcome.notes { print("  note: \(note)") }
    print(outcome.message)
    if let sync = outcome.sync {
        switch output {
        case .text: print(PlanFormatting.text(sync.report, mode: .sync), terminator: "")
        case .json: print(PlanFormatting.json(sync.report, mode: .sync), terminator: "")
        }
        if sync.exitStatus != .ok { throw ExitCode(sync.exitStatus.rawValue) }
    }
}

/// `--expires` values: RFC 3339 or a date (00:00 UTC).
func parseExpiry(_ text: String?) throws -> Date? {
    guard let text else { return nil }
    guard let date = CommandTime.parse(text) else { throw ValidationError(CommandTime.invalid("--expires", text)) }
    return date
}

extension AccessSync {
    struct AddUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-user",
            abstract: "Create a person in LDAP with group memberships and optional overrides (audited).",
            discussion: """
                Takes the writer lock (exit 75 while a sync runs), creates the LDAP entry \
                (inetOrgPerson, posixAccount, shadowAccount; uidNumber allocated from the counter) \
                if the login name is free, adds the missing memberships, and records --tier / \
                --hub-admin (with --expires) as the policy override `add-user/UID` with a cli source. \
                Each change is audited with your OS user and database role. Running it again with the \
                same arguments changes nothing and says so. The LDAP account is ldap.writer.bindDN \
                (else ldap.bindDN), which must be allowed to add entries and change groups. \
                --sync then syncs just this person (as `sync --only-user UID`: the whole directory \
                and policy are read and planned, only their namespace, bindings, hub user and hub \
                groups are changed; other people's pending changes are counted and left for the \
                next full sync). Exit 64 for a bad login name, unknown \
                group or unknown tier; nothing is written then.
                """)

        @OptionGroup var server: ServerOptions

        @Argument(help: ArgumentHelp("The login name (uid).", valueName: "uid"))
        var uid: String

        @Option(name: .long, help: ArgumentHelp("Full name (cn; the last word becomes sn).", valueName: "name"))
        var name: String

        @Option(name: .long, help: ArgumentHelp("Mail address.", valueName: "mail"))
        var mail: String

        @Option(name: .long, help: ArgumentHelp("A group to add the person to (repeatable).", valueName: "group"))
        var group: [String] = []

        @Option(name: .long, help: ArgumentHelp("Tier override for the personal namespace.", valueName: "tier"))
        var tier: String?

        @Flag(name: .long, help: "Make the person a hub admin (override).")
        var hubAdmin = false

        @Option(name: .long, help: ArgumentHelp("Expiry of the override (RFC 3339 or YYYY-MM-DD).", valueName: "date"))
        var expires: String?

        @Flag(name: .long, help: "Then sync just this person (sync --only-user UID).")
        var sync = false

        @Option(name: .long, help: "Output format of the --sync summary.")
        var output: OutputFormat = .text

        func validate() throws { _ = try parseExpiry(expires) }

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let logger = server.logger(configuration)
            let request = OperatorCommands.AddUser(
                uid: uid, name: name, mail: mail, groups: group, tier: tier, hubAdmin: hubAdmin,
                expires: try parseExpiry(expires))
            let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                try await OperatorCommands.addUser(request, configuration: configuration, sync: sync, logger: logger)
            }
            try report(outcome, output: output)
        }
    }

    struct RemoveUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-user",
            abstract: "Disable a person in LDAP or remove them from every group (audited).",
            discussion: """
                Takes the writer lock and changes the directory only; the person's access goes on the \
                next sync (or at once with --sync, a full sync). Without --disable or \
                --remove-memberships, ldap.writer.removeUser decides (default: disable). Disabling \
                sets the configured disabled condition (pwdAccountLockedTime, shadowExpire, ...). \
                Already disabled, or in no group: nothing changes and it says so.
                """)

        @OptionGroup var server: ServerOptions

        @Argument(help: ArgumentHelp("The login name (uid).", valueName: "uid"))
        var uid: String

        @Flag(name: .long, help: "Disable the person (the entry and its groups stay).")
        var disable = false

        @Flag(name: .long, help: "Remove the person from every group they are listed in.")
        var removeMemberships = false

        @Flag(name: .long, help: "Run a full sync afterwards.")
        var sync = false

        @Option(name: .long, help: "Output format of the --sync summary.")
        var output: OutputFormat = .text

        func validate() throws {
            if disable, removeMemberships { throw ValidationError("give --disable or --remove-memberships, not both") }
        }

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let logger = server.logger(configuration)
            let mode: OperatorCommands.RemoveMode? = disable ? .disable : removeMemberships ? .removeMemberships : nil
            let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                try await OperatorCommands.removeUser(
                    uid: uid, mode: mode, configuration: configuration, sync: sync, logger: logger)
            }
            try report(outcome, output: output)
        }
    }

    struct GrantCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant",
            abstract: "Give an LDAP group's members hub access, admin, a tier or a project (a cli policy row).",
            discussion: """
                Takes the writer lock, checks that the group exists in LDAP and that tiers and role \
                templates exist in the policy (exit 64 otherwise), and creates or replaces the grant \
                GRANT_ID (default cli/GROUP) with a cli source — `policy apply` never prunes it. \
                Audited. The same grant again changes nothing. Grants from policy files cannot be \
                changed here (exit 65: edit the file).
                """)

        @OptionGroup var server: ServerOptions

        @Argument(help: ArgumentHelp("The LDAP group (cn).", valueName: "group"))
        var group: String

        @Option(name: .long, help: ArgumentHelp("The grant id (default cli/GROUP).", valueName: "grant-id"))
        var id: String?

        @Flag(name: .long, help: "Members get a hub user and a personal namespace.")
        var hubAccess = false

        @Flag(name: .long, help: "Members are hub admins.")
        var hubAdmin = false

        @Flag(name: .long, help: "Mirror the group as a hub group.")
        var hubGroup = false

        @Option(name: .long, help: ArgumentHelp("Tier of the members' personal namespaces.", valueName: "tier"))
        var tier: String?

        @Option(name: .long, help: ArgumentHelp("A project namespace for the group.", valueName: "namespace"))
        var project: String?

        @Option(name: .long, help: ArgumentHelp("Role template bound in the project (repeatable).", valueName: "template"))
        var template: [String] = []

        @Option(name: .long, help: ArgumentHelp("The project's quota tier.", valueName: "tier"))
        var projectTier: String?

        @Option(name: .long, help: ArgumentHelp("Expiry (RFC 3339 or YYYY-MM-DD).", valueName: "date"))
        var expires: String?

        func validate() throws { _ = try parseExpiry(expires) }

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let logger = server.logger(configuration)
            let request = OperatorCommands.GrantRequest(
                id: id, group: group, hubAccess: hubAccess, hubAdmin: hubAdmin, hubGroup: hubGroup, tier: tier,
                projectNamespace: project, roleTemplates: template, projectTier: projectTier,
                expires: try parseExpiry(expires))
            let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                try await OperatorCommands.grant(request, configuration: configuration, logger: logger)
            }
            try report(outcome)
        }
    }

    struct RevokeCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Delete a grant made with `accesssync grant`, by id (audited).",
            discussion: """
                Takes the writer lock. Exit 64 when no grant has the id; 65 when the grant comes from a \
                policy file (edit the file and run `policy apply`). The access goes on the next sync.
                """)

        @OptionGroup var server: ServerOptions

        @Argument(help: ArgumentHelp("The grant id (see `accesssync policy show`).", valueName: "grant-id"))
        var grantID: String

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let logger = server.logger(configuration)
            let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                try await OperatorCommands.revoke(grantID: grantID, configuration: configuration, logger: logger)
            }
            try report(outcome)
        }
    }
}
