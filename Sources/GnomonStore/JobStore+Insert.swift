import Foundation

extension JobStore {
    /// Inserts jobs for one tenant in a single statement, honouring idempotency keys.
    ///
    /// A job whose key is already held by a live entry is not inserted; the earlier job's id is
    /// returned with `created` false. A repeat racing the original waits on the key's unique
    /// index and then finds the original, so a key never yields two jobs. Repeats of a key
    /// within one batch share the first one's job.
    ///
    /// The jobs created take units of the tenant's pending-jobs count (`live_jobs`), which
    /// every path that removes a live job gives back. Repeats take none. The count is taken
    /// after the jobs are inserted, when it is known; when the quota refuses, the jobs are
    /// already written in this transaction, so the transaction must roll back, as
    /// ``PostgresPool/withTenantTransaction(_:_:)`` does when its body throws, and as this
    /// call does itself when it runs outside a transaction.
    ///
    /// - Parameters:
    ///   - jobs: The jobs, in order; at most a few thousand per call.
    ///   - tenantID: Their tenant, which must exist.
    ///   - idempotencyRetention: How long a key keeps answering with its job.
    ///   - pendingLimit: The tenant's pending-jobs quota (`max_pending_jobs`), defaults filled
    ///     in; `nil` counts the jobs without a limit.
    ///   - connection: Where to run; inside the caller's transaction if one is open.
    ///   - beforeCounting: The caller's other writes of the transaction, given the results:
    ///     they run before the count is taken, since taking it locks the tenant's usage row
    ///     until the transaction ends, and every submission, claim and end of the tenant
    ///     waits for that row.
    /// - Returns: One result per job, in the order given.
    /// - Throws: ``StoreError`` with code `quotaExceeded` when the jobs would not fit the
    ///   quota, `notFound` when the tenant does not exist or the transaction may not see it.
    public func insert(
        _ jobs: [NewJob],
        tenantID: String,
        idempotencyRetention: Duration = .seconds(86_400),
        pendingLimit: Int64? = nil,
        on connection: PostgresConnection,
        beforeCounting: ([InsertedJob]) throws -> Void = { _ in }
    ) throws -> [InsertedJob] {
        guard !jobs.isEmpty else {
            return []
        }
        return try connection.transaction { connection in
            let (results, created) = try self.insertRows(
                jobs, tenantID: tenantID, idempotencyRetention: idempotencyRetention, on: connection)
            try beforeCounting(results)
            if pendingLimit == nil {
                // Nothing to check: count at the commit, and hold the usage row only then.
                _ = try UsageCounter.pendingJobs.current(tenantID: tenantID, on: connection)
                try QuotaStore.countAtCommit(pendingJobs: Int64(created), tenantID: tenantID, on: connection)
            } else {
                try QuotaStore.takePendingJobs(
                    Int64(created), limit: pendingLimit, tenantID: tenantID, on: connection)
            }
            return results
        }
    }

    /// Inserts the jobs; returns one result per job and how many rows were written.
    private func insertRows(
        _ jobs: [NewJob],
        tenantID: String,
        idempotencyRetention: Duration,
        on connection: PostgresConnection
    ) throws -> (results: [InsertedJob], created: Int) {
        let ids = jobs.map { _ in UUID() }
        var firstIndexOfKey: [String: Int] = [:]
        for (index, job) in jobs.enumerated() {
            if let key = job.idempotencyKey, firstIndexOfKey[key] == nil {
                firstIndexOfKey[key] = index
            }
        }
        let unique = jobs.indices.filter { index in
            jobs[index].idempotencyKey.map { firstIndexOfKey[$0] == index } ?? true
        }

        let parameters = try self.insertParameters(
            unique.map { (ids[$0], jobs[$0]) },
            tenantID: tenantID,
            retention: idempotencyRetention
        )
        let inserted = Set(try connection.query(Self.insertSQL, parameters).rows.compactMap { $0["id"] })
        let existing = try self.existingJobs(
            forKeys: unique.compactMap {
                inserted.contains(ids[$0].uuidString.lowercased()) ? nil : jobs[$0].idempotencyKey
            },
            tenantID: tenantID,
            on: connection
        )

        let results = jobs.indices.map { index in
            if let key = jobs[index].idempotencyKey {
                let first = firstIndexOfKey[key]!
                if let earlier = existing[key] {
                    return earlier
                }
                return InsertedJob(id: ids[first], shard: self.shard(of: ids[first]), created: first == index)
            }
            return InsertedJob(id: ids[index], shard: self.shard(of: ids[index]), created: true)
        }
        return (results, inserted.count)
    }

    private func existingJobs(
        forKeys keys: [String],
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> [String: InsertedJob] {
        guard !keys.isEmpty else {
            return [:]
        }
        // A new statement, so that read committed sees the entries of transactions that
        // committed while the insert waited on them.
        let rows = try connection.query(
            "SELECT key, job_id, shard FROM gnomon_idempotency_keys WHERE tenant_id = $1 AND key = ANY($2::text[])",
            [tenantID, PostgresArray.literal(keys)]
        ).rows
        var found: [String: InsertedJob] = [:]
        for row in rows {
            guard let id = UUID(uuidString: try row.string("job_id")) else {
                throw StoreError(.unexpectedValue, "an idempotency entry holds a job id that is not a UUID")
            }
            found[try row.string("key")] = InsertedJob(id: id, shard: try row.int("shard"), created: false)
        }
        return found
    }

    private func insertParameters(
        _ jobs: [(UUID, NewJob)],
        tenantID: String,
        retention: Duration
    ) throws -> [any PostgresBindable] {
        func column(_ value: (NewJob) -> String?) -> PostgresValue {
            PostgresArray.literal(jobs.map { value($0.1) })
        }
        let labels = try jobs.map { try Self.json($0.1.labels) }
        return [
            tenantID,
            PostgresArray.literal(jobs.map { $0.0.uuidString.lowercased() }),
            PostgresArray.literal(jobs.map { String(self.shard(of: $0.0)) }),
            column { $0.queue },
            column { $0.jobType },
            column { $0.payloadJSON },
            PostgresArray.literal(labels),
            try PostgresArray.literal(values: jobs.map { $0.1.runAt as (any PostgresBindable) }),
            column { String($0.priority) },
            column { String($0.maxAttempts) },
            column { String($0.backoff.initialDelayMilliseconds) },
            column { String($0.backoff.maximumDelayMilliseconds) },
            column { String($0.backoff.multiplier) },
            column { String($0.backoff.jitter) },
            column { String($0.attemptTimeoutMilliseconds) },
            column { $0.idempotencyKey },
            column { $0.httpTargetJSON },
            column { $0.scheduleID },
            try PostgresArray.literal(values: jobs.map { $0.1.fireTime as (any PostgresBindable) }),
            column { $0.traceparent },
            retention.milliseconds,
        ]
    }

    /// Encodes labels as a JSON object with sorted keys.
    static func json(_ labels: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(labels), as: UTF8.self)
    }

    static let insertSQL = """
        WITH input AS (
            SELECT * FROM unnest(
                $2::uuid[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::timestamptz[], $9::smallint[], $10::integer[], $11::bigint[], $12::bigint[],
                $13::float8[], $14::float8[], $15::bigint[], $16::text[], $17::text[],
                $18::text[], $19::timestamptz[], $20::text[]
            ) AS t(
                id, shard, queue, job_type, payload, labels, run_at, priority, max_attempts,
                backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
                attempt_timeout_ms, idempotency_key, http_target, schedule_id, fire_time, traceparent
            )
        ),
        claimed_keys AS (
            INSERT INTO gnomon_idempotency_keys AS k (tenant_id, key, job_id, shard, expires_at)
            SELECT $1, idempotency_key, id, shard, now() + $21::bigint * interval '1 millisecond'
            FROM input
            WHERE idempotency_key IS NOT NULL
            ON CONFLICT (tenant_id, key) DO UPDATE
                SET job_id = excluded.job_id, shard = excluded.shard, created_at = now(),
                    expires_at = excluded.expires_at
                WHERE k.expires_at <= now()
            RETURNING k.job_id
        )
        INSERT INTO gnomon_jobs (
            id, tenant_id, shard, queue, job_type, payload, labels, run_at, due_at, priority,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, idempotency_key, http_target, schedule_id, fire_time, traceparent
        )
        SELECT
            id, $1, shard, queue, job_type, payload::jsonb, labels::jsonb,
            coalesce(run_at, now()), coalesce(run_at, now()), priority,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, idempotency_key, http_target::jsonb, schedule_id, fire_time, traceparent
        FROM input
        WHERE idempotency_key IS NULL OR id IN (SELECT job_id FROM claimed_keys)
        RETURNING id
        """
}

extension Duration {
    /// The whole milliseconds in this duration.
    var milliseconds: Int64 {
        self.components.seconds * 1_000 + self.components.attoseconds / 1_000_000_000_000_000
    }
}
