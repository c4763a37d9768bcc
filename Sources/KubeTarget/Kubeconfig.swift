import Foundation
import Yams

/// The parts of a kubeconfig file AccessSync reads, with relative paths already resolved against the
/// directory of the file that defined them.
public struct Kubeconfig: Sendable, Hashable, CustomStringConvertible {
    public struct Cluster: Sendable, Hashable {
        public var server: String
        public var certificateAuthority: String?
        /// Base64 of PEM.
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
    }

    public struct User: Sendable, Hashable {
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var token: String?
        public var tokenFile: String?
        public var exec: ExecConfig?
    }

    public struct Context: Sendable, Hashable {
        public var cluster: String
        public var user: String
        public var namespace: String?
    }

    public var clusters: [String: Cluster] = [:]
    public var users: [String: User] = [:]
    public var contexts: [String: Context] = [:]
    public var currentContext: String?

    public init() {}

    /// Names only: users' credentials never appear.
    public var description: String {
        "Kubeconfig(current-context: \(currentContext ?? "-"), contexts: \(contexts.keys.sorted()), "
            + "clusters: \(clusters.keys.sorted()), users: \(users.keys.sorted()))"
    }

    /// Loads and merges files in order; for every cluster, user and context name and for
    /// `current-context`, the first file that sets it wins (as `kubectl` merges `KUBECONFIG`).
    /// Missing files in the list are ignored, as `kubectl` does; an empty result is an error.
    public static func load(paths: [String]) throws(KubeClientError) -> Kubeconfig {
        var merged = Kubeconfig()
        var loadedAny = false
        for path in paths where !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw KubeClientError(.configuration, "cannot read kubeconfig \(path)")
            }
            let directory = (path as NSString).deletingLastPathComponent
            let file = try parse(yaml: text, baseDirectory: directory.isEmpty ? "." : directory, source: path)
            merged.merge(file)
            loadedAny = true
        }
        guard loadedAny else {
            throw KubeClientError(.configuration, "no kubeconfig file found in \(paths.joined(separator: ":"))")
        }
        return merged
    }

    /// Adds what `other` defines and `self` does not (first value wins).
    public mutating func merge(_ other: Kubeconfig) {
        clusters.merge(other.clusters) { first, _ in first }
        users.merge(other.users) { first, _ in first }
        contexts.merge(other.contexts) { first, _ in first }
        if currentContext?.isEmpty ?? true { currentContext = other.currentContext }
    }

    /// Parses one kubeconfig document.
    ///
    /// - Parameters:
    ///   - baseDirectory: relative file paths (certificates, keys, token files, exec commands with a
    ///     path separator) are resolved against it.
    ///   - source: the file name, for error messages.
    public static func parse(yaml: String, baseDirectory: String, source: String = "kubeconfig")
        throws(KubeClientError) -> Kubeconfig
    {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            // Yams' message quotes the offending line, which may hold a token: report the position only.
            var position = ""
            if let yamlError = error as? YamlError, case .scanner(_, _, let mark, _) = yamlError {
                position = " at line \(mark.line)"
            } else if let yamlError = error as? YamlError, case .parser(_, _, let mark, _) = yamlError {
                position = " at line \(mark.line)"
            }
            throw KubeClientError(.configuration, "\(source) is not valid YAML\(position)")
        }
        var config = Kubeconfig()
        guard let root else { return config }
        guard root.mapping != nil else { throw KubeClientError(.configuration, "\(source) is not a YAML mapping") }
        func resolve(_ path: String?) -> String? {
            guard let path, !path.isEmpty else { return nil }
            if path.hasPrefix("/") { return path }
            if path.hasPrefix("~/") { return NSHomeDirectory() + String(path.dropFirst()) }
            return ((baseDirectory as NSString).appendingPathComponent(path) as NSString).standardizingPath
        }
        func text(_ node: Node?, _ key: String) -> String? {
            guard let value = node?[key], case .scalar(let scalar) = value else { return nil }
            if scalar.style == .plain || scalar.style == .any,
                ["", "~", "null", "Null", "NULL"].contains(scalar.string)
            {
                return nil
            }
            return scalar.string
        }
        func named(_ key: String) -> [(String, Node)] {
            (root[key]?.sequence.map(Array.init) ?? []).compactMap { entry in
                guard let name = text(entry, "name") else { return nil }
                return (name, entry)
            }
        }
        for (name, entry) in named("clusters") {
            guard config.clusters[name] == nil else { continue }
            let cluster = entry["cluster"]
            guard let server = text(cluster, "server") else {
                throw KubeClientError(.configuration, "\(source): cluster \(name) has no server")
            }
            config.clusters[name] = Cluster(
                server: server,
                certificateAuthority: resolve(text(cluster, "certificate-authority")),
                certificateAuthorityData: text(cluster, "certificate-authority-data"),
                insecureSkipTLSVerify: cluster?["insecure-skip-tls-verify"]?.bool ?? false,
                tlsServerName: text(cluster, "tls-server-name")
            )
        }
        for (name, entry) in named("users") {
            guard config.users[name] == nil else { continue }
            let user = entry["user"]
            var exec: ExecConfig?
            if let execNode = user?["exec"], execNode.mapping != nil {
                guard var command = text(execNode, "command") else {
                    throw KubeClientError(.configuration, "\(source): user \(name) has an exec section without command")
                }
                if command.contains("/") { command = resolve(command) ?? command }
                let args = (execNode["args"]?.sequence.map(Array.init) ?? []).compactMap(\.string)
                let env = (execNode["env"]?.sequence.map(Array.init) ?? []).compactMap { item -> ExecConfig.EnvVar? in
                    guard let envName = text(item, "name") else { return nil }
                    return ExecConfig.EnvVar(name: envName, value: text(item, "value") ?? "")
                }
                exec = ExecConfig(
                    command: command, args: args, env: env,
                    apiVersion: text(execNode, "apiVersion") ?? "client.authentication.k8s.io/v1",
                    provideClusterInfo: execNode["provideClusterInfo"]?.bool ?? false,
                    installHint: text(execNode, "installHint")
                )
            }
            config.users[name] = User(
                clientCertificate: resolve(text(user, "client-certificate")),
                clientCertificateData: text(user, "client-certificate-data"),
                clientKey: resolve(text(user, "client-key")),
                clientKeyData: text(user, "client-key-data"),
                token: text(user, "token"),
                tokenFile: resolve(text(user, "tokenFile")),
                exec: exec
            )
        }
        for (name, entry) in named("contexts") {
            guard config.contexts[name] == nil else { continue }
            let context = entry["context"]
            config.contexts[name] = Context(
                cluster: text(context, "cluster") ?? "",
                user: text(context, "user") ?? "",
                namespace: text(context, "namespace")
            )
        }
        config.currentContext = text(root, "current-context")
        return config
    }
}

/// A client-go credential plugin (`users[].user.exec`).
public struct ExecConfig: Sendable, Hashable {
    public struct EnvVar: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Absolute path, a path relative to the kubeconfig (already resolved), or a name looked up in `PATH`.
    public var command: String
    public var args: [String]
    public var env: [EnvVar]
    public var apiVersion: String
    public var provideClusterInfo: Bool
    public var installHint: String?

    public init(
        command: String, args: [String] = [], env: [EnvVar] = [],
        apiVersion: String = "client.authentication.k8s.io/v1", provideClusterInfo: Bool = false,
        installHint: String? = nil
    ) {
        self.command = command
        self.args = args
        self.env = env
        self.apiVersion = apiVersion
        self.provideClusterInfo = provideClusterInfo
        self.installHint = installHint
    }
}
