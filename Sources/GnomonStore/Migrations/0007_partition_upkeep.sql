-- Partition upkeep for the time-partitioned tables: job history, attempts and schedule fires
-- by day, the audit log by month, all in UTC. The upkeep leader calls
-- gnomon_maintain_partitions regularly, and every node may call it at start. It creates the
-- partitions from yesterday to some periods ahead that are missing, and drops every
-- partition that ends at or before its retention cutoff.
--
-- Creation starts at yesterday, not at the cutoff: no row can belong to a day before the
-- schema existed or before the last run, and yesterday covers a caller whose clock runs
-- ahead of the database's. Rows are stamped with the database's clock.

-- The upper bound of a range partition of a timestamptz column; NULL for MAXVALUE.
CREATE FUNCTION gnomon_partition_upper_bound(partition_oid oid) RETURNS timestamptz
    LANGUAGE sql STABLE
    AS $$
    SELECT substring(
        pg_get_expr(c.relpartbound, c.oid) FROM $re$ TO \('([^']*)'\)$re$
    )::timestamptz
    FROM pg_class c
    WHERE c.oid = partition_oid
$$;

-- Drops the partitions of schema_name.parent that end at or before cutoff.
CREATE FUNCTION gnomon_drop_partitions_before(schema_name text, parent text, cutoff timestamptz)
    RETURNS SETOF text
    LANGUAGE plpgsql
    AS $$
DECLARE
    expired record;
BEGIN
    FOR expired IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = format('%I.%I', schema_name, parent)::regclass
            AND gnomon_partition_upper_bound(c.oid) <= cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I.%I', schema_name, expired.relname);
        RETURN NEXT expired.relname;
    END LOOP;
END
$$;

-- Creates the missing partitions of schema_name.parent, one per period ('day' or 'month'),
-- for the periods from the one holding first_at to the one holding last_at.
CREATE FUNCTION gnomon_create_partitions(
    schema_name text,
    parent text,
    period text,
    first_at timestamptz,
    last_at timestamptz
) RETURNS SETOF text
    LANGUAGE plpgsql
    AS $$
DECLARE
    step interval := ('1 ' || period)::interval;
    suffix_format text := CASE period WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END;
    start_at timestamp;
    child_name text;
BEGIN
    FOR start_at IN
        SELECT generate_series(
            date_trunc(period, first_at AT TIME ZONE 'UTC'),
            date_trunc(period, last_at AT TIME ZONE 'UTC'),
            step
        )
    LOOP
        child_name := parent || '_' || to_char(start_at, suffix_format);
        CONTINUE WHEN to_regclass(format('%I.%I', schema_name, child_name)) IS NOT NULL;
        EXECUTE format(
            'CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
            schema_name, child_name, schema_name, parent,
            start_at AT TIME ZONE 'UTC', (start_at + step) AT TIME ZONE 'UTC'
        );
        RETURN NEXT child_name;
    END LOOP;
END
$$;

-- Brings every time-partitioned table up to date as of at_time, and returns what it created
-- and dropped, one row per partition. Idempotent, and safe to run on several nodes at once:
-- runs take turns under a transaction-level advisory lock, so a second run finds the work
-- done and returns no rows. It is SECURITY DEFINER because creating and dropping partitions
-- needs the owner's rights; gnomon_scheduler may call it and nothing else of the owner's.
-- lock_timeout keeps a DROP that waits behind a long query from stalling everything queued
-- behind it; the caller retries on the next round.
CREATE FUNCTION gnomon_maintain_partitions(
    at_time timestamptz,
    retention interval DEFAULT '14 days',
    days_ahead integer DEFAULT 3,
    audit_retention interval DEFAULT '1 year',
    months_ahead integer DEFAULT 2
) RETURNS TABLE (action text, partition_name text)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET lock_timeout = '10s'
    SET timezone = 'UTC'
    SET datestyle = 'ISO, YMD'
    AS $$
DECLARE
    schema_name text := (
        SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = 'gnomon_job_history'::regclass
    );
    daily text;
    yesterday timestamptz := at_time - interval '1 day';
BEGIN
    IF at_time IS NULL OR retention IS NULL OR retention < interval '1 day'
        OR audit_retention IS NULL OR audit_retention < interval '1 day' THEN
        RAISE EXCEPTION 'retentions must be at least one day (got % and %)',
            retention, audit_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF days_ahead IS NULL OR days_ahead NOT BETWEEN 1 AND 366
        OR months_ahead IS NULL OR months_ahead NOT BETWEEN 1 AND 24 THEN
        RAISE EXCEPTION 'days_ahead must be 1 to 366 and months_ahead 1 to 24 (got % and %)',
            days_ahead, months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(7453016949156347906);

    FOREACH daily IN ARRAY
        ARRAY['gnomon_job_history', 'gnomon_job_attempts', 'gnomon_schedule_fires']
    LOOP
        RETURN QUERY SELECT 'dropped', dropped
            FROM gnomon_drop_partitions_before(schema_name, daily, at_time - retention) AS dropped;
        RETURN QUERY SELECT 'created', created
            FROM gnomon_create_partitions(
                schema_name, daily, 'day', yesterday, at_time + days_ahead * interval '1 day'
            ) AS created;
    END LOOP;

    RETURN QUERY SELECT 'dropped', dropped
        FROM gnomon_drop_partitions_before(
            schema_name, 'gnomon_audit_log', at_time - audit_retention
        ) AS dropped;
    RETURN QUERY SELECT 'created', created
        FROM gnomon_create_partitions(
            schema_name, 'gnomon_audit_log', 'month', yesterday,
            at_time + months_ahead * interval '1 month'
        ) AS created;
END
$$;

-- A SECURITY DEFINER function must not find objects through a caller's search path or
-- temporary schema: pin it to the schema these migrations run in, with pg_temp last.
DO $pin$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION '
            'gnomon_maintain_partitions(timestamptz, interval, integer, interval, integer) '
            'SET search_path = %I, pg_temp',
        current_schema()
    );
END
$pin$;

REVOKE ALL ON FUNCTION gnomon_partition_upper_bound(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION gnomon_drop_partitions_before(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION gnomon_create_partitions(text, text, text, timestamptz, timestamptz)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION
    gnomon_maintain_partitions(timestamptz, interval, integer, interval, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    gnomon_maintain_partitions(timestamptz, interval, integer, interval, integer)
    TO gnomon_scheduler;

SELECT count(*) FROM gnomon_maintain_partitions(now());
