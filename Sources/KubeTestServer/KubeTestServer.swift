// KubeTestServer: a loopback Kubernetes API server for tests. It imports nothing of AccessSync.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A running test API server.
///
/// ```swift
/// var config = KubeTestServerConfiguration()
/// config.tokens = ["t0k3n": .admin()]
/// let server = try await KubeTestServer.start(config)
/// defer { Task { await server.stop() } }
/// print(server.url)
/// ```
public final class KubeTestServer: Sendable {
    /// Identifies an injected fault for `removeFault(_:)`.
    public struct FaultID: Sendable, Hashable {
        let raw: Int
    }

    public let configuration: KubeTestServerConfiguration
    /// The bound port.
    public let port: Int
    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    public let url: String

    let core: APIServerCore
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    private init(
        configuration: KubeTestServerConfiguration, port: Int, core: APIServerCore, channel: any Channel,
        group: MultiThreadedEventLoopGroup
    ) {
        self.configuration = configuration
        self.port = port
        self.core = core
        self.channel = channel
        self.group = group
        let scheme = configuration.tls == nil ? "http" : "https"
        self.url = "\(scheme)://\(configuration.host):\(port)"
    }

    /// Starts a server and returns once it listens.
    public static func start(_ configuration: KubeTestServerConfiguration = .init()) async throws -> KubeTestServer {
        let core = APIServerCore(config: configuration)
        var sslContext: NIOSSLContext?
        if let tls = configuration.tls {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.privateKeyPath, format: .pem)
            var tlsConfig = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tlsConfig.applicationProtocols = ["http/1.1"]
            sslContext = try NIOSSLContext(configuration: tlsConfig)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let ssl = sslContext
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let ssl {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: ssl))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(core: core))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            guard let port = channel.localAddress?.port else {
                throw KubeTestServerError(message: "the server socket has no port")
            }
            return KubeTestServer(configuration: configuration, port: port, core: core, channel: channel, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Stops listening, closes connections and releases the event loop.
    public func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    // MARK: - Request log

    /// Every request served so far, oldest first.
    public var requestLog: [RequestLogEntry] { core.logEntries }

    public func clearRequestLog() { core.clearLog() }

    // MARK: - Faults

    /// Injects a fault; it applies until removed or until its `count` is used up.
    @discardableResult
    public func injectFault(_ rule: FaultRule) -> FaultID { FaultID(raw: core.addFault(rule)) }

    public func removeFault(_ id: FaultID) { core.removeFault(id.raw) }

    public func clearFaults() { core.clearFaults() }

    // MARK: - Lists

    /// Makes every `continue` token issued so far answer 410 Expired.
    public func expireContinueTokens() { core.expireContinueTokens() }

    /// Caps pages below the client's `limit` (short pages, as a real server may return); `nil` removes the cap.
    public func setMaxListPageSize(_ size: Int?) { core.setMaxListPageSize(size) }

    // MARK: - Namespaces

    /// Completes the deletion of a Terminating namespace: removes it and everything in it.
    ///
    /// - Returns: false when the namespace does not exist or is not being deleted.
    @discardableResult
    public func finalizeNamespace(_ name: String) -> Bool { core.withLock { core.finalize(namespace: name) } }

    // MARK: - Direct store access

    /// The stored object, as a GET would return it; `resource` is the plural (`configmaps`, `roles`, ...).
    public func object(_ resource: String, namespace: String? = nil, name: String) -> JSONValue? {
        core.withLock {
            guard let type = ResourceType.all.first(where: { $0.plural == resource }) else { return nil }
            return core.stored(type, namespace ?? "", name).map(JSONValue.object)
        }
    }

    /// All stored objects of a resource (optionally one namespace), sorted by namespace and name.
    public func objects(_ resource: String, namespace: String? = nil) -> [JSONValue] {
        core.withLock {
            guard let type = ResourceType.all.first(where: { $0.plural == resource }) else { return [] }
            return (core.objects[type.groupResource] ?? [:])
                .filter { namespace == nil || $0.key.hasPrefix(namespace! + "/") }
                .sorted { $0.key < $1.key }.map { .object($0.value) }
        }
    }

    /// The current global resourceVersion counter.
    public var currentResourceVersion: Int { core.withLock { core.resourceVersion } }

    // MARK: - Clients

    /// A kubeconfig pointing at this server (CA embedded when TLS is on).
    public func kubeconfig(token: String?) throws -> String {
        var cluster = "    server: \(url)\n"
        if let tls = configuration.tls {
            let ca = try Data(contentsOf: URL(fileURLWithPath: tls.caPath)).base64EncodedString()
            cluster += "    certificate-authority-data: \(ca)\n"
        }
        var user = "  user: {}\n"
        if let token { user = "  user:\n    token: \(token)\n" }
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: kube-test-server
              cluster:
            \(cluster)contexts:
            - name: kube-test-server
              context:
                cluster: kube-test-server
                user: kube-test-server
            current-context: kube-test-server
            users:
            - name: kube-test-server
            \(user)
            """
    }

    public func writeKubeconfig(to path: String, token: String?) throws {
        try kubeconfig(token: token).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Creates a CA and a server certificate for 127.0.0.1/localhost with `openssl` in `directory`.
    public static func generateTLS(in directory: String, openssl: String = "/usr/bin/openssl") throws
        -> KubeTestServerConfiguration.TLS
    {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let d = URL(fileURLWithPath: directory)
        let caKey = d.appendingPathComponent("ca.key").path
        let caCert = d.appendingPathComponent("ca.crt").path
        let key = d.appendingPathComponent("server.key").path
        let csr = d.appendingPathComponent("server.csr").path
        let cert = d.appendingPathComponent("server.crt").path
        let ext = d.appendingPathComponent("server.ext").path
        try """
        basicConstraints=CA:FALSE
        keyUsage=digitalSignature,keyEncipherment
        extendedKeyUsage=serverAuth
        subjectAltName=DNS:localhost,IP:127.0.0.1
        """.write(toFile: ext, atomically: true, encoding: .utf8)
        func run(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: openssl)
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            let errPipe = Pipe()
            p.standardError = errPipe
            try p.run()
            let err = errPipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw KubeTestServerError(
                    message: "openssl \(args.first ?? "") failed: \(String(decoding: err, as: UTF8.self))")
            }
        }
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(
            ["req", "-x509"] + curve + [
                "-keyout", caKey, "-out", caCert, "-days", "30", "-subj", "/CN=kube-test-server-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try run(["req", "-new"] + curve + ["-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
        try run([
            "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "30",
            "-extfile", ext,
        ])
        return .init(certificatePath: cert, privateKeyPath: key, caPath: caCert)
    }
}

/// A failure to start the server.
public struct KubeTestServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
