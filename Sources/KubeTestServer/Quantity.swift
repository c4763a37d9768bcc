// Kubernetes resource quantities: parsing and the canonical form the API server re-emits.
// Models k8s.io/apimachinery/pkg/api/resource/quantity.go (ParseQuantity, CanonicalizeBytes, String) with exact
// decimal digit arithmetic; no floating point is involved anywhere.

/// A parsed quantity: an exact decimal value plus the suffix family it was written in.
public struct Quantity: Sendable, Hashable, CustomStringConvertible {
    public enum Format: Sendable, Hashable {
        case decimalSI, binarySI, decimalExponent
    }

    /// The exact value, already rounded up to milli precision (three decimal places) as the server does.
    var value: DecimalDigits
    public var format: Format

    /// The regular expression quoted in the server's error message.
    public static let formatErrorMessage =
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

    /// Parses a quantity string.
    ///
    /// - Throws: `QuantityError` with the server's message when the text is not a quantity.
    public init(parsing text: String) throws(QuantityError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw QuantityError(message: "quantities must be non-empty") }
        var i = 0
        var negative = false
        if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var integerDigits: [UInt8] = []
        var fractionDigits: [UInt8] = []
        var seenDot = false
        while i < bytes.count {
            let b = bytes[i]
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if seenDot { fractionDigits.append(b - 48) } else { integerDigits.append(b - 48) }
            } else if b == UInt8(ascii: ".") && !seenDot {
                seenDot = true
            } else {
                break
            }
            i += 1
        }
        guard !integerDigits.isEmpty || !fractionDigits.isEmpty else {
            throw QuantityError(message: Quantity.formatErrorMessage)
        }
        let suffix = String(decoding: bytes[i...], as: UTF8.self)
        var exponent10 = -fractionDigits.count
        var binaryPower = 0
        switch suffix {
        case "": format = .decimalSI
        case "n": format = .decimalSI; exponent10 -= 9
        case "u": format = .decimalSI; exponent10 -= 6
        case "m": format = .decimalSI; exponent10 -= 3
        case "k": format = .decimalSI; exponent10 += 3
        case "M": format = .decimalSI; exponent10 += 6
        case "G": format = .decimalSI; exponent10 += 9
        case "T": format = .decimalSI; exponent10 += 12
        case "P": format = .decimalSI; exponent10 += 15
        case "E": format = .decimalSI; exponent10 += 18
        case "Ki": format = .binarySI; binaryPower = 1
        case "Mi": format = .binarySI; binaryPower = 2
        case "Gi": format = .binarySI; binaryPower = 3
        case "Ti": format = .binarySI; binaryPower = 4
        case "Pi": format = .binarySI; binaryPower = 5
        case "Ei": format = .binarySI; binaryPower = 6
        default:
            guard let first = suffix.first, first == "e" || first == "E" else {
                if suffix.utf8.allSatisfy({ Array("eEinumkKMGTP+-0123456789".utf8).contains($0) }) {
                    throw QuantityError(message: "unable to parse quantity's suffix")
                }
                throw QuantityError(message: Quantity.formatErrorMessage)
            }
            let rest = suffix.dropFirst()
            guard let e = Int(rest), !rest.isEmpty, rest.count < 8 else {
                throw QuantityError(message: "unable to parse quantity's suffix")
            }
            format = .decimalExponent
            exponent10 += e
        }
        var v = DecimalDigits(negative: negative, digits: integerDigits + fractionDigits, exponent: exponent10)
        for _ in 0..<binaryPower { v.multiply(by: 1024) }
        v.normalize()
        v.roundUp(toExponent: -3)
        value = v
    }

    /// The canonical string, e.g. `1000m` → `1`, `1.5Gi` → `1536Mi`, `1000` → `1k`.
    public var description: String {
        var v = value
        if v.isZero { return "0" }
        var format = self.format
        if format == .binarySI {
            if v.magnitudeLess(than: 1024) || !v.isInteger {
                format = .decimalSI
            }
        }
        let sign = v.negative ? "-" : ""
        switch format {
        case .binarySI:
            v.expandToInteger()
            var power = 0
            while power < 6, v.isDivisible(by: 1024) {
                v.divide(by: 1024)
                power += 1
            }
            let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
            return sign + v.integerDigitString + suffixes[power]
        case .decimalSI, .decimalExponent:
            v.normalize()
            var e3 = v.exponent >= 0 ? (v.exponent / 3) * 3 : -(((-v.exponent) + 2) / 3) * 3
            if format == .decimalSI { e3 = min(e3, 18) }
            let mantissa = v.digitString(atExponent: e3)
            if format == .decimalExponent {
                return sign + mantissa + (e3 == 0 ? "" : "e\(e3)")
            }
            let suffixes = [-3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"]
            return sign + mantissa + (suffixes[e3] ?? "e\(e3)")
        }
    }

    /// Whether the value is below zero.
    public var isNegative: Bool { value.negative && !value.isZero }

    /// Compares two quantities by exact value.
    public static func compare(_ a: Quantity, _ b: Quantity) -> Int {
        DecimalDigits.compare(a.value, b.value)
    }

    /// The canonical form of a quantity string.
    public static func canonicalize(_ text: String) throws(QuantityError) -> String {
        try Quantity(parsing: text).description
    }
}

/// A quantity that could not be parsed.
public struct QuantityError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// An exact signed decimal: `digits × 10^exponent`, digits most significant first.
struct DecimalDigits: Sendable, Hashable {
    var negative: Bool
    var digits: [UInt8]
    var exponent: Int

    var isZero: Bool { digits.allSatisfy { $0 == 0 } }

    /// Removes leading zeros and moves trailing zeros into the exponent.
    mutating func normalize() {
        while let first = digits.first, first == 0 { digits.removeFirst() }
        while let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty {
            exponent = 0
            negative = false
        }
    }

    var isInteger: Bool {
        var copy = self
        copy.normalize()
        return copy.exponent >= 0
    }

    /// Rounds away from zero so that at most `-minExponent` decimal places remain.
    mutating func roundUp(toExponent minExponent: Int) {
        guard exponent < minExponent else { return }
        let drop = minExponent - exponent
        if drop > digits.count {
            let nonzero = !isZero
            digits = nonzero ? [1] : []
            exponent = minExponent
            normalize()
            return
        }
        let kept = Array(digits[..<(digits.count - drop)])
        let cut = digits[(digits.count - drop)...]
        digits = kept
        exponent = minExponent
        if cut.contains(where: { $0 != 0 }) { addOneToMagnitude() }
        normalize()
    }

    private mutating func addOneToMagnitude() {
        var i = digits.count - 1
        while i >= 0 {
            if digits[i] < 9 {
                digits[i] += 1
                return
            }
            digits[i] = 0
            i -= 1
        }
        digits.insert(1, at: 0)
    }

    mutating func multiply(by factor: Int) {
        var carry = 0
        for i in stride(from: digits.count - 1, through: 0, by: -1) {
            let p = Int(digits[i]) * factor + carry
            digits[i] = UInt8(p % 10)
            carry = p / 10
        }
        while carry > 0 {
            digits.insert(UInt8(carry % 10), at: 0)
            carry /= 10
        }
    }

    /// Appends the zeros of a non-negative exponent so that `exponent == 0`.
    mutating func expandToInteger() {
        normalize()
        if exponent > 0 {
            digits.append(contentsOf: [UInt8](repeating: 0, count: exponent))
            exponent = 0
        }
    }

    /// For integers (`exponent == 0`): whether dividing by `divisor` leaves no remainder.
    func isDivisible(by divisor: Int) -> Bool {
        var remainder = 0
        for d in digits { remainder = (remainder * 10 + Int(d)) % divisor }
        return remainder == 0 && !digits.isEmpty
    }

    /// For integers (`exponent == 0`): integer division.
    mutating func divide(by divisor: Int) {
        var remainder = 0
        var out: [UInt8] = []
        for d in digits {
            let cur = remainder * 10 + Int(d)
            out.append(UInt8(cur / divisor))
            remainder = cur % divisor
        }
        while let first = out.first, first == 0, out.count > 1 { out.removeFirst() }
        digits = out
    }

    var integerDigitString: String {
        let s = String(decoding: digits.map { $0 + 48 }, as: UTF8.self)
        return s.isEmpty ? "0" : s
    }

    /// The integer mantissa when the value is written as `mantissa × 10^e` (requires `e <= exponent`).
    func digitString(atExponent e: Int) -> String {
        var d = digits
        if exponent > e { d.append(contentsOf: [UInt8](repeating: 0, count: exponent - e)) }
        let s = String(decoding: d.map { $0 + 48 }, as: UTF8.self)
        return s.isEmpty ? "0" : s
    }

    func magnitudeLess(than bound: Int) -> Bool {
        var b = DecimalDigits(negative: false, digits: Array(String(bound).utf8).map { $0 - 48 }, exponent: 0)
        b.normalize()
        var a = self
        a.negative = false
        return DecimalDigits.compare(a, b) < 0
    }

    /// -1, 0 or 1.
    static func compare(_ lhs: DecimalDigits, _ rhs: DecimalDigits) -> Int {
        var a = lhs
        var b = rhs
        a.normalize()
        b.normalize()
        if a.isZero && b.isZero { return 0 }
        if a.negative != b.negative { return a.negative ? -1 : 1 }
        let sign = a.negative ? -1 : 1
        // Align exponents.
        let e = min(a.exponent, b.exponent)
        let da = a.digits + [UInt8](repeating: 0, count: a.exponent - e)
        let db = b.digits + [UInt8](repeating: 0, count: b.exponent - e)
        if da.count != db.count { return (da.count < db.count ? -1 : 1) * sign }
        for (x, y) in zip(da, db) where x != y { return (x < y ? -1 : 1) * sign }
        return 0
    }
}
