import Foundation
import Testing

@testable import PolicyStore

@Suite("run lock")
struct RunLockTests {
    @Test func secondWriterIsToldWhichRunHoldsTheLock() async throws {
        try await withTestDatabase { database in
            let connection = try await database.migrated()
            defer { Task { await connection.close() } }
            let first = try await RunLock.acquire(database.options)
            let run = try await SyncRunStore(connection: connection).start(lock: first, osUser: "cron")
            do {
                let second = try await RunLock.acquire(database.options)
                await second.release()
                Issue.record("two writers held the run lock")
            } catch let error as RunLockError {
                guard case .lockHeld(let runID, let startedAt, _, let holderPID) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(runID == run.id)
                #expect(startedAt != nil)
                #expect(holderPID == first.backendPID)
                #expect(error.description.hasPrefix("another sync is running (run \(run.id), started 20"))
            }
            try await first.check()
            await first.release()
            // Released: the next writer gets it, and the dead run is marked interrupted.
            let third = try await RunLock.acquire(database.options)
            let next = try await SyncRunStore(connection: connection).start(lock: third)
            #expect(try await SyncRunStore(connection: connection).run(run.id)?.status == .interrupted)
            try await SyncRunStore(connection: connection).finish(next.id, status: .succeeded, counts: ["created": 3])
            let finished = try #require(try await SyncRunStore(connection: connection).run(next.id))
            #expect(finished.status == .succeeded)
            #expect(finished.counts["created"] == 3)
            #expect(finished.finishedAt != nil)
            await third.release()
        }
    }

    @Test func waitingWriterGetsTheLockWhenReleased() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let first = try await RunLock.acquire(database.options)
            let releaser = Task {
                try await Task.sleep(for: .milliseconds(400))
                await first.release()
            }
            let start = ContinuousClock.now
            let second = try await RunLock.acquire(database.options, wait: .seconds(10))
            #expect(ContinuousClock.now - start >= .milliseconds(300))
            try await second.check()
            await second.release()
            try await releaser.value
            // And a bounded wait that expires reports the holder.
            let holder = try await RunLock.acquire(database.options)
            await #expect(throws: RunLockError.self) {
                _ = try await RunLock.acquire(database.options, wait: .milliseconds(500))
            }
            await holder.release()
        }
    }

    @Test func terminatedLockConnectionIsDetectedByCheck() async throws {
        try await withTestDatabase { database in
            let admin = try await database.migrated()
            defer { Task { await admin.close() } }
            let lock = try await RunLock.acquire(database.options)
            try await lock.check()
            try await admin.query("SELECT pg_terminate_backend($1)", [Int(lock.backendPID)])
            do {
                try await lock.check()
                Issue.record("check passed after the lock connection was terminated")
            } catch let error as RunLockError {
                guard case .lockLost = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(error.description.contains("run lock was lost"))
            }
            // The lock is free again for the next writer.
            let next = try await RunLock.acquire(database.options)
            await next.release()
            await lock.release()
        }
    }

    @Test func unlockedAdvisoryLockIsDetectedByCheck() async throws {
        try await withTestDatabase { database in
            try await database.migrated().close()
            let lock = try await RunLock.acquire(database.options)
            // Someone releases it on our connection (e.g. pg_advisory_unlock_all by mistake).
            try await lock.connection.query("SELECT pg_advisory_unlock_all()")
            await #expect(throws: RunLockError.lockLost(reason: "pg_locks no longer lists the lock for this connection")) {
                try await lock.check()
            }
            await lock.release()
        }
    }
}
