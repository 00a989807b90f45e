public import Foundation

/// The queries that create, read, change and delete a tenant's schedules.
///
/// Every function runs in the tenant's transaction (``PostgresPool/withTenantTransaction(_:_:)``),
/// whose row-level security keeps it to the tenant's own schedules: another tenant's schedule
/// is `notFound`, exactly as one that does not exist. Firing is the shard loops' work, in
/// ``ScheduleFireStore``.
public enum ScheduleStore {
    /// The most schedules one page of ``list(tenantID:paused:labels:after:limit:on:)`` holds.
    public static let maximumPageSize = 1_000

    /// Whether `id` is a possible schedule id: 1 to 128 characters of `A-Z a-z 0-9 . _ -`.
    public static func isValidID(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// The shard whose loop fires the schedule: a stable hash of tenant and id (FNV-1a, 64 bits).
    public static func shard(tenantID: String, scheduleID: String, shardCount: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in tenantID.utf8 + [0] + scheduleID.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(max(shardCount, 1)))
    }

    /// Creates a schedule and takes one unit of the tenant's `max_schedules` quota.
    ///
    /// - Parameters:
    ///   - scheduleID: The id, checked by ``isValidID(_:)``.
    ///   - definition: What it runs, when and how.
    ///   - paused: Create it paused: it keeps no next fire time until resumed.
    ///   - nextFireAt: Its first fire time, policies applied; `nil` when it never fires.
    ///   - shardCount: The cluster's shard count, for the schedule's shard.
    ///   - scheduleLimit: The tenant's schedules quota; `nil` for no limit.
    ///   - createdAt: Its creation time, which anchors fixed intervals; `nil` for the database's now.
    /// - Returns: The schedule as stored.
    /// - Throws: ``StoreError`` with code `alreadyExists` when the tenant has a schedule of
    ///   that id, `quotaExceeded` when the quota is used up, `invalidArgument` for a bad id.
    public static func create(
        scheduleID: String,
        definition: ScheduleDefinition,
        paused: Bool,
        nextFireAt: Date?,
        shardCount: Int,
        scheduleLimit: Int64?,
        createdAt: Date? = nil,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> ScheduleRecord {
        guard Self.isValidID(scheduleID) else {
            throw StoreError(
                .invalidArgument,
                "schedule_id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        return try connection.transaction { connection in
            let exists = try connection.query(
                "SELECT 1 FROM gnomon_schedules WHERE tenant_id = $1 AND schedule_id = $2",
                [tenantID, scheduleID]
            )
            guard exists.rows.isEmpty else {
                throw StoreError(
                    .alreadyExists, "schedule '\(scheduleID)' exists already; update it, or pick another id")
            }
            try QuotaStore.takeSchedules(1, limit: scheduleLimit, tenantID: tenantID, on: connection)
            let shard = Self.shard(tenantID: tenantID, scheduleID: scheduleID, shardCount: shardCount)
            let row = try connection.query(
                """
                INSERT INTO gnomon_schedules (
                    tenant_id, schedule_id, shard, expression, time_zone, job_template, dst_gap_policy,
                    dst_overlap_policy, catch_up_policy, catch_up_limit, overlap_policy, jitter_ms, start_at,
                    end_at, description, labels, state, next_fire_at, next_due_at, created_at, updated_at
                ) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb,
                    $17, $18, $18, coalesce($19, now()), coalesce($19, now()))
                RETURNING \(Self.columns)
                """,
                [tenantID, scheduleID, shard] + (try Self.definitionParameters(definition))
                    + [paused ? "paused" : "active", paused ? nil : nextFireAt, createdAt]
            ).first
            guard let row else {
                throw StoreError(.unexpectedValue, "schedule '\(scheduleID)' was written but not returned")
            }
            return try Self.record(from: row)
        }
    }

    /// One schedule.
    ///
    /// - Throws: ``StoreError`` with code `notFound` when the tenant has none of that id.
    /// - Parameter forUpdate: Lock the row until the transaction ends, to change it.
    public static func get(
        _ scheduleID: String,
        tenantID: String,
        forUpdate: Bool = false,
        on connection: PostgresConnection
    ) throws -> ScheduleRecord {
        let row = try connection.query(
            "SELECT \(Self.columns) FROM gnomon_schedules WHERE tenant_id = $1 AND schedule_id = $2"
                + (forUpdate ? " FOR UPDATE" : ""),
            [tenantID, scheduleID]
        ).first
        guard let row else {
            throw Self.notFound(scheduleID)
        }
        return try Self.record(from: row)
    }

    /// The tenant's schedules in id order, after `after`, at most `limit`.
    ///
    /// - Parameters:
    ///   - paused: Only paused (`true`) or active (`false`) schedules; `nil` for both.
    ///   - labels: Only schedules carrying every one of these labels.
    /// - Returns: The page, and the id to continue after; `nil` on the last page.
    public static func list(
        tenantID: String,
        paused: Bool? = nil,
        labels: [String: String] = [:],
        after: String?,
        limit: Int,
        on connection: PostgresConnection
    ) throws -> (schedules: [ScheduleRecord], nextAfter: String?) {
        guard (1...Self.maximumPageSize).contains(limit) else {
            throw StoreError(.invalidArgument, "the page size must be 1 to \(Self.maximumPageSize); got \(limit)")
        }
        let state: String? = paused.map { $0 ? "paused" : "active" }
        let rows = try connection.query(
            """
            SELECT \(Self.columns) FROM gnomon_schedules
            WHERE tenant_id = $1 AND ($2::text IS NULL OR schedule_id > $2::text)
                AND ($3::text IS NULL OR state = $3::text) AND ($4::jsonb IS NULL OR labels @> $4::jsonb)
            ORDER BY schedule_id COLLATE "C" LIMIT $5
            """,
            [tenantID, after, state, labels.isEmpty ? nil : try JobStore.json(labels), limit + 1]
        ).rows
        let schedules = try rows.prefix(limit).map(Self.record(from:))
        return (schedules, rows.count > limit ? schedules.last?.scheduleID : nil)
    }

    /// Replaces a schedule's definition and its next fire time.
    ///
    /// - Parameters:
    ///   - expectedRevision: When not `nil`, the update is refused unless the schedule is at
    ///     this revision, so that two editors do not overwrite each other unknowingly.
    ///   - nextFireAt: The next fire time under the new definition; ignored while paused.
    /// - Throws: ``StoreError`` with code `notFound`, or `aborted` when the revision moved on.
    public static func update(
        _ scheduleID: String,
        definition: ScheduleDefinition,
        nextFireAt: Date?,
        expectedRevision: Int64?,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> ScheduleRecord {
        let current = try Self.lock(scheduleID, tenantID: tenantID, on: connection)
        if let expectedRevision, expectedRevision != current.revision {
            throw StoreError(
                .aborted,
                "schedule '\(scheduleID)' is at revision \(current.revision), not \(expectedRevision): it changed "
                    + "since it was read; read it again and reapply the change")
        }
        let row = try connection.query(
            """
            UPDATE gnomon_schedules SET
                expression = $3, time_zone = $4, job_template = $5::jsonb, dst_gap_policy = $6,
                dst_overlap_policy = $7, catch_up_policy = $8, catch_up_limit = $9, overlap_policy = $10,
                jitter_ms = $11, start_at = $12, end_at = $13, description = $14, labels = $15::jsonb,
                next_fire_at = CASE WHEN state = 'active' THEN $16::timestamptz END,
                next_due_at = CASE WHEN state = 'active' THEN $16::timestamptz END,
                revision = revision + 1, updated_at = now()
            WHERE tenant_id = $1 AND schedule_id = $2
            RETURNING \(Self.columns)
            """,
            [tenantID, scheduleID] + (try Self.definitionParameters(definition)) + [nextFireAt]
        ).first
        guard let row else {
            throw Self.notFound(scheduleID)
        }
        return try Self.record(from: row)
    }

    /// Pauses a schedule (it keeps no next fire time) or resumes it from `nextFireAt`.
    ///
    /// Pausing a paused schedule or resuming an active one changes nothing but the reason.
    /// Pausing drops a fire that the `buffer_one` overlap policy held back: its fire record
    /// becomes `skipped`, and it counts in the schedule's skipped fires.
    public static func setPaused(
        _ paused: Bool,
        reason: String = "",
        nextFireAt: Date?,
        scheduleID: String,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> ScheduleRecord {
        try connection.transaction { connection in
            let current = try connection.query(
                """
                SELECT buffered_fire_time IS NOT NULL AND $3 AS drops FROM gnomon_schedules
                WHERE tenant_id = $1 AND schedule_id = $2 FOR UPDATE
                """,
                [tenantID, scheduleID, paused]
            ).first
            guard let current else {
                throw Self.notFound(scheduleID)
            }
            let dropsBufferedFire = try current.bool("drops")
            if dropsBufferedFire {
                try connection.query(
                    """
                    UPDATE gnomon_schedule_fires AS f SET outcome = 'skipped'
                    FROM gnomon_schedules AS s
                    WHERE s.tenant_id = $1 AND s.schedule_id = $2
                        AND f.tenant_id = s.tenant_id AND f.schedule_id = s.schedule_id
                        AND f.fire_time = s.buffered_fire_time AND f.outcome = 'buffered'
                    """,
                    [tenantID, scheduleID]
                )
            }
            let row = try connection.query(
                """
                UPDATE gnomon_schedules SET
                    state = $3, pause_reason = $4,
                    next_fire_at = CASE WHEN $3 = 'active' THEN
                        CASE WHEN state = 'active' THEN next_fire_at ELSE $5::timestamptz END END,
                    next_due_at = CASE WHEN $3 = 'active' THEN
                        CASE WHEN state = 'active' THEN next_due_at ELSE $5::timestamptz END END,
                    buffered_fire_time = CASE WHEN $3 = 'active' AND state = 'active' THEN buffered_fire_time END,
                    skipped_count = skipped_count + CASE WHEN $6::boolean THEN 1 ELSE 0 END,
                    revision = revision + 1, updated_at = now()
                WHERE tenant_id = $1 AND schedule_id = $2
                RETURNING \(Self.columns)
                """,
                [
                    tenantID, scheduleID, paused ? "paused" : "active", paused ? String(reason.prefix(1_024)) : "",
                    nextFireAt, dropsBufferedFire,
                ]
            ).first
            guard let row else {
                throw Self.notFound(scheduleID)
            }
            return try Self.record(from: row)
        }
    }

    /// Deletes a schedule and gives back its unit of the schedules quota. Jobs it created
    /// are left as they are; its fire records go with the history's retention.
    ///
    /// - Throws: ``StoreError`` with code `notFound`.
    public static func delete(_ scheduleID: String, tenantID: String, on connection: PostgresConnection) throws {
        try connection.transaction { connection in
            let deleted = try connection.query(
                "DELETE FROM gnomon_schedules WHERE tenant_id = $1 AND schedule_id = $2",
                [tenantID, scheduleID]
            )
            guard deleted.affectedRows == 1 else {
                throw Self.notFound(scheduleID)
            }
            try QuotaStore.releaseSchedules(1, tenantID: tenantID, on: connection)
        }
    }

    // MARK: - Rows

    private static func lock(_ scheduleID: String, tenantID: String, on connection: PostgresConnection) throws
        -> ScheduleRecord
    {
        let row = try connection.query(
            "SELECT \(Self.columns) FROM gnomon_schedules WHERE tenant_id = $1 AND schedule_id = $2 FOR UPDATE",
            [tenantID, scheduleID]
        ).first
        guard let row else {
            throw Self.notFound(scheduleID)
        }
        return try Self.record(from: row)
    }

    static func notFound(_ scheduleID: String) -> StoreError {
        StoreError(.notFound, "there is no schedule '\(scheduleID.prefix(128))'")
    }

    private static func definitionParameters(_ definition: ScheduleDefinition) throws -> [any PostgresBindable] {
        [
            definition.expression, definition.timeZone, definition.jobTemplateJSON, definition.dstGapPolicy,
            definition.dstOverlapPolicy, definition.catchUpPolicy, definition.catchUpLimit,
            definition.overlapPolicy, definition.jitterMilliseconds, definition.startAt, definition.endAt,
            definition.description, try JobStore.json(definition.labels),
        ]
    }

    static let columns = """
        tenant_id, schedule_id, shard, expression, time_zone, job_template::text AS job_template,
        dst_gap_policy, dst_overlap_policy, catch_up_policy, catch_up_limit, overlap_policy, jitter_ms,
        (extract(epoch FROM start_at) * 1000000)::bigint AS start_us,
        (extract(epoch FROM end_at) * 1000000)::bigint AS end_us,
        description, labels::text AS labels, state, pause_reason,
        (extract(epoch FROM next_fire_at) * 1000000)::bigint AS next_us,
        (extract(epoch FROM last_fire_at) * 1000000)::bigint AS last_us,
        last_job_id, revision,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_us,
        (extract(epoch FROM updated_at) * 1000000)::bigint AS updated_us,
        fired_count, skipped_count, missed_count, caught_up_count
        """

    static func record(from row: PostgresRow) throws -> ScheduleRecord {
        func optionalDate(_ column: String) throws -> Date? {
            row[column] == nil ? nil : try row.date(microseconds: column)
        }
        let labels = try JSONDecoder().decode([String: String].self, from: Data(try row.string("labels").utf8))
        return ScheduleRecord(
            tenantID: try row.string("tenant_id"),
            scheduleID: try row.string("schedule_id"),
            shard: try row.int("shard"),
            definition: ScheduleDefinition(
                expression: try row.string("expression"),
                timeZone: try row.string("time_zone"),
                jobTemplateJSON: try row.string("job_template"),
                dstGapPolicy: try row.string("dst_gap_policy"),
                dstOverlapPolicy: try row.string("dst_overlap_policy"),
                catchUpPolicy: try row.string("catch_up_policy"),
                catchUpLimit: try row.int("catch_up_limit"),
                overlapPolicy: try row.string("overlap_policy"),
                jitterMilliseconds: try row.int64("jitter_ms"),
                startAt: try optionalDate("start_us"),
                endAt: try optionalDate("end_us"),
                description: try row.string("description"),
                labels: labels
            ),
            paused: try row.string("state") == "paused",
            pauseReason: try row.string("pause_reason"),
            nextFireAt: try optionalDate("next_us"),
            lastFireAt: try optionalDate("last_us"),
            lastJobID: row["last_job_id"].flatMap(UUID.init(uuidString:)),
            revision: try row.int64("revision"),
            createdAt: try row.date(microseconds: "created_us"),
            updatedAt: try row.date(microseconds: "updated_us"),
            counts: ScheduleCounts(
                fired: try row.int64("fired_count"),
                skipped: try row.int64("skipped_count"),
                missed: try row.int64("missed_count"),
                caughtUp: try row.int64("caught_up_count")
            )
        )
    }
}
