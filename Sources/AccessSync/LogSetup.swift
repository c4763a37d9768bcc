import AccessSyncCore
import Foundation
import Logging
import Synchronization

/// Logs go to standard error: human text on a terminal, logfmt (or JSON) otherwise, so that a
/// CronJob's logs are machine-readable. Secrets never reach a log call (they are read only when
/// connecting, and errors name their source, not their content).
enum LogSetup {
    private static let done = Mutex(false)

    static func bootstrap(format: Configuration.Sync.LogFormat, level: Logger.Level) {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let resolved: Configuration.Sync.LogFormat
        if format == .auto {
            resolved = isatty(FileHandle.standardError.fileDescriptor) == 1 ? .text : .logfmt
        } else {
            resolved = format
        }
        LoggingSystem.bootstrap { label in
            var handler = StructuredLogHandler(label: label, format: resolved)
            handler.logLevel = level
            return handler
        }
    }
}

struct StructuredLogHandler: LogHandler {
    let label: String
    let format: Configuration.Sync.LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let time = Date().formatted(.iso8601)
        let line: String
        switch format {
        case .json:
            var object: [String: String] = ["time": time, "level": event.level.rawValue, "msg": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        case .logfmt:
            var parts = ["time=\(time)", "level=\(event.level.rawValue)", "msg=\(Self.quote("\(event.message)"))"]
            for key in merged.keys.sorted() { parts.append("\(key)=\(Self.quote("\(merged[key]!)"))") }
            line = parts.joined(separator: " ")
        case .text, .auto:
            let details = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
            line = "\(event.level.rawValue): \(event.message)" + (details.isEmpty ? "" : " (\(details))")
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func quote(_ text: String) -> String {
        if !text.isEmpty, text.allSatisfy({ !$0.isWhitespace && $0 != "\"" && $0 != "=" }) { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
