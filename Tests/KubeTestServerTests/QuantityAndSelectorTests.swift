// Unit tests of the server's own parsers: quantities, label selectors, JSON encoding.

import Testing

@testable import KubeTestServer

@Suite("Canonical quantities (behaviour 8)")
struct QuantityTests {
    // Models k8s.io/apimachinery/pkg/api/resource/quantity.go (CanonicalizeBytes) and the examples in
    // https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
    @Test(arguments: [
        ("1000m", "1"), ("0.5", "500m"), ("1.5", "1500m"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"),
        ("1000M", "1G"), ("1000", "1k"), ("100Mi", "100Mi"), ("0.9Gi", "966367641600m"), ("0.5Ki", "512"),
        ("1e3", "1e3"), ("1000e0", "1e3"), ("0", "0"), ("0.0001", "1m"), ("1.0001", "1001m"), ("-1500m", "-1500m"),
        ("2Ki", "2Ki"), ("1025", "1025"), ("100m", "100m"), ("12345678901234567890", "12345678901234567890"),
        ("1Ei", "1Ei"), ("1024Ei", "1024Ei"), ("5E", "5E"), ("1000E", "1000E"), ("1n", "1m"), ("+3", "3"),
    ])
    func canonicalForm(input: String, expected: String) throws {
        #expect(try Quantity.canonicalize(input) == expected)
    }

    // quantity.go ParseQuantity: ErrFormatWrong / ErrSuffix.
    @Test(arguments: ["", "abc", "1.2.3", "1Qi", "m", "--1", "1 Gi"])
    func rejectsMalformed(input: String) {
        #expect(throws: QuantityError.self) { try Quantity(parsing: input) }
    }

    @Test func comparesExactly() throws {
        let a = try Quantity(parsing: "1Gi")
        let b = try Quantity(parsing: "1073741824")
        let c = try Quantity(parsing: "1G")
        #expect(Quantity.compare(a, b) == 0)
        #expect(Quantity.compare(c, a) < 0)
        #expect(Quantity.compare(try Quantity(parsing: "-1"), try Quantity(parsing: "0")) < 0)
    }
}

@Suite("Label selector parsing (behaviour 4)")
struct LabelSelectorTests {
    // Models k8s.io/apimachinery/pkg/labels/selector.go (Parse) and
    // https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
    let labels = ["app": "web", "tier": "front", "env": "prod"]

    @Test(arguments: [
        ("app=web", true), ("app==web", true), ("app!=web", false), ("app!=db", true), ("missing!=x", true),
        ("tier in (front,back)", true), ("tier in (back)", false), ("tier notin (back)", true),
        ("missing notin (x)", true), ("env", true), ("!env", false), ("!missing", true), ("missing", false),
        ("app=web,tier=front", true), ("app=web, tier=back", false), ("", true),
        ("app in (web, db),!legacy", true), ("env=", false),
    ])
    func matching(selector: String, expected: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(labels) == expected)
    }

    @Test(arguments: ["app in ()", "app in (a", "=x", "app=x)", "a/b/c=x", "app=-bad-"])
    func rejectsInvalid(selector: String) {
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: selector) }
    }
}

@Suite("JSON values")
struct JSONValueTests {
    // Contract §0: the server's encoder never writes `\/`; apply bodies with `\/` are rejected
    // (YAML 1.1 decoder in sigs.k8s.io/yaml: "found unknown escape character").
    @Test func encodesSlashesVerbatim() {
        let v: JSONValue = ["app.kubernetes.io/managed-by": "a/b"]
        #expect(v.jsonString == #"{"app.kubernetes.io/managed-by":"a/b"}"#)
    }

    @Test func keepsKeyOrderAndRoundTrips() throws {
        let text = #"{"z":1,"a":[true,null,"x\n\u00e9"],"m":{"b":2.5,"a":-3}}"#
        let v = try JSONValue.parse(text)
        #expect(v.objectValue?.keys == ["z", "a", "m"])
        #expect(try JSONValue.parse(v.jsonString) == v)
    }

    @Test func slashEscapeOnlyRejectedWhenAsked() throws {
        #expect(try JSONValue.parse(#"{"a":"x\/y"}"#)["a"]?.stringValue == "x/y")
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":"x\/y"}"#, rejectSlashEscape: true) }
    }

    @Test func rejectsDuplicateKeysAndTrailingGarbage() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":1} x"#) }
    }
}
