-- Secrets, stored encrypted, and the audit log.

-- Only ciphertext: the value is sealed with AES-256-GCM under a per-secret data key, bound
-- to tenant and name as additional data; the data key is stored wrapped by the key named by
-- key_id, so keys rotate by re-wrapping data keys. ciphertext includes the 16-byte GCM tag.
CREATE TABLE gnomon_secrets (
    tenant_id gnomon_tenant_id NOT NULL REFERENCES gnomon_tenants,
    name text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,128}$'),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) >= 16),
    nonce bytea NOT NULL CHECK (octet_length(nonce) = 12),
    wrapped_data_key bytea NOT NULL CHECK (octet_length(wrapped_data_key) > 0),
    key_id text NOT NULL CHECK (key_id <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- Who did what to which resource, and how it ended. tenant_id is NULL for calls that named
-- no valid tenant and for platform administration; only gnomon_scheduler sees those rows.
-- Range-partitioned by month of at (UTC), kept longer than job history.
CREATE TABLE gnomon_audit_log (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id gnomon_tenant_id,
    actor text NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    method text NOT NULL,
    resource_type text NOT NULL DEFAULT '',
    resource_id text NOT NULL DEFAULT '',
    outcome text NOT NULL CHECK (outcome IN ('succeeded', 'denied', 'failed')),
    status_code integer NOT NULL,
    request_id text NOT NULL DEFAULT '',
    client_address text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);

CREATE INDEX gnomon_audit_log_tenant_idx ON gnomon_audit_log (tenant_id, at);

-- Append-only for everyone, the owner included; retention drops whole partitions, which
-- these triggers do not see. The roles are not granted UPDATE or DELETE either, so they are
-- refused before the trigger runs.
CREATE FUNCTION gnomon_refuse_audit_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER gnomon_audit_log_append_only BEFORE UPDATE OR DELETE ON gnomon_audit_log
    FOR EACH ROW EXECUTE FUNCTION gnomon_refuse_audit_change();

ALTER TABLE gnomon_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_secrets
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
-- No policy for gnomon_scheduler: dispatch resolves a job's secrets with the job's tenant
-- set, so a dispatch bug cannot hand one tenant's secret to another tenant's job.
GRANT SELECT, INSERT, UPDATE, DELETE ON gnomon_secrets TO gnomon_app;
GRANT SELECT ON gnomon_secrets TO gnomon_scheduler;

ALTER TABLE gnomon_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_audit_log
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_audit_log TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON gnomon_audit_log TO gnomon_app, gnomon_scheduler;
