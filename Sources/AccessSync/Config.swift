import AccessSyncCore
import ArgumentParser
import Foundation

extension AccessSync {
    /// Configuration commands.
    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect the configuration file.",
            subcommands: [Check.self]
        )

        /// Validates the configuration and prints the effective configuration.
        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate the configuration and print it with defaults filled in (secrets redacted).",
                discussion: """
                    Unknown keys, wrong types and invalid values are reported with file, line and key \
                    path. Secrets are shown only by source (file path or environment variable name) with \
                    whether they can be read; their content is never printed.
                    """
            )

            @Option(
                name: .long,
                help: ArgumentHelp(
                    "Configuration file (default: $ACCESSSYNC_CONFIG, else /etc/accesssync/accesssync.yaml).",
                    valueName: "file"))
            var config: String?

            func run() async throws {
                let path = config ?? ProcessInfo.processInfo.environment["ACCESSSYNC_CONFIG"]
                    ?? "/etc/accesssync/accesssync.yaml"
                let result = try runReporting { () throws(CommandFailure) in try ConfigurationCheck.run(path: path) }
                print(result.effectiveYAML, terminator: "")
                guard result.problems.isEmpty else {
                    for problem in result.problems { printError("error: \(problem)") }
                    throw ExitCode(result.exitStatus.rawValue)
                }
            }
        }
    }
}
