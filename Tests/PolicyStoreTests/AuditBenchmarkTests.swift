import Foundation
import Testing

@testable import PolicyStore

/// Audit throughput: writes N rows in one append (one transaction, multi-row INSERTs, per-row hashes),
/// exports them as JSON Lines and CSV, and verifies the chain. Always runs with a modest N so the path
/// is exercised; set ACCESSSYNC_AUDIT_BENCH_ROWS=100000 (ideally in a release build) for the figures
/// in Benchmarks/AuditBenchmark.md. Correctness is asserted; time is printed, not asserted.
@Suite("audit benchmark")
struct AuditBenchmarkTests {
    @Test func writeExportAndVerifyManyRows() async throws {
        let count = Int(ProcessInfo.processInfo.environment["ACCESSSYNC_AUDIT_BENCH_ROWS"] ?? "") ?? 5000
        try await withTestDatabase { database in
            try await database.migrated().close()
            let connection = try await database.appConnection()
            defer { Task { await connection.close() } }
            let log = AuditLog(connection: connection, osUser: "bench")
            let entries = (0..<count).map { index in
                AuditEntry(
                    runID: 1, action: "create", objectKind: "RoleBinding", objectNamespace: "jhub-user-\(index % 5000)",
                    objectName: "user-\(index)-edit",
                    after: AuditPayload.hubUser(name: "user-\(index)", admin: index % 100 == 0),
                    provenance: ["rule": "grant data-science/hub", "group": "data-science"], outcome: .succeeded)
            }
            let clock = ContinuousClock()
            var written: [AuditRecord] = []
            let writeTime = try await clock.measure { written = try await log.append(entries) }
            #expect(written.count == count)

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(database.name)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            var exportedJSONL = 0
            let jsonlTime = try await clock.measure {
                exportedJSONL = try await log.export(format: .jsonl, toFile: directory.appendingPathComponent("a.jsonl"))
            }
            var exportedCSV = 0
            let csvTime = try await clock.measure {
                exportedCSV = try await log.export(format: .csv, toFile: directory.appendingPathComponent("a.csv"))
            }
            var verification: AuditVerification? = nil
            let verifyTime = try await clock.measure { verification = try await log.verify() }
            #expect(exportedJSONL == count)
            #expect(exportedCSV == count)
            #expect(verification?.isIntact == true)
            #expect(verification?.rowsChecked == count)
            let size = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("a.jsonl").path)[.size] as? Int) ?? 0
            print(
                "audit benchmark: \(count) rows; append \(writeTime); export jsonl \(jsonlTime) (\(size / 1024) KiB); "
                    + "export csv \(csvTime); verify \(verifyTime)")
        }
    }
}
