public import Foundation
public import GnomonCore

/// A schedule whose next fire is due, as its shard's loop finds it.
public struct DueSchedule: Sendable, Hashable {
    public var record: ScheduleRecord
    /// The fire waiting for the job of the last fire (the `buffer_one` overlap policy).
    public var bufferedFireTime: Date?
    /// Whether the job of the last fire is still pending, running or waiting to retry.
    public var previousJobUnfinished: Bool

    /// Where the schedule stands, for ``ScheduleFirePlanner``; `nil` when it has no next fire.
    public var fireState: ScheduleFireState? {
        self.record.nextFireAt.map {
            ScheduleFireState(
                nextFireTime: $0, bufferedFireTime: self.bufferedFireTime,
                previousJobUnfinished: self.previousJobUnfinished)
        }
    }
}

/// What one pass over a shard's due schedules did.
public struct FirePass: Sendable, Hashable {
    /// False when the shard's lease was no longer this node's: nothing was done.
    public var leaseHeld: Bool
    /// Schedules looked at.
    public var schedules = 0
    /// Jobs started, by tenant and queue.
    public var startedQueues: Set<TenantQueue> = []
    /// Jobs started.
    public var started = 0
    /// Fire times found recorded already (by an earlier owner of the shard): nothing was started for them.
    public var alreadyRecorded = 0
    /// Milliseconds until the shard's next due schedule; `nil` when none is active.
    public var nextDueInMilliseconds: Int64?

    /// A tenant's queue that jobs were started in.
    public struct TenantQueue: Sendable, Hashable {
        public var tenantID: String
        public var queue: String

        /// Names a tenant's queue.
        public init(tenantID: String, queue: String) {
            self.tenantID = tenantID
            self.queue = queue
        }
    }
}

/// Fires due schedules: each fire time of a schedule at most once, whoever tries.
///
/// A pass runs in one transaction: it checks the shard's lease, locks the due schedules
/// (skipping any another transaction holds), records each fire under the unique key on
/// (tenant, schedule, fire time), creates the fires' jobs, cancels the jobs the overlap policy
/// replaces, and advances each schedule — all or nothing. A fire recorded already, by a
/// previous owner of the shard or an earlier try, starts nothing.
public enum ScheduleFireStore {
    /// Fires the due schedules of the shard that `lease` is for.
    ///
    /// Call inside a platform transaction (``PostgresPool/withPlatformTransaction(_:)``).
    ///
    /// - Parameters:
    ///   - lease: The lease this node holds on the shard; nothing happens unless it is current.
    ///   - limit: The most schedules one pass looks at.
    ///   - plan: What a due schedule does now, at the database's `now`; `nil` ends the
    ///     schedule (it has no readable timing).
    ///   - job: The job a fire of a schedule starts, for its nominal fire time and due time;
    ///     `nil` when its template cannot be read, and the fire is recorded as skipped.
    /// - Returns: What the pass did.
    public static func fireDue(
        lease: ShardLease,
        node: String,
        limit: Int,
        store: JobStore,
        plan: (DueSchedule, Date) -> ScheduleFirePlan?,
        job: (ScheduleRecord, Date, Date) -> NewJob?,
        on connection: PostgresConnection
    ) throws -> FirePass {
        let current = try connection.query(
            """
            SELECT (extract(epoch FROM now()) * 1000000)::bigint AS now_us FROM gnomon_shard_leases
            WHERE shard = $1 AND epoch = $2 AND owner_node = $3 AND expires_at > now()
            FOR SHARE
            """,
            [lease.shard, lease.epoch, node]
        ).first
        guard let current else {
            return FirePass(leaseHeld: false)
        }
        let now = try current.date(microseconds: "now_us")
        let due = try Self.lockDue(shard: lease.shard, limit: limit, on: connection)
        var pass = FirePass(leaseHeld: true, schedules: due.count)
        let plans = due.map { schedule in (schedule, plan(schedule, now)) }

        // Cancels first: a cancel takes a job's row, then its tenant's usage row, which the
        // inserts below hold until the end.
        for (schedule, plan) in plans where plan?.cancelPrevious == true && schedule.previousJobUnfinished {
            if let previous = schedule.record.lastJobID {
                try store.cancel(
                    previous,
                    reason: "replaced by a later fire of schedule '\(schedule.record.scheduleID)'",
                    on: connection)
            }
        }
        let recorded = try Self.recordFires(plans, on: connection)
        pass.alreadyRecorded = recorded.alreadyRecorded

        // The jobs, one insert per tenant.
        var starts: [String: [(schedule: Int, fireTime: Date, job: NewJob)]] = [:]
        var unreadable: Set<Int> = []
        for (index, (schedule, _)) in plans.enumerated() {
            for (fireTime, dueAt) in recorded.starting[index] ?? [] {
                guard let newJob = job(schedule.record, fireTime, dueAt) else {
                    unreadable.insert(index)
                    continue
                }
                starts[schedule.record.tenantID, default: []].append((index, fireTime, newJob))
            }
        }
        var lastJob: [Int: UUID] = [:]
        var startedBySchedule: [Int: Int] = [:]
        var jobOfFire: [(tenantID: String, scheduleID: String, fireTime: Date, job: UUID)] = []
        for (tenantID, tenantStarts) in starts {
            let inserted = try store.insert(tenantStarts.map(\.job), tenantID: tenantID, on: connection)
            for (start, job) in zip(tenantStarts, inserted) {
                lastJob[start.schedule] = job.id
                startedBySchedule[start.schedule, default: 0] += 1
                jobOfFire.append((tenantID, plans[start.schedule].0.record.scheduleID, start.fireTime, job.id))
                pass.startedQueues.insert(FirePass.TenantQueue(tenantID: tenantID, queue: start.job.queue))
            }
            pass.started += inserted.count
        }
        try Self.linkJobs(jobOfFire, on: connection)
        try Self.advance(plans, lastJob: lastJob, started: startedBySchedule, unreadable: unreadable, on: connection)
        pass.nextDueInMilliseconds = try connection.query(
            """
            SELECT (extract(epoch FROM min(next_due_at) - now()) * 1000)::bigint AS ms FROM gnomon_schedules
            WHERE shard = $1 AND state = 'active' AND next_due_at IS NOT NULL
            """,
            [lease.shard]
        ).first.flatMap { $0["ms"] }.flatMap { Int64($0) }
        return pass
    }

    /// Locks the shard's due schedules, and finds which of their last jobs are unfinished
    /// (locking those jobs too, so that they stay so until the pass ends).
    private static func lockDue(shard: Int, limit: Int, on connection: PostgresConnection) throws -> [DueSchedule] {
        let rows = try connection.query(
            """
            SELECT \(ScheduleStore.columns),
                (extract(epoch FROM buffered_fire_time) * 1000000)::bigint AS buffered_us
            FROM gnomon_schedules
            WHERE shard = $1 AND state = 'active' AND next_due_at <= now()
            ORDER BY next_due_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
            """,
            [shard, limit]
        ).rows
        let schedules = try rows.map { row in
            (
                record: try ScheduleStore.record(from: row),
                buffered: row["buffered_us"] == nil ? nil : try row.date(microseconds: "buffered_us")
            )
        }
        let lastJobs = schedules.compactMap { $0.record.lastJobID?.uuidString.lowercased() }
        let unfinished =
            lastJobs.isEmpty
            ? []
            : Set(
                try connection.query(
                    "SELECT id FROM gnomon_jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
                    [PostgresArray.literal(lastJobs)]
                ).rows.map { try $0.string("id") })
        return schedules.map { schedule in
            DueSchedule(
                record: schedule.record, bufferedFireTime: schedule.buffered,
                previousJobUnfinished: schedule.record.lastJobID.map {
                    unfinished.contains($0.uuidString.lowercased())
                } ?? false)
        }
    }

    /// Records the plans' fires, and releases their buffered fires; returns, by plan, the
    /// fires that start a job (nominal time and due time), and how many fires were recorded
    /// already.
    private static func recordFires(_ plans: [(DueSchedule, ScheduleFirePlan?)], on connection: PostgresConnection)
        throws -> (starting: [Int: [(Date, Date)]], alreadyRecorded: Int)
    {
        var tenants: [String] = []
        var schedules: [String] = []
        var times: [any PostgresBindable] = []
        var dues: [any PostgresBindable] = []
        var outcomes: [String] = []
        var owners: [Int] = []
        var starting: [Int: [(Date, Date)]] = [:]
        for (index, (schedule, plan)) in plans.enumerated() {
            guard let plan else {
                continue
            }
            if let released = plan.releasedFireTime {
                let updated = try connection.query(
                    """
                    UPDATE gnomon_schedule_fires SET outcome = 'started'
                    WHERE tenant_id = $1 AND schedule_id = $2 AND fire_time = $3 AND outcome = 'buffered'
                    RETURNING (extract(epoch FROM fire_at) * 1000000)::bigint AS due_us
                    """,
                    [schedule.record.tenantID, schedule.record.scheduleID, released]
                ).first
                if let updated {
                    starting[index, default: []].append((released, try updated.date(microseconds: "due_us")))
                }
            }
            for fire in plan.fires {
                tenants.append(schedule.record.tenantID)
                schedules.append(schedule.record.scheduleID)
                times.append(fire.time)
                dues.append(fire.dueAt)
                outcomes.append(fire.action.rawValue)
                owners.append(index)
            }
        }
        guard !owners.isEmpty else {
            return (starting, 0)
        }
        let inserted = try connection.query(
            """
            INSERT INTO gnomon_schedule_fires (tenant_id, schedule_id, fire_time, fire_at, outcome)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[])
            ON CONFLICT (tenant_id, schedule_id, fire_time) DO NOTHING
            RETURNING tenant_id, schedule_id, (extract(epoch FROM fire_time) * 1000000)::bigint AS time_us
            """,
            [
                PostgresArray.literal(tenants), PostgresArray.literal(schedules),
                try PostgresArray.literal(values: times), try PostgresArray.literal(values: dues),
                PostgresArray.literal(outcomes),
            ]
        ).rows
        var written: Set<String> = []
        for row in inserted {
            written.insert(
                Self.key(try row.string("tenant_id"), try row.string("schedule_id"), try row.int64("time_us")))
        }
        var index = 0
        for (owner, (schedule, plan)) in plans.enumerated() {
            for fire in plan?.fires ?? [] {
                defer { index += 1 }
                let microseconds = Int64((fire.time.timeIntervalSince1970 * 1_000_000).rounded())
                guard written.contains(Self.key(schedule.record.tenantID, schedule.record.scheduleID, microseconds))
                else {
                    continue
                }
                if fire.action == .start {
                    starting[owner, default: []].append((fire.time, fire.dueAt))
                }
            }
        }
        return (starting, owners.count - written.count)
    }

    private static func key(_ tenantID: String, _ scheduleID: String, _ microseconds: Int64) -> String {
        tenantID + "\u{0}" + scheduleID + "\u{0}" + String(microseconds)
    }

    /// Notes on each fire's row the job it started.
    private static func linkJobs(
        _ fires: [(tenantID: String, scheduleID: String, fireTime: Date, job: UUID)], on connection: PostgresConnection
    ) throws {
        guard !fires.isEmpty else {
            return
        }
        try connection.query(
            """
            UPDATE gnomon_schedule_fires f SET job_id = l.job_id
            FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::uuid[]) AS l(tenant_id, schedule_id, fire_time, job_id)
            WHERE f.tenant_id = l.tenant_id AND f.schedule_id = l.schedule_id AND f.fire_time = l.fire_time
            """,
            [
                PostgresArray.literal(fires.map(\.tenantID)), PostgresArray.literal(fires.map(\.scheduleID)),
                try PostgresArray.literal(values: fires.map(\.fireTime)),
                PostgresArray.literal(fires.map { $0.job.uuidString.lowercased() }),
            ]
        )
    }

    /// Moves each schedule to its next fire and adds up what its plan did.
    private static func advance(
        _ plans: [(DueSchedule, ScheduleFirePlan?)],
        lastJob: [Int: UUID],
        started: [Int: Int],
        unreadable: Set<Int>,
        on connection: PostgresConnection
    ) throws {
        guard !plans.isEmpty else {
            return
        }
        var columns = (
            tenants: [String?](), schedules: [String?](), next: [any PostgresBindable](),
            due: [any PostgresBindable](), buffered: [any PostgresBindable](), lastFire: [any PostgresBindable](),
            lastJob: [String?](), fired: [String?](), skipped: [String?](), missed: [String?](),
            caughtUp: [String?]()
        )
        for (index, (schedule, plan)) in plans.enumerated() {
            let plan = plan ?? ScheduleFirePlan()
            let fired = started[index] ?? 0
            let failed = unreadable.contains(index) ? max(plan.startedCount - fired, 0) : 0
            columns.tenants.append(schedule.record.tenantID)
            columns.schedules.append(schedule.record.scheduleID)
            columns.next.append(plan.nextFireTime)
            columns.due.append(plan.nextDueAt)
            columns.buffered.append(plan.bufferedFireTime)
            let lastStart = plan.fires.last { $0.action == .start }?.dueAt ?? plan.releasedDueAt
            columns.lastFire.append(lastJob[index] == nil ? nil : lastStart)
            columns.lastJob.append(lastJob[index]?.uuidString.lowercased())
            columns.fired.append(String(fired))
            columns.skipped.append(String(plan.skippedCount + failed))
            columns.missed.append(String(plan.missed))
            columns.caughtUp.append(String(plan.caughtUpCount))
        }
        try connection.query(
            """
            UPDATE gnomon_schedules s SET
                next_fire_at = a.next_fire_at, next_due_at = a.next_due_at,
                buffered_fire_time = a.buffered_fire_time,
                last_fire_at = coalesce(a.last_fire_at, s.last_fire_at),
                last_job_id = coalesce(a.last_job_id, s.last_job_id),
                fired_count = s.fired_count + a.fired, skipped_count = s.skipped_count + a.skipped,
                missed_count = s.missed_count + a.missed, caught_up_count = s.caught_up_count + a.caught_up,
                updated_at = now()
            FROM unnest(
                $1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
                $7::uuid[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[]
            ) AS a(tenant_id, schedule_id, next_fire_at, next_due_at, buffered_fire_time, last_fire_at, last_job_id,
                fired, skipped, missed, caught_up)
            WHERE s.tenant_id = a.tenant_id AND s.schedule_id = a.schedule_id
            """,
            [
                PostgresArray.literal(columns.tenants), PostgresArray.literal(columns.schedules),
                try PostgresArray.literal(values: columns.next), try PostgresArray.literal(values: columns.due),
                try PostgresArray.literal(values: columns.buffered),
                try PostgresArray.literal(values: columns.lastFire), PostgresArray.literal(columns.lastJob),
                PostgresArray.literal(columns.fired), PostgresArray.literal(columns.skipped),
                PostgresArray.literal(columns.missed), PostgresArray.literal(columns.caughtUp),
            ]
        )
    }
}
