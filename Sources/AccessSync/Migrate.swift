import AccessSyncCore
import ArgumentParser
import Foundation

extension AccessSync {
    /// Applies the database migrations.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade the policy and audit schema in PostgreSQL.",
            discussion: """
                Applies the numbered migrations compiled into accesssync, in order, each in its own \
                transaction, recording version and checksum; two migrate runs at once take turns. Run it as \
                the owner role (the role that should own the tables). Migration 0001 creates the NOLOGIN \
                application role accesssync_app when the owner may create roles; otherwise an administrator \
                creates it first (see migrations/README.md). An applied migration whose file was edited stops \
                the run with exit status 78 before anything is applied.
                """
        )

        @OptionGroup var postgres: PostgresOptions

        @Flag(name: .long, help: "List applied and pending migrations instead of applying them.")
        var status = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Apply the NNNN_name.sql files of this directory instead of the compiled-in migrations.",
                valueName: "dir"))
        var migrations: String?

        func run() async throws {
            let session = try postgres.session()
            if status {
                let result = try await runReportingAsync { () async throws(CommandFailure) in
                    try await MigrateCommand.status(session, migrationsDirectory: migrations)
                }
                print(result.text, terminator: "")
                if result.exitStatus != .ok {
                    printError("error: an applied migration was edited or is unknown to this accesssync")
                    throw ExitCode(result.exitStatus.rawValue)
                }
                return
            }
            let outcome = try await runReportingAsync { () async throws(CommandFailure) in
                try await MigrateCommand.migrate(session, migrationsDirectory: migrations)
            }
            print(outcome.text, terminator: "")
        }
    }
}
