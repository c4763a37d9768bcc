internal import RBACModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Decoding people and groups straight from libldap's buffers.
//
// The reader's searches do not build an `LDAPEntry` per entry (one array per value, one String
// per attribute name). On the connection's thread each entry's attributes are matched once
// against the few names the schema maps (`AttributeSlots`), and only those values are copied into
// one byte buffer per page (`PackedPage`). The page is then converted into `PersonRecord`s /
// `GroupRecord`s (on another thread while the next page arrives). `PersonRecord(entry:)` and
// `DisabledTest.matches(_:)` pack an `LDAPEntry` the same way, so there is one implementation of
// the mapping rules.

/// The attribute names a decoder keeps, each with a slot number. Names match as
/// `LDAPEntry.attribute(_:)` does: the whole description (options included), ASCII
/// case-insensitively; the first occurrence of a name in an entry wins.
struct AttributeSlots: Sendable {
    /// ASCII-lowercased names, one per slot.
    private let names: [[UInt8]]

    init(_ names: [String]) {
        var folded: [[UInt8]] = []
        for name in names {
            let bytes = AttributeSlots.fold(name.utf8)
            if !folded.contains(bytes) { folded.append(bytes) }
        }
        self.names = folded
    }

    var count: Int { names.count }

    /// The slot of a configured name (which must be one of the names given at init).
    func slot(_ name: String) -> Int {
        let bytes = AttributeSlots.fold(name.utf8)
        guard let index = names.firstIndex(of: bytes) else { preconditionFailure("\(name) has no slot") }
        return index
    }

    /// The slot of an attribute description as returned by the server, if it is kept.
    func slot(matching name: UnsafeRawBufferPointer) -> Int? {
        for (index, candidate) in names.enumerated() where candidate.count == name.count {
            var equal = true
            for position in 0..<name.count {
                let byte = name[position]
                let lowered = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                if lowered != candidate[position] {
                    equal = false
                    break
                }
            }
            if equal { return index }
        }
        return nil
    }

    private static func fold(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    }
}

/// The kept values of a page of entries, in one byte buffer.
///
/// Value `i` is `bytes[bounds[i] ..< bounds[i + 1]]`. Per entry, `refs` holds `stride` numbers:
/// the DN's value index, then per slot the index of its first value (-1: attribute absent) and
/// its number of values (the values of one attribute are consecutive).
struct PackedPage: Sendable {
    let slotCount: Int
    var bytes: [UInt8] = []
    var bounds: [Int] = [0]
    var refs: [Int] = []
    /// Per entry, the description of every attribute whose name was not kept but that `extra`
    /// asked for (group decoders keep ranged member attributes this way), with their values.
    var extras: [Int: [LDAPAttribute]] = [:]

    init(slotCount: Int, capacity: Int = 0) {
        self.slotCount = slotCount
        if capacity > 0 {
            bytes.reserveCapacity(capacity * 128)
            bounds.reserveCapacity(capacity * (slotCount + 2))
            refs.reserveCapacity(capacity * (1 + 2 * slotCount))
        }
    }

    var stride: Int { 1 + 2 * slotCount }
    var entryCount: Int { refs.count / stride }

    private mutating func appendValue(_ value: UnsafeRawBufferPointer) -> Int {
        bytes.append(contentsOf: value)
        bounds.append(bytes.count)
        return bounds.count - 2
    }

    private mutating func appendValue(_ value: [UInt8]) -> Int {
        bytes.append(contentsOf: value)
        bounds.append(bytes.count)
        return bounds.count - 2
    }

    /// Appends a visited entry: its DN and the values of its kept attributes. `extra` selects
    /// attributes that are not kept in slots but copied whole into `extras`.
    mutating func append(
        _ entry: RawEntryView, slots: AttributeSlots, extra: ((UnsafeRawBufferPointer) -> Bool)? = nil
    ) {
        let base = refs.count
        let entryIndex = base / stride
        refs.append(appendValue(entry.dn))
        for _ in 0..<slotCount {
            refs.append(-1)
            refs.append(0)
        }
        for attribute in entry.attributes {
            if let extra, extra(attribute.name) {
                var values: [[UInt8]] = []
                for index in 0..<attribute.count { values.append(Array(attribute.value(index))) }
                extras[entryIndex, default: []].append(
                    LDAPAttribute(name: String(decoding: attribute.name, as: UTF8.self), values: values))
                continue
            }
            guard let slot = slots.slot(matching: attribute.name), refs[base + 1 + 2 * slot] < 0 else { continue }
            refs[base + 1 + 2 * slot] = bounds.count - 1
            refs[base + 2 + 2 * slot] = attribute.count
            for index in 0..<attribute.count { _ = appendValue(attribute.value(index)) }
        }
    }

    /// Appends an `LDAPEntry` the same way.
    mutating func append(_ entry: LDAPEntry, slots: AttributeSlots, extra: ((String) -> Bool)? = nil) {
        let base = refs.count
        let entryIndex = base / stride
        refs.append(appendValue(Array(entry.dn.utf8)))
        for _ in 0..<slotCount {
            refs.append(-1)
            refs.append(0)
        }
        for attribute in entry.attributes {
            if let extra, extra(attribute.name) {
                extras[entryIndex, default: []].append(attribute)
                continue
            }
            let slot = Array(attribute.name.utf8).withUnsafeBytes { slots.slot(matching: $0) }
            guard let slot, refs[base + 1 + 2 * slot] < 0 else { continue }
            refs[base + 1 + 2 * slot] = bounds.count - 1
            refs[base + 2 + 2 * slot] = attribute.values.count
            for value in attribute.values { _ = appendValue(value) }
        }
    }

    /// Calls `body` with a view of each entry, in order.
    func forEachEntry(_ body: (PackedEntry) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { bytes in
            try bounds.withUnsafeBufferPointer { bounds in
                try refs.withUnsafeBufferPointer { refs in
                    var base = 0
                    var index = 0
                    while base < refs.count {
                        try body(PackedEntry(bytes: bytes, bounds: bounds, refs: refs, base: base, index: index))
                        base += stride
                        index += 1
                    }
                }
            }
        }
    }
}

/// One entry of a `PackedPage` (valid only inside `forEachEntry`).
struct PackedEntry {
    let bytes: UnsafeBufferPointer<UInt8>
    let bounds: UnsafeBufferPointer<Int>
    let refs: UnsafeBufferPointer<Int>
    let base: Int
    /// The entry's position in its page.
    let index: Int

    func value(_ valueIndex: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[bounds[valueIndex]..<bounds[valueIndex + 1]])
    }

    var dn: UnsafeBufferPointer<UInt8> { value(refs[base]) }

    /// Whether the attribute of `slot` was in the entry (possibly without values).
    func isPresent(_ slot: Int) -> Bool { refs[base + 1 + 2 * slot] >= 0 }

    /// The number of values of `slot` (0 when absent).
    func count(_ slot: Int) -> Int { refs[base + 1 + 2 * slot] >= 0 ? refs[base + 2 + 2 * slot] : 0 }

    /// Value `position` of `slot` (0 ..< count(slot)).
    func value(_ slot: Int, _ position: Int) -> UnsafeBufferPointer<UInt8> { value(refs[base + 1 + 2 * slot] + position) }

    /// The first value of `slot`, nil when absent or without values.
    func first(_ slot: Int) -> UnsafeBufferPointer<UInt8>? { count(slot) > 0 ? value(slot, 0) : nil }

    /// The first value of `slot` as UTF-8 text (invalid sequences replaced), as `LDAPEntry.string`.
    func string(_ slot: Int) -> String? { first(slot).map { String(decoding: $0, as: UTF8.self) } }

    /// All values of `slot` as UTF-8 text, as `LDAPEntry.strings`.
    func strings(_ slot: Int) -> [String] {
        (0..<count(slot)).map { String(decoding: value(slot, $0), as: UTF8.self) }
    }
}

/// An integer in an attribute value, as `Int(String(decoding: value).trimmingWhitespace())`
/// (plain ASCII digits are parsed without building a String).
func parseInteger<I: FixedWidthInteger>(_ value: UnsafeBufferPointer<UInt8>, as _: I.Type = I.self) -> I? {
    if !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
        var result: Int64 = 0
        for byte in value { result = result * 10 + Int64(byte - 0x30) }
        return I(exactly: result)
    }
    return I(String(decoding: value, as: UTF8.self).trimmingWhitespace())
}

/// `DisabledTest` bound to attribute slots.
struct DisabledEvaluator: Sendable {
    private enum Check: Sendable {
        case present(Int)
        case equals(Int, String)
        case shadowExpired(Int)
        case activeDirectory(accountControl: Int, accountExpires: Int)
    }

    private let checks: [Check]

    /// `slots` must include `test.attributes`.
    init(_ test: DisabledTest, slots: AttributeSlots) {
        var checks: [Check] = []
        for condition in test.conditions {
            switch condition {
            case .attributePresent(let name): checks.append(.present(slots.slot(name)))
            case .attributeEquals(let name, let value): checks.append(.equals(slots.slot(name), value))
            case .shadowExpired: checks.append(.shadowExpired(slots.slot("shadowExpire")))
            case .filter: continue
            case .activeDirectoryAccountControl:
                checks.append(
                    .activeDirectory(
                        accountControl: slots.slot("userAccountControl"), accountExpires: slots.slot("accountExpires")))
            }
        }
        self.checks = checks
    }

    /// Evaluates the locally decidable conditions for one entry (any match disables).
    func matches(_ entry: PackedEntry, nowSeconds: Double) -> Bool {
        for check in checks {
            switch check {
            case .present(let slot):
                if entry.count(slot) > 0 { return true }
            case .equals(let slot, let value):
                if entry.strings(slot).contains(where: { $0.trimmingWhitespace().asciiCaseInsensitiveEquals(value) }) {
                    return true
                }
            case .shadowExpired(let slot):
                if let value = entry.first(slot), let days = parseInteger(value, as: Int64.self), days > 0 {
                    let today = Int64((nowSeconds / 86_400).rounded(.down))
                    if days <= today { return true }
                }
            case .activeDirectory(let accountControl, let accountExpires):
                if let value = entry.first(accountControl), let flags = parseInteger(value, as: Int64.self),
                    flags & 0x2 != 0
                {
                    return true
                }
                if let value = entry.first(accountExpires), let expires = parseInteger(value, as: Int64.self),
                    ActiveDirectoryTime.isExpired(accountExpires: expires, nowSeconds: nowSeconds)
                {
                    return true
                }
            }
        }
        return false
    }
}

extension DisabledTest {
    /// Evaluates the locally decidable conditions for one entry.
    func matches(_ entry: LDAPEntry, nowSeconds: Double) -> Bool {
        let slots = AttributeSlots(attributes)
        let evaluator = DisabledEvaluator(self, slots: slots)
        var page = PackedPage(slotCount: slots.count)
        page.append(entry, slots: slots)
        var result = false
        page.forEachEntry { result = evaluator.matches($0, nowSeconds: nowSeconds) }
        return result
    }
}

/// Decodes person entries into `PersonRecord`s.
struct PersonDecoder: EntryPageDecoder {
    let schema: DirectorySchema
    let slots: AttributeSlots
    let nowSeconds: Double
    private let identifier: Int
    private let login: Int
    private let displayNames: [Int]
    private let mail: Int
    private let uidNumber: Int
    private let gidNumber: Int
    private let disabled: DisabledEvaluator

    init(schema: DirectorySchema, disabled: DisabledTest, nowSeconds: Double) {
        self.schema = schema
        self.nowSeconds = nowSeconds
        let slots = AttributeSlots(
            [
                schema.identifierAttribute, schema.loginAttribute, schema.mailAttribute, schema.uidNumberAttribute,
                schema.gidNumberAttribute,
            ] + schema.displayNameAttributes + disabled.attributes)
        self.slots = slots
        identifier = slots.slot(schema.identifierAttribute)
        login = slots.slot(schema.loginAttribute)
        displayNames = schema.displayNameAttributes.map { slots.slot($0) }
        mail = slots.slot(schema.mailAttribute)
        uidNumber = slots.slot(schema.uidNumberAttribute)
        gidNumber = slots.slot(schema.gidNumberAttribute)
        self.disabled = DisabledEvaluator(disabled, slots: slots)
    }

    func makePage(capacity: Int) -> PackedPage { PackedPage(slotCount: slots.count, capacity: capacity) }

    func decode(_ entry: RawEntryView, into page: inout PackedPage) { page.append(entry, slots: slots) }

    func convert(_ page: PackedPage) throws -> [PersonRecord] {
        var records: [PersonRecord] = []
        records.reserveCapacity(page.entryCount)
        try page.forEachEntry { entry in records.append(try record(entry)) }
        return records
    }

    /// The record of one entry (the mapping rules of the schema).
    func record(_ entry: PackedEntry) throws(LDAPError) -> PersonRecord {
        let dnText = String(decoding: entry.dn, as: UTF8.self)
        let dn = try DirectoryReader.parseDN(dnText)
        guard let rawID = entry.first(identifier) else {
            throw LDAPError(
                .invalidEntry,
                "\(dnText) has no \(schema.identifierAttribute): the bind cannot read it or the schema mapping is wrong")
        }
        let id: String
        switch schema.identifierFormat {
        case .text:
            id = String(decoding: rawID, as: UTF8.self)
            guard !id.isEmpty else { throw LDAPError(.invalidEntry, "\(dnText) has an empty \(schema.identifierAttribute)") }
        case .activeDirectoryGUID:
            do {
                id = try ObjectGUID.string(fromBytes: Array(rawID))
            } catch {
                throw LDAPError(.invalidEntry, "\(dnText): \(error.message)")
            }
        }
        let loginCount = entry.count(login)
        guard loginCount > 0 else {
            return PersonRecord(dn: dn, person: nil, skipReason: "no \(schema.loginAttribute)", plainDN: false)
        }
        // A multi-valued uid: prefer the value naming the entry (its RDN), else the first.
        var loginName = String(decoding: entry.value(login, 0), as: UTF8.self)
        if loginCount > 1, let rdn = dn.rdns.first,
            let named = rdn.first(where: { $0.type.asciiCaseInsensitiveEquals(schema.loginAttribute) })
        {
            loginName = entry.strings(login).first { $0.lowercased() == named.value } ?? loginName
        }
        var displayName: String?
        for slot in displayNames {
            if let value = entry.string(slot) {
                displayName = value
                break
            }
        }
        let person = Person(
            id: PersonID(id), uid: loginName, dn: dn, displayName: displayName, mail: entry.string(mail),
            uidNumber: entry.first(uidNumber).flatMap { parseInteger($0, as: Int.self) },
            gidNumber: entry.first(gidNumber).flatMap { parseInteger($0, as: Int.self) },
            disabled: disabled.matches(entry, nowSeconds: nowSeconds))
        // Whether the DN as returned is ASCII and already in normalised form (the usual case).
        let plainDN = entry.dn.isASCII && dnText == dn.normalized
        return PersonRecord(dn: dn, person: person, skipReason: nil, plainDN: plainDN)
    }
}

/// Decodes group entries into `GroupRecord`s. Member values stay in the page's buffer.
struct GroupDecoder: EntryPageDecoder {
    let schema: DirectorySchema
    let slots: AttributeSlots
    private let name: Int
    private let objectClass: Int
    private let member: Int
    /// The member attribute's name, ASCII-lowercased.
    private let memberName: [UInt8]

    init(schema: DirectorySchema) {
        self.schema = schema
        let slots = AttributeSlots([schema.groupNameAttribute, "objectClass", schema.memberAttribute])
        self.slots = slots
        name = slots.slot(schema.groupNameAttribute)
        objectClass = slots.slot("objectClass")
        member = slots.slot(schema.memberAttribute)
        memberName = schema.memberAttribute.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    }

    func makePage(capacity: Int) -> PackedPage { PackedPage(slotCount: slots.count, capacity: capacity) }

    /// Whether `name` is the member attribute, plain or with options (`member;range=0-1499`).
    private func isMember(_ name: UnsafeRawBufferPointer, withOptions: Bool) -> Bool {
        if withOptions {
            guard name.count > memberName.count, name[memberName.count] == 0x3B /* ; */ else { return false }
        } else {
            guard name.count >= memberName.count, name.count == memberName.count || name[memberName.count] == 0x3B
            else { return false }
        }
        for position in 0..<memberName.count {
            let byte = name[position]
            if (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) != memberName[position] { return false }
        }
        return true
    }

    func decode(_ entry: RawEntryView, into page: inout PackedPage) {
        // A member attribute with options (Active Directory's ranged retrieval, `;binary`): every
        // member attribute of that entry is kept whole, in the server's order, for `RangedRetrieval`.
        if entry.attributes.contains(where: { isMember($0.name, withOptions: true) }) {
            page.append(entry, slots: slots, extra: { isMember($0, withOptions: false) })
        } else {
            page.append(entry, slots: slots)
        }
    }

    /// The record of an `LDAPEntry`, decoded as `decode` does a visited entry (for tests).
    func record(_ entry: LDAPEntry) throws(LDAPError) -> GroupRecord {
        let memberName = schema.memberAttribute
        let hasOptions = entry.attributes.contains {
            $0.baseName.asciiCaseInsensitiveEquals(memberName) && $0.name.contains(";")
        }
        var page = makePage(capacity: 1)
        let isMember: (String) -> Bool = { $0.prefix { $0 != ";" }.asciiCaseInsensitiveEquals(memberName) }
        page.append(entry, slots: slots, extra: hasOptions ? isMember : nil)
        do {
            return try convert(page)[0]
        } catch let error as LDAPError {
            throw error
        } catch {
            throw LDAPError(.invalidEntry, "\(error)")
        }
    }

    func convert(_ page: PackedPage) throws -> [GroupRecord] {
        var records: [GroupRecord] = []
        records.reserveCapacity(page.entryCount)
        try page.forEachEntry { entry in
            records.append(try record(entry, page: page, ranged: page.extras[entry.index]))
        }
        return records
    }

    /// The record of one entry; `ranged` holds all its member attributes when one carries options.
    func record(_ entry: PackedEntry, page: PackedPage, ranged: [LDAPAttribute]?) throws(LDAPError) -> GroupRecord {
        let dnText = String(decoding: entry.dn, as: UTF8.self)
        let dn = try DirectoryReader.parseDN(dnText)
        let name: String
        if let value = entry.string(self.name) {
            name = value
        } else {
            let rdnValue = dnText.split(separator: ",").first.flatMap { $0.split(separator: "=", maxSplits: 1).last }
            name = dn.leafValue ?? rdnValue.map(String.init) ?? dnText
        }
        let objectClasses = Set(entry.strings(objectClass).map { $0.lowercased() })
        let members: MemberValues
        var pending: RangedRetrieval?
        if let ranged {
            // Options on the member attribute (Active Directory's ranged retrieval): the general
            // path, with every member attribute of the entry in the server's order.
            let retrieval = try RangedRetrieval(attribute: schema.memberAttribute, initial: ranged)
            if retrieval.isComplete {
                members = MemberValues(retrieval.values)
            } else {
                members = MemberValues([])
                pending = retrieval
            }
        } else if entry.isPresent(member) {
            let first = entry.refs[entry.base + 1 + 2 * member]
            members = MemberValues(
                bytes: page.bytes, bounds: page.bounds, range: first..<(first + entry.count(member)))
        } else {
            members = MemberValues([])
        }
        return GroupRecord(
            dn: dn, name: name, objectClasses: objectClasses,
            memberAttributePresent: entry.isPresent(member) || ranged != nil, members: members,
            pendingRetrieval: pending)
    }
}

/// A group's member values, in a shared byte buffer (a page's, or their own).
struct MemberValues: Sendable {
    private let bytes: [UInt8]
    private let bounds: [Int]
    private let range: Range<Int>

    init(bytes: [UInt8], bounds: [Int], range: Range<Int>) {
        self.bytes = bytes
        self.bounds = bounds
        self.range = range
    }

    init(_ values: [[UInt8]]) {
        var bytes: [UInt8] = []
        var bounds = [0]
        for value in values {
            bytes += value
            bounds.append(bytes.count)
        }
        self.init(bytes: bytes, bounds: bounds, range: 0..<values.count)
    }

    var count: Int { range.count }
    var isEmpty: Bool { range.isEmpty }

    /// Whether `predicate` holds for every value's bytes, in order (stops at the first false).
    func allSatisfy(_ predicate: (UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows -> Bool {
        try bytes.withUnsafeBufferPointer { bytes in
            try bounds.withUnsafeBufferPointer { bounds in
                for index in range {
                    if try !predicate(UnsafeBufferPointer(rebasing: bytes[bounds[index]..<bounds[index + 1]])) {
                        return false
                    }
                }
                return true
            }
        }
    }

    /// The values as arrays (for tests).
    var arrays: [[UInt8]] {
        var values: [[UInt8]] = []
        forEach { values.append(Array($0)) }
        return values
    }

    /// Calls `body` with each value's bytes, in order.
    func forEach(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { bytes in
            try bounds.withUnsafeBufferPointer { bounds in
                for index in range {
                    try body(UnsafeBufferPointer(rebasing: bytes[bounds[index]..<bounds[index + 1]]))
                }
            }
        }
    }
}

/// An open-addressing hash table from byte strings to two integers (`first`, `second`), for
/// resolving member values without building a String per value. Keys are compared byte for byte.
/// Entries are addressed by the handle `find` or `entry` returns (valid until the next insert).
/// A class so that lookups in hot loops do not copy (retain and release) its arrays. It is
/// mutated only while being built and then only read, possibly from several threads at once
/// (which is why it is `@unchecked Sendable`).
final class ByteKeyTable: @unchecked Sendable {
    /// One slot: everything a probe needs in one place (a lookup touches the slot and the key).
    private struct Slot {
        /// The hash's high 32 bits; 0 marks an empty slot (a real tag of 0 is stored as 1).
        var tag: UInt32 = 0
        var keyLength: UInt32 = 0
        var keyStart: Int = 0
        var first: Int32 = -1
        var second: Int32 = 0
    }

    private var slots: [Slot]
    private var mask: Int
    private var keyBytes: [UInt8] = []
    private(set) var count = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
        keyBytes.reserveCapacity(capacity * 40)
    }

    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // Eight bytes at a time, multiply-xorshift mixing; then a final avalanche.
        var value: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        guard let base = key.baseAddress else { return value }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        while offset + 8 <= key.count {
            value = (value ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            value ^= value >> 31
            offset += 8
        }
        if offset < key.count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < key.count {
                tail |= UInt64(key[offset]) << shift
                shift += 8
                offset += 1
            }
            value = (value ^ tail) &* 0x94D0_49BB_1331_11EB
        }
        value ^= value >> 29
        value = value &* 0xBF58_476D_1CE4_E5B9
        return value ^ (value >> 32)
    }

    private static func tag(_ hash: UInt64) -> UInt32 { max(1, UInt32(truncatingIfNeeded: hash >> 32)) }

    /// The handle of `key`, if present.
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? { find(key, hash: ByteKeyTable.hash(key)) }

    private func find(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
        let tag = ByteKeyTable.tag(hash)
        let length = UInt32(truncatingIfNeeded: key.count)
        return slots.withUnsafeBufferPointer { slots in
            keyBytes.withUnsafeBufferPointer { bytes in
                var index = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let slot = slots[index]
                    if slot.tag == 0 { return nil }
                    if slot.tag == tag, slot.keyLength == length {
                        if key.isEmpty { return index }
                        if let base = bytes.baseAddress, let other = key.baseAddress,
                            memcmp(base + slot.keyStart, other, key.count) == 0
                        {
                            return index
                        }
                    }
                    index = (index + 1) & mask
                }
            }
        }
    }

    /// The handle of `key`, inserted (with `first` -1, `second` 0) when absent.
    func entry(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        let hash = ByteKeyTable.hash(key)
        if let handle = find(key, hash: hash) { return handle }
        if (count + 1) * 2 > slots.count { grow() }
        let start = keyBytes.count
        keyBytes.append(contentsOf: key)
        count += 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index].tag != 0 { index = (index + 1) & mask }
        slots[index] = Slot(
            tag: ByteKeyTable.tag(hash), keyLength: UInt32(truncatingIfNeeded: key.count), keyStart: start)
        return index
    }

    /// `entry(_:)` for a String's UTF-8 bytes.
    func entry(_ key: String) -> Int {
        var key = key
        return key.withUTF8 { entry($0) }
    }

    func first(_ handle: Int) -> Int32 { slots[handle].first }
    func second(_ handle: Int) -> Int32 { slots[handle].second }
    func set(_ handle: Int, first value: Int32) { slots[handle].first = value }
    func set(_ handle: Int, second value: Int32) { slots[handle].second = value }

    private func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        let bytes = keyBytes
        bytes.withUnsafeBufferPointer { bytes in
            for slot in old where slot.tag != 0 {
                let key = UnsafeBufferPointer(rebasing: bytes[slot.keyStart..<(slot.keyStart + Int(slot.keyLength))])
                var index = Int(truncatingIfNeeded: ByteKeyTable.hash(key)) & mask
                while slots[index].tag != 0 { index = (index + 1) & mask }
                slots[index] = slot
            }
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    var isASCII: Bool { allSatisfy { $0 < 0x80 } }
}
