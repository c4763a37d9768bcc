public import Foundation
import Crypto

/// Where an audited change stands.
public enum AuditOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// Written before the change is attempted.
    case intent
    case succeeded
    case failed
    /// Not attempted (a conflict, a failed dependency, a blocked run).
    case skipped
}

/// What a writer supplies for one audit row. Time, database role, OS user, id and hashes are
/// filled in by `AuditLog`.
///
/// Payload convention (what `AuditLog.entitlements(at:)` reads): `after` is the full state of the
/// object after the change (`nil` when the change removed it), `before` the full state before. Build
/// them with `AuditPayload` so the entitlement reconstruction can read them.
public struct AuditEntry: Sendable, Hashable {
    public var runID: Int64?
    /// `create`, `update`, `delete`, `create-user`, `policy.apply`...
    public var action: String
    /// `RoleBinding`, `Namespace`, `HubUser`, `HubGroup`, `Grant`, `Tier`...
    public var objectKind: String
    public var objectNamespace: String?
    public var objectName: String
    public var before: JSONValue?
    public var after: JSONValue?
    public var provenance: JSONValue?
    public var outcome: AuditOutcome
    /// For an outcome row: the id of its intent row.
    public var intentID: Int64?
    public var message: String?

    public init(
        runID: Int64? = nil, action: String, objectKind: String, objectNamespace: String? = nil, objectName: String,
        before: JSONValue? = nil, after: JSONValue? = nil, provenance: JSONValue? = nil, outcome: AuditOutcome,
        intentID: Int64? = nil, message: String? = nil
    ) {
        self.runID = runID
        self.action = action
        self.objectKind = objectKind
        self.objectNamespace = objectNamespace
        self.objectName = objectName
        self.before = before == .null ? nil : before
        self.after = after == .null ? nil : after
        self.provenance = provenance == .null ? nil : provenance
        self.outcome = outcome
        self.intentID = intentID
        self.message = message
    }

    /// The outcome row for an intent row already written: same object and payloads, linked by id.
    public static func outcome(
        of intent: AuditRecord, _ outcome: AuditOutcome, message: String? = nil, after: JSONValue?? = nil
    ) -> AuditEntry {
        AuditEntry(
            runID: intent.runID, action: intent.action, objectKind: intent.objectKind,
            objectNamespace: intent.objectNamespace, objectName: intent.objectName, before: intent.before,
            after: after ?? intent.after, provenance: intent.provenance, outcome: outcome, intentID: intent.id,
            message: message)
    }
}

/// One stored audit row.
public struct AuditRecord: Sendable, Hashable {
    public var id: Int64
    public var runID: Int64?
    /// Server time, canonical text `YYYY-MM-DDTHH:MM:SS.ffffffZ` (what the hash covers).
    public var atText: String
    /// The database role that wrote the row (`current_user`, enforced by a trigger).
    public var dbRole: String
    public var osUser: String
    public var action: String
    public var objectKind: String
    public var objectNamespace: String?
    public var objectName: String
    public var before: JSONValue?
    public var after: JSONValue?
    public var provenance: JSONValue?
    public var outcome: AuditOutcome
    public var intentID: Int64?
    public var message: String?
    public var prevHash: String
    public var hash: String

    public var at: Date { PGTimestamp.parse(atText) ?? Date(timeIntervalSince1970: 0) }

    /// The genesis "previous hash" of the first row ever.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Version tag of the canonical text; a new format would get a new tag.
    static let canonicalVersion = "accesssync-audit-v1"

    /// The exact text the hash covers: a JSON array of every content field and `prevHash`, with
    /// canonical JSON for payloads (`JSONValue.canonicalText`).
    public var canonicalText: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// `canonicalText` as UTF-8, written directly (the same text as the JSON array
    /// `[version, id, runID, at, dbRole, osUser, action, kind, namespace, name, before, after,
    /// provenance, outcome, intentID, message, prevHash]` in canonical form).
    var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        func separator() { out.append(UInt8(ascii: ",")) }
        func string(_ text: String?) {
            if let text { JSONValue.writeString(text, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        func integer(_ value: Int64?) {
            if let value { out.append(contentsOf: String(value).utf8) } else { out.append(contentsOf: "null".utf8) }
        }
        func json(_ value: JSONValue?) {
            if let value { value.write(to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        out.append(UInt8(ascii: "["))
        string(Self.canonicalVersion); separator()
        integer(id); separator()
        integer(runID); separator()
        string(atText); separator()
        string(dbRole); separator()
        string(osUser); separator()
        string(action); separator()
        string(objectKind); separator()
        string(objectNamespace); separator()
        string(objectName); separator()
        json(before); separator()
        json(after); separator()
        json(provenance); separator()
        string(outcome.rawValue); separator()
        integer(intentID); separator()
        string(message); separator()
        string(prevHash)
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// SHA-256 (lowercase hex) of `canonicalText`.
    public var computedHash: String { Self.sha256Hex(canonicalBytes) }

    static func sha256Hex(_ text: String) -> String { sha256Hex(Array(text.utf8)) }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let digest = SHA256.hash(data: bytes)
        let hexDigits = JSONValue.hexDigits
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in digest {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The row as one JSON object (JSON Lines export and archives).
    public var jsonObject: JSONValue {
        var members: [String: JSONValue] = [
            "id": .number(String(id)), "at": .string(atText), "db_role": .string(dbRole), "os_user": .string(osUser),
            "action": .string(action), "object_kind": .string(objectKind), "object_name": .string(objectName),
            "outcome": .string(outcome.rawValue), "prev_hash": .string(prevHash), "hash": .string(hash),
        ]
        members["run_id"] = runID.map { .number(String($0)) } ?? .null
        members["object_namespace"] = objectNamespace.map(JSONValue.string) ?? .null
        members["before"] = before ?? .null
        members["after"] = after ?? .null
        members["provenance"] = provenance ?? .null
        members["intent_id"] = intentID.map { .number(String($0)) } ?? .null
        members["message"] = message.map(JSONValue.string) ?? .null
        return .object(members)
    }

    /// Reads a row back from `jsonObject` form (archives, JSON Lines).
    public init(json: JSONValue) throws {
        func string(_ key: String) throws -> String {
            guard let value = json[key]?.stringValue else { throw AuditFormatError(field: key) }
            return value
        }
        func optionalString(_ key: String) -> String? { json[key]?.stringValue }
        func optionalInt(_ key: String) -> Int64? { json[key]?.intValue.map(Int64.init) }
        func payload(_ key: String) -> JSONValue? {
            guard let value = json[key], value != .null else { return nil }
            return value
        }
        guard let id = optionalInt("id") else { throw AuditFormatError(field: "id") }
        guard let outcome = AuditOutcome(rawValue: try string("outcome")) else { throw AuditFormatError(field: "outcome") }
        self.init(
            id: id, runID: optionalInt("run_id"), atText: try string("at"), dbRole: try string("db_role"),
            osUser: try string("os_user"), action: try string("action"), objectKind: try string("object_kind"),
            objectNamespace: optionalString("object_namespace"), objectName: try string("object_name"),
            before: payload("before"), after: payload("after"), provenance: payload("provenance"), outcome: outcome,
            intentID: optionalInt("intent_id"), message: optionalString("message"), prevHash: try string("prev_hash"),
            hash: try string("hash"))
    }

    public init(
        id: Int64, runID: Int64?, atText: String, dbRole: String, osUser: String, action: String, objectKind: String,
        objectNamespace: String?, objectName: String, before: JSONValue?, after: JSONValue?, provenance: JSONValue?,
        outcome: AuditOutcome, intentID: Int64?, message: String?, prevHash: String, hash: String
    ) {
        self.id = id
        self.runID = runID
        self.atText = atText
        self.dbRole = dbRole
        self.osUser = osUser
        self.action = action
        self.objectKind = objectKind
        self.objectNamespace = objectNamespace
        self.objectName = objectName
        self.before = before
        self.after = after
        self.provenance = provenance
        self.outcome = outcome
        self.intentID = intentID
        self.message = message
        self.prevHash = prevHash
        self.hash = hash
    }
}

public struct AuditFormatError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public var description: String { "audit row has a missing or malformed field \(field)" }
}
