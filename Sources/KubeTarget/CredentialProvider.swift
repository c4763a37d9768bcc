import Dispatch
import Foundation
import RBACModel

/// What authenticates one request.
struct Credential: Sendable, Hashable {
    var bearerToken: String?
    /// From an exec plugin (PEM); static certificates live in the TLS configuration.
    var clientCertificatePEM: [UInt8]?
    var clientKeyPEM: [UInt8]?
}

/// Produces credentials: fixed tokens, token files re-read as they rotate, and exec plugins cached until
/// their expiry. `invalidate()` after a 401 forces a fresh read.
actor CredentialProvider {
    private let source: CredentialSource
    private let server: String
    private let certificateAuthorityPEM: [UInt8]?
    private let insecureSkipTLSVerify: Bool
    private let environment: [String: String]
    private var cached: Credential?
    private var cachedUntil: ContinuousClock.Instant?
    private var inFlight: Task<(Credential, ContinuousClock.Instant?), any Error>?
    /// How many times the source was read (token file reads, plugin runs): for tests.
    private(set) var loads = 0

    init(configuration: KubeClientConfiguration, environment: [String: String]) {
        self.source = configuration.credentials
        self.server = configuration.server
        self.certificateAuthorityPEM = configuration.certificateAuthorityPEM
        self.insecureSkipTLSVerify = configuration.insecureSkipTLSVerify
        self.environment = environment
    }

    func credential() async throws -> Credential {
        if let cached, cachedUntil.map({ ContinuousClock.now < $0 }) ?? true { return cached }
        if let inFlight { return try await inFlight.value.0 }
        let task = Task { try await self.load() }
        inFlight = task
        defer { inFlight = nil }
        let (credential, until) = try await task.value
        cached = credential
        cachedUntil = until
        return credential
    }

    /// Drops the cached credential (after a 401).
    func invalidate() {
        cached = nil
        cachedUntil = nil
    }

    private func load() async throws -> (Credential, ContinuousClock.Instant?) {
        loads += 1
        switch source {
        case .none:
            return (Credential(), nil)
        case .token(let token):
            return (Credential(bearerToken: token), nil)
        case .tokenFile(let path, let refreshInterval):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KubeClientError(.credentials, "cannot read token file \(path)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw KubeClientError(.credentials, "token file \(path) is empty") }
            return (Credential(bearerToken: token), ContinuousClock.now + refreshInterval)
        case .exec(let exec):
            return try await runPlugin(exec)
        }
    }

    private func runPlugin(_ exec: ExecConfig) async throws -> (Credential, ContinuousClock.Instant?) {
        var spec: [String: JSONValue] = ["interactive": .bool(false)]
        if exec.provideClusterInfo {
            var cluster: [String: JSONValue] = ["server": .string(server), "insecure-skip-tls-verify": .bool(insecureSkipTLSVerify)]
            if let certificateAuthorityPEM {
                cluster["certificate-authority-data"] = .string(Data(certificateAuthorityPEM).base64EncodedString())
            }
            spec["cluster"] = .object(cluster)
        }
        let info = JSONValue.object([
            "apiVersion": .string(exec.apiVersion), "kind": .string("ExecCredential"), "spec": .object(spec),
        ])
        var processEnvironment = environment
        for variable in exec.env { processEnvironment[variable.name] = variable.value }
        processEnvironment["KUBERNETES_EXEC_INFO"] = info.serialized()
        guard let executable = Self.resolveCommand(exec.command, path: processEnvironment["PATH"] ?? "/usr/bin:/bin") else {
            var message = "credential plugin \(exec.command) not found"
            if let hint = exec.installHint { message += ": \(hint)" }
            throw KubeClientError(.credentials, message)
        }
        let result = try await Self.run(executable: executable, arguments: exec.args, environment: processEnvironment)
        guard result.status == 0 else {
            // stderr is not quoted: plugins may echo secrets there.
            throw KubeClientError(.credentials, "credential plugin \(exec.command) exited with status \(result.status)")
        }
        guard let json = try? JSONParser.parse(result.output), json["kind"]?.stringValue == "ExecCredential",
            let status = json["status"]
        else {
            throw KubeClientError(.credentials, "credential plugin \(exec.command) did not print an ExecCredential")
        }
        var credential = Credential()
        credential.bearerToken = status["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if let certificate = status["clientCertificateData"]?.stringValue, let key = status["clientKeyData"]?.stringValue {
            credential.clientCertificatePEM = Array(certificate.utf8)
            credential.clientKeyPEM = Array(key.utf8)
        }
        guard credential.bearerToken != nil || credential.clientCertificatePEM != nil else {
            throw KubeClientError(.credentials, "credential plugin \(exec.command) returned neither a token nor a client certificate")
        }
        var until: ContinuousClock.Instant?
        if let text = status["expirationTimestamp"]?.stringValue {
            guard let expiry = ManifestDecoding.parseTimestamp(text) else {
                throw KubeClientError(.credentials, "credential plugin \(exec.command) returned an unreadable expirationTimestamp")
            }
            let remaining = expiry.timeIntervalSinceNow
            until = ContinuousClock.now + .milliseconds(Int64(max(0, remaining) * 1000))
        }
        return (credential, until)
    }

    static func resolveCommand(_ command: String, path: String) -> String? {
        if command.contains("/") {
            return FileManager.default.isExecutableFile(atPath: command) ? command : nil
        }
        for directory in path.split(separator: ":") {
            let candidate = String(directory) + "/" + command
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    struct ProcessResult: Sendable {
        var status: Int32
        var output: [UInt8]
    }

    /// Runs a process off the cooperative pool (reading its output blocks).
    static func run(executable: String, arguments: [String], environment: [String: String]) async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.environment = environment
                let stdout = Pipe()
                process.standardOutput = stdout
                process.standardError = FileHandle.nullDevice
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: KubeClientError(.credentials, "cannot start credential plugin \(executable)"))
                    return
                }
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: ProcessResult(status: process.terminationStatus, output: Array(output)))
            }
        }
    }
}
