// Decoding of `application/vnd.kubernetes.protobuf` request bodies for the kinds kubectl's typed clients send
// (`kubectl create namespace|configmap|role|rolebinding|quota|serviceaccount`, `kubectl auth can-i`).
// Models k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go (the "k8s\0" prefix and runtime.Unknown
// envelope) and the field numbers of k8s.io/api/{core,rbac,authorization}/v1/generated.proto and
// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto. Responses are always JSON (clients accept it).

enum ProtobufDecoding {
    indirect enum FieldType: Sendable {
        case string
        case bool
        case int
        case bytesBase64
        case message([Int: (String, FieldType)])
        case repeated(FieldType)
        case stringMap
        case bytesMap
        /// `map<string, resource.Quantity>`; the Quantity message holds its text in field 1.
        case quantityMap
    }

    static let objectMeta: [Int: (String, FieldType)] = [
        1: ("name", .string), 2: ("generateName", .string), 3: ("namespace", .string), 5: ("uid", .string),
        6: ("resourceVersion", .string), 11: ("labels", .stringMap), 12: ("annotations", .stringMap),
        14: ("finalizers", .repeated(.string)),
    ]

    static let policyRule: [Int: (String, FieldType)] = [
        1: ("verbs", .repeated(.string)), 2: ("apiGroups", .repeated(.string)), 3: ("resources", .repeated(.string)),
        4: ("resourceNames", .repeated(.string)), 5: ("nonResourceURLs", .repeated(.string)),
    ]

    static let bindingSchema: [Int: (String, FieldType)] = [
        1: ("metadata", .message(objectMeta)),
        2: ("subjects", .repeated(.message([1: ("kind", .string), 2: ("apiGroup", .string), 3: ("name", .string), 4: ("namespace", .string)]))),
        3: ("roleRef", .message([1: ("apiGroup", .string), 2: ("kind", .string), 3: ("name", .string)])),
    ]

    static func schema(for type: ResourceType) -> [Int: (String, FieldType)]? {
        switch type.plural {
        case "namespaces":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message([1: ("finalizers", .repeated(.string))]))]
        case "configmaps":
            return [
                1: ("metadata", .message(objectMeta)), 2: ("data", .stringMap), 3: ("binaryData", .bytesMap),
                4: ("immutable", .bool),
            ]
        case "resourcequotas":
            return [
                1: ("metadata", .message(objectMeta)),
                2: ("spec", .message([1: ("hard", .quantityMap), 2: ("scopes", .repeated(.string))])),
            ]
        case "serviceaccounts":
            return [1: ("metadata", .message(objectMeta)), 4: ("automountServiceAccountToken", .bool)]
        case "roles", "clusterroles":
            return [1: ("metadata", .message(objectMeta)), 2: ("rules", .repeated(.message(policyRule)))]
        case "rolebindings", "clusterrolebindings":
            return bindingSchema
        case "selfsubjectaccessreviews":
            let resourceAttributes: [Int: (String, FieldType)] = [
                1: ("namespace", .string), 2: ("verb", .string), 3: ("group", .string), 4: ("version", .string),
                5: ("resource", .string), 6: ("subresource", .string), 7: ("name", .string),
            ]
            return [
                1: ("metadata", .message(objectMeta)),
                2: (
                    "spec",
                    .message([
                        1: ("resourceAttributes", .message(resourceAttributes)),
                        2: ("nonResourceAttributes", .message([1: ("path", .string), 2: ("verb", .string)])),
                    ])
                ),
            ]
        default:
            return nil
        }
    }

    struct DecodeError: Error {
        var message: String
    }

    enum WireValue {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
    }

    static func fields(_ data: ArraySlice<UInt8>) throws(DecodeError) -> [(Int, WireValue)] {
        var out: [(Int, WireValue)] = []
        var i = data.startIndex
        func varint() throws(DecodeError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < data.endIndex, shift < 64 else { throw DecodeError(message: "truncated varint") }
                let b = data[i]
                i += 1
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }
        while i < data.endIndex {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((field, .varint(try varint())))
            case 2:
                let n = Int(try varint())
                guard n >= 0, i + n <= data.endIndex else { throw DecodeError(message: "truncated field \(field)") }
                out.append((field, .bytes(data[i..<i + n])))
                i += n
            case 1:
                guard i + 8 <= data.endIndex else { throw DecodeError(message: "truncated fixed64") }
                i += 8
            case 5:
                guard i + 4 <= data.endIndex else { throw DecodeError(message: "truncated fixed32") }
                i += 4
            default:
                throw DecodeError(message: "unsupported wire type \(key & 7)")
            }
        }
        return out
    }

    static func string(_ v: WireValue) -> String {
        if case .bytes(let b) = v { return String(decoding: b, as: UTF8.self) }
        return ""
    }

    static func decodeMessage(_ data: ArraySlice<UInt8>, _ schema: [Int: (String, FieldType)]) throws(DecodeError) -> JSONObject {
        var out = JSONObject()
        for (number, value) in try fields(data) {
            guard let (name, type) = schema[number] else { continue }
            switch type {
            case .repeated(let element):
                var list = out[name]?.arrayValue ?? []
                list.append(try decodeScalar(value, element))
                out[name] = .array(list)
            case .stringMap, .bytesMap, .quantityMap:
                guard case .bytes(let entry) = value else { continue }
                var key = ""
                var mapValue: JSONValue = ""
                for (n, v) in try fields(entry) {
                    if n == 1 { key = string(v) }
                    if n == 2 {
                        switch type {
                        case .bytesMap:
                            if case .bytes(let b) = v { mapValue = .string(base64(Array(b))) }
                        case .quantityMap:
                            if case .bytes(let q) = v {
                                for (qn, qv) in try fields(q) where qn == 1 { mapValue = .string(string(qv)) }
                            }
                        default:
                            mapValue = .string(string(v))
                        }
                    }
                }
                var map = out[name]?.objectValue ?? JSONObject()
                map[key] = mapValue
                out[name] = .object(map)
            default:
                let decoded = try decodeScalar(value, type)
                // Go's JSON encoding omits empty strings (omitempty); proto always carries them.
                if decoded == .string("") { continue }
                out[name] = decoded
            }
        }
        return out
    }

    static func decodeScalar(_ value: WireValue, _ type: FieldType) throws(DecodeError) -> JSONValue {
        switch (type, value) {
        case (.string, _): return .string(string(value))
        case (.bool, .varint(let n)): return .bool(n != 0)
        case (.int, .varint(let n)): return .number(String(Int64(bitPattern: n)))
        case (.bytesBase64, .bytes(let b)): return .string(base64(Array(b)))
        case (.message(let schema), .bytes(let b)): return .object(try decodeMessage(b, schema))
        default: throw DecodeError(message: "unexpected wire type")
        }
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a `k8s\0`-prefixed runtime.Unknown envelope holding one object of `type`.
    static func decode(_ body: [UInt8], as type: ResourceType) throws(APIError) -> JSONObject {
        guard body.count >= 4, Array(body[0..<4]) == [0x6B, 0x38, 0x73, 0x00] else {
            throw .badRequest("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
        }
        guard let schema = schema(for: type) else {
            throw APIError(
                code: 415, reason: "UnsupportedMediaType",
                message: "the body of the request was in an unknown format - accepted media types include: application/json")
        }
        do {
            var raw: ArraySlice<UInt8> = []
            var apiVersion = ""
            var kind = ""
            for (n, v) in try fields(body[4...]) {
                if n == 1, case .bytes(let tm) = v {
                    for (tn, tv) in try fields(tm) {
                        if tn == 1 { apiVersion = string(tv) }
                        if tn == 2 { kind = string(tv) }
                    }
                }
                if n == 2, case .bytes(let r) = v { raw = r }
            }
            var object = try decodeMessage(raw, schema)
            var out = JSONObject()
            out["kind"] = .string(kind.isEmpty ? type.kind : kind)
            out["apiVersion"] = .string(apiVersion.isEmpty ? type.apiVersion : apiVersion)
            for (k, v) in object { out[k] = v }
            object = out
            return object
        } catch {
            throw .badRequest("unable to decode protobuf body: \(error.message)")
        }
    }
}
