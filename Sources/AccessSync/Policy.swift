import AccessSyncCore
import ArgumentParser
import Foundation

extension AccessSync {
    /// The policy stored in PostgreSQL.
    struct PolicyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy",
            abstract: "Load the YAML policy into PostgreSQL, or show the stored policy.",
            subcommands: [Apply.self, Show.self]
        )

        /// Loads the YAML policy files into the database.
        struct Apply: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make the stored policy equal to the YAML policy files in DIR.",
                discussion: """
                    Idempotent: a second run changes nothing ("policy unchanged"). Rows that came from \
                    the files and are gone from them are removed; rows made with CLI commands stay. Every \
                    change is audited with your OS user as actor, in a run of its own taken under the run \
                    lock (exit 75 while a sync runs). Invalid files exit 65 naming file:line and field; \
                    a missing directory exits 66.
                    """
            )

            @Argument(help: ArgumentHelp("Policy directory (tiers, role templates, grants, overrides).", valueName: "dir"))
            var directory: String

            @Flag(name: .long, help: "Print the changes without writing anything.")
            var dryRun = false

            @OptionGroup var postgres: PostgresOptions

            func run() async throws {
                let session = try postgres.session()
                let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                    try await PolicyCommands.apply(session, directory: directory, dryRun: dryRun)
                }
                print(outcome.text, terminator: "")
            }
        }

        /// Prints the stored policy.
        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the policy stored in PostgreSQL, every row with its source.")

            @Option(name: .long, help: ArgumentHelp("Output format.", valueName: "yaml|json"))
            var output: OutputFormat = .yaml

            @OptionGroup var postgres: PostgresOptions

            enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
                case yaml, json
            }

            func run() async throws {
                let session = try postgres.session()
                let format: PolicyCommands.OutputFormat = output == .json ? .json : .yaml
                let text = try await runReportingAsync { () async throws(CommandFailure) in
                    try await PolicyCommands.show(session, format: format)
                }
                print(text, terminator: "")
            }
        }
    }
}
