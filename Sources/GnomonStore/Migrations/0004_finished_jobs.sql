-- Finished jobs and attempts, and the dead-letter queue.
--
-- History is append-only and range-partitioned by day of finished_at (UTC). Retention drops
-- whole partitions, so old rows cost no DELETE and no vacuum. Partitions are created ahead
-- and dropped by gnomon_maintain_partitions (migration 7).
--
-- Dead jobs do not go to history: they live in gnomon_dead_letters until redriven or until
-- their expires_at. That table is mutable (a redrive deletes the row and inserts the job into
-- gnomon_jobs again), its retention is its own rather than the history's, and listing it by
-- queue or labels must not scan every day of history. A job is therefore always in exactly
-- one place: gnomon_jobs while live, gnomon_dead_letters while dead, gnomon_job_history once
-- succeeded or cancelled.

CREATE TABLE gnomon_job_history (
    id uuid NOT NULL,
    tenant_id gnomon_tenant_id NOT NULL,
    shard smallint NOT NULL,
    queue text NOT NULL,
    job_type text NOT NULL,
    state text NOT NULL CHECK (state IN ('succeeded', 'cancelled')),
    priority smallint NOT NULL,
    payload jsonb NOT NULL,
    labels jsonb NOT NULL,
    run_at timestamptz NOT NULL,
    attempts integer NOT NULL,
    max_attempts integer NOT NULL,
    backoff_initial_ms bigint NOT NULL,
    backoff_max_ms bigint NOT NULL,
    backoff_multiplier double precision NOT NULL,
    backoff_jitter double precision NOT NULL,
    attempt_timeout_ms bigint NOT NULL,
    idempotency_key text,
    http_target jsonb,
    schedule_id text,
    fire_time timestamptz,
    traceparent text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz NOT NULL,
    last_error text,
    result jsonb,
    cancel_reason text,
    PRIMARY KEY (id, finished_at)
) PARTITION BY RANGE (finished_at);

CREATE INDEX gnomon_job_history_tenant_idx ON gnomon_job_history (tenant_id, created_at);
CREATE INDEX gnomon_job_history_labels_idx ON gnomon_job_history
    USING gin (labels jsonb_path_ops);

-- Finished attempts only; a running attempt is described by its job's live row. Attempt
-- numbers start again at 1 when a job is redriven with its attempts reset, so
-- (job_id, number) is not unique.
CREATE TABLE gnomon_job_attempts (
    tenant_id gnomon_tenant_id NOT NULL,
    job_id uuid NOT NULL,
    number integer NOT NULL CHECK (number >= 1),
    outcome text NOT NULL
        CHECK (outcome IN ('succeeded', 'failed', 'failed_final', 'timed_out', 'cancelled')),
    worker_id text NOT NULL DEFAULT '',
    lease_token uuid,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    error_message text,
    -- The HTTP status of a push attempt; NULL for worker attempts.
    http_status integer
) PARTITION BY RANGE (finished_at);

CREATE INDEX gnomon_job_attempts_job_idx ON gnomon_job_attempts (job_id, started_at);

CREATE TABLE gnomon_dead_letters (
    id uuid PRIMARY KEY,
    tenant_id gnomon_tenant_id NOT NULL,
    shard smallint NOT NULL,
    queue text NOT NULL,
    job_type text NOT NULL,
    priority smallint NOT NULL,
    payload jsonb NOT NULL,
    labels jsonb NOT NULL,
    run_at timestamptz NOT NULL,
    attempts integer NOT NULL,
    max_attempts integer NOT NULL,
    backoff_initial_ms bigint NOT NULL,
    backoff_max_ms bigint NOT NULL,
    backoff_multiplier double precision NOT NULL,
    backoff_jitter double precision NOT NULL,
    attempt_timeout_ms bigint NOT NULL,
    idempotency_key text,
    http_target jsonb,
    schedule_id text,
    fire_time timestamptz,
    traceparent text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    last_error text,
    -- The attempt that killed it, kept here because attempt history may be dropped first.
    last_attempt_number integer NOT NULL,
    last_attempt_outcome text NOT NULL,
    last_attempt_worker_id text NOT NULL DEFAULT '',
    last_attempt_started_at timestamptz NOT NULL,
    last_attempt_finished_at timestamptz NOT NULL,
    last_attempt_http_status integer,
    dead_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX gnomon_dead_letters_queue_idx ON gnomon_dead_letters (tenant_id, queue, dead_at);
CREATE INDEX gnomon_dead_letters_expiry_idx ON gnomon_dead_letters (expires_at);
CREATE INDEX gnomon_dead_letters_labels_idx ON gnomon_dead_letters
    USING gin (labels jsonb_path_ops);

ALTER TABLE gnomon_job_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_job_history FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_job_history
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_job_history TO gnomon_scheduler
    USING (true) WITH CHECK (true);
-- DELETE: retrying a cancelled job moves it back to gnomon_jobs.
GRANT SELECT, INSERT, DELETE ON gnomon_job_history TO gnomon_app, gnomon_scheduler;

ALTER TABLE gnomon_job_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_job_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_job_attempts
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_job_attempts TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON gnomon_job_attempts TO gnomon_app, gnomon_scheduler;

ALTER TABLE gnomon_dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_dead_letters
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_dead_letters TO gnomon_scheduler
    USING (true) WITH CHECK (true);
-- Redriving deletes the row and inserts the job into gnomon_jobs again.
GRANT SELECT, INSERT, DELETE ON gnomon_dead_letters TO gnomon_app, gnomon_scheduler;
