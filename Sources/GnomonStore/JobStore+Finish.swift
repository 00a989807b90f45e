public import Foundation

/// Where a failed attempt left its job.
public enum FailureOutcome: Sendable, Hashable {
    /// Another attempt is due after the backoff delay, this many milliseconds from now.
    case retrying(inMilliseconds: Int64)
    /// No attempt remains, or none was wanted: the job is in the dead-letter queue.
    case deadLettered
}

extension JobStore {
    /// Records a successful attempt and moves its job to history, in one statement.
    ///
    /// The same statement gives back the job's units of its tenant's pending and running
    /// counts; every end of an attempt gives back its running unit, and every move out of
    /// the live table its pending unit.
    ///
    /// - Returns: Whether the token was still the job's; a stale token changes nothing.
    public func complete(
        jobID: UUID,
        shard: Int,
        leaseToken: UUID,
        resultJSON: String?,
        on connection: PostgresConnection
    ) throws -> Bool {
        let result = try connection.query(Self.completeSQL, [shard, jobID, leaseToken, resultJSON])
        guard let done = result.first else {
            return false
        }
        try QuotaStore.countAtCommit(
            pendingJobs: -1, runningJobs: -1, tenantID: try done.string("tenant_id"), on: connection)
        return true
    }

    /// Records a failed attempt: the job waits for a retry, or goes to the dead-letter queue when
    /// its attempts are spent or `final` is set.
    ///
    /// - Parameters:
    ///   - retryAfter: The least delay before the retry; the backoff policy decides when `nil`.
    ///   - deadLetterRetention: How long a dead job is kept for inspection and redrive.
    /// - Returns: The outcome, or `nil` when the token was stale and nothing changed.
    public func fail(
        jobID: UUID,
        shard: Int,
        leaseToken: UUID,
        errorMessage: String,
        final: Bool = false,
        retryAfter: Duration? = nil,
        deadLetterRetention: Duration = .seconds(14 * 86_400),
        on connection: PostgresConnection
    ) throws -> FailureOutcome? {
        try connection.transaction { connection in
            let retried = try connection.query(
                Self.retrySQL,
                [
                    shard, jobID, leaseToken, String(errorMessage.prefix(4_096)), final, retryAfter?.milliseconds,
                    "failed",
                ]
            ).first
            if let retried {
                try QuotaStore.countAtCommit(
                    runningJobs: -1, tenantID: try retried.string("tenant_id"), on: connection)
                return .retrying(inMilliseconds: try retried.int64("delay_ms"))
            }
            let dead = try connection.query(
                Self.deadLetterSQL,
                [
                    shard, jobID, leaseToken, String(errorMessage.prefix(4_096)),
                    final ? "failed_final" : "failed", deadLetterRetention.milliseconds,
                ]
            ).first
            guard let dead else {
                return nil
            }
            try QuotaStore.countAtCommit(
                pendingJobs: -1, runningJobs: -1, tenantID: try dead.string("tenant_id"), on: connection)
            return .deadLettered
        }
    }

    /// Ends attempts of one shard whose leases expired: each job waits for a retry or, with its
    /// attempts spent, goes to the dead-letter queue. Fenced by the shard lease like a claim.
    ///
    /// - Returns: How many attempts were ended.
    public func reapExpiredLeases(
        shard lease: ShardLease,
        node: String,
        limit: Int,
        deadLetterRetention: Duration = .seconds(14 * 86_400),
        on connection: PostgresConnection
    ) throws -> Int {
        try connection.transaction { connection in
            let expired = try connection.query(
                Self.expiredSQL,
                [lease.shard, lease.epoch, node, limit]
            ).rows
            // What the ends give back, by tenant: (pending jobs, running attempts).
            var released: [String: (pending: Int64, running: Int64)] = [:]
            for row in expired {
                let id = try row.string("id")
                let token = try row.string("lease_token")
                let message = "the attempt's lease expired without a heartbeat or an answer"
                if let retried = try connection.query(
                    Self.retrySQL,
                    [lease.shard, id, token, message, false, nil as Int64?, "timed_out"]
                ).first {
                    released[try retried.string("tenant_id"), default: (0, 0)].running += 1
                } else if let dead = try connection.query(
                    Self.deadLetterSQL,
                    [lease.shard, id, token, message, "timed_out", deadLetterRetention.milliseconds]
                ).first {
                    let tenant = try dead.string("tenant_id")
                    released[tenant, default: (0, 0)].pending += 1
                    released[tenant, default: (0, 0)].running += 1
                }
            }
            // One update per tenant at the commit, in byte order of tenant id as a claim locks
            // them, so that the two cannot deadlock.
            for (tenant, counts) in released.sorted(by: { $0.key < $1.key }) {
                try QuotaStore.countAtCommit(
                    pendingJobs: -counts.pending, runningJobs: -counts.running, tenantID: tenant, on: connection)
            }
            return expired.count
        }
    }

    static let completeSQL = """
        WITH done AS (
            DELETE FROM gnomon_jobs
            WHERE shard = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
            RETURNING *
        ),
        attempt AS (
            INSERT INTO gnomon_job_attempts (
                tenant_id, job_id, number, outcome, worker_id, lease_token, started_at, finished_at
            )
            SELECT tenant_id, id, attempts, 'succeeded', coalesce(worker_id, ''), lease_token,
                attempt_started_at, now()
            FROM done
        )
        INSERT INTO gnomon_job_history (
            id, tenant_id, shard, queue, job_type, state, priority, payload, labels, run_at,
            attempts, max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier,
            backoff_jitter, attempt_timeout_ms, idempotency_key, http_target, schedule_id,
            fire_time, traceparent, created_at, started_at, finished_at, last_error, result
        )
        SELECT id, tenant_id, shard, queue, job_type, 'succeeded', priority, payload, labels, run_at,
            attempts, max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier,
            backoff_jitter, attempt_timeout_ms, idempotency_key, http_target, schedule_id,
            fire_time, traceparent, created_at, started_at, now(), last_error, $4::jsonb
        FROM done
        RETURNING tenant_id
        """

    /// Retries when attempts remain and the failure is not final. The delay is exponential in
    /// the attempt number, capped, with the job's jitter taken off it, and never less than $6.
    static let retrySQL = """
        WITH failed AS (
            SELECT id, attempts, attempt_started_at, worker_id, tenant_id,
                greatest(
                    coalesce($6::bigint, 0),
                    (least(
                        backoff_max_ms::float8,
                        backoff_initial_ms * power(backoff_multiplier, attempts - 1)
                    ) * (1 - backoff_jitter * random()))::bigint
                ) AS delay_ms
            FROM gnomon_jobs
            WHERE shard = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
                AND attempts < max_attempts AND NOT $5::boolean
            FOR UPDATE
        ),
        attempt AS (
            INSERT INTO gnomon_job_attempts (
                tenant_id, job_id, number, outcome, worker_id, lease_token, started_at, finished_at,
                error_message
            )
            SELECT tenant_id, id, attempts, $7, coalesce(worker_id, ''), $3, attempt_started_at, now(), $4
            FROM failed
        )
        UPDATE gnomon_jobs AS j
        SET state = 'retry_wait', due_at = now() + failed.delay_ms * interval '1 millisecond',
            lease_token = NULL, lease_expires_at = NULL, lease_epoch = NULL, worker_id = NULL,
            attempt_started_at = NULL, last_error = $4
        FROM failed
        WHERE j.shard = $1 AND j.id = failed.id
        RETURNING failed.delay_ms, failed.tenant_id
        """

    static let deadLetterSQL = """
        WITH dead AS (
            DELETE FROM gnomon_jobs
            WHERE shard = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
            RETURNING *
        ),
        attempt AS (
            INSERT INTO gnomon_job_attempts (
                tenant_id, job_id, number, outcome, worker_id, lease_token, started_at, finished_at,
                error_message
            )
            SELECT tenant_id, id, attempts, $5, coalesce(worker_id, ''), lease_token,
                attempt_started_at, now(), $4
            FROM dead
        )
        INSERT INTO gnomon_dead_letters (
            id, tenant_id, shard, queue, job_type, priority, payload, labels, run_at, attempts,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, idempotency_key, http_target, schedule_id, fire_time, traceparent,
            created_at, started_at, last_error, last_attempt_number, last_attempt_outcome,
            last_attempt_worker_id, last_attempt_started_at, last_attempt_finished_at, expires_at
        )
        SELECT id, tenant_id, shard, queue, job_type, priority, payload, labels, run_at, attempts,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, idempotency_key, http_target, schedule_id, fire_time, traceparent,
            created_at, started_at, $4, attempts, $5, coalesce(worker_id, ''),
            attempt_started_at, now(), now() + $6::bigint * interval '1 millisecond'
        FROM dead
        RETURNING tenant_id
        """

    static let expiredSQL = """
        WITH lease AS (
            SELECT epoch FROM gnomon_shard_leases
            WHERE shard = $1 AND epoch = $2 AND owner_node = $3 AND expires_at > now()
            FOR SHARE
        )
        SELECT id, tenant_id, lease_token FROM gnomon_jobs
        WHERE shard = $1 AND state = 'running' AND lease_expires_at <= now()
            AND EXISTS (SELECT FROM lease)
        ORDER BY lease_expires_at
        LIMIT $4
        FOR UPDATE SKIP LOCKED
        """
}
