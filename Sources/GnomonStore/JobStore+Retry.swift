public import Foundation
import GnomonCore

extension JobStore {
    /// Makes a dead, cancelled or waiting job due again now.
    ///
    /// A dead or cancelled job moves back to the live table as pending and takes a unit of
    /// the tenant's pending-jobs quota again, in the same transaction. A job waiting to retry
    /// stays where it is and becomes due now. With `resetAttempts`, attempts count from zero
    /// again; without it, a job that died of spent attempts gets one more attempt before it
    /// dies again.
    ///
    /// When the quota refuses, the job has already moved in this transaction: the transaction
    /// must roll back, as ``PostgresPool/withTenantTransaction(_:_:)`` does when its body
    /// throws, and as this call does itself when it runs outside a transaction.
    ///
    /// - Parameters:
    ///   - id: The job.
    ///   - resetAttempts: Whether attempts count from zero again.
    ///   - pendingLimit: The tenant's pending-jobs quota, defaults filled in; `nil` counts
    ///     without a limit.
    ///   - connection: The tenant's transaction, or a platform one.
    /// - Returns: The job as it is now.
    /// - Throws: ``StoreError`` with code `notFound` when there is no such job or it belongs
    ///   to another tenant, `failedPrecondition` when it is pending, running or succeeded,
    ///   `quotaExceeded` when the tenant has no room for another pending job.
    @discardableResult
    public func retry(
        _ id: UUID,
        resetAttempts: Bool = false,
        pendingLimit: Int64? = nil,
        on connection: PostgresConnection
    ) throws -> JobRecord {
        try connection.transaction { connection in
            // A job may change tables between these statements, killed or cancelled by another
            // caller; when it is retryable once looked at, it is tried again.
            for _ in 1...3 {
                if let moved = try connection.query(Self.retryFinishedSQL, [id, resetAttempts]).first {
                    try QuotaStore.takePendingJobs(
                        1, limit: pendingLimit, tenantID: try moved.string("tenant_id"), on: connection)
                    return try self.get(id, on: connection)
                }
                let waiting = try connection.query(Self.retryWaitingSQL, [self.shard(of: id), id, resetAttempts])
                let job = try self.get(id, on: connection)
                if waiting.affectedRows == 1 {
                    return job
                }
                guard Self.retryable.contains(job.state) else {
                    throw Self.notRetryable(job)
                }
            }
            throw StoreError(
                .failedPrecondition,
                "job '\(id.uuidString.lowercased())' kept changing state while it was being retried; try again"
            )
        }
    }

    private static let retryable: Set<JobState> = [.dead, .cancelled, .retryWait]

    private static func notRetryable(_ job: JobRecord) -> StoreError {
        let found: String
        switch job.state {
        case .pending: found = "is pending and runs when due"
        case .running: found = "is running; cancel it first to run it again from the start"
        case .succeeded: found = "already succeeded; submit a new job to run it again"
        case .retryWait, .dead, .cancelled: found = "is \(job.state.rawValue)"
        }
        return StoreError(
            .failedPrecondition,
            "job \(job.id.uuidString.lowercased()) \(found); only dead, cancelled or waiting (retry_wait) jobs can "
                + "be retried"
        )
    }

    /// The columns a dead letter and a history row share with a live job.
    static let restoredColumns = """
        id, tenant_id, shard, queue, job_type, priority, payload, labels, run_at, attempts,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, idempotency_key, http_target, schedule_id, fire_time, traceparent,
            created_at, started_at, last_error
        """

    /// Inserts the rows of the CTE `moved` as pending jobs, due `delay` milliseconds from now,
    /// with attempts reset when `reset` holds; both name parameters such as `$2::boolean`.
    /// Returns each job's id and tenant; the insert trigger wakes the jobs' shards.
    static func restoreSQL(reset: String, delay: String) -> String {
        """
        INSERT INTO gnomon_jobs (
            id, tenant_id, shard, queue, job_type, state, priority, payload, labels, run_at, due_at,
            attempts, max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier,
            backoff_jitter, attempt_timeout_ms, idempotency_key, http_target, schedule_id, fire_time,
            traceparent, created_at, started_at, last_error
        )
        SELECT id, tenant_id, shard, queue, job_type, 'pending', priority, payload, labels, run_at,
            now() + \(delay) * interval '1 millisecond',
            CASE WHEN \(reset) THEN 0 ELSE attempts END, max_attempts, backoff_initial_ms,
            backoff_max_ms, backoff_multiplier, backoff_jitter, attempt_timeout_ms, idempotency_key,
            http_target, schedule_id, fire_time, traceparent, created_at, started_at, last_error
        FROM moved
        RETURNING id, tenant_id
        """
    }

    /// A job is in one table at a time, so at most one of the two deletes finds it.
    static let retryFinishedSQL = """
        WITH dead AS (
            DELETE FROM gnomon_dead_letters WHERE id = $1
            RETURNING \(Self.restoredColumns)
        ),
        cancelled AS (
            DELETE FROM gnomon_job_history WHERE id = $1 AND state = 'cancelled'
            RETURNING \(Self.restoredColumns)
        ),
        moved AS (
            SELECT * FROM dead
            UNION ALL
            SELECT * FROM cancelled
        )
        \(Self.restoreSQL(reset: "$2::boolean", delay: "0"))
        """

    /// Waiting jobs are made due now, and their shard's loop woken as the schema asks for
    /// updates that make a job due earlier.
    static let retryWaitingSQL = """
        UPDATE gnomon_jobs
        SET due_at = now(), attempts = CASE WHEN $3::boolean THEN 0 ELSE attempts END
        WHERE shard = $1 AND id = $2 AND state = 'retry_wait'
        RETURNING tenant_id, pg_notify('gnomon_jobs', shard::text)
        """
}
