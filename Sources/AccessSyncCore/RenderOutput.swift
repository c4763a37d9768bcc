import Foundation
public import KubeTarget
public import RBACModel

/// What a render wrote.
public struct RenderSummary: Hashable, Sendable {
    /// Relative paths written (new or changed), unchanged, and removed (stale from an earlier render).
    public var written: [String]
    public var unchanged: [String]
    public var removed: [String]

    public init(written: [String] = [], unchanged: [String] = [], removed: [String] = []) {
        self.written = written
        self.unchanged = unchanged
        self.removed = removed
    }
}

/// Writes a desired state into a directory (one manifest per object, plus the hub state).
///
/// The implementation is KubeTarget's `RenderTarget`; `accesssync render` reaches it through this
/// protocol so that the command logic can be tested with other outputs. Errors are reported as
/// `cannotCreate` (73).
public protocol DesiredStateRenderer: Sendable {
    func render(_ desired: DesiredState, to directory: String) throws(CommandFailure) -> RenderSummary
}

extension RenderTarget: DesiredStateRenderer {
    /// Renders through KubeTarget's render target (one YAML manifest per object, `hub.json`,
    /// Argo CD `Prune=false` on namespaces, stale files of an earlier render removed).
    public func render(_ desired: DesiredState, to directory: String) throws(CommandFailure) -> RenderSummary {
        do {
            let report = try write(desired: desired, to: directory)
            return RenderSummary(written: report.written, unchanged: report.unchanged, removed: report.removed)
        } catch {
            throw CommandFailure(.cannotCreate, error.message)
        }
    }
}
