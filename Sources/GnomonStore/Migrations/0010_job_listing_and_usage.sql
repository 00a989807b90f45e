-- Listing every job and the dead-letter queue, and counting live and running jobs.
--
-- A tenant's job list reads gnomon_jobs, gnomon_job_history and gnomon_dead_letters newest
-- first by (created_at, id), each along a (tenant_id, created_at) index; dead letters lacked
-- one. A dead-letter list without a queue reads the most recently dead first.
CREATE INDEX gnomon_dead_letters_tenant_idx ON gnomon_dead_letters (tenant_id, created_at);
CREATE INDEX gnomon_dead_letters_dead_idx ON gnomon_dead_letters (tenant_id, dead_at);

-- From this version on, the statements that insert, claim, finish, cancel and retry jobs keep
-- gnomon_tenant_usage.live_jobs and running_jobs in step with gnomon_jobs. Jobs written
-- before were never counted, so they are counted once here. Both tables force row-level
-- security on their owner as well, which would hide every row from this recount; the owner
-- lifts that for the recount and forces it again, within this migration's transaction.
ALTER TABLE gnomon_tenant_usage NO FORCE ROW LEVEL SECURITY;
ALTER TABLE gnomon_jobs NO FORCE ROW LEVEL SECURITY;

UPDATE gnomon_tenant_usage AS u
SET live_jobs = (SELECT count(*) FROM gnomon_jobs AS j WHERE j.tenant_id = u.tenant_id),
    running_jobs = (
        SELECT count(*) FROM gnomon_jobs AS j WHERE j.tenant_id = u.tenant_id AND j.state = 'running'
    );

ALTER TABLE gnomon_jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE gnomon_tenant_usage FORCE ROW LEVEL SECURITY;
