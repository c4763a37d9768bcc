public import Foundation

/// Options for one diff.
public struct DiffOptions: Hashable, Sendable, Codable {
    /// Kinds for which unowned objects at desired names are adopted instead of reported.
    public var adoptKinds: Set<ObjectKind>
    /// Adopt unmanaged hub users / groups at desired names.
    public var adoptHubUsers: Bool
    public var adoptHubGroups: Bool

    public init(adoptKinds: Set<ObjectKind> = [], adoptHubUsers: Bool = false, adoptHubGroups: Bool = false) {
        self.adoptKinds = adoptKinds
        self.adoptHubUsers = adoptHubUsers
        self.adoptHubGroups = adoptHubGroups
    }
}

/// Computes the ordered, dependency-aware change set from desired and observed state. Pure.
public enum Differ {
    /// - Parameters:
    ///   - hub: the hub's observed state, or nil when no hub target is configured.
    public static func diff(
        desired: DesiredState, observed: ObservedCluster, hub: HubObservedState?, settings: PlanSettings,
        options: DiffOptions = DiffOptions(), now: Date
    ) -> ChangeSet {
        // Implemented by the foundation work (issue 2).
        ChangeSet()
    }
}
