public import Foundation
import GnomonCore

extension JobStore {
    /// The channel a cancellation of a running job is announced on, with the job's id as
    /// payload, when its transaction commits: the node streaming the attempt's lease to a
    /// worker listens there to tell the worker to stop.
    public static let cancellationChannel = "gnomon_job_cancels"

    /// The longest cancel reason kept, in characters.
    public static let maximumCancelReasonLength = 1_024

    /// Cancels a live job: it leaves the live table for history as cancelled, at once.
    ///
    /// A pending or waiting job simply never runs. A running job's attempt ends as cancelled
    /// and its lease is revoked with it: the worker's heartbeat, completion or failure with
    /// the old token is refused and changes nothing, and a notification on
    /// ``cancellationChannel`` tells the node streaming the lease. The job's unit of the
    /// tenant's pending-jobs count, and of its running count when it ran, is given back in
    /// the same statement.
    ///
    /// Cancelling does not wait for the worker (`cancel_requested` stays unused): the caller
    /// learns the final state now, and a job whose worker vanished is cancelled all the same.
    /// A cancel racing the worker's completion resolves to exactly one of the two: whichever
    /// removes the live row first wins, and the other finds the job finished.
    ///
    /// In a transaction that also inserts jobs for the tenant, cancel first: an insert holds
    /// the tenant's usage row, which a cancel takes after the job's row.
    ///
    /// - Parameters:
    ///   - id: The job.
    ///   - reason: Why, kept with the job; at most ``maximumCancelReasonLength`` characters.
    ///   - connection: The tenant's transaction, or a platform one.
    /// - Returns: The job as cancelled.
    /// - Throws: ``StoreError`` with code `notFound` when there is no such job or it belongs
    ///   to another tenant, `failedPrecondition` when it already succeeded, died or was
    ///   cancelled, `invalidArgument` for a reason that is too long.
    @discardableResult
    public func cancel(_ id: UUID, reason: String, on connection: PostgresConnection) throws -> JobRecord {
        guard reason.count <= Self.maximumCancelReasonLength else {
            throw StoreError(
                .invalidArgument,
                "the cancel reason is \(reason.count) characters long; expected at most "
                    + "\(Self.maximumCancelReasonLength)"
            )
        }
        return try connection.transaction { connection in
            // A job that is finished when looked for may be live again a moment later, retried
            // by another caller; then the cancel is tried again.
            for _ in 1...3 {
                if let cancelled = try connection.query(Self.cancelSQL, [self.shard(of: id), id, reason]).first {
                    if cancelled["previous_state"] == JobState.running.rawValue {
                        try connection.notify(Self.cancellationChannel, payload: id.uuidString.lowercased())
                    }
                    return try self.get(id, on: connection)
                }
                let job = try self.get(id, on: connection)
                if job.state.isFinished {
                    throw Self.notCancellable(job)
                }
            }
            throw StoreError(
                .failedPrecondition,
                "job '\(id.uuidString.lowercased())' kept changing state while it was being cancelled; try again"
            )
        }
    }

    private static func notCancellable(_ job: JobRecord) -> StoreError {
        let found: String
        switch job.state {
        case .succeeded: found = "already succeeded"
        case .dead: found = "is dead, in the dead-letter queue"
        case .cancelled: found = "was already cancelled"
        case .pending, .running, .retryWait: found = "is \(job.state.rawValue)"
        }
        return StoreError(
            .failedPrecondition,
            "job \(job.id.uuidString.lowercased()) \(found); only pending, waiting or running jobs can be cancelled"
        )
    }

    /// Deletes the live row whatever its state, records the running attempt as cancelled,
    /// writes the history row and gives back the tenant's counts, all or nothing.
    static let cancelSQL = """
        WITH cancelled AS (
            DELETE FROM gnomon_jobs
            WHERE shard = $1 AND id = $2
            RETURNING *
        ),
        attempt AS (
            INSERT INTO gnomon_job_attempts (
                tenant_id, job_id, number, outcome, worker_id, lease_token, started_at, finished_at,
                error_message
            )
            SELECT tenant_id, id, attempts, 'cancelled', coalesce(worker_id, ''), lease_token,
                attempt_started_at, now(), nullif($3, '')
            FROM cancelled
            WHERE state = 'running'
        ),
        history AS (
            INSERT INTO gnomon_job_history (
                id, tenant_id, shard, queue, job_type, state, priority, payload, labels, run_at,
                attempts, max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier,
                backoff_jitter, attempt_timeout_ms, idempotency_key, http_target, schedule_id,
                fire_time, traceparent, created_at, started_at, finished_at, last_error, cancel_reason
            )
            SELECT id, tenant_id, shard, queue, job_type, 'cancelled', priority, payload, labels, run_at,
                attempts, max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier,
                backoff_jitter, attempt_timeout_ms, idempotency_key, http_target, schedule_id,
                fire_time, traceparent, created_at, started_at, now(), last_error, $3
            FROM cancelled
        ),
        usage AS (
            UPDATE gnomon_tenant_usage AS u
            SET live_jobs = greatest(0, u.live_jobs - 1),
                running_jobs = greatest(0, u.running_jobs - (c.state = 'running')::integer)
            FROM cancelled AS c
            WHERE u.tenant_id = c.tenant_id
        )
        SELECT state AS previous_state FROM cancelled
        """
}
