import AccessSyncCore
import ArgumentParser
import Foundation
import PolicyFiles

extension AccessSync {
    struct ExplainCommandLine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "Why a person has (or lacks) each namespace, binding, quota and hub right.",
            discussion: """
                Reads LDAP and the policy as `plan` does (writes nothing, takes no lock) and prints \
                every right the person has or gets on the next sync, each with its chain: LDAP group \
                path → grant or override → object. Rights that a peer in one of their groups has and \
                they lack are listed with the reason (not a member of a nested group, expired grant \
                or override, disabled, suspended, ...). A login name that is not in the directory is \
                reported as such (exit 0).
                """)

        @OptionGroup var server: ServerOptions

        @Argument(help: ArgumentHelp("Login name (uid) or directory identifier.", valueName: "user"))
        var user: String

        @Option(name: .long, help: "Output format.")
        var output: OutputFormat = .text

        @Option(name: .long, help: ArgumentHelp("The instant used for expiries (RFC 3339; default: now).", valueName: "rfc3339"))
        var now: String?

        func validate() throws {
            if let now, RFC3339.parse(now) == nil {
                throw ValidationError("--now must be an RFC 3339 date-time such as 2025-06-30T12:00:00Z, not '\(now)'")
            }
        }

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let logger = server.logger(configuration)
            let instant = now.flatMap(RFC3339.parse) ?? Date()
            let explanation = try await runReportingAsync { () async throws(CommandFailure) in
                try await ExplainCommand.run(user, configuration: configuration, now: instant, logger: logger)
            }
            switch output {
            case .text: print(Explain.text(explanation), terminator: "")
            case .json: print(Explain.json(explanation), terminator: "")
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reports on access outside AccessSync's management.",
            subcommands: [Unmanaged.self])

        struct Unmanaged: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Bindings naming people who are gone or disabled, and hub admins the policy does not grant.",
                discussion: """
                    Lists every RoleBinding and ClusterRoleBinding in the cluster (not only AccessSync's) \
                    and reports User subjects that name a person disabled in LDAP, or that are shaped like \
                    AccessSync's subjects (naming.subjectTemplate) and name nobody in the directory; then \
                    the hub's admins that no grant or override makes admins. Changes nothing. Exit 0 \
                    when nothing is found, 6 when something is.
                    """)

            @OptionGroup var server: ServerOptions

            @Option(name: .long, help: "Output format.")
            var output: OutputFormat = .text

            func run() async throws {
                let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
                let logger = server.logger(configuration)
                let report = try await runReportingAsync { () async throws(CommandFailure) in
                    try await ReportCommand.unmanaged(configuration: configuration, logger: logger)
                }
                switch output {
                case .text: print(UnmanagedReport.text(report), terminator: "")
                case .json: print(UnmanagedReport.json(report), terminator: "")
                }
                if !report.isEmpty { throw ExitCode(ExitStatus.verificationFailed.rawValue) }
            }
        }
    }
}
