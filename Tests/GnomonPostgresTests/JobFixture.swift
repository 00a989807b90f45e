import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Testing

/// A migrated database with tenants acme and globex, a pool on it, and ways to put jobs in
/// every state: tenants' calls run in their transactions, the engine's in platform ones.
struct JobFixture: Sendable {
    let database: TestDatabase
    let pool: PostgresPool
    let store: JobStore

    /// The node name the fixture's shard leases are held under.
    static let node = "fixture-node"

    /// Runs `body` with a fresh fixture, dropped afterwards.
    static func with(maximumConnections: Int = 4, _ body: (JobFixture) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme'), ('globex')")
            }
            try await database.withPool(maximumConnections: maximumConnections) { pool in
                let store = try await pool.withPlatformTransaction { try JobStore.load(on: $0) }
                try await body(JobFixture(database: database, pool: pool, store: store))
            }
        }
    }

    /// A queue name no other job of the test uses, so that a claim of it takes one job.
    static func uniqueQueue() -> String {
        "q-" + UUID().uuidString.prefix(8).lowercased()
    }

    /// Runs `body` in a transaction of `tenant`, as the tenant's calls run.
    func tenant<T: Sendable>(
        _ tenant: String = "acme",
        _ body: @Sendable @escaping (PostgresConnection, JobStore) throws -> T
    ) async throws -> T {
        let store = self.store
        return try await self.pool.withTenantTransaction(tenant) { try body($0, store) }
    }

    /// Runs `body` in a platform transaction, as the engine's loops run.
    func platform<T: Sendable>(
        _ body: @Sendable @escaping (PostgresConnection, JobStore) throws -> T
    ) async throws -> T {
        let store = self.store
        return try await self.pool.withPlatformTransaction { try body($0, store) }
    }

    /// Inserts one job for `tenant` and returns its id.
    func insert(_ job: NewJob, tenant: String = "acme") async throws -> UUID {
        try await self.tenant(tenant) { connection, store in
            try store.insert([job], tenantID: tenant, on: connection)[0].id
        }
    }

    /// Claims the job of `queue`, which must be due, under a lease of its shard.
    func claim(queue: String, shard: Int) async throws -> ClaimedJob {
        let claimed = try await self.platform { connection, store in
            let lease = try #require(
                try ShardLeaseStore.acquire(shard: shard, node: Self.node, duration: .seconds(300), on: connection))
            return try store.claim(
                shard: lease, node: Self.node, limit: 10, queues: [queue], worker: "worker-1", on: connection)
        }
        #expect(claimed.count == 1)
        return try #require(claimed.first)
    }

    /// Claims every due job of `queue`, in every shard, under leases held by `node`.
    ///
    /// Each shard is claimed in a transaction of its own, as the engine's shard loops claim.
    func claimAll(queue: String, node: String = Self.node, shards: Range<Int>? = nil, limit: Int = 1_000)
        async throws -> [ClaimedJob]
    {
        var claimed: [ClaimedJob] = []
        for shard in shards ?? 0..<self.store.shardCount where claimed.count < limit {
            let wanted = limit - claimed.count
            claimed += try await self.platform { connection, store in
                let lease = try #require(
                    try ShardLeaseStore.acquire(shard: shard, node: node, duration: .seconds(300), on: connection))
                return try store.claim(
                    shard: lease, node: node, limit: wanted, queues: [queue], worker: "worker-1", on: connection)
            }
        }
        return claimed
    }

    /// Inserts a job for `tenant` in a queue of its own and takes it to `state`.
    ///
    /// - Returns: The job's id, and the running attempt when `state` is running.
    @discardableResult
    func makeJob(
        _ state: JobState,
        tenant: String = "acme",
        labels: [String: String] = [:]
    ) async throws -> (id: UUID, attempt: ClaimedJob?) {
        let queue = Self.uniqueQueue()
        let job = NewJob(
            queue: queue,
            jobType: "report",
            payloadJSON: #"{"n": 1}"#,
            labels: labels,
            maxAttempts: 3,
            backoff: BackoffSettings(initialDelayMilliseconds: 3_600_000, jitter: 0),
            idempotencyKey: "key-" + queue
        )
        let id = try await self.insert(job, tenant: tenant)
        let shard = self.store.shard(of: id)
        switch state {
        case .pending:
            return (id, nil)
        case .cancelled:
            _ = try await self.tenant(tenant) { connection, store in
                try store.cancel(id, reason: "not needed", on: connection)
            }
            return (id, nil)
        case .running, .retryWait, .succeeded, .dead:
            break
        }

        let attempt = try await self.claim(queue: queue, shard: shard)
        try await self.platform { connection, store in
            switch state {
            case .retryWait:
                let outcome = try store.fail(
                    jobID: id, shard: shard, leaseToken: attempt.leaseToken, errorMessage: "flaky", on: connection)
                #expect(outcome == .retrying(inMilliseconds: 3_600_000))
            case .succeeded:
                #expect(
                    try store.complete(
                        jobID: id, shard: shard, leaseToken: attempt.leaseToken, resultJSON: #"{"ok": true}"#,
                        on: connection))
            case .dead:
                let outcome = try store.fail(
                    jobID: id, shard: shard, leaseToken: attempt.leaseToken, errorMessage: "broken", final: true,
                    on: connection)
                #expect(outcome == .deadLettered)
            case .pending, .running, .cancelled:
                break
            }
        }
        return (id, state == .running ? attempt : nil)
    }

    /// Inserts jobs in `queue` and kills them one transaction at a time, in the order returned.
    ///
    /// - Parameter labels: The labels of each job, by its position.
    func makeDeadJobs(
        _ count: Int,
        queue: String,
        tenant: String = "acme",
        labels: @Sendable (Int) -> [String: String] = { _ in [:] }
    ) async throws -> [UUID] {
        let jobs = (0..<count).map { NewJob(queue: queue, labels: labels($0), maxAttempts: 5) }
        let inserted = try await self.tenant(tenant) { connection, store in
            try store.insert(jobs, tenantID: tenant, on: connection)
        }
        let attempts = try await self.platform { connection, store in
            var attempts: [UUID: ClaimedJob] = [:]
            for shard in Set(inserted.map(\.shard)) {
                let lease = try #require(
                    try ShardLeaseStore.acquire(shard: shard, node: Self.node, duration: .seconds(300), on: connection))
                for attempt in try store.claim(
                    shard: lease, node: Self.node, limit: 1_000, queues: [queue], worker: "worker-1", on: connection)
                {
                    attempts[attempt.id] = attempt
                }
            }
            return attempts
        }
        for job in inserted {
            let attempt = try #require(attempts[job.id])
            let outcome = try await self.platform { connection, store in
                try store.fail(
                    jobID: job.id, shard: job.shard, leaseToken: attempt.leaseToken, errorMessage: "broken",
                    final: true, on: connection)
            }
            #expect(outcome == .deadLettered)
        }
        return inserted.map(\.id)
    }

    /// The tenant's usage counters as stored.
    func usage(_ tenant: String = "acme") async throws -> TenantUsage {
        try await self.platform { connection, _ in try TenantStore.get(tenant, on: connection).usage }
    }

    /// The tenant's live and running jobs as counted from gnomon_jobs itself.
    func actualUsage(_ tenant: String = "acme") async throws -> TenantUsage {
        try await self.platform { connection, _ in
            let row = try #require(
                try connection.query(
                    """
                    SELECT count(*) AS live, count(*) FILTER (WHERE state = 'running') AS running
                    FROM gnomon_jobs WHERE tenant_id = $1
                    """,
                    [tenant]
                ).first)
            return TenantUsage(liveJobs: try row.int64("live"), runningJobs: try row.int64("running"))
        }
    }

    /// Expects the stored counters of `tenant` to match its live jobs.
    func expectCountersExact(_ tenant: String = "acme", sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let stored = try await self.usage(tenant)
        let actual = try await self.actualUsage(tenant)
        #expect(stored.liveJobs == actual.liveJobs, sourceLocation: sourceLocation)
        #expect(stored.runningJobs == actual.runningJobs, sourceLocation: sourceLocation)
    }
}
