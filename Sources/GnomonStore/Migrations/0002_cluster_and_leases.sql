-- The cluster's fixed settings, its nodes, and the leases that give each shard and the
-- upkeep leadership to one node at a time.
--
-- None of these rows belongs to a tenant, so they have no row-level security. gnomon_app may
-- read the cluster's settings (a new job's shard depends on the shard count) and nothing more.

-- One row, written once when the live jobs table is first partitioned (migration 3).
CREATE TABLE gnomon_cluster (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id uuid NOT NULL DEFAULT gen_random_uuid(),
    -- Fixed for the life of the cluster: a job's shard is part of its live row's key.
    shard_count integer NOT NULL CHECK (shard_count BETWEEN 1 AND 1024),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Heartbeats touch no indexed column, so with room left on each page they are HOT updates.
CREATE TABLE gnomon_nodes (
    node_id text PRIMARY KEY CHECK (node_id <> ''),
    address text NOT NULL DEFAULT '',
    version text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

-- One row per shard, created with the shard's partition. A node holds a shard while
-- expires_at, measured on the database's clock, is in the future. Every write a shard loop
-- makes names the epoch it holds, so a node that lost the lease cannot write.
CREATE TABLE gnomon_shard_leases (
    shard smallint PRIMARY KEY CHECK (shard >= 0),
    owner_node text,
    epoch bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    acquired_at timestamptz
) WITH (fillfactor = 50);

-- One row: the node that runs upkeep (partitions, retention, rebalancing).
CREATE TABLE gnomon_leader_lease (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    owner_node text,
    epoch bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    acquired_at timestamptz
) WITH (fillfactor = 50);

INSERT INTO gnomon_leader_lease DEFAULT VALUES;

-- The fencing epoch is kept by the database, not by each caller: it increases whenever the
-- owner changes and whenever a lapsed lease is taken again, even by its last owner, whose
-- old writes must not be accepted after a pause. A renewal of a live lease keeps it.
CREATE FUNCTION gnomon_advance_lease_epoch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.owner_node IS DISTINCT FROM OLD.owner_node OR OLD.expires_at <= now() THEN
        NEW.epoch := OLD.epoch + 1;
        NEW.acquired_at := now();
    ELSIF NEW.epoch <> OLD.epoch THEN
        RAISE EXCEPTION 'a lease epoch changes only when the lease changes hands'
            USING ERRCODE = 'check_violation',
                HINT = 'update owner_node and expires_at; the epoch follows';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER gnomon_shard_leases_epoch BEFORE UPDATE ON gnomon_shard_leases
    FOR EACH ROW EXECUTE FUNCTION gnomon_advance_lease_epoch();
CREATE TRIGGER gnomon_leader_lease_epoch BEFORE UPDATE ON gnomon_leader_lease
    FOR EACH ROW EXECUTE FUNCTION gnomon_advance_lease_epoch();

GRANT SELECT ON gnomon_cluster TO gnomon_app, gnomon_scheduler;
GRANT SELECT, INSERT, UPDATE, DELETE ON gnomon_nodes TO gnomon_scheduler;
GRANT SELECT, UPDATE ON gnomon_shard_leases TO gnomon_scheduler;
GRANT SELECT, UPDATE ON gnomon_leader_lease TO gnomon_scheduler;
