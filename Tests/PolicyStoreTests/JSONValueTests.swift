import Foundation
import Testing

@testable import PolicyStore

@Suite("canonical JSON")
struct JSONValueTests {
    @Test func canonicalTextSortsKeysAndNormalisesNumbers() throws {
        let value = try JSONValue.parse(#" { "b" : [1.50, 1e2, -0.0, 0.000120, 12E-1], "a": "x\u00e9\n\"", "c": null } "#)
        #expect(value.canonicalText == #"{"a":"xé\n\"","b":[1.5,100,0,0.00012,1.2],"c":null}"#)
        #expect(try JSONValue.parse(value.canonicalText) == value)
    }

    @Test func postgresJSONBRoundTripKeepsTheCanonicalText() async throws {
        try await withTestDatabase { database in
            let connection = try await database.connect()
            defer { Task { await connection.close() } }
            let values: [JSONValue] = [
                ["zeta": 1, "alpha": ["nested": [true, false, nil]], "long key name": "ü\t\u{1}"],
                .number("123456789012345678901234567890"), .number("-1.25"), "emoji 😀 and \\ backslash", [],
                [:],
            ]
            for value in values {
                let result = try await connection.query("SELECT $1::jsonb AS j", [value])
                let back = try #require(try result.first?.json("j"))
                #expect(back.canonicalText == value.canonicalText)
            }
        }
    }

    @Test func malformedJSONIsRejected() {
        for text in ["{", "[1,]", "\"unterminated", "tru", "{\"a\" 1}", "01x", "1 2"] {
            #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(text) }
        }
    }

    @Test func encodableValuesConvert() throws {
        struct Sample: Codable, Equatable {
            var name: String
            var when: Date
            var tags: [String]
        }
        let sample = Sample(name: "x", when: Date(timeIntervalSince1970: 86400.5), tags: ["a", "b"])
        let json = try JSONValue.encoding(sample)
        #expect(json["when"] == "1970-01-02T00:00:00.500000Z")
        #expect(try json.decode(Sample.self) == sample)
    }
}

@Test func auditCanonicalTextIsTheCanonicalJSONArrayOfTheRow() throws {
    let record = AuditRecord(
        id: 42, runID: nil, atText: "2024-01-01T00:00:00.000001Z", dbRole: "accesssync_app", osUser: "o\"p",
        action: "create", objectKind: "RoleBinding", objectNamespace: "ns", objectName: "n\u{1}",
        before: nil, after: ["z": 1, "a": ["b": "c"]], provenance: [["rule": "grant x"]], outcome: .intent,
        intentID: 7, message: "line\nbreak", prevHash: AuditRecord.genesisHash, hash: "")
    let expected: JSONValue = [
        "accesssync-audit-v1", 42, nil, "2024-01-01T00:00:00.000001Z", "accesssync_app", "o\"p", "create",
        "RoleBinding", "ns", "n\u{1}", nil, ["z": 1, "a": ["b": "c"]], [["rule": "grant x"]], "intent", 7,
        "line\nbreak", .string(AuditRecord.genesisHash),
    ]
    #expect(record.canonicalText == expected.canonicalText)
    #expect(try JSONValue.parse(record.canonicalText) == expected)
    #expect(record.computedHash.count == 64)
    // Stable across versions of this code: a changed canonical form would break every stored chain.
    #expect(record.computedHash == AuditRecord.sha256Hex(expected.canonicalText))
}
