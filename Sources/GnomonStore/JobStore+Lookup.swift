public import Foundation
import GnomonCore

extension JobStore {
    /// The most jobs one page of ``list(_:after:limit:on:)`` holds.
    public static let maximumPageSize = 1_000

    /// Reads a job wherever it is: live, in history, or in the dead-letter queue.
    ///
    /// - Parameters:
    ///   - id: The job's id.
    ///   - connection: A tenant's transaction, which sees only that tenant's jobs, or a
    ///     platform one, which sees every tenant's.
    /// - Returns: The job as a client sees it.
    /// - Throws: ``StoreError`` with code `notFound` when there is no such job or it belongs
    ///   to another tenant; the two cannot be told apart.
    public func get(_ id: UUID, on connection: PostgresConnection) throws -> JobRecord {
        guard let job = try self.find(id, on: connection) else {
            throw Self.notFound(id)
        }
        return job
    }

    /// Lists jobs newest first, a page at a time, across live jobs, history and dead letters.
    ///
    /// The order is creation time then id, both descending; a job keeps both as it moves
    /// between tables, so pages neither repeat nor skip a job that finishes, dies or is
    /// retried while a client pages. Jobs created after the first page was read sort before
    /// the cursor and are not listed by later pages. A transaction that inserts jobs and
    /// commits long after it began stamps them with its start time, so they may land behind
    /// a cursor already handed out.
    ///
    /// Each of the three tables is read in that order along its `(tenant_id, created_at)`
    /// index, at most `limit + 1` rows from each; a filter that matches few jobs (a rare
    /// label, say) may walk far along the index before it fills a page. Jobs submitted in
    /// one batch share their creation time, and the index does not hold the id that orders
    /// them, so a page that starts inside a large batch sorts the rest of that batch.
    ///
    /// - Parameters:
    ///   - filter: Which jobs to list.
    ///   - after: The cursor the previous page ended with; `nil` for the first page.
    ///   - limit: The most jobs to return, 1 to ``maximumPageSize``.
    ///   - connection: A tenant's transaction, which sees only that tenant's jobs, or a
    ///     platform one, which sees every tenant's.
    /// - Returns: The jobs, and the cursor to pass as `after` for the next page, `nil` after
    ///   the last page.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a limit out of range or a
    ///   queue name no queue can have.
    public func list(
        _ filter: JobFilter = JobFilter(),
        after: JobCursor? = nil,
        limit: Int = 100,
        on connection: PostgresConnection
    ) throws -> (jobs: [JobRecord], next: JobCursor?) {
        try Self.checkPageSize(limit)
        if let queue = filter.queue {
            try Self.checkQueueName(queue)
        }
        let states = filter.states.isEmpty ? Set(JobState.allCases) : filter.states
        let live = states.intersection(JobState.live).map(\.rawValue).sorted()
        let history = states.intersection(JobState.history).map(\.rawValue).sorted()
        let labels: String? = filter.labels.isEmpty ? nil : try Self.json(filter.labels)
        let position = after.map { PostgresTimestamp.text(microsecondsSinceEpoch: $0.createdAtMicroseconds) }
        let rows = try connection.query(
            Self.listSQL,
            [
                !live.isEmpty, PostgresArray.literal(live), !history.isEmpty, PostgresArray.literal(history),
                states.contains(.dead), filter.queue, labels, filter.scheduleID,
                Self.bound(filter.createdFrom, else: "-infinity"), Self.bound(filter.createdBefore, else: "infinity"),
                position ?? "infinity", after?.id ?? Self.lastUUID, limit + 1,
            ]
        ).rows
        let jobs = try rows.prefix(limit).map { try Self.jobRecord(from: $0) }
        guard rows.count > limit, let last = rows.prefix(limit).last else {
            return (jobs, nil)
        }
        return (jobs, JobCursor(createdAtMicroseconds: try last.int64("created_us"), id: try Self.uuid(last, "id")))
    }

    /// Sorts after every other id, for the first page's position.
    static let lastUUID = UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))

    /// The job, or `nil` when this transaction sees no job with this id.
    ///
    /// A live job is looked for only in the shard its id gives, where inserts put it, so
    /// that one partition is read.
    func find(_ id: UUID, on connection: PostgresConnection) throws -> JobRecord? {
        try connection.query(Self.getSQL, [self.shard(of: id), id]).first.map { try Self.jobRecord(from: $0) }
    }

    static func notFound(_ id: UUID) -> StoreError {
        StoreError(
            .notFound,
            "there is no job '\(id.uuidString.lowercased())', or it belongs to another tenant; check the id"
        )
    }

    static func checkPageSize(_ limit: Int) throws {
        guard (1...Self.maximumPageSize).contains(limit) else {
            throw StoreError(
                .invalidArgument, "page size \(limit) is out of range; expected 1 to \(Self.maximumPageSize)")
        }
    }

    /// Refuses a name the schema's queue check would refuse, so that a filter never silently
    /// matches nothing because of a typo in its syntax.
    static func checkQueueName(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
        guard allowed, (1...128).contains(name.utf8.count) else {
            throw StoreError(
                .invalidArgument,
                "queue name '\(name.prefix(200))' is not valid; expected 1 to 128 characters of A-Z, a-z, 0-9, '.', "
                    + "'_' and '-'"
            )
        }
    }

    /// A timestamp parameter, or PostgreSQL's `infinity` or `-infinity` when there is no bound,
    /// so that the condition stays an index condition in a generic plan.
    private static func bound(_ date: Date?, else unbounded: String) -> PostgresValue {
        date.map(\.postgresValue) ?? .text(unbounded)
    }

    static func uuid(_ row: PostgresRow, _ column: String) throws -> UUID {
        let text = try row.string(column)
        guard let id = UUID(uuidString: text) else {
            throw StoreError(.unexpectedValue, "column '\(column)' holds '\(text)'; expected a UUID")
        }
        return id
    }

    static func jobRecord(from row: PostgresRow) throws -> JobRecord {
        let stateText = try row.string("state")
        guard let state = JobState(rawValue: stateText) else {
            throw StoreError(.unexpectedValue, "column 'state' holds '\(stateText)'; expected a job state")
        }
        let labels = try JSONDecoder().decode([String: String].self, from: Data(try row.string("labels").utf8))
        return JobRecord(
            id: try Self.uuid(row, "id"),
            tenantID: try row.string("tenant_id"),
            shard: try row.int("shard"),
            queue: try row.string("queue"),
            jobType: try row.string("job_type"),
            payloadJSON: try row.string("payload"),
            labels: labels,
            state: state,
            attempts: try row.int("attempts"),
            maxAttempts: try row.int("max_attempts"),
            priority: try row.int("priority"),
            backoff: BackoffSettings(
                initialDelayMilliseconds: try row.int64("backoff_initial_ms"),
                maximumDelayMilliseconds: try row.int64("backoff_max_ms"),
                multiplier: try row.double("backoff_multiplier"),
                jitter: try row.double("backoff_jitter")
            ),
            attemptTimeoutMilliseconds: try row.int64("attempt_timeout_ms"),
            idempotencyKey: row["idempotency_key"],
            httpTargetJSON: row["http_target"],
            createdAt: try row.date(microseconds: "created_us"),
            runAt: try row.date(microseconds: "run_us"),
            dueAt: try row.optionalDate(microseconds: "due_us"),
            startedAt: try row.optionalDate(microseconds: "started_us"),
            finishedAt: try row.optionalDate(microseconds: "finished_us"),
            lastError: row["last_error"],
            resultJSON: row["result"],
            scheduleID: row["schedule_id"],
            fireTime: try row.optionalDate(microseconds: "fire_us"),
            cancelReason: row["cancel_reason"],
            traceparent: row["traceparent"]
        )
    }

    /// The columns every table of jobs shares, in the order of ``liveColumns`` and the others.
    private static let commonColumns = """
        id, tenant_id, shard, queue, job_type, priority, payload, labels, attempts, max_attempts,
            backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter, attempt_timeout_ms,
            idempotency_key, http_target, schedule_id, traceparent, last_error, created_at, run_at,
            started_at, fire_time
        """

    static let liveColumns = """
        \(Self.commonColumns), state, due_at, NULL::timestamptz AS finished_at, NULL::jsonb AS result,
            cancel_reason
        """

    static let historyColumns = """
        \(Self.commonColumns), state, NULL::timestamptz AS due_at, finished_at, result, cancel_reason
        """

    static let deadColumns = """
        \(Self.commonColumns), 'dead'::text AS state, NULL::timestamptz AS due_at, dead_at AS finished_at,
            NULL::jsonb AS result, NULL::text AS cancel_reason
        """

    /// What ``jobRecord(from:)`` reads, selected from a union of the three tables' columns.
    static let recordColumns = """
        id, tenant_id, shard, queue, job_type, state, priority, payload::text AS payload,
            labels::text AS labels, attempts, max_attempts, backoff_initial_ms, backoff_max_ms,
            backoff_multiplier, backoff_jitter, attempt_timeout_ms, idempotency_key,
            http_target::text AS http_target, schedule_id, traceparent, last_error, result::text AS result,
            cancel_reason,
            (extract(epoch FROM created_at) * 1000000)::bigint AS created_us,
            (extract(epoch FROM run_at) * 1000000)::bigint AS run_us,
            (extract(epoch FROM due_at) * 1000000)::bigint AS due_us,
            (extract(epoch FROM started_at) * 1000000)::bigint AS started_us,
            (extract(epoch FROM finished_at) * 1000000)::bigint AS finished_us,
            (extract(epoch FROM fire_time) * 1000000)::bigint AS fire_us
        """

    /// Live first, then history, then dead letters; a job is in exactly one of them in any
    /// one snapshot, and the append stops at the first row found.
    private static let getSQL = """
        SELECT \(Self.recordColumns)
        FROM (
            (SELECT \(Self.liveColumns) FROM gnomon_jobs WHERE shard = $1 AND id = $2)
            UNION ALL
            (SELECT \(Self.historyColumns) FROM gnomon_job_history WHERE id = $2)
            UNION ALL
            (SELECT \(Self.deadColumns) FROM gnomon_dead_letters WHERE id = $2)
        ) AS job
        LIMIT 1
        """

    /// The conditions of every branch of ``listSQL``. No bound is ever NULL: an absent one is
    /// infinite, so `created_at <= $11` is an index condition even in a generic plan.
    private static let listConditions = """
        ($6::text IS NULL OR queue = $6::text)
                AND ($7::jsonb IS NULL OR labels @> $7::jsonb)
                AND ($8::text IS NULL OR schedule_id = $8::text)
                AND created_at >= $9::timestamptz AND created_at < $10::timestamptz
                AND created_at <= $11::timestamptz AND (created_at < $11::timestamptz OR id < $12::uuid)
        """

    /// A branch whose boolean parameter is false is skipped by a one-time filter, unread.
    /// History rows finish after they are created, so the lower creation bound also prunes
    /// the day partitions of history that end before it.
    private static let listSQL = """
        SELECT \(Self.recordColumns)
        FROM (
            (SELECT \(Self.liveColumns) FROM gnomon_jobs
                WHERE $1::boolean AND state = ANY($2::text[]) AND \(Self.listConditions)
                ORDER BY created_at DESC, id DESC
                LIMIT $13)
            UNION ALL
            (SELECT \(Self.historyColumns) FROM gnomon_job_history
                WHERE $3::boolean AND state = ANY($4::text[]) AND finished_at >= $9::timestamptz
                    AND \(Self.listConditions)
                ORDER BY created_at DESC, id DESC
                LIMIT $13)
            UNION ALL
            (SELECT \(Self.deadColumns) FROM gnomon_dead_letters
                WHERE $5::boolean AND \(Self.listConditions)
                ORDER BY created_at DESC, id DESC
                LIMIT $13)
        ) AS job
        ORDER BY created_at DESC, id DESC
        LIMIT $13
        """
}

extension PostgresRow {
    /// A column holding whole microseconds since the Unix epoch as a date, `nil` for NULL.
    func optionalDate(microseconds column: String) throws -> Date? {
        guard self[column] != nil else {
            return nil
        }
        return try self.date(microseconds: column)
    }
}
