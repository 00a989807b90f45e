-- The key that seals pagination cursors (next_page_token), shared by every node so that a
-- cursor one node issued works on another. 32 bytes from two random UUIDs: 244 random bits
-- from PostgreSQL's strong random source, without the pgcrypto extension.
ALTER TABLE gnomon_cluster ADD COLUMN cursor_key bytea NOT NULL
    DEFAULT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');

-- The application role keeps reading the cluster's settings, but not the key: only the
-- schema owner, which gnomond connects as, reads it at start.
REVOKE SELECT ON gnomon_cluster FROM gnomon_app, gnomon_scheduler;
GRANT SELECT (singleton, cluster_id, shard_count, created_at) ON gnomon_cluster TO gnomon_app, gnomon_scheduler;
