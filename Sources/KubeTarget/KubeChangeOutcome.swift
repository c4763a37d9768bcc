import Foundation
public import RBACModel

/// What happened to one change, for the audit log.
public struct KubeChangeOutcome: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Status: String, Hashable, Sendable, Codable {
        case succeeded
        /// Rejected by the server (403, 422, ...) or no answer after the retries.
        case failed
        /// Not attempted: a dependency did not succeed.
        case skipped
        /// The object changed or vanished since it was observed (precondition or resourceVersion 409):
        /// observe and plan again, never retry blindly.
        case needsReplan
        /// An object AccessSync does not own already exists at the desired name.
        case conflict
    }

    public var changeID: String
    public var ref: ObjectRef
    /// `create`, `update`, `delete`, `retire`, `adopt`.
    public var verb: String
    public var status: Status
    /// Status code of the last response (nil when no request was sent or none answered).
    public var httpStatus: Int?
    public var message: String
    /// The API's `reason` (`Invalid`, `Forbidden`, `AlreadyExists`...) when the server refused.
    public var apiReason: String?
    public var causes: [KubeAPIError.Cause]
    /// HTTP requests sent for this change, retries included.
    public var attempts: Int
    /// The object's uid and resourceVersion after the change (nil after a delete or a failure).
    public var uid: String?
    public var resourceVersion: String?
    public var dryRun: Bool

    public init(
        changeID: String, ref: ObjectRef, verb: String, status: Status, httpStatus: Int? = nil, message: String,
        apiReason: String? = nil, causes: [KubeAPIError.Cause] = [], attempts: Int = 0, uid: String? = nil,
        resourceVersion: String? = nil, dryRun: Bool = false
    ) {
        self.changeID = changeID
        self.ref = ref
        self.verb = verb
        self.status = status
        self.httpStatus = httpStatus
        self.message = message
        self.apiReason = apiReason
        self.causes = causes
        self.attempts = attempts
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.dryRun = dryRun
    }

    public var description: String {
        var text = "\(status.rawValue) \(verb) \(ref)"
        if let httpStatus { text += " [\(httpStatus)]" }
        if !message.isEmpty { text += ": \(message)" }
        return text
    }
}

/// Settings of one apply.
public struct KubeApplyOptions: Sendable, Hashable {
    /// Changes in flight at once.
    public var concurrency: Int
    /// Send every write with `dryRun=All`: validation and admission run, nothing is stored.
    public var dryRun: Bool

    public init(concurrency: Int = 16, dryRun: Bool = false) {
        self.concurrency = max(1, concurrency)
        self.dryRun = dryRun
    }
}

/// The result of applying a change list.
public struct KubeApplyReport: Sendable, Hashable {
    /// One per Kubernetes change, in the order of the input.
    public var outcomes: [KubeChangeOutcome]
    /// Requests this apply sent.
    public var requests: KubeRequestCounts
    public var duration: Duration

    public func count(_ status: KubeChangeOutcome.Status) -> Int { outcomes.filter { $0.status == status }.count }

    public var allSucceeded: Bool { outcomes.allSatisfy { $0.status == .succeeded } }

    public subscript(changeID: String) -> KubeChangeOutcome? { outcomes.first { $0.changeID == changeID } }
}
