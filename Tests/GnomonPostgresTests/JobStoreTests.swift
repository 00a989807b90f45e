import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Synchronization
import Testing

/// The engine's queries against a migrated database of their own.
@Suite("Job store")
struct JobStoreTests {
    /// Runs `body` with one connection to a fresh migrated database, with tenants acme and
    /// globex, and its store.
    private func withStore<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, JobStore) throws -> T
    ) async throws -> T {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme'), ('globex')")
                return try body(connection, try JobStore.load(on: connection))
            }
        }
    }

    /// Inserts jobs until one lands in a shard, and returns that shard and its jobs' ids.
    private static func jobsInOneShard(
        _ store: JobStore,
        count: Int,
        template: NewJob = NewJob(queue: "emails"),
        on connection: PostgresConnection
    ) throws -> (shard: Int, ids: [UUID]) {
        let inserted = try store.insert(
            Array(repeating: template, count: count * store.shardCount), tenantID: "acme", on: connection)
        let byShard = Dictionary(grouping: inserted, by: \.shard)
        let (shard, jobs) = byShard.max { $0.value.count < $1.value.count }!
        return (shard, Array(jobs.prefix(count).map(\.id)))
    }

    @Test("inserted jobs are pending in their shard with their payload and labels")
    func insert() async throws {
        try await self.withStore { connection, store in
            let job = NewJob(queue: "emails", payloadJSON: #"{"to": "a@example.com"}"#, labels: ["team": "growth"])
            let inserted = try store.insert([job, job], tenantID: "acme", on: connection)
            #expect(inserted.count == 2)
            #expect(Set(inserted.map(\.id)).count == 2)
            #expect(inserted.allSatisfy { $0.created && $0.shard == store.shard(of: $0.id) })

            let row = try #require(
                try connection.query(
                    "SELECT shard, state, payload ->> 'to' AS to, labels ->> 'team' AS team FROM gnomon_jobs WHERE id = $1",
                    [inserted[0].id]
                ).first
            )
            #expect(try row.int("shard") == inserted[0].shard)
            #expect(row["state"] == "pending")
            #expect(row["to"] == "a@example.com")
            #expect(row["team"] == "growth")
        }
    }

    @Test("a repeated idempotency key returns the first job, within a batch and across calls")
    func idempotency() async throws {
        try await self.withStore { connection, store in
            let job = NewJob(queue: "emails", idempotencyKey: "order-17")
            let first = try store.insert([job, job, NewJob(queue: "emails")], tenantID: "acme", on: connection)
            #expect(first[0].created)
            #expect(!first[1].created)
            #expect(first[1].id == first[0].id)
            #expect(first[2].created)

            let again = try store.insert([job], tenantID: "acme", on: connection)
            #expect(again == [InsertedJob(id: first[0].id, shard: first[0].shard, created: false)])
            let count = try connection.query("SELECT count(*) AS n FROM gnomon_jobs WHERE idempotency_key = 'order-17'")
            #expect(try count.first?.int("n") == 1)

            // Keys are per tenant.
            let other = try store.insert([job], tenantID: "globex", on: connection)
            #expect(other[0].created)
        }
    }

    @Test("a repeat racing the original waits for it and returns it")
    func idempotencyRace() async throws {
        try await TestDatabase.with { database in
            let connectionString = database.connectionString
            try await database.withConnection { original in
                try original.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme')")
                let store = try JobStore.load(on: original)
                let job = NewJob(queue: "emails", idempotencyKey: "race")
                try original.execute(script: "BEGIN")
                let first = try store.insert([job], tenantID: "acme", on: original)[0]

                let repeated = Mutex<Result<InsertedJob, any Error>?>(nil)
                let done = DispatchSemaphore(value: 0)
                let thread = Thread {
                    let outcome = Result {
                        try store.insert(
                            [job], tenantID: "acme", on: try PostgresConnection(connectionString: connectionString))[0]
                    }
                    repeated.withLock { $0 = outcome }
                    done.signal()
                }
                thread.start()
                // The repeat waits on the key's unique index while the original is uncommitted.
                #expect(done.wait(timeout: .now() + 0.3) == .timedOut)
                try original.execute(script: "COMMIT")
                done.wait()
                let duplicate = try #require(try repeated.withLock { $0 }?.get())
                #expect(duplicate.id == first.id)
                #expect(!duplicate.created)
            }
        }
    }

    @Test("a claim takes due jobs under the current shard lease, each with its own token")
    func claim() async throws {
        try await self.withStore { connection, store in
            let (shard, ids) = try Self.jobsInOneShard(store, count: 3, on: connection)
            let lease = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: "n1", duration: .seconds(30), on: connection)
            )
            let claimed = try store.claim(shard: lease, node: "n1", limit: 1_000, worker: "w1", on: connection)
            #expect(Set(claimed.map(\.id)).isSuperset(of: ids))
            #expect(Set(claimed.map(\.leaseToken)).count == claimed.count)
            #expect(claimed.allSatisfy { $0.attempt == 1 && $0.leaseRemainingMilliseconds > 290_000 })
            #expect(try store.claim(shard: lease, node: "n1", limit: 1_000, worker: "w1", on: connection).isEmpty)
        }
    }

    @Test("a node whose lease moved on claims and reaps nothing")
    func fencing() async throws {
        try await self.withStore { connection, store in
            let (shard, _) = try Self.jobsInOneShard(store, count: 2, on: connection)
            let old = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: "n1", duration: .milliseconds(50), on: connection)
            )
            usleep(100_000)
            let new = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: "n2", duration: .seconds(30), on: connection)
            )
            #expect(new.epoch == old.epoch + 1)
            #expect(try ShardLeaseStore.renew(old, node: "n1", duration: .seconds(30), on: connection) == nil)
            #expect(try store.claim(shard: old, node: "n1", limit: 10, worker: "w", on: connection).isEmpty)
            #expect(try store.reapExpiredLeases(shard: old, node: "n1", limit: 10, on: connection) == 0)
            #expect(try !store.claim(shard: new, node: "n2", limit: 10, worker: "w", on: connection).isEmpty)
            #expect(
                try ShardLeaseStore.acquire(shard: shard, node: "n1", duration: .seconds(30), on: connection) == nil)
        }
    }

    @Test("heartbeat, completion and failure need the attempt's current token")
    func leaseTokens() async throws {
        try await self.withStore { connection, store in
            let (shard, _) = try Self.jobsInOneShard(store, count: 1, on: connection)
            let lease = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: "n", duration: .seconds(30), on: connection))
            let job = try #require(
                try store.claim(shard: lease, node: "n", limit: 1, worker: "w", on: connection).first)
            let stale = UUID()

            #expect(try store.heartbeat(jobID: job.id, shard: shard, leaseToken: stale, on: connection) == nil)
            let beat = try #require(
                try store.heartbeat(jobID: job.id, shard: shard, leaseToken: job.leaseToken, on: connection))
            #expect(!beat.cancelRequested)
            #expect(
                try !store.complete(jobID: job.id, shard: shard, leaseToken: stale, resultJSON: nil, on: connection))
            #expect(
                try store.fail(jobID: job.id, shard: shard, leaseToken: stale, errorMessage: "x", on: connection) == nil
            )

            #expect(
                try store.complete(
                    jobID: job.id, shard: shard, leaseToken: job.leaseToken, resultJSON: #"{"ok":true}"#, on: connection
                ))
            #expect(
                try !store.complete(
                    jobID: job.id, shard: shard, leaseToken: job.leaseToken, resultJSON: nil, on: connection))
            let history = try #require(
                try connection.query(
                    "SELECT state, result ->> 'ok' AS ok, attempts FROM gnomon_job_history WHERE id = $1", [job.id]
                ).first
            )
            #expect(history["state"] == "succeeded")
            #expect(history["ok"] == "true")
            #expect(try connection.query("SELECT 1 FROM gnomon_jobs WHERE id = $1", [job.id]).rows.isEmpty)
            let attempts = try connection.query("SELECT outcome FROM gnomon_job_attempts WHERE job_id = $1", [job.id])
            #expect(attempts.rows.map { $0["outcome"] } == ["succeeded"])
        }
    }

    @Test("a failure retries with backoff until attempts run out, then dead-letters")
    func failureAndDeadLetter() async throws {
        try await self.withStore { connection, store in
            let template = NewJob(
                queue: "q", maxAttempts: 2, backoff: BackoffSettings(initialDelayMilliseconds: 0, jitter: 0))
            let (shard, ids) = try Self.jobsInOneShard(store, count: 1, template: template, on: connection)
            let lease = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: "n", duration: .seconds(30), on: connection))

            let first = try #require(
                try store.claim(shard: lease, node: "n", limit: 50, worker: "w", on: connection).first {
                    $0.id == ids[0]
                })
            let retry = try store.fail(
                jobID: first.id, shard: shard, leaseToken: first.leaseToken, errorMessage: "boom", on: connection)
            #expect(retry == .retrying(inMilliseconds: 0))
            #expect(
                try connection.query("SELECT state FROM gnomon_jobs WHERE id = $1", [first.id]).first?["state"]
                    == "retry_wait")

            let second = try #require(
                try store.claim(shard: lease, node: "n", limit: 50, worker: "w", on: connection).first {
                    $0.id == ids[0]
                })
            #expect(second.attempt == 2)
            let dead = try store.fail(
                jobID: second.id, shard: shard, leaseToken: second.leaseToken, errorMessage: "boom again",
                on: connection)
            #expect(dead == .deadLettered)
            let letter = try #require(
                try connection.query(
                    "SELECT last_error, last_attempt_number FROM gnomon_dead_letters WHERE id = $1", [first.id]
                ).first)
            #expect(letter["last_error"] == "boom again")
            #expect(try letter.int("last_attempt_number") == 2)
        }
    }

    @Test("a final failure dead-letters at once; an expired lease is reaped into a retry")
    func finalFailureAndReaping() async throws {
        try await self.withStore { connection, store in
            let template = NewJob(queue: "q", attemptTimeoutMilliseconds: 1)
            let (shard, ids) = try Self.jobsInOneShard(store, count: 2, template: template, on: connection)
            let lease = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: "n", duration: .seconds(30), on: connection))
            let claimed = try store.claim(shard: lease, node: "n", limit: 100, worker: "w", on: connection)
            let first = try #require(claimed.first { $0.id == ids[0] })
            #expect(
                try store.fail(
                    jobID: first.id, shard: shard, leaseToken: first.leaseToken, errorMessage: "bad input", final: true,
                    on: connection) == .deadLettered)

            usleep(20_000)
            let reaped = try store.reapExpiredLeases(shard: lease, node: "n", limit: 100, on: connection)
            #expect(reaped == claimed.count - 1)
            let state = try connection.query("SELECT state, last_error FROM gnomon_jobs WHERE id = $1", [ids[1]]).first
            #expect(state?["state"] == "retry_wait")
            let outcome = try connection.query("SELECT outcome FROM gnomon_job_attempts WHERE job_id = $1", [ids[1]])
                .first
            #expect(outcome?["outcome"] == "timed_out")
        }
    }
}
