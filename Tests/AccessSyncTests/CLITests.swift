import Foundation
import TestSupport
import Testing

/// The result of running the built `accesssync` binary.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The `accesssync` executable built next to the test bundle (`.build/<config>/accesssync`).
func accesssyncBinary() throws -> URL {
    var candidates: [URL] = []
    if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
        candidates.append(URL(fileURLWithPath: bundle.bundlePath).deletingLastPathComponent())
    }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    candidates.append(repositoryRoot.appendingPathComponent(".build/debug"))
    for directory in candidates {
        let binary = directory.appendingPathComponent("accesssync")
        if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
    }
    throw CLITestError("accesssync binary not found next to the tests (\(candidates.map(\.path))); run `swift build --build-tests` first")
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program with arguments; captures both streams.
func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a full pipe cannot block the child.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let reapedStatus = reapChild(process)
    return ProcessResult(
        status: reapedStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

func accesssync(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    try run(try accesssyncBinary(), arguments, environment: environment)
}

@Suite("accesssync CLI")
struct CLITests {
    @Test func helpListsCommandsAndExitStatuses() throws {
        let result = try accesssync(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("render"))
        #expect(result.stdout.contains("config"))
        #expect(result.stdout.contains("75 lock-held"))
        let render = try accesssync(["render", "--help"])
        #expect(render.status == 0)
        for option in ["--directory <file.ldif>", "--policy <dir>", "--out <dir>", "--config <file>", "--now <rfc3339>"] {
            #expect(render.stdout.contains(option), "\(option)")
        }
        // Every option has help text after its name.
        let optionLines = render.stdout.split(separator: "\n").filter { $0.hasPrefix("  --") }
        #expect(optionLines.count == 6)  // the five options and --version
        for line in optionLines {
            let afterName = line.split(separator: ">", maxSplits: 1).last ?? ""
            #expect(afterName.trimmingCharacters(in: .whitespaces).count > 10, "\(line)")
        }
    }

    @Test func renderSampleOrganisationIsByteIdentical() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var outputs: [[String: Data]] = []
        for name in ["a", "b"] {
            let out = root.appendingPathComponent(name).path
            let result = try accesssync([
                "render", "--directory", sampleLDIF, "--policy", samplePolicy, "--out", out, "--config", sampleConfig,
                "--now", "2025-06-30T12:00:00Z",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("into \(out)"))
            // Planning warnings (the sample has a group cycle) go to stderr, once prefixed.
            #expect(result.stderr.contains("warning: [group-cycle]"))
            #expect(!result.stderr.contains("warning: warning:"))
            outputs.append(try directoryContents(out))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0]["hub.json"] != nil)
        // Project namespaces from the shipped grants, kept by Argo CD when they leave the render.
        for project in ["proj-ml-platform", "proj-finance-analytics"] {
            let manifest = try #require(outputs[0]["namespaces/\(project).yaml"], "\(project)")
            let lines = String(decoding: manifest, as: UTF8.self).split(separator: "\n")
            #expect(lines.contains { $0.contains("argocd.argoproj.io/sync-options:") && $0.contains("Prune=false") })
        }
    }

    @Test func renderedManifestsPassKubernetesValidateStrict() throws {
        let venv = try #require(
            ProcessInfo.processInfo.environment["ACCESSSYNC_VENV"],
            "ACCESSSYNC_VENV is not set: run scripts/test.sh (or source .testenv/env.sh), or point it at a venv with kubernetes-validate")
        let validator = URL(fileURLWithPath: venv).appendingPathComponent("bin/kubernetes-validate")
        #expect(
            FileManager.default.isExecutableFile(atPath: validator.path),
            "kubernetes-validate is missing from \(venv)/bin: pip install kubernetes-validate")
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("out").path
        let render = try accesssync([
            "render", "--directory", sampleLDIF, "--policy", samplePolicy, "--out", out, "--config", sampleConfig,
            "--now", "2025-06-30T12:00:00Z",
        ])
        #expect(render.status == 0, "\(render.stderr)")
        let manifests = try directoryContents(out).keys.filter { $0.hasSuffix(".yaml") }.sorted()
        try #require(manifests.count > 20, "render produced too few manifests: \(manifests.count)")
        let result = try run(validator, ["-k", "1.30.0", "--strict"] + manifests.map { out + "/" + $0 })
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
    }

    @Test func renderErrorsUseTheDocumentedExitStatuses() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("out").path

        let missing = try accesssync(["render", "--directory", root.path + "/none.ldif", "--policy", samplePolicy, "--out", out])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("error: \(root.path)/none.ldif: LDIF file does not exist"))

        let badLDIF = root.appendingPathComponent("bad.ldif")
        try "dn: cn=a,dc=example,dc=org\ncn: a\n\nsearch: 2\nresult: 4 Size limit exceeded\n".write(
            to: badLDIF, atomically: true, encoding: .utf8)
        let incomplete = try accesssync(["render", "--directory", badLDIF.path, "--policy", samplePolicy, "--out", out])
        #expect(incomplete.status == 65)
        #expect(incomplete.stderr.contains("\(badLDIF.path):5: the search that produced this LDIF did not complete"))

        let policy = root.appendingPathComponent("policy")
        try FileManager.default.createDirectory(at: policy, withIntermediateDirectories: true)
        try "grants:\n  - id: g\n    group: team\n    tier: gold\n".write(
            to: policy.appendingPathComponent("grants.yaml"), atomically: true, encoding: .utf8)
        let badPolicy = try accesssync(["render", "--directory", sampleLDIF, "--policy", policy.path, "--out", out])
        #expect(badPolicy.status == 65)
        #expect(badPolicy.stderr.contains("\(policy.path)/grants.yaml:4:11: grants[0].tier: unknown tier 'gold'"))

        let occupied = root.appendingPathComponent("file")
        try "x".write(to: occupied, atomically: true, encoding: .utf8)
        let unwritable = try accesssync([
            "render", "--directory", sampleLDIF, "--policy", samplePolicy, "--out", occupied.path, "--config", sampleConfig,
        ])
        #expect(unwritable.status == 73)
        #expect(unwritable.stderr.contains("not a directory"))

        let badNow = try accesssync(["render", "--directory", sampleLDIF, "--policy", samplePolicy, "--out", out, "--now", "yesterday"])
        #expect(badNow.status == 64)
        #expect(badNow.stderr.contains("--now must be an RFC 3339 date-time"))

        let missingOption = try accesssync(["render", "--directory", sampleLDIF])
        #expect(missingOption.status == 64)
        #expect(missingOption.stderr.contains("--policy"))

        let badConfig = root.appendingPathComponent("c.yaml")
        try "sync:\n  instanse: x\n".write(to: badConfig, atomically: true, encoding: .utf8)
        let configuration = try accesssync([
            "render", "--directory", sampleLDIF, "--policy", samplePolicy, "--out", out, "--config", badConfig.path,
        ])
        #expect(configuration.status == 78)
        #expect(configuration.stderr.contains("\(badConfig.path):2:3: sync.instanse: unknown key"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func configCheckPrintsTheEffectiveConfigurationWithoutSecrets() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let secret = root.appendingPathComponent("token")
        try "tok-3f9a-very-secret\n".write(to: secret, atomically: true, encoding: .utf8)
        let config = root.appendingPathComponent("ok.yaml")
        try "hub:\n  url: http://127.0.0.1:8081/hub/api\n  tokenFile: \(secret.path)\nldap:\n  bindPasswordEnv: LDAP_PW\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let environment = ["LDAP_PW": "pw-71c2-very-secret", "PATH": "/usr/bin:/bin"]
        let ok = try accesssync(["config", "check", "--config", config.path], environment: environment)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("url: \"http://127.0.0.1:8081/hub/api\""))
        #expect(ok.stdout.contains("tokenFile: \"\(secret.path)\"  # readable (content not shown)"))
        #expect(ok.stdout.contains("bindPasswordEnv: \"LDAP_PW\"  # readable (content not shown)"))
        #expect(ok.stdout.contains("instance: \"default\""))  // defaults are filled in
        #expect(!ok.stdout.contains("very-secret") && !ok.stderr.contains("very-secret"))

        let unreadable = try accesssync(["config", "check", "--config", config.path], environment: ["PATH": "/usr/bin:/bin"])
        #expect(unreadable.status == 78)
        #expect(unreadable.stderr.contains("error: ldap.bindPassword: the environment variable LDAP_PW is not set"))

        let example = try accesssync(
            ["config", "check", "--config", repositoryRoot.appendingPathComponent("examples/accesssync.yaml").path],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(example.status == 78)  // the example's secret files do not exist here
        #expect(example.stdout.contains("bindPasswordFile: \"/run/secrets/ldap-bind-password\"  # NOT READABLE"))

        let bad = root.appendingPathComponent("bad.yaml")
        try "ldap:\n  uri: ldap://x\n  bindPassword: hunter2\n".write(to: bad, atomically: true, encoding: .utf8)
        let invalid = try accesssync(["config", "check", "--config", bad.path])
        #expect(invalid.status == 78)
        #expect(invalid.stderr.contains("\(bad.path):3:17: ldap.bindPassword: secrets may not be written"))
        #expect(!invalid.stderr.contains("hunter2"))

        let missing = try accesssync(["config", "check", "--config", root.path + "/none.yaml"])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("configuration file does not exist"))
    }
}
