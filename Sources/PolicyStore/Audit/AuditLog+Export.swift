public import Foundation

public enum AuditExportFormat: String, Sendable, Hashable, CaseIterable {
    /// RFC 4180 CSV (CRLF line ends, quoted fields where needed), one row per audit row.
    case csv
    /// One JSON object per line (JSON Lines), the same fields as CSV with payloads as JSON.
    case jsonl
    /// A self-contained HTML report for people: summary per run, changes by kind and action, a
    /// chart, a filterable table. No external assets; everything escaped.
    case html
}

extension AuditLog {
    static let csvColumns = [
        "id", "run_id", "at", "db_role", "os_user", "action", "object_kind", "object_namespace", "object_name",
        "outcome", "intent_id", "message", "before", "after", "provenance", "prev_hash", "hash",
    ]

    /// Writes the rows matching `filter` in `format`, streaming a page at a time to `write`.
    /// - Returns: the number of rows exported.
    @discardableResult
    public func export(
        _ filter: AuditFilter = AuditFilter(), format: AuditExportFormat, to write: (String) throws -> Void
    ) async throws -> Int {
        var count = 0
        switch format {
        case .csv:
            try write(Self.csvColumns.joined(separator: ",") + "\r\n")
            try await forEachPage(filter) { records in
                var chunk = ""
                for record in records { chunk += Self.csvLine(record) }
                try write(chunk)
                count += records.count
            }
        case .jsonl:
            try await forEachPage(filter) { records in
                var chunk = ""
                for record in records {
                    record.jsonObject.write(to: &chunk)
                    chunk += "\n"
                }
                try write(chunk)
                count += records.count
            }
        case .html:
            count = try await exportHTML(filter, to: write)
        }
        return count
    }

    /// Exports to a string (convenient for small selections and tests).
    public func exportString(_ filter: AuditFilter = AuditFilter(), format: AuditExportFormat) async throws -> String {
        var text = ""
        try await export(filter, format: format) { text += $0 }
        return text
    }

    /// Exports to a file, replacing it. Returns the number of rows.
    @discardableResult
    public func export(_ filter: AuditFilter = AuditFilter(), format: AuditExportFormat, toFile url: URL) async throws
        -> Int
    {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        return try await export(filter, format: format) { try handle.write(contentsOf: Data($0.utf8)) }
    }

    static func csvField(_ value: String?) -> String {
        guard let value else { return "" }
        var needsQuotes = false
        for byte in value.utf8 where byte == 0x2C || byte == 0x22 || byte == 0x0A || byte == 0x0D {
            needsQuotes = true
            break
        }
        if !needsQuotes { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func csvLine(_ record: AuditRecord) -> String {
        let fields: [String?] = [
            String(record.id), record.runID.map(String.init), record.atText, record.dbRole, record.osUser, record.action,
            record.objectKind, record.objectNamespace, record.objectName, record.outcome.rawValue,
            record.intentID.map(String.init), record.message, record.before?.canonicalText,
            record.after?.canonicalText, record.provenance?.canonicalText, record.prevHash, record.hash,
        ]
        return fields.map(csvField).joined(separator: ",") + "\r\n"
    }
}

// MARK: HTML

extension AuditLog {
    static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func exportHTML(_ filter: AuditFilter, to write: (String) throws -> Void) async throws -> Int {
        func conditions(_ p: String = "") -> String {
            """
            WHERE ($1::timestamptz IS NULL OR \(p)at >= $1::timestamptz)
              AND ($2::timestamptz IS NULL OR \(p)at < $2::timestamptz)
              AND ($3::text IS NULL OR \(p)os_user = $3 OR \(p)db_role = $3 OR \(p)object_name = $3)
              AND ($4::bigint IS NULL OR \(p)run_id = $4)
            """
        }
        let parameters: [any PGParam] = [filter.since, filter.until, filter.user, filter.run]
        let runs = try await connection.query(
            """
            SELECT a.run_id, min(a.at) AS first_at, max(a.at) AS last_at, count(*) AS total,
                count(*) FILTER (WHERE a.outcome = 'intent') AS intents,
                count(*) FILTER (WHERE a.outcome = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE a.outcome = 'failed') AS failed,
                count(*) FILTER (WHERE a.outcome = 'skipped') AS skipped,
                r.command, r.status
            FROM accesssync.audit_log a LEFT JOIN accesssync.sync_runs r ON r.id = a.run_id
            \(conditions("a."))
            GROUP BY a.run_id, r.command, r.status ORDER BY a.run_id NULLS FIRST
            """, parameters)
        let byKind = try await connection.query(
            """
            SELECT object_kind, action, outcome, count(*) AS n FROM accesssync.audit_log \(conditions())
            GROUP BY object_kind, action, outcome ORDER BY object_kind, action, outcome
            """, parameters)
        let byDay = try await connection.query(
            """
            SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*) AS n
            FROM accesssync.audit_log \(conditions()) AND outcome <> 'intent'
            GROUP BY 1 ORDER BY 1
            """, parameters)
        let head = try await self.head()

        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>AccessSync audit report</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
            table{border-collapse:collapse;margin:0.5em 0 1.5em}
            th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top;font-size:13px}
            th{background:#f0f0f0}
            td.n{text-align:right}
            .failed{color:#b00}
            code{font-size:12px}
            #filter{width:30em;padding:4px}
            </style>
            </head>
            <body>
            <h1>AccessSync audit report</h1>

            """
        var scope: [String] = []
        if let since = filter.since { scope.append("since " + PGTimestamp.formatSeconds(since)) }
        if let until = filter.until { scope.append("until " + PGTimestamp.formatSeconds(until)) }
        if let user = filter.user { scope.append("user " + user) }
        if let run = filter.run { scope.append("run \(run)") }
        page += "<p>Scope: \(Self.html(scope.isEmpty ? "all rows" : scope.joined(separator: ", "))). "
        page += "Chain head: <code>\(Self.html(head.hash))</code>.</p>\n"

        page += "<h2>Runs</h2>\n<table id=\"runs\">\n<thead><tr><th>Run</th><th>Command</th><th>Status</th><th>First row</th>"
        page += "<th>Last row</th><th>Rows</th><th>Intents</th><th>Succeeded</th><th>Failed</th><th>Skipped</th></tr></thead>\n<tbody>\n"
        for row in runs.rows {
            page += "<tr><td>\(Self.html(row["run_id"] ?? "(none)"))</td><td>\(Self.html(row["command"] ?? ""))</td>"
            page += "<td>\(Self.html(row["status"] ?? ""))</td><td>\(Self.html(row["first_at"] ?? ""))</td>"
            page += "<td>\(Self.html(row["last_at"] ?? ""))</td>"
            for column in ["total", "intents", "succeeded", "failed", "skipped"] {
                page += "<td class=\"n\">\(Self.html(row[column] ?? "0"))</td>"
            }
            page += "</tr>\n"
        }
        page += "</tbody>\n</table>\n"

        page += "<h2>Changes by kind and action</h2>\n<table id=\"kinds\">\n<thead><tr><th>Kind</th><th>Action</th>"
        page += "<th>Outcome</th><th>Rows</th></tr></thead>\n<tbody>\n"
        for row in byKind.rows {
            page += "<tr><td>\(Self.html(row["object_kind"] ?? ""))</td><td>\(Self.html(row["action"] ?? ""))</td>"
            page += "<td>\(Self.html(row["outcome"] ?? ""))</td><td class=\"n\">\(Self.html(row["n"] ?? "0"))</td></tr>\n"
        }
        page += "</tbody>\n</table>\n"

        page += "<h2>Changes per day</h2>\n" + Self.barChart(byDay.rows.map { ($0["day"] ?? "", Int($0["n"] ?? "0") ?? 0) })

        page += """
            <h2>Rows</h2>
            <p><label for="filter">Filter rows: </label><input id="filter" type="search" placeholder="text in any column">
            <span id="shown"></span></p>
            <table id="rows">
            <thead><tr><th>Id</th><th>Run</th><th>Time (UTC)</th><th>Actor</th><th>Action</th><th>Kind</th>
            <th>Object</th><th>Outcome</th><th>Message</th><th>Before</th><th>After</th></tr></thead>
            <tbody>

            """
        try write(page)
        var count = 0
        try await forEachPage(filter) { records in
            var chunk = ""
            for record in records {
                let object = (record.objectNamespace.map { $0 + "/" } ?? "") + record.objectName
                chunk += "<tr><td>\(record.id)</td><td>\(record.runID.map(String.init) ?? "")</td>"
                chunk += "<td>\(Self.html(record.atText))</td>"
                chunk += "<td>\(Self.html(record.osUser + " (" + record.dbRole + ")"))</td>"
                chunk += "<td>\(Self.html(record.action))</td><td>\(Self.html(record.objectKind))</td>"
                chunk += "<td>\(Self.html(object))</td>"
                chunk += "<td\(record.outcome == .failed ? " class=\"failed\"" : "")>\(record.outcome.rawValue)</td>"
                chunk += "<td>\(Self.html(record.message ?? ""))</td>"
                chunk += "<td><code>\(Self.html(record.before?.canonicalText ?? ""))</code></td>"
                chunk += "<td><code>\(Self.html(record.after?.canonicalText ?? ""))</code></td></tr>\n"
            }
            count += records.count
            try write(chunk)
        }
        try write(
            """
            </tbody>
            </table>
            <script>
            (function () {
              var input = document.getElementById('filter');
              var rows = document.querySelectorAll('#rows tbody tr');
              var shown = document.getElementById('shown');
              function apply() {
                var needle = input.value.toLowerCase();
                var visible = 0;
                for (var i = 0; i < rows.length; i++) {
                  var match = rows[i].textContent.toLowerCase().indexOf(needle) !== -1;
                  rows[i].style.display = match ? '' : 'none';
                  if (match) { visible++; }
                }
                shown.textContent = visible + ' of ' + rows.length + ' rows';
              }
              input.addEventListener('input', apply);
              apply();
            })();
            </script>
            </body>
            </html>

            """)
        return count
    }

    /// An inline SVG bar chart (no external assets).
    static func barChart(_ bars: [(label: String, value: Int)]) -> String {
        guard !bars.isEmpty else { return "<p>No changes in scope.</p>\n" }
        let barWidth = 24
        let gap = 8
        let height = 160
        let maxValue = max(bars.map(\.value).max() ?? 1, 1)
        let width = bars.count * (barWidth + gap) + gap
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + 40)\" role=\"img\" "
        svg += "aria-label=\"Changes per day\">\n"
        for (index, bar) in bars.enumerated() {
            let barHeight = max(1, bar.value * height / maxValue)
            let x = gap + index * (barWidth + gap)
            svg += "<rect x=\"\(x)\" y=\"\(height - barHeight)\" width=\"\(barWidth)\" height=\"\(barHeight)\" fill=\"#4a7bd0\">"
            svg += "<title>\(html(bar.label)): \(bar.value)</title></rect>\n"
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(height + 14)\" font-size=\"9\" text-anchor=\"middle\">"
            svg += "\(html(String(bar.label.suffix(5))))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }
}
