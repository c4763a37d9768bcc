import AccessSyncCore
import ArgumentParser
import Foundation
import PolicyFiles

extension AccessSync {
    /// Renders manifests and the hub state from an LDIF export and the policy files (GitOps).
    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render manifests and the hub state from an LDIF export and the policy files.",
            discussion: """
                Reads people and groups from an LDIF file (as `ldapsearch -LLL` or `slapcat` print it, \
                with entryUUID or objectGUID), plans the desired state with the policy in --policy, and \
                writes one YAML manifest per object plus hub.json into --out. The output is byte-identical \
                for the same input; namespaces carry argocd.argoproj.io/sync-options: Prune=false.
                """
        )

        @Option(name: .long, help: ArgumentHelp("LDIF file with the directory's people and groups.", valueName: "file.ldif"))
        var directory: String

        @Option(name: .long, help: ArgumentHelp("Policy directory (tiers, role templates, grants, overrides).", valueName: "dir"))
        var policy: String

        @Option(name: .long, help: ArgumentHelp("Output directory for the manifests and hub.json.", valueName: "dir"))
        var out: String

        @Option(name: .long, help: ArgumentHelp("Configuration file (naming, instance, LDAP schema and bases).", valueName: "file"))
        var config: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The instant used for expiries, as RFC 3339 (default: the current time).", valueName: "rfc3339"))
        var now: String?

        func validate() throws {
            if let now, RFC3339.parse(now) == nil {
                throw ValidationError("--now must be an RFC 3339 date-time such as 2025-06-30T12:00:00Z, not '\(now)'")
            }
        }

        func run() async throws {
            let options = RenderCommand.Options(
                directoryFile: directory, policyDirectory: policy, outputDirectory: out, configurationFile: config,
                now: now.flatMap(RFC3339.parse) ?? Date())
            let outcome = try runReporting { () throws(CommandFailure) in
                try RenderCommand.run(options, renderer: InterimRenderer())
            }
            for warning in outcome.warnings { printError("warning: \(warning)") }
            let summary = outcome.summary
            print(
                "rendered \(outcome.objectCount) objects, \(outcome.hubUsers) hub users and \(outcome.hubGroups) hub groups "
                    + "into \(out): \(summary.written.count) written, \(summary.unchanged.count) unchanged, "
                    + "\(summary.removed.count) removed")
        }
    }
}
