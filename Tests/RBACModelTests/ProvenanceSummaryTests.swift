import Testing

@testable import RBACModel

/// `Planner.provenanceSummary` is the annotation text auditors read: the distinct rules as
/// `grant:<id>`, `override:<id>`, `system:<name>`, sorted as text and comma-separated.
@Suite struct ProvenanceSummaryTests {
    /// The definition, written the plain way.
    func reference(_ provenance: [Provenance]) -> String {
        Set(provenance.map { item -> String in
            switch item.rule {
            case .grant(let id): "grant:\(id)"
            case .override(let id): "override:\(id)"
            case .system(let name): "system:\(name)"
            }
        }).sorted().joined(separator: ",")
    }

    @Test func examples() {
        #expect(Planner.provenanceSummary([]) == "")
        #expect(Planner.provenanceSummary([Provenance(rule: .grant("hub"))]) == "grant:hub")
        let mixed = [
            Provenance(rule: .system("network-policy")), Provenance(person: PersonID("p"), rule: .grant("b")),
            Provenance(rule: .override("x")), Provenance(groupPath: ["g"], rule: .grant("a-b")), Provenance(rule: .grant("a")),
            Provenance(rule: .grant("b")),
        ]
        #expect(Planner.provenanceSummary(mixed) == "grant:a,grant:a-b,grant:b,override:x,system:network-policy")
    }

    @Test func agreesWithTheDefinition() {
        var generator = SystemRandomNumberGenerator()
        let ids = ["a", "a-b", "a.b", "b", "B", "ä", "z9", "hub-1", "hub-10", "hub-2", "x/y", ""]
        for round in 0..<400 {
            // Few distinct rules in most rounds, more than the scan handles (16) in some.
            let pool = round % 5 == 0 ? 40 : 4
            let provenance = (0..<Int.random(in: 0...60, using: &generator)).map { _ -> Provenance in
                let id = ids.randomElement(using: &generator)! + "\(Int.random(in: 0..<pool, using: &generator))"
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: return Provenance(rule: .grant(id))
                case 1: return Provenance(rule: .override(id))
                default: return Provenance(rule: .system(id))
                }
            }
            #expect(Planner.provenanceSummary(provenance) == reference(provenance), "\(provenance)")
        }
    }
}
