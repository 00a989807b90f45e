-- Per-queue concurrency limits, and counting what runs without reading what waits.
--
-- A queue's max_running bounds its attempts running at once across every worker and node;
-- zero means no limit. Claimers of a limited queue lock its row, count its running attempts
-- and claim no more than the room left, so the limit holds exactly.
ALTER TABLE gnomon_queues
    ADD COLUMN max_running integer NOT NULL DEFAULT 0 CHECK (max_running >= 0 AND max_running <= 100000);

-- Running attempts by tenant, queue and worker: the lease streams count a worker's attempts
-- and a limited queue's on every claim, and a queue with a million pending jobs must not make
-- either count read them. Only running rows are indexed, so the index stays small.
CREATE INDEX gnomon_jobs_running_idx ON gnomon_jobs (tenant_id, queue, worker_id) WHERE state = 'running';
