-- Schedules, and the record of each fire.

-- Each schedule belongs to a shard, whose loop fires it; the columns follow ScheduleSpec.
-- Every fire moves next_fire_at, an indexed column, so updates are not HOT; the fillfactor
-- still keeps each new version on its old page.
CREATE TABLE gnomon_schedules (
    tenant_id gnomon_tenant_id NOT NULL REFERENCES gnomon_tenants,
    schedule_id text NOT NULL CHECK (schedule_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    shard smallint NOT NULL CHECK (shard >= 0),
    -- A cron expression, a macro such as @daily, or an interval such as "every 90s".
    expression text NOT NULL,
    time_zone text NOT NULL DEFAULT 'UTC',
    -- The JobSpec each fire creates, as JSON.
    job_template jsonb NOT NULL,
    dst_gap_policy text NOT NULL DEFAULT 'run_after'
        CHECK (dst_gap_policy IN ('skip', 'run_after')),
    dst_overlap_policy text NOT NULL DEFAULT 'once'
        CHECK (dst_overlap_policy IN ('once', 'twice')),
    catch_up_policy text NOT NULL DEFAULT 'latest'
        CHECK (catch_up_policy IN ('skip', 'latest', 'all')),
    catch_up_limit integer NOT NULL DEFAULT 100 CHECK (catch_up_limit >= 1),
    overlap_policy text NOT NULL DEFAULT 'skip'
        CHECK (overlap_policy IN ('allow', 'skip', 'buffer_one', 'cancel_previous')),
    jitter_ms bigint NOT NULL DEFAULT 0 CHECK (jitter_ms >= 0),
    start_at timestamptz,
    end_at timestamptz,
    description text NOT NULL DEFAULT '',
    labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
    pause_reason text NOT NULL DEFAULT '',
    -- NULL when paused or ended.
    next_fire_at timestamptz,
    last_fire_at timestamptz,
    last_job_id uuid,
    -- Increases on every change; an update may name the revision it expects.
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, schedule_id)
) WITH (fillfactor = 80);

-- The due-schedule query of one shard:
--   WHERE shard = $1 AND state = 'active' AND next_fire_at <= now()
--   ORDER BY next_fire_at LIMIT $n FOR UPDATE SKIP LOCKED
-- and its next wake-up, min(next_fire_at) under the same conditions.
CREATE INDEX gnomon_schedules_due_idx ON gnomon_schedules (shard, next_fire_at)
    WHERE state = 'active' AND next_fire_at IS NOT NULL;
CREATE INDEX gnomon_schedules_labels_idx ON gnomon_schedules USING gin (labels jsonb_path_ops);

-- One row per fire time: the unique key makes a second record of the same fire fail, so a
-- schedule fires at most once per fire time even when two nodes briefly both think they own
-- its shard. fire_time is the nominal time, before jitter; fire_at includes the jitter.
-- Range-partitioned by day of fire_time like the history, and dropped with it: a fire time
-- older than the retention cannot be recorded, and catching up never goes back that far.
CREATE TABLE gnomon_schedule_fires (
    tenant_id gnomon_tenant_id NOT NULL,
    schedule_id text NOT NULL,
    fire_time timestamptz NOT NULL,
    fire_at timestamptz NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('started', 'skipped', 'buffered')),
    job_id uuid,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, schedule_id, fire_time)
) PARTITION BY RANGE (fire_time);

ALTER TABLE gnomon_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_schedules
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_schedules TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON gnomon_schedules TO gnomon_app;
GRANT SELECT, UPDATE ON gnomon_schedules TO gnomon_scheduler;

ALTER TABLE gnomon_schedule_fires ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_schedule_fires FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_schedule_fires
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_schedule_fires TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT ON gnomon_schedule_fires TO gnomon_app;
GRANT SELECT, INSERT, UPDATE ON gnomon_schedule_fires TO gnomon_scheduler;
