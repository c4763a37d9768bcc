import Foundation
import RBACModel
import TestSupport
import Testing

/// Compares our name code with PyPI `jupyterhub-kubespawner` itself, run in a Python venv.
@Suite struct KubeSpawnerParityTests {
    /// Awkward names: uppercase, dots, underscores, Unicode, long, case-only differences, leading
    /// digits and hyphens, empty-ish, emoji, `--`, the final-sigma and dotted-I lowercasing cases.
    static let corpus: [String] = [
        "alice", "Alice", "ALICE", "alice.smith", "Alice.Smith", "alice_smith", "alice-smith", "alice--smith",
        "a", "x", "", "-", "--", "---", "_", ".", " ", "  alice  ", "alice ", "0", "007", "1alice", "-alice", "alice-",
        "alice-1", "9-lives", "über", "Über.Straße", "josé", "José", "josé", "renée", "Çağrı", "İstanbul", "ǅemal",
        "ΟΔΥΣΣΕΥΣ", "ΑΣ Σ", "σίσυφος", "Σ", "ﬁnn", "ß", "ẞ", "K", "Ǆ", "straße", "李小龍", "أحمد", "עברית",
        "Łukasz", "Øyvind", "ñandú", "😀", "alice😀", "😀alice", "👩‍👩‍👧", "a\u{0301}", "tab\there", "new\nline",
        "trailing\n", "nul\u{0}byte", "percent%20", "slash/name", "back\\slash", "at@example.com",
        "first.last@corp.example.org", "DOMAIN\\user", "o'brien", "quote\"d", "{braces}", "a.b.c.d.e",
        String(repeating: "a", count: 48), String(repeating: "a", count: 49), String(repeating: "a", count: 63),
        String(repeating: "a", count: 64), String(repeating: "b", count: 70), String(repeating: "Ab.", count: 30),
        "a" + String(repeating: "-", count: 60) + "b", String(repeating: "é", count: 70),
        "averyveryveryveryveryveryveryveryverylongusername-with-dashes-and.dots",
        "user" + String(repeating: "9", count: 45), "9" + String(repeating: "x", count: 47),
        "x-" + String(repeating: "y", count: 47), "---leading-hyphens", "trailing-hyphens---", "mixed_Case.Name-01",
    ]

    static let templates = [
        "{hubnamespace}-{username}", "{username}", "jupyter-{username}", "{hubnamespace}-{safe_username}",
        "u-{escaped_username}", "{username}-", "{{literal}}-{username}",
        "{hubnamespace}-{unescaped_username}",
    ]

    static let hubNamespaces = ["jhub", "default", "a-long-hub-namespace-name"]

    /// A seeded generator adds random names over a mixed alphabet, so the corpus is wider than the list.
    static func generated(count: Int) -> [String] {
        var generator = SeededGenerator(seed: 0x5EED)
        let alphabet = Array("abcXYZ019-_. éÉßσΣİ😀/@")
        return (0..<count).map { _ in
            let length = Int.random(in: 0...72, using: &generator)
            return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
        }
    }

    struct Reference: Decodable {
        var safe: String
        var safe48: String
        var escape: String
        var lower: String
        var multi: String
        /// "template|hubnamespace" → rendered namespace for the raw name as hub username.
        var namespaces: [String: String]
    }

    static let script = """
        import json, sys
        from types import SimpleNamespace
        from kubespawner.slugs import safe_slug, escape_slug, multi_slug
        from kubespawner.spawner import KubeSpawner
        names = json.load(open(sys.argv[1], encoding="utf-8"))
        templates = json.loads(sys.argv[2])
        hubnamespaces = json.loads(sys.argv[3])
        out = []
        for name in names:
            namespaces = {}
            for hub in hubnamespaces:
                fake = SimpleNamespace(slug_scheme="safe", name="", user=SimpleNamespace(name=name, id=1),
                                       _namespace_default=lambda hub=hub: hub)
                for template in templates:
                    namespaces[template + "|" + hub] = KubeSpawner._expand_user_properties(fake, template)
            out.append(dict(safe=safe_slug(name), safe48=safe_slug(name, max_length=48), escape=escape_slug(name),
                            lower=name.lower(), multi=multi_slug([name, "server"]), namespaces=namespaces))
        json.dump(out, sys.stdout, ensure_ascii=True)
        """

    @Test func slugsAndNamespacesMatchKubeSpawner() throws {
        let python = try PythonVenv.kubespawnerPython()
        let names = Self.corpus + Self.generated(count: 300)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("names.json")
        try JSONEncoder().encode(names).write(to: input)
        let templatesJSON = String(decoding: try JSONEncoder().encode(Self.templates), as: UTF8.self)
        let hubsJSON = String(decoding: try JSONEncoder().encode(Self.hubNamespaces), as: UTF8.self)
        let output = try PythonVenv.run(python, arguments: ["-c", Self.script, input.path, templatesJSON, hubsJSON])
        let references = try JSONDecoder().decode([Reference].self, from: output)
        try #require(references.count == names.count)

        var mismatches = 0
        for (name, reference) in zip(names, references) {
            func check(_ ours: String, _ theirs: String, _ what: String) {
                if ours != theirs {
                    mismatches += 1
                    Issue.record("\(what)(\(name.debugDescription)): ours \(ours.debugDescription), kubespawner \(theirs.debugDescription)")
                }
            }
            check(KubeSpawnerSlug.safeSlug(name), reference.safe, "safe_slug")
            check(KubeSpawnerSlug.safeSlug(name, maxLength: 48), reference.safe48, "safe_slug48")
            check(KubeSpawnerSlug.escapeSlug(name), reference.escape, "escape_slug")
            check(PythonString.lower(name), reference.lower, "lower")
            check(KubeSpawnerSlug.multiSlug([name, "server"]), reference.multi, "multi_slug")
            for template in Self.templates {
                for hub in Self.hubNamespaces {
                    let ours = try Names.expandKubeSpawnerTemplate(template, hubUsername: name, hubNamespace: hub)
                    check(ours, reference.namespaces[template + "|" + hub] ?? "<missing>", "namespace[\(template)|\(hub)]")
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func fullPipelineMatchesKubeSpawnerForLoweredUsernames() throws {
        // The hub username is the lowercased uid; KubeSpawner then slugs it. Check the whole chain.
        let python = try PythonVenv.kubespawnerPython()
        let uids = Self.corpus.filter { Names.hubUsernameProblem(PythonString.lower($0)) == nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("uids.json")
        try JSONEncoder().encode(uids).write(to: input)
        let script = """
            import json, sys
            from types import SimpleNamespace
            from kubespawner.spawner import KubeSpawner
            out = []
            for uid in json.load(open(sys.argv[1], encoding="utf-8")):
                fake = SimpleNamespace(slug_scheme="safe", name="", user=SimpleNamespace(name=uid.lower(), id=1),
                                       _namespace_default=lambda: "jhub")
                out.append(KubeSpawner._expand_user_properties(fake, "{hubnamespace}-{username}"))
            json.dump(out, sys.stdout)
            """
        let expected = try JSONDecoder().decode([String].self, from: PythonVenv.run(python, arguments: ["-c", script, input.path]))
        try #require(expected.count == uids.count)
        let naming = NamingSettings(hubNamespace: "jhub")
        for (uid, theirs) in zip(uids, expected) {
            let person = Person(id: PersonID(UUID().uuidString), uid: uid, dn: try DistinguishedName("uid=x,dc=example"))
            let hub = try Names.hubUsername(for: person, naming: naming)
            let ours = try Names.expandKubeSpawnerTemplate(naming.namespaceTemplate, hubUsername: hub, hubNamespace: "jhub")
            #expect(ours == theirs, "uid \(uid.debugDescription)")
            if Names.isValidNamespaceName(theirs) {
                #expect(try Names.names(for: person, naming: naming).namespace == theirs)
            }
        }
    }
}

/// Finds a Python with jupyterhub-kubespawner: `$ACCESSSYNC_VENV`, else `/work/venv-model` if it
/// exists. Fails (never skips) when neither has kubespawner.
enum PythonVenv {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    static func kubespawnerPython() throws -> String {
        var candidates: [String] = []
        if let venv = ProcessInfo.processInfo.environment["ACCESSSYNC_VENV"], !venv.isEmpty {
            candidates.append(venv + "/bin/python")
        }
        if FileManager.default.fileExists(atPath: "/work/venv-model/bin/python") {
            candidates.append("/work/venv-model/bin/python")
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? run(candidate, arguments: ["-c", "import kubespawner.slugs"])) != nil { return candidate }
        }
        throw Missing(
            description: "no Python with jupyterhub-kubespawner: set ACCESSSYNC_VENV to the project's venv "
                + "(run scripts/test.sh, or source .testenv/env.sh); tried \(candidates)")
    }

    static func run(_ executable: String, arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        let reapedStatus = reapChild(process)
        guard reapedStatus == 0 else {
            throw Missing(description: "python failed (\(reapedStatus)): \(String(decoding: errors, as: UTF8.self))")
        }
        return output
    }
}
