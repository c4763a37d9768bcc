import AccessSyncCore
import ArgumentParser
import Foundation

extension AccessSync {
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that LDAP, PostgreSQL, Kubernetes and the hub accept what the sync will do.",
            discussion: """
                One line per check, each failure with a concrete fix: the LDAP bind, paged searches of the \
                people and group bases (size limits), that the bind can read member/memberUid; the database \
                connection, migration state and the application role's rights on the audit log (append-only); \
                a SelfSubjectAccessReview for every permission the sync needs (including bind and escalate); \
                the hub token's rights and the hub's version, then the hub settings the API cannot show \
                (CHECK lines). Changes nothing. Exit 0 when no check failed, 6 (verification-failed) otherwise.
                """)

        @OptionGroup var server: ServerOptions

        @Option(name: .long, help: "Output format.")
        var output: OutputFormat = .text

        func run() async throws {
            let configuration = try runReporting { () throws(CommandFailure) in try server.loadConfiguration() }
            let logger = server.logger(configuration)
            let report = await AccessSyncCore.Doctor.run(configuration: configuration, logger: logger)
            switch output {
            case .text: print(AccessSyncCore.Doctor.text(report), terminator: "")
            case .json: print(AccessSyncCore.Doctor.json(report), terminator: "")
            }
            if report.exitStatus != .ok { throw ExitCode(report.exitStatus.rawValue) }
        }
    }
}
