import Foundation
import Testing

@testable import PolicyStore

@Suite("audit export")
struct AuditExportTests {
    static let awkward = "line one, \"quoted\"\r\nline two <script>alert('x')</script> & café ☃"

    func populate(_ database: TestDatabase) async throws -> (PGConnection, [AuditRecord], SyncRun) {
        let connection = try await database.migrated()
        let runs = SyncRunStore(connection: connection)
        let run = try await runs.start(lock: nil, osUser: "cron")
        let log = AuditLog(connection: connection, osUser: "cron")
        var rows = try await log.append((0..<12).map { entry($0, run: run.id) })
        rows += try await log.append([
            AuditEntry(
                runID: run.id, action: "create-user", objectKind: "HubUser", objectName: "<b>eve</b>",
                after: ["name": .string(Self.awkward)], outcome: .failed, message: Self.awkward),
            AuditEntry(action: "policy.create", objectKind: "Grant", objectName: "g1", outcome: .succeeded),
        ])
        try await runs.finish(run.id, status: .succeeded, headHash: rows.last!.hash)
        return (connection, rows, run)
    }

    @Test func csvFollowsRFC4180AndParses() async throws {
        try await withTestDatabase { database in
            let (connection, rows, _) = try await populate(database)
            defer { Task { await connection.close() } }
            let csv = try await AuditLog(connection: connection).exportString(format: .csv)
            #expect(csv.hasSuffix("\r\n"))
            let parsed = try runPython(
                """
                import csv, io, json, sys
                data = sys.stdin.buffer.read().decode('utf-8')
                rows = list(csv.reader(io.StringIO(data, newline=''), strict=True))
                print(json.dumps(rows))
                """, input: csv)
            let table = try #require(try JSONValue.parse(parsed).arrayValue)
            #expect(table.count == rows.count + 1)
            #expect(table[0].arrayValue?.compactMap(\.stringValue) == AuditLog.csvColumns)
            let eve = try #require(table.first { $0.arrayValue?[8].stringValue == "<b>eve</b>" }?.arrayValue)
            #expect(eve[11].stringValue == Self.awkward)
            #expect(eve[9].stringValue == "failed")
            #expect(try JSONValue.parse(eve[13].stringValue ?? "") == ["name": .string(Self.awkward)])
            #expect(table.dropFirst().allSatisfy { $0.arrayValue?.count == AuditLog.csvColumns.count })
        }
    }

    @Test func jsonLinesParseAndCarryVerifiableHashes() async throws {
        try await withTestDatabase { database in
            let (connection, rows, run) = try await populate(database)
            defer { Task { await connection.close() } }
            let log = AuditLog(connection: connection)
            let text = try await log.exportString(format: .jsonl)
            let lines = text.split(separator: "\n")
            #expect(lines.count == rows.count)
            let records = try lines.map { try AuditRecord(json: try JSONValue.parse(String($0))) }
            #expect(records == rows)
            #expect(records.allSatisfy { $0.computedHash == $0.hash })
            // Python's json module reads every line too.
            let count = try runPython(
                "import json, sys\nprint(sum(1 for line in sys.stdin if json.loads(line)['hash']))", input: text)
            #expect(count.trimmingCharacters(in: .whitespacesAndNewlines) == String(rows.count))
            // Filters.
            let byRun = try await log.exportString(AuditFilter(run: run.id), format: .jsonl)
            #expect(byRun.split(separator: "\n").count == rows.count - 1)
            let byUser = try await log.exportString(AuditFilter(user: "<b>eve</b>"), format: .jsonl)
            #expect(byUser.split(separator: "\n").count == 1)
            let future = try await log.exportString(AuditFilter(since: Date().addingTimeInterval(3600)), format: .jsonl)
            #expect(future.isEmpty)
            let past = try await log.exportString(AuditFilter(until: Date().addingTimeInterval(3600)), format: .csv)
            #expect(past.split(separator: "\r\n").count >= rows.count + 1)
        }
    }

    @Test func htmlReportIsWellFormedSelfContainedAndEscaped() async throws {
        try await withTestDatabase { database in
            let (connection, rows, run) = try await populate(database)
            defer { Task { await connection.close() } }
            let page = try await AuditLog(connection: connection).exportString(format: .html)
            #expect(!page.contains("<script>alert"))
            #expect(!page.contains("<b>eve</b>"))
            #expect(page.contains("&lt;b&gt;eve&lt;/b&gt;"))
            let report = try runPython(
                """
                import sys, json
                from html.parser import HTMLParser
                VOID = {'meta', 'input', 'br', 'img', 'link', 'hr'}
                class Check(HTMLParser):
                    def __init__(self):
                        super().__init__(convert_charrefs=True)
                        self.stack, self.errors, self.tags, self.external, self.rows = [], [], {}, [], 0
                        self.in_rows = False
                    def handle_starttag(self, tag, attrs):
                        self.tags[tag] = self.tags.get(tag, 0) + 1
                        for name, value in attrs:
                            if name in ('src', 'href') and value:
                                self.external.append(value)
                        if tag == 'table' and dict(attrs).get('id') == 'rows':
                            self.in_rows = True
                        if tag == 'tr' and self.in_rows:
                            self.rows += 1
                        if tag not in VOID:
                            self.stack.append(tag)
                    def handle_startendtag(self, tag, attrs):
                        self.tags[tag] = self.tags.get(tag, 0) + 1
                    def handle_endtag(self, tag):
                        if tag == 'table':
                            self.in_rows = False
                        if not self.stack or self.stack[-1] != tag:
                            self.errors.append('unexpected </%s> with open %s' % (tag, self.stack[-3:]))
                        else:
                            self.stack.pop()
                checker = Check()
                checker.feed(sys.stdin.read())
                checker.close()
                print(json.dumps({'errors': checker.errors, 'open': checker.stack, 'tags': checker.tags,
                                  'external': checker.external, 'rows': checker.rows}))
                """, input: page)
            let result = try JSONValue.parse(report)
            #expect(result["errors"] == [], "\(result)")
            #expect(result["open"] == [])
            #expect(result["external"] == [])
            #expect(result["tags"]?["script"] == 1)
            #expect(result["tags"]?["svg"] == 1)
            #expect(result["tags"]?["table"] == 3)
            #expect(result["tags"]?["input"] == 1)
            #expect(result["rows"]?.intValue == rows.count + 1)
            #expect(page.contains("<td>\(run.id)</td><td>sync</td><td>succeeded</td>"))
        }
    }

    @Test func htmlEscapesEverySpecialCharacter() {
        #expect(AuditLog.html("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(AuditLog.csvField("plain") == "plain")
        #expect(AuditLog.csvField("a,b") == "\"a,b\"")
        #expect(AuditLog.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditLog.csvField("two\nlines") == "\"two\nlines\"")
        #expect(AuditLog.csvField(nil) == "")
    }
}
