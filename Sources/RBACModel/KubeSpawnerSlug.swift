import Crypto

/// KubeSpawner's slug functions (`kubespawner/slugs.py`, jupyterhub-kubespawner 7.1.0), reimplemented
/// from their documented behaviour so that AccessSync computes exactly the names KubeSpawner uses.
///
/// Python semantics that matter and are reproduced here: strings are sequences of Unicode code
/// points (not grapheme clusters), `str.lower()` is the full Unicode lowercase mapping including the
/// final-sigma rule, regular expressions like `[^a-z0-9]+` are ASCII-only, and hashes are SHA-256 of
/// the UTF-8 bytes. A parity test compares these functions with the Python package.
public enum KubeSpawnerSlug {
    /// Length of the hash suffix (`_hash_length`).
    static let hashLength = 8

    /// `safe_slug(name, max_length=...)`: the name itself when it is already a valid object name (and
    /// short enough) and contains no `--`; otherwise a stripped prefix plus `---` plus a hash.
    ///
    /// - Precondition: `maxLength` is nil or at least 12 (KubeSpawner raises `ValueError` below that).
    public static func safeSlug(_ name: String, maxLength: Int? = nil) -> String {
        if name.contains("--") {
            return stripAndHash(name, maxLength: maxLength ?? 32)
        }
        if isValidObjectName(name), maxLength.map({ name.unicodeScalars.count <= $0 }) ?? true {
            return name
        }
        return stripAndHash(name, maxLength: maxLength ?? 32)
    }

    /// `strip_and_hash(name, max_length)`: `{safe prefix}---{first 8 hex of sha256(name)}`.
    ///
    /// - Precondition: `maxLength >= 12`.
    public static func stripAndHash(_ name: String, maxLength: Int = 32) -> String {
        let nameLength = maxLength - (hashLength + 3)
        precondition(nameLength >= 1, "Cannot make safe names shorter than \(hashLength + 4)")
        let hash = String(sha256Hex(Array(name.utf8)).prefix(hashLength))
        return extractSafeName(name, maxLength: nameLength) + "---" + hash
    }

    /// `multi_slug(names, max_length=48)`: components joined with `--`, one hash over all of them
    /// (joined with the byte `0xFF`, which cannot occur in UTF-8) at the end.
    ///
    /// - Precondition: `names` is not empty and leaves at least 2 characters per name.
    public static func multiSlug(_ names: [String], maxLength: Int = 48) -> String {
        precondition(!names.isEmpty, "multi_slug needs at least one name")
        var bytes = Array(names[0].utf8)
        for name in names.dropFirst() {
            bytes.append(0xFF)
            bytes.append(contentsOf: name.utf8)
        }
        let hash = String(sha256Hex(bytes).prefix(hashLength))
        let available = maxLength - (hashLength + 1)
        let perName = available / names.count
        let nameMaxLength = perName - 2
        precondition(nameMaxLength >= 2, "Not enough characters for \(names.count) names: \(maxLength)")
        return names.map { extractSafeName($0, maxLength: nameMaxLength) }.joined(separator: "--") + "---" + hash
    }

    /// `escape_slug(name)`: the legacy scheme — every code point outside `[a-z0-9]` becomes `-XX` per
    /// UTF-8 byte (hex), and the result is lowercased.
    public static func escapeSlug(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            if isLowerAlphanumeric(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 {
                    out += "-" + hex2(byte)
                }
            }
        }
        return out
    }

    /// `_extract_safe_name(name, max_length)`: lowercase, runs of anything but `[a-z0-9]` become one
    /// `-`, strip leading `-`, truncate, strip trailing `-`, prefix `x-` when not starting with a
    /// letter, `x` when empty.
    public static func extractSafeName(_ name: String, maxLength: Int) -> String {
        let lowered = PythonString.lower(name)
        var replaced: [UInt8] = []
        replaced.reserveCapacity(lowered.utf8.count)
        var inRun = false
        for scalar in lowered.unicodeScalars {
            if isLowerAlphanumeric(scalar) {
                replaced.append(UInt8(scalar.value))
                inRun = false
            } else if !inRun {
                replaced.append(UInt8(ascii: "-"))
                inRun = true
            }
        }
        // lstrip("-")[:max_length].rstrip("-")
        var start = 0
        while start < replaced.count, replaced[start] == UInt8(ascii: "-") { start += 1 }
        var safe = Array(replaced[start..<min(replaced.count, start + max(maxLength, 0))])
        while safe.last == UInt8(ascii: "-") { safe.removeLast() }
        if let first = safe.first, !(UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) {
            // "x-" + safe_name[: max_length - 2]; Python slicing with a negative end counts from the end.
            let limit = maxLength - 2
            let end = limit >= 0 ? min(limit, safe.count) : max(0, safe.count + limit)
            safe = Array("x-".utf8) + safe[0..<end]
        }
        if safe.isEmpty { return "x" }
        return String(decoding: safe, as: UTF8.self)
    }

    /// `is_valid_object_name`: 1–63 characters of `[a-z0-9-]`, starting with a lowercase letter and
    /// ending with a lowercase letter or digit.
    public static func isValidObjectName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard (1...63).contains(scalars.count) else { return false }
        guard let first = scalars.first, ("a"..."z").contains(first) else { return false }
        guard let last = scalars.last, isLowerAlphanumeric(last) else { return false }
        return scalars.allSatisfy { isLowerAlphanumeric($0) || $0 == "-" }
    }

    static func isLowerAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    /// `hashlib.sha256(...).hexdigest()`: two digits per byte, always padded.
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return SHA256.hash(data: bytes).map { String(digits[Int($0 >> 4)]) + String(digits[Int($0 & 0x0F)]) }.joined()
    }

    /// Lowercase hex without padding, as `escapism` formats a byte (`f"{byte:X}"`, lowercased later
    /// by `escape_slug`): bytes below 0x10 get one digit.
    static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        if byte < 0x10 { return String(digits[Int(byte)]) }
        return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}

/// Python `str` behaviour needed for name parity with JupyterHub and KubeSpawner.
public enum PythonString {
    /// `str.lower()`: full Unicode lowercase mapping per code point, with the final-sigma rule
    /// (U+03A3 becomes U+03C2 after a cased letter and not before one, ignoring case-ignorable marks).
    public static func lower(_ text: String) -> String {
        // ASCII (every name in practice): only A-Z change.
        var hasUpper = false
        var ascii = true
        for byte in text.utf8 {
            if byte >= 0x80 {
                ascii = false
                break
            }
            if byte >= 0x41 && byte <= 0x5A { hasUpper = true }
        }
        if ascii {
            guard hasUpper else { return text }
            return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            if scalar.value < 0x80 {
                if ("A"..."Z").contains(scalar) {
                    out.append(Unicode.Scalar(scalar.value + 0x20)!)
                } else {
                    out.append(scalar)
                }
                continue
            }
            if scalar == "\u{03A3}" {
                out.append(isFinalSigma(scalars, at: index) ? "\u{03C2}" : "\u{03C3}")
                continue
            }
            out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(out)
    }

    private static func isFinalSigma(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        var j = index - 1
        while j >= 0, scalars[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, scalars[j].properties.isCased else { return false }
        j = index + 1
        while j < scalars.count, scalars[j].properties.isCaseIgnorable { j += 1 }
        return j == scalars.count || !scalars[j].properties.isCased
    }
}
