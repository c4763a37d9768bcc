public import Foundation

/// Computes desired state from the directory and the policy. Pure: no I/O, no clock.
public enum Planner {
    /// - Parameters:
    ///   - directory: a complete directory snapshot.
    ///   - policy: the validated policy.
    ///   - settings: naming templates, instance and object options.
    ///   - now: the instant used for expiry of grants and overrides.
    /// - Returns: desired objects and hub state with provenance, and diagnostics naming what is at fault.
    public static func plan(directory: DirectorySnapshot, policy: Policy, settings: PlanSettings, now: Date) -> DesiredState {
        // Implemented by the foundation work (issue 2).
        DesiredState()
    }
}
