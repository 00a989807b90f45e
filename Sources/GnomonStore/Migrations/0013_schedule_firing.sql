-- Schedule firing by the shard loops.
--
-- next_fire_at stays the nominal next fire time that callers see; next_due_at is when the
-- loop acts on it, the fire time plus its jitter (set by the loop, which computes the jitter),
-- or now when a buffered fire may start. Both are NULL while paused or after the end.
-- buffered_fire_time is a fire held back by the buffer_one overlap policy until the job of
-- the last fire ends.
ALTER TABLE gnomon_schedules
    ADD COLUMN next_due_at timestamptz,
    ADD COLUMN buffered_fire_time timestamptz;
UPDATE gnomon_schedules SET next_due_at = next_fire_at WHERE state = 'active';

-- The due-schedule query of one shard:
--   WHERE shard = $1 AND state = 'active' AND next_due_at <= now()
--   ORDER BY next_due_at LIMIT $n FOR UPDATE SKIP LOCKED
-- and its next wake-up, min(next_due_at) under the same conditions.
DROP INDEX gnomon_schedules_due_idx;
CREATE INDEX gnomon_schedules_due_idx ON gnomon_schedules (shard, next_due_at)
    WHERE state = 'active' AND next_due_at IS NOT NULL;

-- When the job of a schedule's last fire ends (it leaves gnomon_jobs: succeeded, dead,
-- cancelled), a fire buffered behind it is due at once, and the shard's loop is woken.
-- It runs with the rights of whoever ends the job: gnomon_app in the job's tenant, whose
-- row-level security shows it the schedule, or gnomon_scheduler, which sees every schedule.
CREATE FUNCTION gnomon_release_buffered_fire() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    released_shard smallint;
BEGIN
    UPDATE gnomon_schedules SET next_due_at = now()
    WHERE tenant_id = OLD.tenant_id AND schedule_id = OLD.schedule_id AND last_job_id = OLD.id
        AND buffered_fire_time IS NOT NULL AND state = 'active'
    RETURNING shard INTO released_shard;
    IF released_shard IS NOT NULL THEN
        PERFORM pg_notify('gnomon_schedules', released_shard::text);
    END IF;
    RETURN NULL;
END;
$$;
DO $pin$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION gnomon_release_buffered_fire() SET search_path = %I, pg_temp', current_schema());
END
$pin$;

CREATE TRIGGER gnomon_jobs_release_buffered_fire AFTER DELETE ON gnomon_jobs
    FOR EACH ROW WHEN (OLD.schedule_id IS NOT NULL)
    EXECUTE FUNCTION gnomon_release_buffered_fire();
