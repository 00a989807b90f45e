-- Roles, tenants, their quotas and usage, and their queues.
--
-- Three roles touch these tables:
--   * the owner: whoever runs the migrations. It owns every table and function and nothing
--     else connects as it once the server is up.
--   * gnomon_app: tenant-scoped work (RPC handlers). It owns nothing, is no superuser and
--     lacks BYPASSRLS, so every row it reads or writes passes the tenant policies below.
--     Each transaction names its tenant with set_config('gnomon.tenant_id', $1, true), which
--     is transaction-local: a pooled connection never carries a tenant into its next use.
--   * gnomon_scheduler: the engine's cross-tenant work (shard loops, leader upkeep, platform
--     administration). It has no BYPASSRLS either. Each table it must cross tenants on grants
--     it a policy of its own, so what it can see is listed table by table; secrets are not
--     among them, and audit rows stay append-only for it too.
-- A policy keyed on a setting such as gnomon.role = 'scheduler' was rejected: any session
-- may set any custom setting, so it would be no boundary at all. BYPASSRLS was rejected
-- because it opens every table at once and only a superuser may grant it.
--
-- Both roles are created NOLOGIN: the server logs in as a role that is a member of them and
-- switches with SET ROLE when it opens a connection. An administrator may instead give them
-- LOGIN and a password and let the server log in as them, which is stronger still: such a
-- session has no RESET ROLE back to the owner. Roles belong to the whole PostgreSQL cluster,
-- so they may already exist, created by an earlier database or by an administrator; they
-- are checked rather than trusted.

DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['gnomon_app', 'gnomon_scheduler'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format(
                    'CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE',
                    role_name
                );
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                -- Another database's migration created it at the same moment.
                NULL;
            END;
        END IF;
        IF EXISTS (
            SELECT FROM pg_roles WHERE rolname = role_name AND (rolsuper OR rolbypassrls)
        ) THEN
            RAISE EXCEPTION 'role % is a superuser or has BYPASSRLS', role_name
                USING HINT = 'row-level security needs it to be neither: ALTER ROLE '
                    || role_name || ' NOSUPERUSER NOBYPASSRLS';
        END IF;
        IF NOT pg_has_role(current_user, role_name, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', role_name, current_user);
        END IF;
    END LOOP;
END
$roles$;

-- 1 to 63 characters of [a-z0-9-], starting with a letter. The empty string is never a
-- tenant: current_setting() returns '' once a transaction-local setting has ended.
CREATE DOMAIN gnomon_tenant_id AS text
    CHECK (VALUE ~ '^[a-z][a-z0-9-]{0,62}$');

-- The tenant of the current transaction, or NULL when none was set. Written in SQL so that
-- the planner inlines it and tenant policies can use indexes on tenant_id.
CREATE FUNCTION gnomon_current_tenant() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('gnomon.tenant_id', true), '') $$;

-- Quotas are stored as the administrator set them: zero means the deployment's default.
CREATE TABLE gnomon_tenants (
    tenant_id gnomon_tenant_id PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    disabled_reason text NOT NULL DEFAULT '',
    submit_rate_per_second double precision NOT NULL DEFAULT 0
        CHECK (submit_rate_per_second >= 0),
    submit_burst bigint NOT NULL DEFAULT 0 CHECK (submit_burst >= 0),
    max_pending_jobs bigint NOT NULL DEFAULT 0 CHECK (max_pending_jobs >= 0),
    max_schedules bigint NOT NULL DEFAULT 0 CHECK (max_schedules >= 0),
    max_payload_bytes bigint NOT NULL DEFAULT 0 CHECK (max_payload_bytes >= 0),
    max_concurrent_runs bigint NOT NULL DEFAULT 0 CHECK (max_concurrent_runs >= 0),
    max_secrets bigint NOT NULL DEFAULT 0 CHECK (max_secrets >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What each tenant uses now, one row per tenant. Quotas are taken with a conditional update
-- (SET live_jobs = live_jobs + $n WHERE live_jobs + $n <= $max) in the same transaction as
-- the change being counted, so two racing requests cannot both take the last unit.
-- The counters change constantly and none is indexed: the low fillfactor leaves room on each
-- page for HOT updates, which need no index maintenance and are pruned without vacuum.
CREATE TABLE gnomon_tenant_usage (
    tenant_id gnomon_tenant_id PRIMARY KEY REFERENCES gnomon_tenants,
    live_jobs bigint NOT NULL DEFAULT 0 CHECK (live_jobs >= 0),
    running_jobs bigint NOT NULL DEFAULT 0 CHECK (running_jobs >= 0),
    schedules bigint NOT NULL DEFAULT 0 CHECK (schedules >= 0),
    secrets bigint NOT NULL DEFAULT 0 CHECK (secrets >= 0)
) WITH (fillfactor = 50);

CREATE FUNCTION gnomon_create_tenant_usage() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO gnomon_tenant_usage (tenant_id) VALUES (NEW.tenant_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER gnomon_tenants_usage AFTER INSERT ON gnomon_tenants
    FOR EACH ROW EXECUTE FUNCTION gnomon_create_tenant_usage();

CREATE TABLE gnomon_queues (
    tenant_id gnomon_tenant_id NOT NULL REFERENCES gnomon_tenants,
    name text NOT NULL CHECK (name ~ '^[A-Za-z0-9._-]{1,128}$'),
    paused boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

ALTER TABLE gnomon_tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_tenants
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_tenants TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT ON gnomon_tenants TO gnomon_app;
GRANT SELECT, INSERT, UPDATE ON gnomon_tenants TO gnomon_scheduler;

ALTER TABLE gnomon_tenant_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_tenant_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_tenant_usage
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_tenant_usage TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE ON gnomon_tenant_usage TO gnomon_app;
GRANT SELECT, INSERT, UPDATE ON gnomon_tenant_usage TO gnomon_scheduler;

ALTER TABLE gnomon_queues ENABLE ROW LEVEL SECURITY;
ALTER TABLE gnomon_queues FORCE ROW LEVEL SECURITY;
CREATE POLICY gnomon_tenant_isolation ON gnomon_queues
    USING (tenant_id = gnomon_current_tenant())
    WITH CHECK (tenant_id = gnomon_current_tenant());
CREATE POLICY gnomon_scheduler_access ON gnomon_queues TO gnomon_scheduler
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON gnomon_queues TO gnomon_app;
GRANT SELECT, INSERT, UPDATE ON gnomon_queues TO gnomon_scheduler;
