public import Foundation

/// Where the client gets its bearer token or client certificate.
public enum CredentialSource: Sendable, Hashable, CustomStringConvertible {
    case none
    /// A fixed token (kubeconfig `token`).
    case token(String)
    /// A token file re-read every `refreshInterval` (kubeconfig `tokenFile`, in-cluster projected tokens)
    /// and after a 401.
    case tokenFile(path: String, refreshInterval: Duration)
    /// A credential plugin whose result is cached until its `expirationTimestamp` or a 401.
    case exec(ExecConfig)

    /// Never prints a token.
    public var description: String {
        switch self {
        case .none: "none"
        case .token: "token(redacted)"
        case .tokenFile(let path, _): "tokenFile(\(path))"
        case .exec(let exec): "exec(\(exec.command))"
        }
    }
}

/// How to reach and authenticate to one API server.
public struct KubeClientConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// `https://host:port` (a path prefix is kept).
    public var server: String
    /// PEM bundle of trusted CAs; nil uses the system's trust store.
    public var certificateAuthorityPEM: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    /// Name to verify the server certificate against (and send as SNI) instead of the URL's host.
    public var tlsServerName: String?
    /// Static client certificate and key (PEM).
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var credentials: CredentialSource
    /// The context's (or the pod's) namespace.
    public var namespace: String?
    public var userAgent: String

    public init(
        server: String, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
        tlsServerName: String? = nil, clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil,
        credentials: CredentialSource = .none, namespace: String? = nil, userAgent: String = "accesssync"
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.tlsServerName = tlsServerName
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.credentials = credentials
        self.namespace = namespace
        self.userAgent = userAgent
    }

    /// No key material or token.
    public var description: String {
        "KubeClientConfiguration(server: \(server), ca: \(certificateAuthorityPEM == nil ? "system" : "custom"), "
            + "insecure: \(insecureSkipTLSVerify), clientCertificate: \(clientCertificatePEM != nil), "
            + "credentials: \(credentials))"
    }

    public static let defaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Chooses like client-go: an explicit kubeconfig path, else `KUBECONFIG`, else in-cluster when
    /// `KUBERNETES_SERVICE_HOST` is set, else `$HOME/.kube/config`.
    public static func load(
        kubeconfigPath: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = defaultServiceAccountDirectory
    ) throws(KubeClientError) -> KubeClientConfiguration {
        if kubeconfigPath != nil || !(environment["KUBECONFIG"] ?? "").isEmpty {
            return try fromKubeconfig(path: kubeconfigPath, context: context, environment: environment)
        }
        if !(environment["KUBERNETES_SERVICE_HOST"] ?? "").isEmpty {
            return try inCluster(environment: environment, serviceAccountDirectory: serviceAccountDirectory)
        }
        return try fromKubeconfig(path: nil, context: context, environment: environment)
    }

    /// Reads kubeconfig: `path`, else the `KUBECONFIG` list (merged, first value wins), else
    /// `$HOME/.kube/config`; then selects `context` or the current context.
    public static func fromKubeconfig(
        path: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubeClientError) -> KubeClientConfiguration {
        let paths: [String]
        if let path {
            paths = [path]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            paths = list.split(separator: ":").map(String.init)
        } else {
            let home = environment["HOME"] ?? NSHomeDirectory()
            paths = [home + "/.kube/config"]
        }
        return try fromKubeconfig(try Kubeconfig.load(paths: paths), context: context)
    }

    /// Selects a context of an already loaded kubeconfig.
    public static func fromKubeconfig(_ config: Kubeconfig, context: String? = nil) throws(KubeClientError)
        -> KubeClientConfiguration
    {
        guard let contextName = context ?? config.currentContext, !contextName.isEmpty else {
            throw KubeClientError(.configuration, "kubeconfig has no current-context and none was given")
        }
        guard let selected = config.contexts[contextName] else {
            throw KubeClientError(.configuration, "kubeconfig has no context \(contextName)")
        }
        guard let cluster = config.clusters[selected.cluster] else {
            throw KubeClientError(.configuration, "context \(contextName) names unknown cluster \(selected.cluster)")
        }
        let user: Kubeconfig.User?
        if selected.user.isEmpty {
            user = nil
        } else {
            guard let found = config.users[selected.user] else {
                throw KubeClientError(.configuration, "context \(contextName) names unknown user \(selected.user)")
            }
            user = found
        }
        var result = KubeClientConfiguration(
            server: cluster.server.hasSuffix("/") ? String(cluster.server.dropLast()) : cluster.server,
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify,
            tlsServerName: cluster.tlsServerName,
            namespace: selected.namespace
        )
        if let data = cluster.certificateAuthorityData {
            result.certificateAuthorityPEM = try base64(data, what: "certificate-authority-data of \(selected.cluster)")
        } else if let file = cluster.certificateAuthority {
            result.certificateAuthorityPEM = try readFile(file, what: "certificate-authority")
        }
        if let user {
            if let data = user.clientCertificateData {
                result.clientCertificatePEM = try base64(data, what: "client-certificate-data of \(selected.user)")
            } else if let file = user.clientCertificate {
                result.clientCertificatePEM = try readFile(file, what: "client-certificate")
            }
            if let data = user.clientKeyData {
                result.clientKeyPEM = try base64(data, what: "client-key-data of \(selected.user)")
            } else if let file = user.clientKey {
                result.clientKeyPEM = try readFile(file, what: "client-key")
            }
            if (result.clientCertificatePEM == nil) != (result.clientKeyPEM == nil) {
                throw KubeClientError(.configuration, "user \(selected.user) has a client certificate without key or a key without certificate")
            }
            if let token = user.token, !token.isEmpty {
                result.credentials = .token(token)
            } else if let tokenFile = user.tokenFile {
                result.credentials = .tokenFile(path: tokenFile, refreshInterval: .seconds(60))
            } else if let exec = user.exec {
                result.credentials = .exec(exec)
            }
        }
        return result
    }

    /// The pod's service account: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the
    /// token (re-read every minute, as projected tokens rotate), CA and namespace from
    /// `serviceAccountDirectory`.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = defaultServiceAccountDirectory,
        tokenRefreshInterval: Duration = .seconds(60)
    ) throws(KubeClientError) -> KubeClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeClientError(.configuration, "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeClientError(.configuration, "service account token \(tokenPath) is not readable")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var result = KubeClientConfiguration(
            server: "https://\(hostPart):\(port)",
            credentials: .tokenFile(path: tokenPath, refreshInterval: tokenRefreshInterval)
        )
        result.certificateAuthorityPEM = try readFile(serviceAccountDirectory + "/ca.crt", what: "service account CA")
        if let namespace = try? String(contentsOfFile: serviceAccountDirectory + "/namespace", encoding: .utf8) {
            result.namespace = namespace.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return result
    }

    static func base64(_ text: String, what: String) throws(KubeClientError) -> [UInt8] {
        guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
            throw KubeClientError(.configuration, "\(what) is not valid base64")
        }
        return Array(data)
    }

    static func readFile(_ path: String, what: String) throws(KubeClientError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeClientError(.configuration, "cannot read \(what) file \(path)")
        }
        return Array(data)
    }
}
