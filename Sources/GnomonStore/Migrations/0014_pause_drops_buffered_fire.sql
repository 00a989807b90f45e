-- Pausing a schedule drops the fire its buffer_one overlap policy held back. The pause runs
-- as gnomon_app in the schedule's tenant, and records that fire as skipped: it may change the
-- outcome of its own tenant's fire rows (row-level security keeps it to them), nothing else.
GRANT UPDATE (outcome) ON gnomon_schedule_fires TO gnomon_app;
