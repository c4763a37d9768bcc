/// What happened to one planned change when a target applied it.
///
/// Kept deliberately small; the lead unifies outcome types across targets later.
public struct ChangeOutcome: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// The hub now reflects the change.
        case succeeded
        /// The change was attempted and failed, or was refused (ownership, configuration); the
        /// message says which.
        case failed
        /// Nothing was sent: a dry run ("would ..."), a dependency that did not succeed, or the hub
        /// became unreachable earlier in the run.
        case skipped
    }

    /// The `Change.id` this outcome is for.
    public var changeID: String
    public var status: Status
    /// One human sentence (the hub's own message on failure; never a token).
    public var message: String
    /// The HTTP status of the decisive hub answer, when there was one.
    public var httpStatus: Int?

    public init(changeID: String, status: Status, message: String, httpStatus: Int? = nil) {
        self.changeID = changeID
        self.status = status
        self.message = message
        self.httpStatus = httpStatus
    }
}
