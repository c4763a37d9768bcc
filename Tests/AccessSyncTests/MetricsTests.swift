import AccessSyncCore
import Foundation
import Logging
import PolicyStore
import RBACModel
import TestSupport
import Testing

/// The metrics contract (docs/metrics.md): names, types and labels the dashboard and alerts use.
let metricsContract: [String: (type: String, labels: Set<String>)] = [
    "accesssync_run_duration_seconds": ("gauge", ["phase"]),
    "accesssync_changes_total": ("counter", ["kind", "action", "outcome"]),
    "accesssync_people_losing_access": ("gauge", []),
    "accesssync_people_with_access": ("gauge", []),
    "accesssync_run_failures_total": ("counter", []),
    "accesssync_run_blocked_total": ("counter", []),
    "accesssync_last_success_timestamp_seconds": ("gauge", []),
    "accesssync_audit_head_info": ("gauge", ["hash"]),
]

/// One sample as parsed.
struct MetricSample: Hashable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict reader of the text exposition format 0.0.4 for what we write: `# HELP`/`# TYPE` once per
/// family before its samples, families contiguous, label values escaped, values Go-parsable.
func parseExposition(_ text: String) throws -> (types: [String: String], samples: [MetricSample]) {
    struct Bad: Error, CustomStringConvertible { var description: String }
    guard text.hasSuffix("\n") else { throw Bad(description: "no final line feed") }
    var types: [String: String] = [:]
    var helped: Set<String> = []
    var samples: [MetricSample] = []
    var finished: Set<String> = []
    var current: String?
    for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard parts.count == 4 else { throw Bad(description: "bad comment: \(line)") }
            let name = parts[2]
            if name != current {
                if let current { finished.insert(current) }
                guard !finished.contains(name) else { throw Bad(description: "\(name) is not contiguous") }
                current = name
            }
            if parts[1] == "TYPE" {
                guard types[name] == nil, ["counter", "gauge"].contains(parts[3]) else { throw Bad(description: line) }
                types[name] = parts[3]
            } else {
                guard helped.insert(name).inserted else { throw Bad(description: "second HELP: \(line)") }
            }
            continue
        }
        guard let nameEnd = line.firstIndex(where: { $0 == "{" || $0 == " " }) else { throw Bad(description: line) }
        let name = String(line[..<nameEnd])
        guard name == current, types[name] != nil else { throw Bad(description: "sample before its TYPE: \(line)") }
        guard name.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression) != nil else {
            throw Bad(description: "bad name \(name)")
        }
        var rest = line[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest.removeFirst()
            while rest.first != "}" {
                guard let eq = rest.firstIndex(of: "=") else { throw Bad(description: line) }
                let label = String(rest[..<eq])
                rest = rest[rest.index(after: eq)...]
                guard rest.first == "\"" else { throw Bad(description: line) }
                rest.removeFirst()
                var value = ""
                while let c = rest.first, c != "\"" {
                    rest.removeFirst()
                    if c == "\\" {
                        let escaped = rest.removeFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(c)
                    }
                }
                guard !rest.isEmpty else { throw Bad(description: line) }
                rest.removeFirst()
                guard labels.updateValue(value, forKey: label) == nil else { throw Bad(description: line) }
                if rest.first == "," { rest.removeFirst() }
            }
            rest.removeFirst()
        }
        guard rest.first == " ", let value = Double(rest.dropFirst()) else { throw Bad(description: "bad value: \(line)") }
        samples.append(MetricSample(name: name, labels: labels, value: value))
    }
    guard Set(types.keys) == helped else { throw Bad(description: "HELP and TYPE differ") }
    return (types, samples)
}

/// Checks names, types and labels against the contract.
func expectContract(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [MetricSample] {
    let (types, samples) = try parseExposition(text)
    for (name, type) in types {
        #expect(metricsContract[name]?.type == type, "\(name) \(type)", sourceLocation: sourceLocation)
    }
    for sample in samples {
        #expect(Set(sample.labels.keys) == metricsContract[sample.name]?.labels, "\(sample)", sourceLocation: sourceLocation)
    }
    // Only series with an observation, except the unlabelled counters.
    for sample in samples where sample.name == "accesssync_changes_total" { #expect(sample.value > 0) }
    #expect(samples.contains { $0.name == "accesssync_run_failures_total" }, sourceLocation: sourceLocation)
    #expect(samples.contains { $0.name == "accesssync_run_blocked_total" }, sourceLocation: sourceLocation)
    #expect(
        samples.contains { $0.name == "accesssync_run_duration_seconds" && $0.labels["phase"] == "total" },
        sourceLocation: sourceLocation)
    return samples
}

/// Runs blocking work (child processes, pipes) on a thread of its own: the cooperative pool has as
/// few threads as cores, and a blocked pool would starve the in-process API server the child talks to.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// `accesssync ARGS` without blocking the cooperative pool.
func accesssyncAsync(_ arguments: [String]) async throws -> ProcessResult {
    try await offPool { try accesssync(arguments) }
}

/// The Python `prometheus_client` parser's reading: `[[sample name, labels, value], ...]`.
func parseWithPrometheusClient(_ text: String) async throws -> [MetricSample] {
    guard let venv = ProcessInfo.processInfo.environment["ACCESSSYNC_VENV"], !venv.isEmpty else {
        throw IntegrationSetupError("ACCESSSYNC_VENV is not set: run scripts/test.sh, or source .testenv/env.sh")
    }
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).prom")
    try text.write(to: input, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: input) }
    let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):
            for s in family.samples:
                out.append([s.name, s.labels, s.value, family.type])
        print(json.dumps(out))
        """
    let result = try await offPool { try run(URL(fileURLWithPath: "\(venv)/bin/python"), ["-c", script, input.path]) }
    guard result.status == 0 else { throw IntegrationSetupError("prometheus_client rejected the text: \(result.stderr)") }
    let rows = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[Any]] ?? []
    return rows.map {
        MetricSample(name: $0[0] as? String ?? "", labels: $0[1] as? [String: String] ?? [:], value: ($0[2] as? NSNumber)?.doubleValue ?? .nan)
    }
}

/// A tiny Pushgateway stand-in (Python http.server): records every request as a JSON line.
final class FakePushgateway: @unchecked Sendable {
    let process = Process()
    let log: URL
    let port: Int

    static func start() async throws -> FakePushgateway { try await offPool { try FakePushgateway() } }

    private init() throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("pushgateway-\(UUID().uuidString).jsonl")
        let script = """
            import json, sys
            from http.server import BaseHTTPRequestHandler, HTTPServer
            class H(BaseHTTPRequestHandler):
                def handle_any(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()
                    with open(sys.argv[1], 'a') as f:
                        f.write(json.dumps({'method': self.command, 'path': self.path,
                                            'type': self.headers.get('Content-Type'), 'body': body}) + '\\n')
                    self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
                do_POST = do_PUT = do_GET = do_DELETE = handle_any
                def log_message(self, *args): pass
            server = HTTPServer(('127.0.0.1', 0), H)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, log.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let data = out.fileHandleForReading.availableData
            guard !data.isEmpty else { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw IntegrationSetupError("the fake Pushgateway did not start: \(text)")
        }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }

    var requests: [[String: String]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }
    }

    func stop() {
        // SIGKILL: a child spawned from a worker thread inherits its blocked signals (SIGTERM included).
        kill(process.processIdentifier, SIGKILL)
        _ = reapChild(process)
        try? FileManager.default.removeItem(at: log)
    }
}

extension SyncWorld {
    /// The world's configuration as a YAML file for the CLI (the database as its superuser).
    func writeConfigFile(extra: String = "") throws -> String {
        let c = configuration
        let yaml = """
            ldap:
              uri: "\(c.ldap.uri!)"
              baseDN: "\(c.ldap.baseDN!)"
              bindDN: "\(c.ldap.bindDN!)"
              bindPasswordFile: "\(environment["ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE"])"
              networkTimeoutSeconds: 2
              tls: {caFile: "\(c.ldap.tls.caFile!)"}
            postgres:
              host: "\(c.postgres.host!)"
              port: \(c.postgres.port!)
              database: "\(c.postgres.database!)"
              user: "\(environment.values["ACCESSSYNC_TEST_PG_USER"] ?? "postgres")"
              passwordFile: "\(environment["ACCESSSYNC_TEST_PG_PASSWORD_FILE"])"
              sslMode: disable
            kubernetes:
              mode: kubeconfig
              kubeconfig: "\(c.kubernetes.kubeconfig!)"
            hub:
              url: "\(c.hub.url!)"
              tokenFile: "\(environment["ACCESSSYNC_TEST_HUB_TOKEN_FILE"])"
            """ + "\n" + extra
        let path = workDirectory.appendingPathComponent("accesssync-\(UUID().uuidString.prefix(6)).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite("metrics")
struct MetricsTests {
    @Test func expositionEscapesAndOmitsEmptySeries() async throws {
        var metrics = RunMetrics()
        metrics.phaseSeconds = ["apply": 0.41, "total": 3.07, "read_directory": 1.92]
        metrics.changes[.init(kind: "RoleBinding", action: "delete", outcome: "succeeded")] = 2
        metrics.changes[.init(kind: "HubUser", action: "delete-user", outcome: "failed")] = 0
        metrics.auditHead = String(repeating: "ab", count: 32)
        let text = metrics.exposition
        let samples = try expectContract(text)
        // Phases in the contract's order; zero-valued change series are not written.
        #expect(samples.filter { $0.name == "accesssync_run_duration_seconds" }.map { $0.labels["phase"]! } == ["read_directory", "apply", "total"])
        #expect(samples.filter { $0.name == "accesssync_changes_total" }.count == 1)
        #expect(!text.contains("accesssync_people_losing_access"))
        #expect(!text.contains("accesssync_last_success_timestamp_seconds"))
        #expect(text.contains("accesssync_run_failures_total 0\n"))
        #expect(text.contains("accesssync_audit_head_info{hash=\"\(metrics.auditHead!)\"} 1\n"))
        #expect(RunMetrics.escape("a\"b\\c\nd") == #"a\"b\\c\nd"#)
        #expect(try await parseWithPrometheusClient(text).count == samples.count)
        #expect(
            MetricsOutput.pushURL(base: "http://pg:9091/", instance: "prod") == "http://pg:9091/metrics/job/accesssync/instance/prod")
        #expect(
            MetricsOutput.pushURL(base: "http://pg:9091", instance: "a/b")
                == "http://pg:9091/metrics/job/accesssync/instance@base64/YS9i")
    }

    @Test func aRealRunParsesAndCarriesTheContractsNames() async throws {
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let start = Date()
            let result = try await world.run(.sync)
            #expect(result.exitStatus == .ok)
            let metrics = RunMetrics(result: result, mode: .sync, totalSeconds: 1.5, finishedAt: Date())
            let text = metrics.exposition
            let samples = try expectContract(text)
            let types = try parseExposition(text).types
            #expect(Set(types.keys) == Set(metricsContract.keys), "every metric of a successful run: \(text)")
            // Phases the engine timed, and the total.
            let phases = Set(samples.filter { $0.name == "accesssync_run_duration_seconds" }.compactMap { $0.labels["phase"] })
            #expect(phases == ["read_directory", "read_policy", "plan", "observe_cluster", "observe_hub", "diff", "apply", "total"])
            // Changes by kind, action and outcome add up to the run's outcomes.
            let changes = samples.filter { $0.name == "accesssync_changes_total" }
            #expect(Int(changes.reduce(0) { $0 + $1.value }) == result.report.outcomes.count)
            #expect(changes.contains { $0.labels == ["kind": "Namespace", "action": "create", "outcome": "succeeded"] && $0.value >= 2 })
            #expect(changes.contains { $0.labels == ["kind": "HubUser", "action": "create-user", "outcome": "succeeded"] && $0.value == 2 })
            let kinds = Set(changes.compactMap { $0.labels["kind"] })
            #expect(kinds.isSubset(of: Set(ObjectKind.allCases.map(\.rawValue)).union(["HubUser", "HubGroup"])))
            #expect(samples.contains { $0.name == "accesssync_people_with_access" && $0.value == 2 })
            #expect(samples.contains { $0.name == "accesssync_run_failures_total" && $0.value == 0 })
            let success = try #require(samples.first { $0.name == "accesssync_last_success_timestamp_seconds" })
            #expect(success.value >= start.timeIntervalSince1970.rounded(.down))
            // The audit head is the chain head the store recorded.
            let head = try #require(samples.first { $0.name == "accesssync_audit_head_info" }?.labels["hash"])
            #expect(head.range(of: "^[0-9a-f]{64}$", options: .regularExpression) != nil)
            #expect(try await world.column("SELECT head_hash FROM accesssync.sync_runs ORDER BY id DESC LIMIT 1") == [head])
            // Python's prometheus_client reads the same samples.
            let python = try await parseWithPrometheusClient(text)
            #expect(Set(python.map(\.name)) == Set(samples.map(\.name)))
            #expect(python.count == samples.count)

            // A plan reports no changes_total and no success time.
            let plan = try await world.run(.plan)
            let planText = RunMetrics(result: plan, mode: .plan, totalSeconds: 0.5, finishedAt: Date()).exposition
            #expect(!planText.contains("accesssync_changes_total"))
            #expect(!planText.contains("accesssync_last_success_timestamp_seconds"))
            _ = try expectContract(planText)
        }
    }

    @Test func blockedAndFailedRunsCountAndKeepTheirPlanFigures() async throws {
        try await withSyncWorld(people: ["alice", "bob", "carol", "dave"]) { world in
            world.configuration.safety.thresholds = GuardThresholds(
                maxPeopleLosingAccess: 1, maxPeopleLosingAccessPercent: 100, maxDeletionsPerKind: 100,
                maxDeletionsPercent: 100, maxDirectoryShrinkPercent: 100)
            #expect(try await world.run(.sync).exitStatus == .ok)
            try await world.removeFromUsers(["bob", "carol"])
            let recorded = SummaryBox()
            var options = SyncCommand.Options(configuration: world.configuration, mode: .sync, actor: "it")
            options.summaryObserver = { recorded.set($0) }
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            do {
                _ = try await SyncCommand.run(options, logger: logger)
                Issue.record("the guard did not block")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .blockedByGuard)
                let metrics = RunMetrics(failure: error, summary: recorded.get(), totalSeconds: 0.7)
                let samples = try expectContract(metrics.exposition)
                #expect(samples.contains { $0.name == "accesssync_run_blocked_total" && $0.value == 1 })
                #expect(samples.contains { $0.name == "accesssync_run_failures_total" && $0.value == 0 })
                #expect(samples.contains { $0.name == "accesssync_people_losing_access" && $0.value == 2 })
                #expect(samples.contains { $0.name == "accesssync_people_with_access" && $0.value == 2 })
                #expect(!samples.contains { $0.name == "accesssync_last_success_timestamp_seconds" })
                let phases = Set(samples.compactMap { $0.labels["phase"] })
                #expect(phases.contains("read_directory") && phases.contains("total") && !phases.contains("apply"))
            }

            // LDAP down: failures 1, the total phase, nothing it could not compute.
            world.configuration.ldap.uri = "ldap://127.0.0.1:9"
            world.configuration.ldap.networkTimeoutSeconds = 2
            options.configuration = world.configuration
            recorded.set(nil)
            do {
                _ = try await SyncCommand.run(options, logger: logger)
                Issue.record("sync succeeded without a directory")
            } catch let error as CommandFailure {
                #expect(error.exitStatus == .ldapUnavailable)
                let text = RunMetrics(failure: error, summary: recorded.get(), totalSeconds: 2.1).exposition
                let samples = try expectContract(text)
                #expect(samples.contains { $0.name == "accesssync_run_failures_total" && $0.value == 1 })
                #expect(samples.contains { $0.name == "accesssync_run_blocked_total" && $0.value == 0 })
                #expect(!text.contains("accesssync_people_"))
                #expect(!text.contains("accesssync_last_success"))
                // The phase that failed is timed; nothing after it.
                let phases = samples.filter { $0.name == "accesssync_run_duration_seconds" }.compactMap { $0.labels["phase"] }
                #expect(Set(phases).isSubset(of: ["read_directory", "total"]) && phases.contains("total"), "\(phases)")
            }
        }
    }

    @Test func cliWritesTheFileAndPushesToThePushgateway() async throws {
        let gateway = try await FakePushgateway.start()
        defer { gateway.stop() }
        try await withSyncWorld(people: ["alice", "bob"]) { world in
            let config = try world.writeConfigFile(extra: "sync:\n  instance: \"\(world.configuration.sync.instance)\"\n  logFormat: logfmt\n")
            let file = world.workDirectory.appendingPathComponent("metrics/accesssync.prom")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            let result = try await accesssyncAsync([
                "sync", "--config", config, "--metrics-file", file.path, "--pushgateway", gateway.url,
            ])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let written = try String(contentsOf: file, encoding: .utf8)
            let samples = try expectContract(written)
            #expect(samples.contains { $0.name == "accesssync_last_success_timestamp_seconds" })
            // No temporary file left beside it (atomic replace).
            #expect(try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path) == ["accesssync.prom"])

            let requests = gateway.requests
            #expect(requests.count == 1)
            #expect(requests.first?["method"] == "POST")
            #expect(requests.first?["path"] == "/metrics/job/accesssync/instance/\(world.configuration.sync.instance)")
            #expect(requests.first?["type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            let pushed = try expectContract(requests.first?["body"] ?? "")
            #expect(Set(pushed.map(\.name)) == Set(samples.map(\.name)))

            // A failed run (LDAP down) still writes and pushes, with the failure counted.
            let broken = try world.writeConfigFile(
                extra: "sync:\n  instance: \"\(world.configuration.sync.instance)\"\n  logFormat: logfmt\n"
            )
            var text = try String(contentsOfFile: broken, encoding: .utf8)
            text = text.replacingOccurrences(of: world.configuration.ldap.uri!, with: "ldap://127.0.0.1:9")
            try text.write(toFile: broken, atomically: true, encoding: .utf8)
            let failed = try await accesssyncAsync(["sync", "--config", broken, "--metrics-file", file.path, "--pushgateway", gateway.url])
            #expect(failed.status == 80, "\(failed.stderr)")
            let failedSamples = try expectContract(try String(contentsOf: file, encoding: .utf8))
            #expect(failedSamples.contains { $0.name == "accesssync_run_failures_total" && $0.value == 1 })
            #expect(!failedSamples.contains { $0.name == "accesssync_last_success_timestamp_seconds" })
            #expect(gateway.requests.count == 2)
            #expect(gateway.requests.last?["method"] == "POST")
            #expect(gateway.requests.last?["body"]?.contains("accesssync_run_failures_total 1\n") == true)
        }
    }
}

/// A summary handed over from the engine's observer.
final class SummaryBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: RunSummary?
    func set(_ summary: RunSummary?) { lock.withLock { value = summary } }
    func get() -> RunSummary? { lock.withLock { value } }
}
