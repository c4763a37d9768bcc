public import Foundation

/// A value sent as a query parameter, in PostgreSQL's text format (`nil` is SQL NULL).
///
/// Parameters travel separately from the SQL text (`PQexecParams`): nothing is ever spliced into SQL.
public protocol PGParam: Sendable {
    var pgText: String? { get }
}

extension String: PGParam { public var pgText: String? { self } }
extension Substring: PGParam { public var pgText: String? { String(self) } }
extension Int: PGParam { public var pgText: String? { String(self) } }
extension Int32: PGParam { public var pgText: String? { String(self) } }
extension Int64: PGParam { public var pgText: String? { String(self) } }
extension Bool: PGParam { public var pgText: String? { self ? "t" : "f" } }
extension Double: PGParam { public var pgText: String? { String(self) } }
extension Date: PGParam { public var pgText: String? { PGTimestamp.format(self) } }
extension JSONValue: PGParam { public var pgText: String? { canonicalText } }
extension Optional: PGParam where Wrapped: PGParam { public var pgText: String? { self?.pgText } }

/// SQL NULL as a parameter, for places where a typed `nil` is awkward.
public struct PGNull: PGParam {
    public init() {}
    public var pgText: String? { nil }
}

/// Timestamp text conversions. Connections run with `TimeZone=UTC` and `DateStyle=ISO`.
public enum PGTimestamp {
    /// ISO 8601 UTC with microseconds, which PostgreSQL accepts for `timestamptz`.
    public static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((micros / 1_000_000).rounded(.down))
        let fraction = Int64(micros) - seconds * 1_000_000
        let civil = civilFromDays(seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
        let secondOfDay = seconds - civil.days * 86400
        return String(
            format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%06lldZ", civil.year, civil.month, civil.day,
            secondOfDay / 3600, (secondOfDay % 3600) / 60, secondOfDay % 60, fraction)
    }

    /// ISO 8601 UTC to the second (`2024-05-01T10:00:00Z`), for messages.
    public static func formatSeconds(_ date: Date) -> String {
        let text = format(date)
        return String(text.prefix(19)) + "Z"
    }

    /// Parses PostgreSQL's ISO output (`2024-05-01 10:00:00.123456+00`) or ISO 8601 (`...T...Z`).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for index in start..<(start + count) {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        var index = 19
        var micros: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            if digits < 6 { for _ in digits..<6 { micros *= 10 } }
        }
        var offsetSeconds: Int64 = 0
        if index < bytes.count {
            let sign = bytes[index]
            if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                let rest = Array(bytes[(index + 1)...]).filter { $0 != UInt8(ascii: ":") }
                var value: Int64 = 0
                var parts: [Int64] = []
                for (offset, byte) in rest.enumerated() {
                    value = value * 10 + Int64(byte) - 48
                    if offset % 2 == 1 {
                        parts.append(value)
                        value = 0
                    }
                }
                let hours = parts.first ?? 0
                let minutes = parts.count > 1 ? parts[1] : 0
                offsetSeconds = (hours * 3600 + minutes * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
            }
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let total = days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(total) + Double(micros) / 1_000_000)
    }

    // Howard Hinnant's civil calendar algorithms.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ input: Int64) -> (year: Int64, month: Int64, day: Int64, days: Int64) {
        let z = input + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d, input)
    }
}

/// The rows of a query result, copied out of libpq (text format).
public struct PGResult: Sendable {
    public let columns: [String]
    public let rows: [PGRow]
    /// `PQcmdTuples`: rows affected by INSERT/UPDATE/DELETE (0 when not applicable).
    public let affectedRows: Int

    init(columns: [String], rows: [[String?]], affectedRows: Int) {
        self.columns = columns
        let index = PGColumnIndex(columns)
        self.rows = rows.map { PGRow(index: index, values: $0) }
        self.affectedRows = affectedRows
    }

    public var first: PGRow? { rows.first }
}

final class PGColumnIndex: Sendable {
    let positions: [String: Int]
    init(_ columns: [String]) {
        var positions: [String: Int] = [:]
        for (offset, name) in columns.enumerated() where positions[name] == nil { positions[name] = offset }
        self.positions = positions
    }
}

/// One result row; values are PostgreSQL's text output, `nil` for NULL.
public struct PGRow: Sendable {
    let index: PGColumnIndex
    public let values: [String?]

    public subscript(_ column: String) -> String? {
        guard let position = index.positions[column] else { return nil }
        return values[position]
    }

    public subscript(_ position: Int) -> String? { values[position] }

    private func required(_ column: String) throws -> String {
        guard index.positions[column] != nil else {
            throw PostgresError(code: .client, message: "result has no column \(column)")
        }
        guard let value = self[column] else {
            throw PostgresError(code: .client, message: "column \(column) is NULL")
        }
        return value
    }

    public func string(_ column: String) throws -> String { try required(column) }

    public func int(_ column: String) throws -> Int {
        let text = try required(column)
        guard let value = Int(text) else { throw PostgresError(code: .client, message: "column \(column) is not an integer") }
        return value
    }

    public func optionalInt(_ column: String) -> Int? { self[column].flatMap { Int($0) } }

    public func bool(_ column: String) throws -> Bool { try required(column) == "t" }

    public func optionalBool(_ column: String) -> Bool? { self[column].map { $0 == "t" } }

    public func date(_ column: String) throws -> Date {
        let text = try required(column)
        guard let value = PGTimestamp.parse(text) else {
            throw PostgresError(code: .client, message: "column \(column) is not a timestamp")
        }
        return value
    }

    public func optionalDate(_ column: String) -> Date? { self[column].flatMap(PGTimestamp.parse) }

    public func json(_ column: String) throws -> JSONValue? {
        guard let text = self[column] else { return nil }
        do {
            return try JSONValue.parse(text)
        } catch {
            throw PostgresError(code: .client, message: "column \(column) is not valid JSON: \(error)")
        }
    }
}
