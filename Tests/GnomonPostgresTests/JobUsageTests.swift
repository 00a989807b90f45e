import Foundation
import GnomonCore
import GnomonTestSupport
import Synchronization
import Testing

@testable import GnomonStore

/// The tenants' live and running counts, kept by the job statements themselves.
@Suite("Job usage counters")
struct JobUsageTests {
    @Test("every path in and out of the live table keeps the counts exact, back to zero at the end")
    func lifecycle() async throws {
        try await JobFixture.with { fixture in
            let job = NewJob(
                queue: "life", maxAttempts: 2, backoff: BackoffSettings(initialDelayMilliseconds: 0, jitter: 0),
                attemptTimeoutMilliseconds: 1)
            func expectUsage(_ live: Int64, _ running: Int64, sourceLocation: SourceLocation = #_sourceLocation)
                async throws
            {
                #expect(
                    try await fixture.usage() == TenantUsage(liveJobs: live, runningJobs: running),
                    sourceLocation: sourceLocation)
                try await fixture.expectCountersExact(sourceLocation: sourceLocation)
            }

            _ = try await fixture.tenant { connection, store in
                try store.insert(Array(repeating: job, count: 6), tenantID: "acme", on: connection)
            }
            try await expectUsage(6, 0)
            let claimed = try await fixture.claimAll(queue: "life")
            #expect(claimed.count == 6)
            try await expectUsage(6, 6)

            let (done, retried, killed, cancelled, expired) = (
                claimed[0...1], claimed[2], claimed[3], claimed[4], claimed[5]
            )
            try await fixture.platform { connection, store in
                for attempt in done {
                    _ = try store.complete(
                        jobID: attempt.id, shard: attempt.shard, leaseToken: attempt.leaseToken, resultJSON: nil,
                        on: connection)
                }
            }
            try await expectUsage(4, 4)
            _ = try await fixture.platform { connection, store in
                try store.fail(
                    jobID: retried.id, shard: retried.shard, leaseToken: retried.leaseToken, errorMessage: "again",
                    on: connection)
            }
            try await expectUsage(4, 3)
            _ = try await fixture.platform { connection, store in
                try store.fail(
                    jobID: killed.id, shard: killed.shard, leaseToken: killed.leaseToken, errorMessage: "fatal",
                    final: true, on: connection)
            }
            try await expectUsage(3, 2)
            _ = try await fixture.tenant { try $1.cancel(cancelled.id, reason: "no", on: $0) }
            try await expectUsage(2, 1)
            let reaped = try await fixture.platform { connection, store in
                let lease = try #require(
                    try ShardLeaseStore.acquire(
                        shard: expired.shard, node: JobFixture.node, duration: .seconds(300), on: connection))
                return try store.reapExpiredLeases(shard: lease, node: JobFixture.node, limit: 10, on: connection)
            }
            #expect(reaped == 1)
            try await expectUsage(2, 0)

            let pending = try await fixture.insert(job)
            try await expectUsage(3, 0)
            _ = try await fixture.tenant { try $1.cancel(pending, reason: "no", on: $0) }
            try await expectUsage(2, 0)
            _ = try await fixture.tenant { try $1.retry(cancelled.id, on: $0) }
            try await expectUsage(3, 0)
            _ = try await fixture.tenant { connection, _ in
                try DeadLetterStore.redrive(DeadLetterSelection(queue: "life"), tenantID: "acme", on: connection)
            }
            try await expectUsage(4, 0)

            let again = try await fixture.claimAll(queue: "life")
            #expect(Set(again.map(\.id)) == [retried.id, killed.id, cancelled.id, expired.id])
            try await expectUsage(4, 4)
            try await fixture.platform { connection, store in
                for attempt in again {
                    _ = try store.complete(
                        jobID: attempt.id, shard: attempt.shard, leaseToken: attempt.leaseToken, resultJSON: nil,
                        on: connection)
                }
            }
            try await expectUsage(0, 0)
        }
    }

    @Test("inserts take the pending quota, repeats take none, and a refused batch writes nothing")
    func insertQuota() async throws {
        try await JobFixture.with { fixture in
            let keyed = NewJob(queue: "q", idempotencyKey: "once")
            let first = try await fixture.tenant { connection, store in
                try store.insert([keyed, keyed, NewJob(queue: "q")], tenantID: "acme", pendingLimit: 3, on: connection)
            }
            #expect(first.map(\.created) == [true, false, true])
            #expect(try await fixture.usage().liveJobs == 2)

            // A repeat takes nothing, so it is answered even at the limit.
            let repeated = try await fixture.tenant { connection, store in
                try store.insert([keyed], tenantID: "acme", pendingLimit: 2, on: connection)
            }
            #expect(repeated == [InsertedJob(id: first[0].id, shard: first[0].shard, created: false)])

            let error = await #expect(throws: StoreError.self) {
                try await fixture.tenant { connection, store in
                    try store.insert(
                        [NewJob(queue: "q"), NewJob(queue: "q")], tenantID: "acme", pendingLimit: 3, on: connection)
                }
            }
            #expect(error?.code == .quotaExceeded)
            #expect(error?.quota == QuotaViolation(quota: "max_pending_jobs", limit: 3, current: 2, requested: 2))
            try await fixture.expectCountersExact()
            #expect(try await fixture.usage().liveJobs == 2)

            // Outside a transaction the insert opens its own and rolls it back.
            try await fixture.database.withConnection { connection in
                let store = try JobStore.load(on: connection)
                #expect(throws: StoreError.self) {
                    try store.insert(
                        [NewJob(queue: "q"), NewJob(queue: "q")], tenantID: "acme", pendingLimit: 3, on: connection)
                }
                #expect(
                    try store.insert([NewJob(queue: "q")], tenantID: "acme", pendingLimit: 3, on: connection)[0].created
                )
            }
            try await fixture.expectCountersExact()
            #expect(try await fixture.usage().liveJobs == 3)
        }
    }

    @Test("jobs for a tenant that does not exist are refused and nothing is written")
    func unknownTenant() async throws {
        try await JobFixture.with { fixture in
            let error = await #expect(throws: StoreError.self) {
                try await fixture.platform { connection, store in
                    try store.insert([NewJob(queue: "q")], tenantID: "initech", on: connection)
                }
            }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("'initech'") == true)
            let count = try await fixture.platform { connection, _ in
                try connection.query("SELECT count(*) AS n FROM gnomon_jobs").first?.int("n")
            }
            #expect(count == 0)
        }
    }

    @Test("two nodes claiming, finishing and cancelling two tenants' jobs at once keep the counts exact")
    func concurrentLifecycles() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme'), ('globex')")
            }
            try await database.withPool(maximumConnections: 8) { pool in
                let store = try await pool.withPlatformTransaction { try JobStore.load(on: $0) }
                let fixture = JobFixture(database: database, pool: pool, store: store)
                try await Self.runBusyQueue(fixture)
                for tenant in ["acme", "globex"] {
                    #expect(try await fixture.usage(tenant) == TenantUsage())
                    try await fixture.expectCountersExact(tenant)
                }
            }
            // Transactions retry deadlocks, so only the statistics show them. A backend flushes
            // its statistics as it exits, which the pool's connections have just done.
            try await Task.sleep(for: .seconds(1))
            let deadlocks = try await database.withConnection { connection in
                try connection.query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
                    .first?.int("deadlocks")
            }
            #expect(deadlocks == 0)
        }
    }

    /// Inserts jobs for both tenants, then runs two claiming nodes and a canceller until every
    /// job has finished.
    private static func runBusyQueue(_ fixture: JobFixture) async throws {
        let job = NewJob(
            queue: "busy", maxAttempts: 2, backoff: BackoffSettings(initialDelayMilliseconds: 0, jitter: 0))
        var inserted: [UUID] = []
        for tenant in ["acme", "globex"] {
            inserted += try await fixture.tenant(tenant) { connection, store in
                try store.insert(Array(repeating: job, count: 60), tenantID: tenant, on: connection).map(\.id)
            }
        }
        let ids = inserted
        let half = fixture.store.shardCount / 2
        let nodes = [("node-a", 0..<half), ("node-b", half..<fixture.store.shardCount)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (node, shards) in nodes {
                group.addTask {
                    // Failed attempts are due again at once, so an empty claim means every job of
                    // the node's shards has finished.
                    for _ in 0..<200 {
                        let claimed = try await fixture.claimAll(queue: "busy", node: node, shards: shards, limit: 7)
                        if claimed.isEmpty {
                            return
                        }
                        try await Self.finish(claimed, fixture: fixture)
                    }
                }
            }
            group.addTask {
                for id in ids.shuffled().prefix(40) {
                    let tenant = try await fixture.platform { try $1.get(id, on: $0).tenantID }
                    do {
                        _ = try await fixture.tenant(tenant) { try $1.cancel(id, reason: "busy", on: $0) }
                    } catch let error as StoreError where error.code == .failedPrecondition {
                        // It finished first.
                    }
                }
            }
            try await group.waitForAll()
        }
        let live = try await fixture.platform { connection, _ in
            try connection.query("SELECT count(*) AS n FROM gnomon_jobs").first?.int("n")
        }
        #expect(live == 0)
    }

    /// Completes some attempts and fails the others, each in a platform transaction of its own.
    private static func finish(_ attempts: [ClaimedJob], fixture: JobFixture) async throws {
        for attempt in attempts {
            try await fixture.platform { connection, store in
                if attempt.id.uuid.0.isMultiple(of: 3) {
                    _ = try store.fail(
                        jobID: attempt.id, shard: attempt.shard, leaseToken: attempt.leaseToken, errorMessage: "busy",
                        on: connection)
                } else {
                    _ = try store.complete(
                        jobID: attempt.id, shard: attempt.shard, leaseToken: attempt.leaseToken, resultJSON: nil,
                        on: connection)
                }
            }
        }
    }

    @Test("migration 10 counts the live and running jobs written before it, and forces row security again")
    func recountMigration() async throws {
        try await TestDatabase.with(migrated: false) { database in
            try await database.withConnection { connection in
                let before = Array(Migrations.all.prefix { $0.version < 10 })
                _ = try Migrations.apply(before, on: connection, logger: .disabled)
                try connection.execute(
                    script: """
                        INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme'), ('globex'), ('initech');
                        INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at)
                            SELECT gen_random_uuid(), t, 0, 'q', now(), now()
                            FROM unnest(ARRAY['acme', 'acme', 'acme', 'globex']) AS t;
                        INSERT INTO gnomon_jobs (
                            id, tenant_id, shard, queue, run_at, due_at, state, lease_token, lease_expires_at,
                            lease_epoch
                        )
                            SELECT gen_random_uuid(), 'acme', 1, 'q', now(), now(), 'running', gen_random_uuid(),
                                now(), 1;
                        """)
                _ = try Migrations.apply(on: connection, logger: .disabled)

                let usage = try connection.query(
                    "SELECT tenant_id, live_jobs, running_jobs FROM gnomon_tenant_usage ORDER BY tenant_id"
                ).rows.map { [$0["tenant_id"], $0["live_jobs"], $0["running_jobs"]] }
                #expect(usage == [["acme", "4", "1"], ["globex", "1", "0"], ["initech", "0", "0"]])
                let forced = try connection.query(
                    """
                    SELECT count(*) AS n FROM pg_class
                    WHERE relname IN ('gnomon_jobs', 'gnomon_tenant_usage') AND relforcerowsecurity
                    """
                ).first?.int("n")
                #expect(forced == 2)
            }
        }
    }
}
