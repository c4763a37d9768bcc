import Foundation

/// A Kubernetes resource quantity (`resource.Quantity`): an exact decimal value with the API
/// server's canonical text.
///
/// Grammar (k8s.io/apimachinery `pkg/api/resource/quantity.go`):
/// ```
/// <quantity>        ::= <signedNumber><suffix>
/// <signedNumber>    ::= <number> | "+" <number> | "-" <number>
/// <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
/// <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
/// <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
/// <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
/// <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
/// ```
///
/// Parsing follows `ParseQuantity`: the value is exact (a big-integer mantissa and a base-10
/// exponent, never a floating point number); non-zero values are rounded *up in magnitude* to the
/// nearest nano unit (`0.1n` → `1n`); binary-SI values are capped at 2⁶³−1 in magnitude; a
/// binary-SI value between 0 and 1 becomes decimal-SI. `canonical` is what `CanonicalizeBytes`
/// produces: the largest exponent (a multiple of 3, or a power of 1024 for binary SI) without
/// fractional digits, in the format the input used (`1.5` → `1500m`, `1024Mi` → `1Gi`,
/// `1.5Gi` → `1536Mi`, `1000M` → `1G`, `1e3` → `1e3`); binary-SI values below 1024 in magnitude or
/// not integral are written in decimal SI (`512Ki` stays, `0.5Ki` → `512`).
///
/// Equality, hashing and ordering are by *value*: `1Ki == 1024` although their canonical texts
/// differ (the format is part of the text, not of the value).
///
/// Deliberate differences from `ParseQuantity` (this type accepts a subset of its inputs, and gives
/// identical results on that subset):
/// - a number without any digit (`""`, `"-"`, `"."`, `"Ki"`, `"m"`) is rejected; upstream reads
///   them as zero;
/// - decimal exponents beyond ±1000 are rejected (upstream truncates the exponent to 32 bits);
/// - a decimal-SI value whose canonical exponent exceeds 18 (`1000E` and up) is rejected: the API
///   server has no suffix for it and would silently write `1` (`1000E` → `"1"`); write it with an
///   exponent instead (`1e21`).
/// The API server echoes an input that is already "almost canonical" verbatim (`+1`, `1.500`,
/// `1E3` stay as written); this type always produces the fully canonical text. Both denote the
/// same value, and comparisons are by value.
public struct Quantity: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// How the quantity is written; the canonical text keeps the input's format.
    public enum Format: String, Hashable, Sendable, Codable {
        /// `12e6`
        case decimalExponent
        /// `12Mi` (12 × 2²⁰)
        case binarySI
        /// `12M` (12 × 10⁶)
        case decimalSI
    }

    /// The canonical text, as the API server serialises this value.
    public let canonical: String
    /// The format the canonical text uses.
    public let format: Format
    /// The value: `(negative ? -1 : 1) × mantissa × 10^exponent`, normalised (no trailing zero
    /// digits in the mantissa; zero is `0 × 10^0`, never negative).
    private let negative: Bool
    private let mantissa: BigDigits
    private let exponent: Int

    /// The quantity zero (`"0"`).
    public static let zero = Quantity(negative: false, mantissa: BigDigits(0), exponent: 0, format: .decimalSI)

    /// Parses a quantity as the API server does (see the type's documentation).
    /// - Throws: `QuantityError` naming the input and what is wrong with it.
    public init(_ text: String) throws(QuantityError) {
        let parsed = try QuantityParser.parse(text)
        self.init(negative: parsed.negative, mantissa: parsed.mantissa, exponent: parsed.exponent, format: parsed.format)
        if format == .decimalSI, !isZero, canonicalExponent > 18 {
            throw QuantityError(
                input: text,
                reason: "too large for a decimal SI suffix (the API server would write it as \"\(canonical)\"); "
                    + "use an exponent instead, e.g. \"\(mantissaText)e\(canonicalExponent)\""
            )
        }
    }

    /// An integer quantity in decimal SI (`Quantity(2000)` is `2k`).
    public init(_ value: Int) {
        let magnitude = BigDigits(UInt64(value.magnitude))
        self.init(negative: value < 0, mantissa: magnitude, exponent: 0, format: .decimalSI)
    }

    private init(negative: Bool, mantissa: BigDigits, exponent: Int, format: Format) {
        var mantissa = mantissa
        var exponent = exponent
        if mantissa.isZero {
            self.negative = false
            self.mantissa = mantissa
            self.exponent = 0
            self.format = format
            self.canonical = "0"
            return
        }
        exponent += mantissa.removeFactorsOf10()
        self.negative = negative
        self.mantissa = mantissa
        self.exponent = exponent
        self.format = format
        self.canonical = Quantity.canonicalText(negative: negative, mantissa: mantissa, exponent: exponent, format: format)
    }

    public var description: String { canonical }

    /// True for the value zero.
    public var isZero: Bool { mantissa.isZero }

    /// True for values below zero.
    public var isNegative: Bool { negative }

    /// The value as an integer when it is one and fits in `Int`.
    public var integerValue: Int? {
        guard exponent >= 0, exponent <= 18 else { return isZero ? 0 : nil }
        var digits = mantissa
        digits.multiply(byPowerOf10: exponent)
        guard let magnitude = digits.uint64Value, magnitude <= UInt64(Int.max) else { return nil }
        return negative ? -Int(magnitude) : Int(magnitude)
    }

    /// Compares values: -1, 0 or 1 as `self` is less than, equal to or greater than `other`.
    public func compare(_ other: Quantity) -> Int {
        if negative != other.negative { return negative ? -1 : 1 }
        let magnitudeOrder = Quantity.compareMagnitudes(self, other)
        return negative ? -magnitudeOrder : magnitudeOrder
    }

    public static func == (lhs: Quantity, rhs: Quantity) -> Bool {
        lhs.negative == rhs.negative && lhs.exponent == rhs.exponent && lhs.mantissa == rhs.mantissa
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(negative)
        hasher.combine(exponent)
        hasher.combine(mantissa)
    }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.compare(rhs) < 0 }

    /// Decodes from the canonical or any valid text; surrounding whitespace is ignored, as the API
    /// server's `UnmarshalJSON` does.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text.trimmingCharacters(in: .whitespaces))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(canonical)
    }

    // MARK: - Canonical form

    private var mantissaText: String { mantissa.description }

    /// The decimal exponent `AsCanonicalBytes` yields: the normalised exponent lowered to a multiple of 3.
    private var canonicalExponent: Int {
        exponent - Quantity.euclideanRemainder(exponent, 3)
    }

    private static func euclideanRemainder(_ value: Int, _ divisor: Int) -> Int {
        let remainder = value % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }

    /// `CanonicalizeBytes` for a normalised non-zero value.
    private static func canonicalText(negative: Bool, mantissa: BigDigits, exponent: Int, format: Format) -> String {
        let sign = negative ? "-" : ""
        if format == .binarySI, let (number, power) = base1024(mantissa: mantissa, exponent: exponent) {
            // power is 0...6 because binary-SI magnitudes are capped at 2^63-1.
            let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
            return sign + number.description + suffixes[power]
        }
        // AsCanonicalBytes: move factors of 10 into the exponent (done by normalisation), then lower
        // the exponent to a multiple of 3.
        let shift = euclideanRemainder(exponent, 3)
        var number = mantissa
        number.multiply(byPowerOf10: shift)
        let canonicalExponent = exponent - shift
        let suffix: String
        switch format {
        case .decimalExponent:
            suffix = canonicalExponent == 0 ? "" : "e\(canonicalExponent)"
        case .decimalSI, .binarySI:
            let table = [-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"]
            // Upstream emits no suffix when none exists; `init` rejects those values.
            suffix = table[canonicalExponent] ?? ""
        }
        return sign + number.description + suffix
    }

    /// For binary SI: the integer value written as `number × 1024^power` with the largest power,
    /// or nil when the value must be written in decimal SI (magnitude below 1024, or not integral).
    private static func base1024(mantissa: BigDigits, exponent: Int) -> (BigDigits, Int)? {
        guard exponent >= 0 else { return nil }  // normalised: a negative exponent means a fraction
        var integer = mantissa
        integer.multiply(byPowerOf10: exponent)
        guard integer >= BigDigits(1024) else { return nil }
        var power = 0
        while true {
            let (quotient, remainder) = integer.divided(by: 1024)
            guard remainder == 0 else { break }
            integer = quotient
            power += 1
        }
        return (integer, power)
    }

    private static func compareMagnitudes(_ lhs: Quantity, _ rhs: Quantity) -> Int {
        if lhs.isZero || rhs.isZero { return lhs.isZero ? (rhs.isZero ? 0 : -1) : 1 }
        // Position of the leading digit decides unless equal; then align exponents (bounded by digit counts).
        let lhsTop = lhs.mantissa.digitCount + lhs.exponent
        let rhsTop = rhs.mantissa.digitCount + rhs.exponent
        if lhsTop != rhsTop { return lhsTop < rhsTop ? -1 : 1 }
        var left = lhs.mantissa
        var right = rhs.mantissa
        if lhs.exponent > rhs.exponent {
            left.multiply(byPowerOf10: lhs.exponent - rhs.exponent)
        } else {
            right.multiply(byPowerOf10: rhs.exponent - lhs.exponent)
        }
        return left == right ? 0 : (left < right ? -1 : 1)
    }
}

/// Why a text is not a valid quantity; the description names the input.
public struct QuantityError: Error, Hashable, Sendable, CustomStringConvertible {
    public let input: String
    public let reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "invalid quantity \"\(input)\": \(reason)" }
}

// MARK: - Parsing

/// `parseQuantityString` + `ParseQuantity` over exact decimals.
private enum QuantityParser {
    struct Parsed {
        var negative: Bool
        var mantissa: BigDigits
        var exponent: Int
        var format: Quantity.Format
    }

    static let maxExponent = 1000
    /// 2^63 - 1: binary-SI values are capped here, as upstream caps them at max int64.
    static let maxBinary = BigDigits(UInt64(Int64.max))

    static func parse(_ text: String) throws(QuantityError) -> Parsed {
        func fail(_ reason: String) -> QuantityError { QuantityError(input: text, reason: reason) }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw fail("empty string") }
        var index = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            negative = bytes[0] == UInt8(ascii: "-")
            index = 1
        }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        let integerStart = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let integerDigits = bytes[integerStart..<index]
        var fractionDigits = bytes[index..<index]
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            fractionDigits = bytes[fractionStart..<index]
        }
        guard !integerDigits.isEmpty || !fractionDigits.isEmpty else {
            if index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
                throw fail("whitespace is not allowed")
            }
            throw fail("expected a number (digits, optionally with a sign and a decimal point) before the suffix")
        }
        let suffixBytes = bytes[index...]
        // The suffix is letters from "eEinumkKMGTP", then an optional sign and digits, then the end.
        var scan = index
        let suffixLetters = Set("eEinumkKMGTP".utf8)
        while scan < bytes.count, suffixLetters.contains(bytes[scan]) { scan += 1 }
        if scan < bytes.count, bytes[scan] == UInt8(ascii: "-") || bytes[scan] == UInt8(ascii: "+") { scan += 1 }
        while scan < bytes.count, isDigit(bytes[scan]) { scan += 1 }
        guard scan == bytes.count else {
            let bad = String(decoding: bytes[scan...].prefix(1), as: UTF8.self)
            if bad == " " || bad == "\t" { throw fail("whitespace is not allowed") }
            throw fail(
                "unexpected \"\(bad)\" at offset \(scan); expected <number><suffix> with a suffix from "
                    + "Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent e<n>/E<n>"
            )
        }
        let suffix = String(decoding: suffixBytes, as: UTF8.self)
        let base: Int
        var suffixExponent: Int
        var format: Quantity.Format
        switch suffix {
        case "": (base, suffixExponent, format) = (10, 0, .decimalSI)
        case "n": (base, suffixExponent, format) = (10, -9, .decimalSI)
        case "u": (base, suffixExponent, format) = (10, -6, .decimalSI)
        case "m": (base, suffixExponent, format) = (10, -3, .decimalSI)
        case "k": (base, suffixExponent, format) = (10, 3, .decimalSI)
        case "M": (base, suffixExponent, format) = (10, 6, .decimalSI)
        case "G": (base, suffixExponent, format) = (10, 9, .decimalSI)
        case "T": (base, suffixExponent, format) = (10, 12, .decimalSI)
        case "P": (base, suffixExponent, format) = (10, 15, .decimalSI)
        case "E": (base, suffixExponent, format) = (10, 18, .decimalSI)
        case "Ki": (base, suffixExponent, format) = (2, 10, .binarySI)
        case "Mi": (base, suffixExponent, format) = (2, 20, .binarySI)
        case "Gi": (base, suffixExponent, format) = (2, 30, .binarySI)
        case "Ti": (base, suffixExponent, format) = (2, 40, .binarySI)
        case "Pi": (base, suffixExponent, format) = (2, 50, .binarySI)
        case "Ei": (base, suffixExponent, format) = (2, 60, .binarySI)
        default:
            guard suffix.count > 1, suffix.first == "e" || suffix.first == "E" else {
                throw fail("unknown suffix \"\(suffix)\"; expected Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or e<n>/E<n>")
            }
            let exponentText = suffix.dropFirst()
            let unsigned = exponentText.first == "+" || exponentText.first == "-" ? exponentText.dropFirst() : exponentText
            guard !unsigned.isEmpty, unsigned.allSatisfy(\.isASCIIDigit) else {
                throw fail("unknown suffix \"\(suffix)\"; an exponent is e or E followed by an optionally signed integer")
            }
            guard let value = Int(exponentText), abs(value) <= maxExponent else {
                throw fail("exponent \(exponentText) is out of range (at most ±\(maxExponent))")
            }
            (base, suffixExponent, format) = (10, value, .decimalExponent)
        }

        var mantissa = BigDigits(digits: integerDigits + fractionDigits)
        var exponent = -fractionDigits.count
        if base == 10 {
            exponent += suffixExponent
        } else {
            mantissa.multiply(byPowerOf2: suffixExponent)
        }
        if !mantissa.isZero {
            exponent += mantissa.removeFactorsOf10()
            // Round non-zero magnitudes up to a whole number of nano units (inf.RoundUp at scale 9).
            if exponent < -9 {
                let (quotient, inexact) = mantissa.divided(byPowerOf10: -9 - exponent)
                mantissa = quotient
                if inexact { mantissa.add(1) }
                exponent = -9
            }
            if format == .binarySI {
                // Compare magnitude × 10^exponent with 2^63-1 at a common exponent (here ≥ -9).
                var value = mantissa
                var limit = maxBinary
                if exponent >= 0 { value.multiply(byPowerOf10: exponent) } else { limit.multiply(byPowerOf10: -exponent) }
                if value > limit {
                    mantissa = maxBinary
                    exponent = 0
                } else if mantissa.digitCount + exponent <= 0 {
                    // 0 < magnitude < 1: "This avoids rounding and hopefully confusion, too."
                    format = .decimalSI
                }
            }
        }
        return Parsed(negative: negative, mantissa: mantissa, exponent: exponent, format: format)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

// MARK: - Arbitrary-precision natural numbers

/// A natural number in base 10⁹ limbs (least significant first): just what quantities need —
/// parse digits, multiply by small numbers and powers, divide by small numbers, compare, print.
private struct BigDigits: Hashable, Sendable, Comparable, CustomStringConvertible {
    static let limbBase: UInt64 = 1_000_000_000
    /// Little-endian limbs, each < 10⁹; no trailing zero limbs (zero is `[]`).
    private(set) var limbs: [UInt32]

    init(_ value: UInt64) {
        limbs = []
        var rest = value
        while rest > 0 {
            limbs.append(UInt32(rest % Self.limbBase))
            rest /= Self.limbBase
        }
    }

    init<C: Collection>(digits: C) where C.Element == UInt8 {
        limbs = []
        let ascii = Array(digits)
        var end = ascii.count
        while end > 0 {
            let start = Swift.max(0, end - 9)
            var limb: UInt32 = 0
            for byte in ascii[start..<end] { limb = limb * 10 + UInt32(byte - UInt8(ascii: "0")) }
            limbs.append(limb)
            end = start
        }
        trim()
    }

    var isZero: Bool { limbs.isEmpty }

    var uint64Value: UInt64? {
        guard limbs.count <= 3 else { return nil }
        var result: UInt64 = 0
        for limb in limbs.reversed() {
            let (scaled, overflow1) = result.multipliedReportingOverflow(by: Self.limbBase)
            let (sum, overflow2) = scaled.addingReportingOverflow(UInt64(limb))
            if overflow1 || overflow2 { return nil }
            result = sum
        }
        return result
    }

    var digitCount: Int {
        guard let top = limbs.last else { return 0 }
        return (limbs.count - 1) * 9 + String(top).count
    }

    private mutating func trim() {
        while limbs.last == 0 { limbs.removeLast() }
    }

    /// Multiplies by a factor below 2^32.
    mutating func multiply(by factor: UInt32) {
        guard !isZero else { return }
        var carry: UInt64 = 0
        for index in limbs.indices {
            let product = UInt64(limbs[index]) * UInt64(factor) + carry
            limbs[index] = UInt32(product % Self.limbBase)
            carry = product / Self.limbBase
        }
        while carry > 0 {
            limbs.append(UInt32(carry % Self.limbBase))
            carry /= Self.limbBase
        }
        trim()
    }

    mutating func add(_ addend: UInt32) {
        var carry = UInt64(addend)
        var index = 0
        while carry > 0 {
            if index == limbs.count { limbs.append(0) }
            let sum = UInt64(limbs[index]) + carry
            limbs[index] = UInt32(sum % Self.limbBase)
            carry = sum / Self.limbBase
            index += 1
        }
    }

    mutating func multiply(byPowerOf10 power: Int) {
        guard power > 0, !isZero else { return }
        limbs.insert(contentsOf: repeatElement(0, count: power / 9), at: 0)
        var factor: UInt32 = 1
        for _ in 0..<(power % 9) { factor *= 10 }
        multiply(by: factor)
    }

    mutating func multiply(byPowerOf2 power: Int) {
        var remaining = power
        while remaining > 0 {
            let step = Swift.min(remaining, 29)
            multiply(by: UInt32(1) << UInt32(step))
            remaining -= step
        }
    }

    /// Division by a small divisor: quotient and remainder.
    func divided(by divisor: UInt32) -> (quotient: BigDigits, remainder: UInt32) {
        var quotient = self
        var remainder: UInt64 = 0
        for index in quotient.limbs.indices.reversed() {
            let current = remainder * Self.limbBase + UInt64(quotient.limbs[index])
            quotient.limbs[index] = UInt32(current / UInt64(divisor))
            remainder = current % UInt64(divisor)
        }
        quotient.trim()
        return (quotient, UInt32(remainder))
    }

    /// Truncating division by 10^power; `inexact` when a non-zero remainder was dropped.
    func divided(byPowerOf10 power: Int) -> (quotient: BigDigits, inexact: Bool) {
        var quotient = self
        var inexact = false
        var remaining = power
        while remaining > 0, !quotient.isZero {
            let step = Swift.min(remaining, 9)
            var divisor: UInt32 = 1
            for _ in 0..<step { divisor *= 10 }
            let (next, remainder) = quotient.divided(by: divisor)
            if remainder != 0 { inexact = true }
            quotient = next
            remaining -= step
        }
        return (quotient, inexact)
    }

    /// Strips trailing decimal zeros, returning how many were removed.
    mutating func removeFactorsOf10() -> Int {
        guard !isZero else { return 0 }
        var removed = 0
        while limbs.first == 0 {
            limbs.removeFirst()
            removed += 9
        }
        while true {
            let (quotient, remainder) = divided(by: 10)
            guard remainder == 0 else { break }
            self = quotient
            removed += 1
        }
        return removed
    }

    static func < (lhs: BigDigits, rhs: BigDigits) -> Bool {
        if lhs.limbs.count != rhs.limbs.count { return lhs.limbs.count < rhs.limbs.count }
        for index in lhs.limbs.indices.reversed() where lhs.limbs[index] != rhs.limbs[index] {
            return lhs.limbs[index] < rhs.limbs[index]
        }
        return false
    }

    var description: String {
        guard let top = limbs.last else { return "0" }
        var text = String(top)
        for limb in limbs.dropLast().reversed() {
            let part = String(limb)
            text += String(repeating: "0", count: 9 - part.count) + part
        }
        return text
    }
}
