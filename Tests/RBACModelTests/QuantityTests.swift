import Foundation
import RBACModel
import Testing

// Tables modelled on k8s.io/apimachinery `pkg/api/resource/quantity_test.go` (TestQuantityParse,
// TestQuantityString, TestQuantityParseEmit, TestParseQuantity, TestQuantityCmp). Expected texts are
// what upstream's `Quantity.String()` prints for a value without a preserved input string
// (`CanonicalizeBytes`).

@Suite("Quantity")
struct QuantityTests {
    /// The examples the design relies on.
    @Test(arguments: [
        ("1000m", "1"), ("0.5", "500m"), ("1.5", "1500m"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"),
        ("1000M", "1G"), ("1000", "1k"), ("0", "0"), ("100e3", "100e3"), ("2", "2"), ("4", "4"),
        ("8Gi", "8Gi"), ("16Gi", "16Gi"), ("10Gi", "10Gi"), ("500m", "500m"), ("1Ei", "1Ei"), ("100e18", "100e18"),
        ("2048Ki", "2Mi"), ("1536Ki", "1536Ki"), ("1.5Ki", "1536"),
    ])
    func designExamples(input: String, canonical: String) throws {
        #expect(try Quantity(input).canonical == canonical)
    }

    /// TestQuantityParse: input → canonical text and format (upstream checks value and format).
    static let parseTable: [(String, String, Quantity.Format)] = [
        ("0", "0", .decimalSI), ("0n", "0", .decimalSI), ("0u", "0", .decimalSI), ("0m", "0", .decimalSI),
        ("0Ki", "0", .binarySI), ("0k", "0", .decimalSI), ("0Mi", "0", .binarySI), ("0M", "0", .decimalSI),
        ("0Gi", "0", .binarySI), ("0G", "0", .decimalSI), ("0Ti", "0", .binarySI), ("0T", "0", .decimalSI),
        // Quantity less numbers are allowed
        ("1", "1", .decimalSI),
        // Binary suffixes
        ("1Ki", "1Ki", .binarySI), ("8Ki", "8Ki", .binarySI), ("7Mi", "7Mi", .binarySI), ("6Gi", "6Gi", .binarySI),
        ("5Ti", "5Ti", .binarySI), ("4Pi", "4Pi", .binarySI), ("3Ei", "3Ei", .binarySI),
        ("10Ti", "10Ti", .binarySI), ("100Ti", "100Ti", .binarySI),
        // Decimal suffixes
        ("5n", "5n", .decimalSI), ("4u", "4u", .decimalSI), ("3m", "3m", .decimalSI), ("9", "9", .decimalSI),
        ("8k", "8k", .decimalSI), ("50k", "50k", .decimalSI), ("7M", "7M", .decimalSI), ("6G", "6G", .decimalSI),
        ("5T", "5T", .decimalSI), ("40T", "40T", .decimalSI), ("300T", "300T", .decimalSI), ("2P", "2P", .decimalSI),
        ("1E", "1E", .decimalSI),
        // Decimal exponents
        ("1E-3", "1e-3", .decimalExponent), ("1e3", "1e3", .decimalExponent), ("1E6", "1e6", .decimalExponent),
        ("1e9", "1e9", .decimalExponent), ("1E12", "1e12", .decimalExponent), ("1e15", "1e15", .decimalExponent),
        ("1E18", "1e18", .decimalExponent),
        // Nonstandard but still parsable
        ("1e14", "100e12", .decimalExponent), ("1e13", "10e12", .decimalExponent),
        ("100.035k", "100035", .decimalSI),
        // Things that look like floating point
        ("0.001", "1m", .decimalSI), ("0.0005k", "500m", .decimalSI), ("0.005", "5m", .decimalSI),
        ("0.05", "50m", .decimalSI), ("0.5", "500m", .decimalSI), ("0.00050k", "500m", .decimalSI),
        ("0.00500", "5m", .decimalSI), ("0.05000", "50m", .decimalSI), ("0.50000", "500m", .decimalSI),
        ("0.5e0", "500e-3", .decimalExponent), ("0.5e-1", "50e-3", .decimalExponent),
        ("0.5e-2", "5e-3", .decimalExponent), ("10.035M", "10035k", .decimalSI),
        ("1.2e3", "1200", .decimalExponent), ("1.3E+6", "1300e3", .decimalExponent),
        ("1.40e9", "1400e6", .decimalExponent), ("1.53E12", "1530e9", .decimalExponent),
        ("1.6e15", "1600e12", .decimalExponent), ("1.7E18", "1700e15", .decimalExponent),
        ("9.01", "9010m", .decimalSI), ("8.1k", "8100", .decimalSI), ("7.123456M", "7123456", .decimalSI),
        ("6.987654321G", "6987654321", .decimalSI), ("5.444T", "5444G", .decimalSI), ("40.1T", "40100G", .decimalSI),
        ("300.2T", "300200G", .decimalSI), ("2.5P", "2500T", .decimalSI), ("1.01E", "1010P", .decimalSI),
        // Things that saturate/round
        ("3.001n", "4n", .decimalSI), ("1.1E-9", "2e-9", .decimalExponent), ("0.0000000001", "1n", .decimalSI),
        ("0.0000000005", "1n", .decimalSI), ("0.00000000050", "1n", .decimalSI), ("0.5e-9", "1e-9", .decimalExponent),
        ("0.9n", "1n", .decimalSI), ("0.00000012345", "124n", .decimalSI), ("0.00000012354", "124n", .decimalSI),
        ("9Ei", "9223372036854775807", .binarySI), ("9223372036854775807Ki", "9223372036854775807", .binarySI),
        ("12E", "12E", .decimalSI),
        // We'll accept fractional binary stuff, too.
        ("100.035Ki", "102435840m", .binarySI), ("0.5Mi", "512Ki", .binarySI),
        ("0.05Gi", "53687091200m", .binarySI), ("0.025Ti", "27487790694400m", .binarySI),
        // Things written by trolls
        ("0.000000000001Ki", "2n", .decimalSI),  // rounds up, changes format
        (".001", "1m", .decimalSI), (".0001k", "100m", .decimalSI), ("1.", "1", .decimalSI), ("1.G", "1G", .decimalSI),
    ]

    @Test func parseTableCanonicalAndFormat() throws {
        for (input, canonical, format) in Self.parseTable {
            let quantity = try Quantity(input)
            #expect(quantity.canonical == canonical, "\(input)")
            #expect(quantity.format == format, "\(input)")
            // An explicit + changes nothing; a - negates (zero never prints "-0").
            let plus = try Quantity("+" + input)
            #expect(plus == quantity && plus.canonical == canonical && plus.format == format, "+\(input)")
            let minus = try Quantity("-" + input)
            #expect(minus.canonical == (canonical == "0" ? "0" : "-" + canonical), "-\(input)")
            #expect(minus.format == format, "-\(input)")
            #expect(quantity.isZero || minus < quantity, "-\(input)")
            // The canonical text parses back to the same value and the same text.
            let reparsed = try Quantity(canonical)
            #expect(reparsed == quantity && reparsed.canonical == canonical, "\(input) → \(canonical)")
        }
    }

    /// TestQuantityString: each canonical text round-trips; each alternate spelling canonicalises to it.
    @Test(arguments: [
        ("1Gi", "1024Mi"), ("300Mi", "307200Ki"), ("6Ki", ""), ("1001Gi", "1025024Mi"), ("1Ti", "1024Gi"),
        ("5", "5000m"), ("500m", "0.5"), ("1G", "1000M"), ("1G", "0.001T"), ("1G", "1000000k"),
        ("1m", "1000u"), ("80m", ""), ("1080m", "1.08"), ("1080m", "1080000000n"), ("1080m", "1.0800"),
        ("300M", ""), ("1T", ""), ("1234567M", ""), ("1234567m", ""), ("3k", ""), ("1025", ""), ("0", "00"),
        ("1e9", ".001e12"), ("1e-3", "0.001e0"), ("1e-9", "1000e-12"), ("80e-3", ""), ("300e6", ""), ("1e12", ""),
        ("1e3", ""), ("3e3", ""), ("1n", ""), ("80n", ""), ("1080n", ""), ("1080n", "0.00000108"), ("1u", ""),
        ("80u", ""), ("1080u", ""),
    ])
    func stringTable(expect: String, alternate: String) throws {
        #expect(try Quantity(expect).canonical == expect)
        if expect != "0" { #expect(try Quantity("-" + expect).canonical == "-" + expect) }
        if !alternate.isEmpty {
            let quantity = try Quantity(alternate)
            #expect(quantity.canonical == expect)
            #expect(quantity == (try Quantity(expect)))
        }
    }

    /// TestQuantityParseEmit, and its negated variant.
    @Test(arguments: [
        ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"), (".001Ki", "1024m"),
        (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
    ])
    func parseEmit(input: String, expect: String) throws {
        #expect(try Quantity(input).canonical == expect)
        #expect(try Quantity("-" + input).canonical == "-" + expect)
    }

    /// TestParseQuantity: values around 18–20 digits and int64's limits (exact, no float).
    @Test(arguments: [
        ("999999999999999999", "999999999999999999"), ("999999999999999999.0", "999999999999999999"),
        ("999999999999999999.1", "999999999999999999100m"), ("9999999999999999999", "9999999999999999999"),
        ("1E", "1E"), ("1000000000000000000", "1E"), ("9999999999999999999.0", "9999999999999999999"),
        ("1.0E", "1E"), ("1000000000000000000.0", "1E"), ("9999999999999999999000m", "9999999999999999999"),
        ("9999999999999999999.1", "9999999999999999999100m"), ("1.0000000000000000001E", "1000000000000000000100m"),
        ("1000000000000000000.1", "1000000000000000000100m"), ("1.000000000000000001E", "1000000000000000001"),
        ("1000000000000000001", "1000000000000000001"), ("10E", "10E"), ("10000000000000000000", "10E"),
        ("10.0E", "10E"), ("10000000000000000000.0", "10E"), ("10000000000000000000000m", "10E"),
        ("10.0000000000000000001E", "10000000000000000000100m"), ("10000000000000000000.1", "10000000000000000000100m"),
        ("10.000000000000000001E", "10000000000000000001"), ("10000000000000000001", "10000000000000000001"),
        ("9223372036854775806", "9223372036854775806"), ("9223372036854775806.0", "9223372036854775806"),
        ("9223372036854775806000m", "9223372036854775806"), ("9223372036854775806.1", "9223372036854775806100m"),
        ("9223372036854775807", "9223372036854775807"), ("9223372036854775807000m", "9223372036854775807"),
        ("9223372036854775807.1", "9223372036854775807100m"), ("9223372036854775808", "9223372036854775808"),
        ("9223372036854775808.0", "9223372036854775808"), ("9223372036854775808.1", "9223372036854775808100m"),
        ("9223372036854775809", "9223372036854775809"),
    ])
    func largeValues(input: String, canonical: String) throws {
        #expect(try Quantity(input).canonical == canonical)
        #expect(try Quantity("-" + input).canonical == "-" + canonical)
    }

    /// TestQuantityParse's invalid list, plus what this type rejects deliberately.
    @Test(arguments: [
        "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 ",
        // stricter than upstream (which reads these as zero) and other malformed input
        "", "-", "+", ".", "Ki", "m", "e3", "1e", "1K", "1ki", "1KiB", "1Gb", "1,5", "1_000", "0x10", "1e1.5",
        "1e3e3", "1m3", "1Ee3", "--1", "1e1001", "1e-1001", "1000E", "1000000000000000000000", "1 Gi", "١٢",
    ])
    func invalid(input: String) {
        #expect(throws: QuantityError.self, "\(input)") { try Quantity(input) }
    }

    @Test func errorsNameTheInputAndTheReason() {
        func message(_ input: String) -> String {
            do {
                _ = try Quantity(input)
                return ""
            } catch { return error.description }
        }
        #expect(message("2 Gi").hasPrefix("invalid quantity \"2 Gi\": whitespace"))
        #expect(message("5mi").contains("unknown suffix \"mi\""))
        #expect(message("12Gb").contains("unexpected \"b\" at offset 3"))
        #expect(message("1KiB").contains("unexpected \"B\""))
        #expect(message("").contains("empty"))
        #expect(message("Gi").contains("expected a number"))
        #expect(message("1e5000").contains("out of range"))
        #expect(message("1000E").contains("1e21"))
    }

    /// TestQuantityCmp, plus values across formats and signs.
    @Test(arguments: [
        ("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1),
        ("1Ki", "1024", 0), ("1Ki", "1.024k", 0), ("1Gi", "1G", 1), ("999m", "1", -1), ("1n", "0", 1),
        ("-1n", "0", -1), ("-2", "-1", -1), ("-1Ki", "-1k", -1), ("1e3", "1k", 0), ("10E", "9223372036854775807", 1),
        ("123456789012345678901234567890", "123456789012345678901234567891", -1), ("1.5", "1500m", 0),
        ("100e18", "100E", 0), ("0.1n", "1n", 0), ("-0", "0", 0),
    ])
    func compare(lhs: String, rhs: String, expected: Int) throws {
        let left = try Quantity(lhs)
        let right = try Quantity(rhs)
        #expect(left.compare(right) == expected)
        #expect(right.compare(left) == -expected)
        #expect((left == right) == (expected == 0))
        #expect((left < right) == (expected < 0))
        if expected == 0 { #expect(left.hashValue == right.hashValue) }
    }

    @Test func valueEqualityIgnoresFormatButCanonicalKeepsIt() throws {
        let binary = try Quantity("1Ki")
        let decimal = try Quantity("1024")
        #expect(binary == decimal)
        #expect(Set([binary, decimal]).count == 1)
        #expect(binary.canonical == "1Ki")
        #expect(decimal.canonical == "1024")
    }

    @Test func zeroAndIntegers() throws {
        #expect(Quantity.zero.canonical == "0")
        #expect(Quantity.zero.isZero)
        #expect(try Quantity("0m") == .zero)
        #expect(try Quantity("-0.0") == .zero)
        #expect(Quantity(2000).canonical == "2k")
        #expect(Quantity(-5).canonical == "-5")
        #expect(Quantity(0) == .zero)
        #expect(try Quantity("2k").integerValue == 2000)
        #expect(try Quantity("1Gi").integerValue == 1_073_741_824)
        #expect(try Quantity("1500m").integerValue == nil)
        #expect(try Quantity("-3").integerValue == -3)
        #expect(try Quantity("10E").integerValue == nil)
        #expect(try Quantity("-1").isNegative)
    }

    @Test func sortsByValue() throws {
        let texts = ["1Gi", "500m", "1", "-2", "1G", "0", "1Ki", "1e3", "2n"]
        let sorted = try texts.map { try Quantity($0) }.sorted().map(\.canonical)
        #expect(sorted == ["-2", "0", "2n", "500m", "1", "1e3", "1Ki", "1G", "1Gi"])
    }

    @Test func codableAsCanonicalString() throws {
        struct Box: Codable, Equatable { var hard: [String: Quantity] }
        let box = Box(hard: ["cpu": try Quantity("2000m"), "memory": try Quantity("8192Mi")])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(box), as: UTF8.self)
        #expect(json == #"{"hard":{"cpu":"2","memory":"8Gi"}}"#)
        #expect(try JSONDecoder().decode(Box.self, from: Data(json.utf8)) == box)
        // Like UnmarshalJSON, surrounding whitespace is trimmed when decoding.
        let spaced = try JSONDecoder().decode([Quantity].self, from: Data(#"[" 1Gi "]"#.utf8))
        #expect(spaced == [try Quantity("1Gi")])
        #expect(throws: (any Error).self) { try JSONDecoder().decode([Quantity].self, from: Data(#"["1 Gi"]"#.utf8)) }
    }

    @Test func largestBinaryValuesAreCapped() throws {
        #expect(try Quantity("8Ei").canonical == "9223372036854775807")
        #expect(try Quantity("-9Ei").canonical == "-9223372036854775807")
        #expect(try Quantity("7Ei").canonical == "7Ei")
        // Decimal SI is not capped.
        #expect(try Quantity("100E").canonical == "100E")
        #expect(try Quantity("999E").canonical == "999E")
        #expect(try Quantity("1e21").canonical == "1e21")
        #expect(try Quantity("1000000000000000000001").canonical == "1000000000000000000001")
    }
}
