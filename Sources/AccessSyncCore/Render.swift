public import Foundation
import LDAPBridge
import PolicyFiles
import RBACModel

/// `accesssync render`: LDIF directory + policy files → manifests in a directory (GitOps).
public enum RenderCommand {
    public struct Options: Hashable, Sendable {
        /// The directory export (`ldapsearch -LLL` / `slapcat` LDIF).
        public var directoryFile: String
        /// The policy directory (`policies/`).
        public var policyDirectory: String
        /// Where manifests are written.
        public var outputDirectory: String
        /// Optional configuration file (naming, instance, LDAP schema and bases, ...).
        public var configurationFile: String?
        /// "Now" for expiry of grants and overrides and for disabled tests.
        public var now: Date

        public init(
            directoryFile: String, policyDirectory: String, outputDirectory: String, configurationFile: String? = nil,
            now: Date
        ) {
            self.directoryFile = directoryFile
            self.policyDirectory = policyDirectory
            self.outputDirectory = outputDirectory
            self.configurationFile = configurationFile
            self.now = now
        }
    }

    /// What a successful render did.
    public struct Outcome: Hashable, Sendable {
        public var summary: RenderSummary
        public var objectCount: Int
        public var hubUsers: Int
        public var hubGroups: Int
        /// Planning diagnostics below error severity, and LDIF mapping warnings.
        public var warnings: [String]
    }

    /// Runs the render.
    /// - Throws: `CommandFailure` with the exit status of the table: `configuration` (78) for a bad
    ///   configuration, `noInput` (66) for a missing LDIF file or policy directory, `dataError` (65)
    ///   for malformed LDIF, invalid policy or planning errors, `cannotCreate` (73) when the output
    ///   cannot be written. Nothing is written unless planning succeeded.
    public static func run(_ options: Options, renderer: any DesiredStateRenderer) throws(CommandFailure) -> Outcome {
        let configuration: Configuration
        if let path = options.configurationFile {
            do {
                configuration = try Configuration.load(path: path)
            } catch {
                throw CommandFailure(.configuration, error.description)
            }
        } else {
            configuration = Configuration()
        }

        let records: [LDIFRecord]
        do {
            records = try LDIFReader.read(path: options.directoryFile)
        } catch {
            let status: ExitStatus = error.line == nil ? .noInput : .dataError
            throw CommandFailure(status, error.description)
        }
        let directory: LDIFDirectoryResult
        do {
            directory = try LDIFDirectory.snapshot(
                from: records, mapping: configuration.ldifMapping, now: options.now, file: options.directoryFile)
        } catch {
            throw CommandFailure(error.line == nil ? .configuration : .dataError, error.description)
        }

        let policy: Policy
        do {
            policy = try PolicyLoader.load(directory: options.policyDirectory).policy
        } catch {
            let missing = error.errors.count == 1 && error.errors[0].line == nil
                && error.errors[0].file == options.policyDirectory
            throw CommandFailure(
                missing ? .noInput : .dataError,
                "invalid policy:\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }

        let desired = Planner.plan(
            directory: directory.snapshot, policy: policy, settings: configuration.planSettings, now: options.now)
        let errors = desired.diagnostics.filter { $0.severity == .error }.sorted()
        guard errors.isEmpty else {
            throw CommandFailure(
                .dataError,
                "planning failed; nothing was written:\n" + errors.map { "  \($0)" }.joined(separator: "\n"))
        }
        let summary = try renderer.render(desired, to: options.outputDirectory)
        let warnings = directory.warnings + desired.diagnostics.filter { $0.severity != .error }.sorted().map(\.description)
        return Outcome(
            summary: summary, objectCount: desired.objects.count, hubUsers: desired.hub.users.count,
            hubGroups: desired.hub.groups.count, warnings: warnings)
    }
}
