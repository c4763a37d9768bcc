/// Thresholds beyond which a run is blocked until approved.
public struct GuardThresholds: Hashable, Sendable, Codable {
    /// People losing any access, absolute and as a percentage of people who had access.
    public var maxPeopleLosingAccess: Int
    public var maxPeopleLosingAccessPercent: Double
    /// Deletions per kind (absolute) and as a percentage of owned objects of that kind.
    public var maxDeletionsPerKind: Int
    public var maxDeletionsPercent: Double
    /// Directory shrink against the last good run (people, and total group memberships), percent.
    public var maxDirectoryShrinkPercent: Double
    /// Newly granted privileged role templates (bindings to privileged templates created).
    public var maxNewPrivilegedBindings: Int
    /// Percentage limits apply only from this many people or deletions on (so that one leaver in
    /// a ten-person team does not block every run).
    public var percentAppliesFrom: Int

    public init(
        maxPeopleLosingAccess: Int = 25, maxPeopleLosingAccessPercent: Double = 10, maxDeletionsPerKind: Int = 50,
        maxDeletionsPercent: Double = 10, maxDirectoryShrinkPercent: Double = 10, maxNewPrivilegedBindings: Int = 3,
        percentAppliesFrom: Int = 5
    ) {
        self.percentAppliesFrom = percentAppliesFrom
        self.maxPeopleLosingAccess = maxPeopleLosingAccess
        self.maxPeopleLosingAccessPercent = maxPeopleLosingAccessPercent
        self.maxDeletionsPerKind = maxDeletionsPerKind
        self.maxDeletionsPercent = maxDeletionsPercent
        self.maxDirectoryShrinkPercent = maxDirectoryShrinkPercent
        self.maxNewPrivilegedBindings = maxNewPrivilegedBindings
    }
}

/// Counts recorded for a successful run, compared by the next run's guard.
public struct RunBaseline: Hashable, Sendable, Codable {
    public var people: Int
    public var groups: Int
    public var memberships: Int
    public var peopleWithAccess: Int

    public init(people: Int, groups: Int, memberships: Int, peopleWithAccess: Int) {
        self.people = people
        self.groups = groups
        self.memberships = memberships
        self.peopleWithAccess = peopleWithAccess
    }
}

/// One reason a run is blocked (or a warning).
public struct GuardFinding: Hashable, Sendable, Codable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var blocking: Bool

    public init(code: String, message: String, blocking: Bool) {
        self.code = code
        self.message = message
        self.blocking = blocking
    }

    public var description: String { "[\(code)] \(message)" }
}

/// The guard's decision about a change set.
public struct GuardVerdict: Hashable, Sendable, Codable {
    /// SHA-256 (hex) of the canonical text of the change set: what `approve` refers to.
    public var planHash: String
    public var findings: [GuardFinding]
    public var peopleLosingAccess: Set<PersonID>
    public var deletionsByKind: [String: Int]
    /// True when blocked and not covered by an approval of exactly this plan.
    public var blocked: Bool

    public init(
        planHash: String, findings: [GuardFinding], peopleLosingAccess: Set<PersonID>, deletionsByKind: [String: Int],
        blocked: Bool
    ) {
        self.planHash = planHash
        self.findings = findings
        self.peopleLosingAccess = peopleLosingAccess
        self.deletionsByKind = deletionsByKind
        self.blocked = blocked
    }
}
