public import Foundation

/// `accesssync config check`: validate a configuration file and print the effective configuration.
public enum ConfigurationCheck {
    /// The report and the exit status.
    public struct Result: Hashable, Sendable {
        /// The effective configuration as YAML (secrets shown only by source and readability).
        public var effectiveYAML: String
        /// Problems that make the configuration unusable (today: secrets that cannot be read).
        public var problems: [String]
        public var exitStatus: ExitStatus { problems.isEmpty ? .ok : .configuration }
    }

    /// Loads `path` and checks that every configured secret is readable (without keeping it).
    /// - Throws: `CommandFailure` (78) when the file is missing or invalid.
    public static func run(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(CommandFailure) -> Result {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(path: path)
        } catch {
            throw CommandFailure(.configuration, error.description)
        }
        var problems: [String] = []
        for (keyPath, source) in configuration.secrets {
            if case .missing(let reason) = Configuration.status(of: source, environment: environment) {
                problems.append("\(keyPath): \(reason)")
            }
        }
        if configuration.kubernetes.mode == .render, configuration.kubernetes.renderDirectory == nil {
            problems.append("kubernetes.renderDirectory: required when kubernetes.mode is render")
        }
        return Result(effectiveYAML: configuration.effectiveYAML(environment: environment), problems: problems)
    }
}
