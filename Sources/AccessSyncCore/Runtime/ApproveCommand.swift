import Foundation
import PolicyStore

/// `accesssync approve HASH`: a one-time, audited approval of exactly one plan.
public enum ApproveCommand {
    /// Records the approval and its audit row in one transaction.
    /// - Returns: the approval's id.
    public static func run(
        planHash: String, note: String?, configuration: Configuration, actor: String? = nil
    ) async throws(CommandFailure) -> Int64 {
        let actor = actor ?? ProcessIdentity.osUser
        let hash = planHash.lowercased()
        guard hash.count == 64, hash.allSatisfy({ $0.isHexDigit }) else {
            throw CommandFailure(
                .usage, "'\(planHash)' is not a plan hash: expected the 64 hexadecimal digits printed by `accesssync plan`")
        }
        let connection: PGConnection
        do {
            connection = try await PGConnection.connect(configuration.postgres.connectionOptions)
        } catch {
            throw CommandFailure(.postgresUnavailable, "cannot connect to PostgreSQL: \(error)")
        }
        do {
            let approval = try await connection.withTransaction { connection in
                let approval = try await ApprovalStore(connection: connection).approve(
                    planHash: hash, by: actor, note: note)
                _ = try await AuditLog(connection: connection, osUser: actor).append(
                    AuditEntry(
                        action: "approve", objectKind: "Plan", objectName: hash,
                        after: ["approval": .number(String(approval.id)), "note": note.map { .string($0) } ?? .null],
                        outcome: .succeeded, message: "one-time approval of plan \(hash)"))
                return approval
            }
            await connection.close()
            return approval.id
        } catch {
            await connection.close()
            let failure = PostgresFailure.map(error)
            throw CommandFailure(failure.exitStatus, "cannot record the approval: \(failure.message)")
        }
    }
}
