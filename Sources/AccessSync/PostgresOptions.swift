import AccessSyncCore
import ArgumentParser
import Foundation

/// The connection option shared by the PostgreSQL commands (`migrate`, `policy`, `audit`).
struct PostgresOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Configuration file whose postgres: section names the database (default: $ACCESSSYNC_CONFIG; "
                + "without either, libpq's PG* variables and ~/.pgpass apply).",
            valueName: "file"))
    var config: String?

    /// Loads the configuration (if any) into a session; failures exit with the documented status.
    func session() throws -> PostgresSession {
        try runReporting { () throws(CommandFailure) in try PostgresSession.load(configurationFile: config) }
    }
}

/// Runs async command logic and turns its failures into the documented exit status, printing one
/// actionable message on standard error.
func runReportingAsync<T>(_ body: () async throws(CommandFailure) -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitStatus.rawValue)
    }
}

/// Writes text to standard output as it comes (exports can be large).
func writeStandardOutput(_ text: String) throws {
    try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
}

/// Parses a date-time option, or fails validation (exit 64) with an example.
func parseTime(_ text: String?, option: String) throws -> Date? {
    guard let text else { return nil }
    guard let date = CommandTime.parse(text) else { throw ValidationError(CommandTime.invalid(option, text)) }
    return date
}
