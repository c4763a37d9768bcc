import RBACModel
import Testing

@Suite struct NamesTests {
    let naming = NamingSettings(subjectTemplate: "oidc:{uid}", hubNamespace: "jhub")

    @Test func defaultTemplatesGiveKubeSpawnerNames() throws {
        let names = try Names.names(for: Fixture.person("Alice"), naming: naming)
        #expect(names == PersonNames(hubUsername: "alice", subject: "oidc:Alice", namespace: "jhub-alice"))
        let dotted = try Names.names(for: Fixture.person("Alice.Smith"), naming: naming)
        #expect(dotted.hubUsername == "alice.smith")
        #expect(dotted.namespace == "jhub-alice-smith---2ece8250")
    }

    @Test func defaultHubNamespaceBecomesUser() throws {
        var naming = naming
        naming.hubNamespace = "default"
        #expect(try Names.names(for: Fixture.person("bob"), naming: naming).namespace == "user-bob")
    }

    @Test func namesDependOnlyOnThePerson() throws {
        let alice = Fixture.person("alice")
        let first = try Names.names(for: alice, naming: naming)
        // Computing other people's names in between changes nothing (no shared state).
        for uid in ["Alice", "ALICE", "alice2"] { _ = try Names.names(for: Fixture.person(uid), naming: naming) }
        #expect(try Names.names(for: alice, naming: naming) == first)
    }

    @Test func hubUsernameUsesPythonLowercasing() throws {
        #expect(try Names.hubUsername(for: Fixture.person("ΟΔΥΣΣΕΥΣ"), naming: naming) == "οδυσσευς")
        #expect(try Names.hubUsername(for: Fixture.person("İz"), naming: naming) == "i\u{307}z")
        var keepCase = naming
        keepCase.lowercaseHubUsername = false
        #expect(try Names.hubUsername(for: Fixture.person("Alice"), naming: keepCase) == "Alice")
    }

    @Test func templatesSupportPlaceholdersAndEscapes() throws {
        let person = Fixture.person("carol", id: "ABCD-1")
        var naming = naming
        naming.hubUsernameTemplate = "{uid}@corp"
        naming.subjectTemplate = "{{oidc}}:{username}:{id}"
        let names = try Names.names(for: person, naming: naming)
        #expect(names.hubUsername == "carol@corp")
        #expect(names.subject == "{oidc}:carol@corp:abcd-1")
        #expect(names.namespace == "jhub-carol-corp---" + String(KubeSpawnerSlug.safeSlug("carol@corp").suffix(8)))
    }

    @Test(arguments: [
        "{hubnamespace}-{userid}", "{hubnamespace}-{username!r}", "{username:>10}", "{0}", "{}", "{user.name}",
        "{unknown}", "{username", "user}",
    ])
    func badNamespaceTemplatesAreRejected(_ template: String) {
        var naming = naming
        naming.namespaceTemplate = template
        #expect(throws: NameError.self) { try Names.names(for: Fixture.person("alice"), naming: naming) }
        #expect(Names.validateTemplates(naming).contains { $0.code == "invalid-name-template" && $0.subject == "namespace" })
    }

    @Test func invalidNamespaceIsReported() {
        var naming = naming
        naming.hubNamespace = String(repeating: "h", count: 40)
        // 40 + 1 + a 48-character slug > 63.
        let person = Fixture.person(String(repeating: "x", count: 60))
        #expect(throws: NameError.self) { try Names.names(for: person, naming: naming) }
    }

    @Test func namespaceValidation() {
        #expect(Names.isValidNamespaceName("jhub-alice"))
        #expect(Names.isValidNamespaceName("0abc"))
        #expect(!Names.isValidNamespaceName("Team_001"))
        #expect(!Names.isValidNamespaceName("-a"))
        #expect(!Names.isValidNamespaceName("a-"))
        #expect(!Names.isValidNamespaceName(""))
        #expect(Names.isValidNamespaceName(String(repeating: "a", count: 63)))
        #expect(!Names.isValidNamespaceName(String(repeating: "a", count: 64)))
    }

    @Test func hubUsernameProblems() {
        #expect(Names.hubUsernameProblem("a/b") != nil)
        #expect(Names.hubUsernameProblem("") != nil)
        #expect(Names.hubUsernameProblem(" a") != nil)
        #expect(Names.hubUsernameProblem("a\u{7}") != nil)
        #expect(Names.hubUsernameProblem("alice.smith@example.org") == nil)
    }

    @Test func safeSlugKnownValues() {
        // Values produced by jupyterhub-kubespawner 7.1.0 (the parity test checks many more).
        #expect(KubeSpawnerSlug.safeSlug("alice") == "alice")
        #expect(KubeSpawnerSlug.safeSlug("--") == "x---d8156bae")
        #expect(KubeSpawnerSlug.safeSlug("") == "x---e3b0c442")
        #expect(KubeSpawnerSlug.safeSlug("İstanbul") == "i-stanbul---24ec8f72")
    }
}
