-- Submission rate limits shared by every node, and the audit log's newest-first order.

-- One token bucket per tenant and limit ('submit' for job submissions), refilled at the
-- tenant's rate up to its burst. Every node takes tokens from the same row with one
-- conditional update, so the row lock serializes the takers and the limit holds across nodes
-- exactly. Time is the database's clock_timestamp(), read when the update runs (after any
-- wait for the row), never a node's clock and never now(), which is when the transaction
-- began and may be earlier than the last take.
--
-- The rate and the burst are not stored: they are the tenant's quotas with the deployment's
-- defaults filled in, passed with each take, so a changed quota applies at the next take.
-- A bucket is created by its first take, full: tokens starts at infinity, which that take
-- caps at the burst.
--
-- Buckets are kept apart from gnomon_tenant_usage so that a take made in a short transaction
-- of its own never waits for a submission that holds the usage row's lock until it commits.
-- No column is indexed and pages are left half empty, so takes are HOT updates.
CREATE TABLE gnomon_rate_buckets (
    tenant_id gnomon_tenant_id NOT NULL REFERENCES gnomon_tenants,
    bucket text NOT NULL CHECK (bucket ~ '^[a-z][a-z_]{0,31}$'),
    tokens double precision NOT NULL DEFAULT 'Infinity'
        CHECK (tokens >= 0 AND tokens <> 'NaN'),
    refilled_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, bucket)
) WITH (fillfactor = 50);

ALTER TABLE gnomon_rate_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_rate_buckets FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_rate_buckets
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_rate_buckets TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON gnomon_rate_buckets TO gnomon_app, gnomon_scheduler;

-- Platform administrators list every tenant's audit records newest first, a page at a time:
--   WHERE (at, id) < ($at, $id) ORDER BY at DESC, id DESC LIMIT $n
-- Each monthly partition gets its part of this index, and the pages merge them in order.
CREATE INDEX gnomon_audit_log_at_idx ON gnomon_audit_log (at, id);
