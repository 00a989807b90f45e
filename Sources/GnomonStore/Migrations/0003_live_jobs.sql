-- Live jobs: pending, running and waiting to retry. Finished jobs leave this table (for
-- history or the dead-letter queue), so it holds only the working set and stays small.
--
-- The table is list-partitioned by shard, one partition per shard, and each shard's loop
-- reads only its own partition: its queries name the shard, so the planner prunes to one
-- partition. A job's shard is fixed when it is created and is part of its key.

CREATE TABLE gnomon_jobs (
    id uuid NOT NULL,
    tenant_id gnomon_tenant_id NOT NULL,
    shard smallint NOT NULL CHECK (shard >= 0),
    queue text NOT NULL CHECK (queue ~ '^[A-Za-z0-9._-]{1,128}$'),
    job_type text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'retry_wait')),
    -- Higher runs first among the due jobs of one tenant and queue.
    priority smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    payload jsonb NOT NULL DEFAULT 'null',
    labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    -- When the caller asked it to start; due_at is when it is next due: run_at at first,
    -- then the time of each retry.
    run_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    -- Attempts started so far; the running attempt's number while running.
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
    backoff_initial_ms bigint NOT NULL DEFAULT 1000 CHECK (backoff_initial_ms >= 0),
    backoff_max_ms bigint NOT NULL DEFAULT 3600000 CHECK (backoff_max_ms >= 0),
    backoff_multiplier double precision NOT NULL DEFAULT 2 CHECK (backoff_multiplier >= 1),
    backoff_jitter double precision NOT NULL DEFAULT 0.2 CHECK (backoff_jitter BETWEEN 0 AND 1),
    attempt_timeout_ms bigint NOT NULL DEFAULT 300000 CHECK (attempt_timeout_ms > 0),
    idempotency_key text,
    -- Set for jobs the server runs by calling an HTTP endpoint; NULL for worker jobs.
    http_target jsonb,
    -- The running attempt's lease: its token, its expiry on the database's clock, and the
    -- epoch of the shard lease under which it was claimed.
    lease_token uuid,
    lease_expires_at timestamptz,
    lease_epoch bigint,
    worker_id text,
    attempt_started_at timestamptz,
    -- When the first attempt started.
    started_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    cancel_reason text,
    schedule_id text,
    fire_time timestamptz,
    traceparent text,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shard, id),
    CHECK (
        state <> 'running'
        OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL AND lease_epoch IS NOT NULL)
    )
) PARTITION BY LIST (shard);

-- The due-job index. Serves, per shard partition:
--   the claim, FIFO:  WHERE shard = $1 AND state IN ('pending', 'retry_wait')
--                       AND due_at <= now() ORDER BY due_at LIMIT $n FOR UPDATE SKIP LOCKED
--   the next wake-up: SELECT min(due_at) ... WHERE shard = $1 AND state IN (...)
CREATE INDEX gnomon_jobs_due_idx ON gnomon_jobs (due_at)
    WHERE state IN ('pending', 'retry_wait');

-- The fair claim, one tenant and queue at a time, highest priority first:
--   WHERE shard = $1 AND tenant_id = $2 AND queue = $3 AND state IN ('pending', 'retry_wait')
--     AND due_at <= now() ORDER BY priority DESC, due_at LIMIT $n FOR UPDATE SKIP LOCKED
CREATE INDEX gnomon_jobs_queue_due_idx ON gnomon_jobs (tenant_id, queue, priority DESC, due_at)
    WHERE state IN ('pending', 'retry_wait');

-- The lease-expiry index:
--   WHERE shard = $1 AND state = 'running' AND lease_expires_at <= now()
--     ORDER BY lease_expires_at LIMIT $n FOR UPDATE SKIP LOCKED
CREATE INDEX gnomon_jobs_lease_idx ON gnomon_jobs (lease_expires_at)
    WHERE state = 'running';

-- Listing a tenant's jobs, and every tenant-scoped query: the tenant policy's own condition
-- is an index condition on this index.
CREATE INDEX gnomon_jobs_tenant_idx ON gnomon_jobs (tenant_id, created_at);

-- Label selectors: labels @> '{"key": "value"}'.
CREATE INDEX gnomon_jobs_labels_idx ON gnomon_jobs USING gin (labels jsonb_path_ops);

-- Creates the partition and the lease row of every shard from 0 to count - 1 that does not
-- exist yet, and records count as the cluster's shard count the first time. Refuses a count
-- other than the recorded one: moving a job to another shard would change its key.
--
-- Partitions are left 30% empty (fillfactor 70). Jobs churn: claimed, heartbeaten, retried
-- and deleted within seconds. A new row version goes to the page of the old one when there
-- is room, so the page is pruned on the next visit and the partition does not spread over
-- fresh pages; updates that change no indexed column (cancel_requested, last_error) are
-- HOT and add no index entries at all. Autovacuum is made eager: the partitions are small,
-- and dead tuples would otherwise slow every SKIP LOCKED scan.
CREATE FUNCTION gnomon_create_shard_partitions(shard_count integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    recorded integer;
    created integer := 0;
    jobs_schema text := (
        SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = 'gnomon_jobs'::regclass
    );
    partition_name text;
BEGIN
    IF shard_count IS NULL OR shard_count NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'the shard count must be from 1 to 1024, not %', shard_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(7453016949156347907);
    INSERT INTO gnomon_cluster (shard_count) VALUES (shard_count) ON CONFLICT DO NOTHING;
    SELECT gnomon_cluster.shard_count INTO recorded FROM gnomon_cluster;
    IF recorded <> shard_count THEN
        RAISE EXCEPTION 'this cluster has % shards, fixed when it was created; % was asked for',
            recorded, shard_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR shard IN 0 .. shard_count - 1 LOOP
        partition_name := 'gnomon_jobs_shard_' || shard;
        CONTINUE WHEN to_regclass(format('%I.%I', jobs_schema, partition_name)) IS NOT NULL;
        EXECUTE format(
            'CREATE TABLE %I.%I PARTITION OF %I.gnomon_jobs FOR VALUES IN (%s) WITH ('
                'fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, '
                'autovacuum_vacuum_threshold = 500, autovacuum_vacuum_cost_delay = 0, '
                'autovacuum_analyze_scale_factor = 0.05)',
            jobs_schema, partition_name, jobs_schema, shard
        );
        created := created + 1;
    END LOOP;

    INSERT INTO gnomon_shard_leases (shard)
        SELECT generate_series(0, shard_count - 1) ON CONFLICT DO NOTHING;
    RETURN created;
END
$$;

REVOKE ALL ON FUNCTION gnomon_create_shard_partitions(integer) FROM PUBLIC;

-- 16 shards unless the session that first migrates sets gnomon.shard_count (for example with
-- options='-c gnomon.shard_count=64' in its connection string). 16 lets up to 16 nodes share
-- the dispatch work and splits evenly over 2, 4 or 8. More shards are not free: a query that
-- cannot prune to one shard (a tenant's job list) locks every partition and each of its
-- indexes, and PostgreSQL's shared lock table holds only max_locks_per_transaction (64) times
-- max_connections entries, so at 64 shards a few dozen such queries at once would exhaust it.
SELECT gnomon_create_shard_partitions(
    coalesce(nullif(current_setting('gnomon.shard_count', true), '')::integer, 16)
);

-- Every insert, whatever its path (submission, schedule fire, redrive), wakes the loops of
-- the shards it touched: one notification per shard per statement, on channel gnomon_jobs
-- with the shard number as payload. Updates that make a job due earlier (a retry made due
-- now) notify explicitly with pg_notify('gnomon_jobs', shard::text).
CREATE FUNCTION gnomon_notify_jobs_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('gnomon_jobs', shards.shard::text)
        FROM (SELECT DISTINCT inserted.shard FROM inserted) AS shards;
    RETURN NULL;
END
$$;

CREATE TRIGGER gnomon_jobs_notify AFTER INSERT ON gnomon_jobs
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION gnomon_notify_jobs_inserted();

-- A repeat submission with the same key returns the original job while the key lives.
-- Expired keys are deleted in batches by upkeep (WHERE expires_at < now()), or replaced by
-- INSERT ... ON CONFLICT (tenant_id, key) DO UPDATE ... WHERE expires_at < now().
CREATE TABLE gnomon_idempotency_keys (
    tenant_id gnomon_tenant_id NOT NULL,
    key text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 512),
    job_id uuid NOT NULL,
    shard smallint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE INDEX gnomon_idempotency_keys_expiry_idx ON gnomon_idempotency_keys (expires_at);

ALTER TABLE gnomon_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_jobs
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_jobs TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON gnomon_jobs TO gnomon_app, gnomon_scheduler;

ALTER TABLE gnomon_idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_idempotency_keys
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_idempotency_keys TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON gnomon_idempotency_keys TO gnomon_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON gnomon_idempotency_keys TO gnomon_scheduler;
