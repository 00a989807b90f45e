public import Foundation

/// What a schedule did at one of its fire times.
public enum FireOutcome: String, Sendable, Hashable {
    /// A job was created.
    case started
    /// Nothing was started, by the schedule's policy.
    case skipped
    /// The fire waits for the running job of an earlier fire.
    case buffered
}

/// A fire as recorded.
public struct RecordedFire: Sendable, Hashable {
    public var outcome: FireOutcome
    /// The job created, for a fire that started one.
    public var job: InsertedJob?
}

/// Records schedule fires: each fire time of a schedule at most once, whoever tries.
public enum ScheduleFireStore {
    /// Records one fire, creates its job and advances the schedule, all or nothing.
    ///
    /// The fire's row is unique on (tenant, schedule, fire time), so a second attempt to
    /// record the same fire, by this node after a retry or by another after failover, records
    /// nothing and creates no job. The shard lease is checked in the same transaction.
    ///
    /// - Parameters:
    ///   - lease: The lease of the schedule's shard; nothing happens unless it is current.
    ///   - fireTime: The nominal fire time: the fire's unique key.
    ///   - fireAt: When the fire actually happens, jitter included.
    ///   - job: The job to start, for a `started` outcome.
    ///   - nextFireAt: The schedule's next fire time after this one, `nil` when it has ended.
    /// - Returns: What was recorded, or `nil` when this fire was already recorded or the lease
    ///   is no longer current.
    public static func record(
        tenantID: String,
        scheduleID: String,
        lease: ShardLease,
        node: String,
        fireTime: Date,
        fireAt: Date,
        outcome: FireOutcome,
        job: NewJob?,
        nextFireAt: Date?,
        store: JobStore,
        on connection: PostgresConnection
    ) throws -> RecordedFire? {
        try connection.transaction { connection in
            let current = try connection.query(
                """
                SELECT 1 FROM gnomon_shard_leases
                WHERE shard = $1 AND epoch = $2 AND owner_node = $3 AND expires_at > now()
                FOR SHARE
                """,
                [lease.shard, lease.epoch, node]
            )
            guard !current.rows.isEmpty else {
                return nil
            }
            let recorded = try connection.query(
                """
                INSERT INTO gnomon_schedule_fires (tenant_id, schedule_id, fire_time, fire_at, outcome)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (tenant_id, schedule_id, fire_time) DO NOTHING
                """,
                [tenantID, scheduleID, fireTime, fireAt, outcome.rawValue]
            )
            guard recorded.affectedRows == 1 else {
                return nil
            }
            var inserted: InsertedJob?
            if outcome == .started, let job {
                inserted = try store.insert([job], tenantID: tenantID, on: connection).first
                try connection.query(
                    "UPDATE gnomon_schedule_fires SET job_id = $4 WHERE tenant_id = $1 AND schedule_id = $2 AND fire_time = $3",
                    [tenantID, scheduleID, fireTime, inserted?.id]
                )
            }
            try connection.query(
                """
                UPDATE gnomon_schedules
                SET next_fire_at = $3, last_fire_at = $4, last_job_id = coalesce($5, last_job_id), updated_at = now(),
                    fired_count = fired_count + CASE WHEN $6 = 'started' THEN 1 ELSE 0 END,
                    skipped_count = skipped_count + CASE WHEN $6 = 'skipped' THEN 1 ELSE 0 END
                WHERE tenant_id = $1 AND schedule_id = $2
                """,
                [tenantID, scheduleID, nextFireAt, fireAt, inserted?.id, outcome.rawValue]
            )
            return RecordedFire(outcome: outcome, job: inserted)
        }
    }
}
