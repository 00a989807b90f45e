/// The claim and complete statements of ``RawClaimLoop``.
///
/// Copies of `JobStore.claimSQL` and `JobStore.completeSQL`, which are internal to the store
/// module. The two must stay in step: ``StoreBenchmark`` compares them with the statements
/// `JobStore` prepared on its connection and refuses to report a ratio when they differ.
enum RawStatements {
    static let claim = """
        WITH lease AS (
            SELECT epoch FROM gnomon_shard_leases
            WHERE shard = $1 AND epoch = $2 AND owner_node = $3 AND expires_at > now()
            FOR SHARE
        ),
        due AS (
            SELECT id FROM gnomon_jobs
            WHERE shard = $1 AND state IN ('pending', 'retry_wait') AND due_at <= now()
                AND ($5::text[] IS NULL OR queue = ANY($5::text[]))
                AND EXISTS (SELECT FROM lease)
            ORDER BY due_at
            LIMIT $4
            FOR UPDATE SKIP LOCKED
        )
        UPDATE gnomon_jobs AS j
        SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(),
            lease_expires_at = now() + j.attempt_timeout_ms * interval '1 millisecond',
            lease_epoch = $2, worker_id = $6, attempt_started_at = now(),
            started_at = coalesce(j.started_at, now())
        FROM due
        WHERE j.shard = $1 AND j.id = due.id
        RETURNING j.id, j.tenant_id, j.queue, j.job_type, j.payload, j.attempts, j.lease_token,
            (extract(epoch FROM j.lease_expires_at - now()) * 1000)::bigint AS remaining_ms,
            j.idempotency_key, j.http_target, j.traceparent
        """

    static let complete = """
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
}
