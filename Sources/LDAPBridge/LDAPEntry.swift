/// One entry of a search result, copied out of libldap's buffers.
public struct LDAPEntry: Sendable, Hashable {
    /// The DN exactly as the server returned it.
    public var dn: String
    /// Attributes in the order the server returned them (names as returned, e.g. `member;range=0-1499`).
    public var attributes: [LDAPAttribute]

    public init(dn: String, attributes: [LDAPAttribute]) {
        self.dn = dn
        self.attributes = attributes
    }

    /// The attribute whose name equals `name` case-insensitively (options such as `;range=` are
    /// part of the name: ask for `member;range=0-*` explicitly, or use `attributes(withBase:)`).
    public func attribute(_ name: String) -> LDAPAttribute? {
        for attribute in attributes where attribute.name.asciiCaseInsensitiveEquals(name) { return attribute }
        return nil
    }

    /// All values of `name` as raw bytes; empty when absent.
    public func values(_ name: String) -> [[UInt8]] { attribute(name)?.values ?? [] }

    /// All values of `name` decoded as UTF-8 (invalid sequences are replaced); empty when absent.
    public func strings(_ name: String) -> [String] {
        (attribute(name)?.values ?? []).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first value of `name` as UTF-8 text.
    public func string(_ name: String) -> String? {
        guard let first = attribute(name)?.values.first else { return nil }
        return String(decoding: first, as: UTF8.self)
    }

    /// Attributes whose name without options (the part before `;`) equals `base`.
    public func attributes(withBase base: String) -> [LDAPAttribute] {
        attributes.filter { $0.baseName.asciiCaseInsensitiveEquals(base) }
    }
}

/// An attribute of an entry: its name as returned and its values as bytes.
public struct LDAPAttribute: Sendable, Hashable {
    public var name: String
    public var values: [[UInt8]]

    public init(name: String, values: [[UInt8]]) {
        self.name = name
        self.values = values
    }

    /// The attribute type without options (`member;range=0-1499` → `member`).
    public var baseName: Substring {
        if let semicolon = name.firstIndex(of: ";") { return name[..<semicolon] }
        return name[...]
    }
}

/// One change of a modify operation. Values are bytes, so they may hold any octet.
public struct LDAPModification: Sendable, Hashable {
    public enum Operation: Sendable, Hashable {
        case add, delete, replace
    }

    public var operation: Operation
    public var attribute: String
    public var values: [[UInt8]]

    public init(_ operation: Operation, _ attribute: String, _ values: [[UInt8]]) {
        self.operation = operation
        self.attribute = attribute
        self.values = values
    }

    public init(_ operation: Operation, _ attribute: String, strings: [String]) {
        self.init(operation, attribute, strings.map { Array($0.utf8) })
    }
}

/// What a search returned besides its entries.
public struct LDAPSearchSummary: Sendable, Hashable {
    /// Entries delivered (including those a transform dropped).
    public var entries: Int
    /// Continuation references (searchResultReference) skipped without being chased.
    public var skippedReferences: [String]
    /// Pages requested (1 for an unpaged search).
    public var pages: Int

    public init(entries: Int = 0, skippedReferences: [String] = [], pages: Int = 0) {
        self.entries = entries
        self.skippedReferences = skippedReferences
        self.pages = pages
    }
}

extension StringProtocol {
    func asciiCaseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let lhs = self.utf8
        let rhs = other.utf8
        guard lhs.count == rhs.count else { return false }
        for (a, b) in zip(lhs, rhs) where a != b {
            let la = (a >= 0x41 && a <= 0x5A) ? a | 0x20 : a
            let lb = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
            if la != lb { return false }
        }
        return true
    }
}
