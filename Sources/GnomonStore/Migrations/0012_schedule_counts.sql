-- What each schedule did with its fire times, for its status: fires that started a job,
-- fires skipped by the overlap policy, fire times missed while the schedule could not fire
-- and dropped by its catch-up policy, and missed fire times run late by that policy.
ALTER TABLE gnomon_schedules
    ADD COLUMN fired_count bigint NOT NULL DEFAULT 0 CHECK (fired_count >= 0),
    ADD COLUMN skipped_count bigint NOT NULL DEFAULT 0 CHECK (skipped_count >= 0),
    ADD COLUMN missed_count bigint NOT NULL DEFAULT 0 CHECK (missed_count >= 0),
    ADD COLUMN caught_up_count bigint NOT NULL DEFAULT 0 CHECK (caught_up_count >= 0);

