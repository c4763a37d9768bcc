import AccessSyncCore
import ArgumentParser
import Foundation

/// `accesssync`: declarative user and access management for JupyterHub on Kubernetes.
@main
struct AccessSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accesssync",
        abstract: "Sync LDAP users and groups and a reviewed policy into Kubernetes and JupyterHub.",
        discussion: "Exit statuses are the same for every command:\n"
            + ExitStatus.allCases.map { "  \($0.rawValue) \($0.name): \($0.summary)" }.joined(separator: "\n"),
        version: "0.1.0",
        subcommands: [
            Sync.self, Plan.self, Approve.self, Doctor.self, Render.self, Config.self, Migrate.self, PolicyCommand.self,
            Audit.self, AddUser.self, RemoveUser.self, GrantCommand.self, RevokeCommand.self, ExplainCommandLine.self,
            Report.self, Run.self,
        ]
    )
}

/// Runs command logic and turns its failures into the documented exit status, printing one
/// actionable message on standard error.
func runReporting<T>(_ body: () throws(CommandFailure) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitStatus.rawValue)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
