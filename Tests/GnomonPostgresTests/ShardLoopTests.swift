import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Testing

@testable import GnomonServer

/// A shard's loop ending attempts whose workers vanished, fenced by its lease.
@Suite("Shard loops", .serialized)
struct ShardLoopTests {
    private static let store = JobStore(shardCount: 16)

    /// A tenant with one job claimed by a worker whose lease lasts `timeout`.
    private static func claimedJob(_ pool: PostgresPool, timeout: Int64) async throws -> ClaimedJob {
        _ = try await pool.withPlatformTransaction { try TenantStore.create(tenantID: "acme", on: $0) }
        let claimed = try await pool.withTenantTransaction("acme") { connection in
            _ = try Self.store.insert(
                [NewJob(queue: "q", maxAttempts: 3, attemptTimeoutMilliseconds: timeout)], tenantID: "acme",
                on: connection)
            return try Self.store.claimForWorker(tenantID: "acme", queues: ["q"], limit: 1, worker: "w", on: connection)
        }
        return try #require(claimed.first)
    }

    private static func attempts(_ pool: PostgresPool, _ job: ClaimedJob) async throws -> (String, Int)? {
        try await pool.withPlatformTransaction { connection in
            try connection.query("SELECT state, attempts FROM gnomon_jobs WHERE id = $1", [job.id]).first.map {
                (try $0.string("state"), try $0.int("attempts"))
            }
        }
    }

    @Test("an attempt whose lease expires is ended by the shard's loop, and the job is claimed again as attempt 2")
    func reapsExpiredAttempt() async throws {
        try await TestDatabase.with { database in
            try await database.withPool { pool in
                let job = try await Self.claimedJob(pool, timeout: 300)
                #expect(job.attempt == 1)
                let lease = try #require(
                    try await pool.withPlatformTransaction {
                        try ShardLeaseStore.acquire(shard: job.shard, node: "n1", duration: .seconds(30), on: $0)
                    })
                let loop = ShardLoop(lease: lease, node: "n1", pool: pool, store: Self.store, logger: .disabled)
                var state = try await Self.attempts(pool, job)
                let deadline = ContinuousClock.now + .seconds(10)
                while state?.0 == "running" && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    state = try await Self.attempts(pool, job)
                }
                await loop.stop()
                #expect(state?.0 == "retry_wait")
                #expect(state?.1 == 1)

                // After its backoff (1 s, 20% jitter) the job is claimed again, as attempt 2.
                try await Task.sleep(for: .milliseconds(1_500))
                let again = try await pool.withTenantTransaction("acme") { connection in
                    try Self.store.claimForWorker(
                        tenantID: "acme", queues: ["q"], limit: 1, worker: "w2", on: connection)
                }
                #expect(again.first?.id == job.id)
                #expect(again.first?.attempt == 2)
                #expect(again.first?.leaseToken != job.leaseToken)
            }
        }
    }

    @Test("a lease-stream round that claimed nothing does not wake the shard loops; a listener reconnect does")
    func emptyClaimWakesNoLoop() async throws {
        try await TestDatabase.with { database in
            let loops = ShardLoops(
                node: "n1", connectionString: database.connectionString, store: Self.store, logger: .disabled)
            let acquired = try await database.withPool { pool in
                try await pool.withPlatformTransaction {
                    try ShardLeaseStore.acquire(shard: 3, node: "n1", duration: .seconds(30), on: $0)
                }
            }
            let lease = try #require(acquired)
            await loops.shardAcquired(lease)
            try await eventually(within: .seconds(30), "the loop's first pass") {
                (loops.passes(ofShard: 3) ?? 0) >= 1
            }
            // With no running attempt the loop sleeps for its longest sleep: passes stay put.
            let settled = loops.passes(ofShard: 3) ?? 0
            for _ in 0..<100 {
                loops.attemptsStarted([ClaimedJob]())
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(loops.passes(ofShard: 3) == settled, "empty claims woke the loop")

            // No expiries at all, as after the listener reconnected, means "look again".
            loops.attemptsStarted([Int: Date]())
            try await eventually(within: .seconds(30), "a pass after the reconnect") {
                (loops.passes(ofShard: 3) ?? 0) > settled
            }
            await loops.shutdown()
        }
    }

    @Test("a loop whose lease moved to another node ends nothing: its epoch fences it")
    func fencedByEpoch() async throws {
        try await TestDatabase.with { database in
            try await database.withPool { pool in
                let job = try await Self.claimedJob(pool, timeout: 200)
                let stale = try #require(
                    try await pool.withPlatformTransaction {
                        try ShardLeaseStore.acquire(shard: job.shard, node: "n1", duration: .milliseconds(100), on: $0)
                    })
                try await Task.sleep(for: .milliseconds(300))
                // The lease lapsed and another node took the shard: the epoch moved on.
                let current = try #require(
                    try await pool.withPlatformTransaction {
                        try ShardLeaseStore.acquire(shard: job.shard, node: "n2", duration: .seconds(30), on: $0)
                    })
                #expect(current.epoch > stale.epoch)
                let old = ShardLoop(lease: stale, node: "n1", pool: pool, store: Self.store, logger: .disabled)
                try await Task.sleep(for: .milliseconds(800))
                await old.stop()
                #expect(try await Self.attempts(pool, job)?.0 == "running")

                let owner = ShardLoop(lease: current, node: "n2", pool: pool, store: Self.store, logger: .disabled)
                var state = try await Self.attempts(pool, job)
                let deadline = ContinuousClock.now + .seconds(10)
                while state?.0 == "running" && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    state = try await Self.attempts(pool, job)
                }
                await owner.stop()
                #expect(state?.0 == "retry_wait")
            }
        }
    }
}
