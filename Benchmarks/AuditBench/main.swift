// Audit log benchmark: 100,000 rows appended (one transaction, multi-row INSERTs, per-row hashes),
// then exported (JSON Lines, CSV, HTML) and verified. Built in release by run.sh; figures in
// Benchmarks/AuditBenchmark.md. Needs the test PostgreSQL (ACCESSSYNC_TEST_PG_* variables).
import Foundation
import PolicyStore

@main
struct AuditBench {
    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let host = environment["ACCESSSYNC_TEST_PG_HOST"], let port = environment["ACCESSSYNC_TEST_PG_PORT"] else {
            print("ACCESSSYNC_TEST_PG_HOST/PORT not set: source .testenv/env.sh (scripts/testenv/postgres.sh start)")
            exit(2)
        }
        let rows = Int(environment["ACCESSSYNC_AUDIT_BENCH_ROWS"] ?? "") ?? 100_000
        let repeats = Int(environment["ACCESSSYNC_AUDIT_BENCH_REPEATS"] ?? "") ?? 3
        func options(_ database: String) -> PostgresConnectionOptions {
            PostgresConnectionOptions(
                conninfo: "host=\(host) port=\(port) user=\(environment["ACCESSSYNC_TEST_PG_USER"] ?? "postgres") sslmode=disable",
                passwordFile: environment["ACCESSSYNC_TEST_PG_PASSWORD_FILE"], passfile: environment["ACCESSSYNC_TEST_PG_PASSFILE"],
                database: database)
        }
        let admin = try await PGConnection.connect(options("postgres"))
        let clock = ContinuousClock()
        func seconds(_ duration: Duration) -> String {
            String(format: "%.3f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
        }
        for round in 1...repeats {
            let name = "accesssync_bench_\(getpid())_\(round)"
            try await admin.query("CREATE DATABASE \(name)")
            let owner = try await PGConnection.connect(options(name))
            try await Migrator().migrate(on: owner)
            await owner.close()
            let connection = try await PGConnection.connect(options(name))
            try await connection.query("SET ROLE accesssync_app")
            let log = AuditLog(connection: connection, osUser: "bench")
            let entries = (0..<rows).map { index in
                AuditEntry(
                    runID: 1, action: index % 4 == 0 ? "update" : "create", objectKind: "RoleBinding",
                    objectNamespace: "jhub-user-\(index % 5000)", objectName: "user-\(index)-edit",
                    before: index % 4 == 0 ? AuditPayload.hubUser(name: "user-\(index)", admin: false) : nil,
                    after: AuditPayload.hubUser(name: "user-\(index)", admin: index % 100 == 0),
                    provenance: ["rule": "grant data-science/hub", "group": "data-science"], outcome: .succeeded)
            }
            var written = 0
            let append = try await clock.measure { written = try await log.append(entries).count }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var counts: [String: Int] = [:]
            var times: [String: Duration] = [:]
            for format in AuditExportFormat.allCases {
                let file = directory.appendingPathComponent("audit.\(format.rawValue)")
                times[format.rawValue] = try await clock.measure {
                    counts[format.rawValue] = try await log.export(format: format, toFile: file)
                }
                let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
                counts[format.rawValue + ".bytes"] = size
            }
            var intact = false
            let verify = try await clock.measure { intact = try await log.verify().isIntact }
            print(
                "round \(round): \(written) rows; append \(seconds(append)); "
                    + "export jsonl \(seconds(times["jsonl"]!)) (\(counts["jsonl.bytes"]! / 1_048_576) MiB), "
                    + "csv \(seconds(times["csv"]!)) (\(counts["csv.bytes"]! / 1_048_576) MiB), "
                    + "html \(seconds(times["html"]!)) (\(counts["html.bytes"]! / 1_048_576) MiB); "
                    + "verify \(seconds(verify)) intact=\(intact)")
            await connection.close()
            try? FileManager.default.removeItem(at: directory)
            try await admin.query("DROP DATABASE \(name) WITH (FORCE)")
        }
        await admin.close()
    }
}
