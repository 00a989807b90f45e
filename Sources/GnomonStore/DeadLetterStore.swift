import Foundation
import GnomonCore

/// Reads and redrives the dead-letter queue: jobs whose attempts are spent, or whose last
/// attempt asked for no retry, kept until redriven or until their retention ends.
///
/// Calls take the caller's transaction. In a tenant's (``PostgresPool/withTenantTransaction(_:_:)``)
/// row-level security shows only that tenant's dead jobs; a platform transaction sees every
/// tenant's when listing, and a redrive always names its tenant.
public enum DeadLetterStore {
    /// The most dead jobs one page of ``list(queue:labels:after:limit:on:)`` holds.
    public static let maximumPageSize = 1_000
    /// The most jobs one ``redrive(_:tenantID:limit:resetAttempts:delay:pendingLimit:on:)`` moves.
    public static let maximumRedriveCount = 1_000

    /// Lists dead jobs, the most recently dead first, a page at a time.
    ///
    /// Pages are keyed on each job's time of death and id; a job redriven meanwhile simply
    /// leaves the list, and jobs that die later sort before the cursor, so pages never repeat
    /// a job. With a queue the tenant's queue index serves the order; without one, the
    /// tenant's time-of-death index. A label selector filters along that order.
    ///
    /// - Parameters:
    ///   - queue: Only this queue's dead jobs; `nil` for every queue.
    ///   - labels: Only jobs that carry every one of these labels with the value given.
    ///   - after: The cursor the previous page ended with; `nil` for the first page.
    ///   - limit: The most dead jobs to return, 1 to ``maximumPageSize``.
    ///   - connection: A tenant's transaction, or a platform one.
    /// - Returns: The dead jobs, and the cursor to pass as `after` for the next page, `nil`
    ///   after the last page.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a limit out of range or a
    ///   queue name no queue can have.
    public static func list(
        queue: String? = nil,
        labels: [String: String] = [:],
        after: DeadLetterCursor? = nil,
        limit: Int = 100,
        on connection: PostgresConnection
    ) throws -> (deadLetters: [DeadLetter], next: DeadLetterCursor?) {
        guard (1...self.maximumPageSize).contains(limit) else {
            throw StoreError(
                .invalidArgument, "page size \(limit) is out of range; expected 1 to \(self.maximumPageSize)")
        }
        if let queue {
            try JobStore.checkQueueName(queue)
        }
        let position = after.map { PostgresTimestamp.text(microsecondsSinceEpoch: $0.deadAtMicroseconds) }
        let rows = try connection.query(
            Self.listSQL,
            [
                queue, labels.isEmpty ? nil : try JobStore.json(labels), position ?? "infinity",
                after?.id ?? JobStore.lastUUID, limit + 1,
            ]
        ).rows
        let letters = try rows.prefix(limit).map { try Self.deadLetter(from: $0) }
        guard rows.count > limit, let last = rows.prefix(limit).last else {
            return (letters, nil)
        }
        let next = DeadLetterCursor(deadAtMicroseconds: try last.int64("dead_us"), id: try JobStore.uuid(last, "id"))
        return (letters, next)
    }

    /// Moves dead jobs of one tenant back to the live table as pending, oldest dead first.
    ///
    /// Each job is redriven as ``JobStore/retry(_:resetAttempts:pendingLimit:on:)`` retries
    /// one, and the jobs take units of the tenant's pending-jobs quota together, in the same
    /// transaction: all of them fit, or the quota refuses and nothing may be kept. The
    /// transaction must then roll back, as a tenant transaction does when its body throws,
    /// and as this call does itself when it runs outside a transaction. A dead job that another
    /// transaction redrives at the same moment is waited for, then left to that one: each job
    /// is moved once, and this call may then move fewer than `limit` although more remain.
    ///
    /// - Parameters:
    ///   - selection: Which dead jobs.
    ///   - tenantID: Their tenant; in a tenant's transaction, that tenant.
    ///   - limit: The most jobs to move, 1 to ``maximumRedriveCount``.
    ///   - resetAttempts: Whether attempts count from zero again.
    ///   - delay: How long after now the jobs are due, to spread their load.
    ///   - pendingLimit: The tenant's pending-jobs quota, defaults filled in; `nil` counts
    ///     without a limit.
    ///   - connection: The tenant's transaction, or a platform one.
    /// - Returns: The jobs moved, and whether matching dead jobs remain.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a limit or delay out of range
    ///   or a malformed queue name, `quotaExceeded` when the jobs would not fit the quota.
    public static func redrive(
        _ selection: DeadLetterSelection,
        tenantID: String,
        limit: Int = 1_000,
        resetAttempts: Bool = false,
        delay: Duration = .zero,
        pendingLimit: Int64? = nil,
        on connection: PostgresConnection
    ) throws -> RedriveOutcome {
        try self.checkRedrive(selection, limit: limit, delay: delay)
        let filters: [any PostgresBindable] = [
            tenantID,
            selection.jobIDs.isEmpty ? nil : PostgresArray.literal(selection.jobIDs.map { $0.uuidString.lowercased() }),
            selection.queue,
            selection.labels.isEmpty ? nil : try JobStore.json(selection.labels),
        ]
        return try connection.transaction { connection in
            let moved = try connection.query(
                Self.redriveSQL, filters + [limit, resetAttempts, delay.milliseconds]
            ).rows
            if !moved.isEmpty {
                try QuotaStore.takePendingJobs(
                    Int64(moved.count), limit: pendingLimit, tenantID: tenantID, on: connection)
            }
            let more = try connection.query(Self.remainingSQL, filters).first.map { try $0.bool("more") } ?? false
            return RedriveOutcome(jobIDs: try moved.map { try JobStore.uuid($0, "id") }, more: more)
        }
    }

    private static func checkRedrive(_ selection: DeadLetterSelection, limit: Int, delay: Duration) throws {
        guard (1...self.maximumRedriveCount).contains(limit) else {
            throw StoreError(
                .invalidArgument,
                "the redrive limit is \(limit); expected 1 to \(self.maximumRedriveCount) jobs per call"
            )
        }
        guard delay >= .zero, delay <= .seconds(366 * 86_400) else {
            throw StoreError(
                .invalidArgument, "the redrive delay is \(delay); expected zero up to 366 days")
        }
        if let queue = selection.queue {
            try JobStore.checkQueueName(queue)
        }
    }

    private static func deadLetter(from row: PostgresRow) throws -> DeadLetter {
        let outcomeText = try row.string("last_attempt_outcome")
        guard let outcome = AttemptOutcome(rawValue: outcomeText) else {
            throw StoreError(
                .unexpectedValue, "column 'last_attempt_outcome' holds '\(outcomeText)'; expected an attempt outcome")
        }
        let attempt = JobAttempt(
            number: try row.int("last_attempt_number"),
            outcome: outcome,
            workerID: try row.string("last_attempt_worker_id"),
            startedAt: try row.date(microseconds: "attempt_started_us"),
            finishedAt: try row.date(microseconds: "attempt_finished_us"),
            errorMessage: row["last_error"],
            httpStatus: try row["last_attempt_http_status"].map { _ in try row.int("last_attempt_http_status") }
        )
        return DeadLetter(
            job: try JobStore.jobRecord(from: row),
            lastAttempt: attempt,
            deadAt: try row.date(microseconds: "dead_us"),
            expiresAt: try row.date(microseconds: "expires_us")
        )
    }

    /// The conditions of a redrive's selection: $1 tenant, $2 ids, $3 queue, $4 labels.
    private static let selectionConditions = """
        tenant_id = $1::text
                AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))
                AND ($3::text IS NULL OR queue = $3::text)
                AND ($4::jsonb IS NULL OR labels @> $4::jsonb)
        """

    private static let redriveSQL = """
        WITH picked AS (
            SELECT id, dead_at FROM gnomon_dead_letters
            WHERE \(Self.selectionConditions)
            ORDER BY dead_at, id
            LIMIT $5
        ),
        moved AS (
            DELETE FROM gnomon_dead_letters WHERE id IN (SELECT id FROM picked)
            RETURNING \(JobStore.restoredColumns)
        ),
        restored AS (
            \(JobStore.restoreSQL(reset: "$6::boolean", delay: "$7::bigint"))
        )
        SELECT restored.id FROM restored JOIN picked USING (id) ORDER BY picked.dead_at, picked.id
        """

    /// Run after the move, so that it no longer sees the jobs moved.
    private static let remainingSQL = """
        SELECT EXISTS (SELECT FROM gnomon_dead_letters WHERE \(Self.selectionConditions)) AS more
        """

    private static let listSQL = """
        SELECT \(JobStore.recordColumns), last_attempt_number, last_attempt_outcome,
            last_attempt_worker_id, last_attempt_http_status,
            (extract(epoch FROM last_attempt_started_at) * 1000000)::bigint AS attempt_started_us,
            (extract(epoch FROM last_attempt_finished_at) * 1000000)::bigint AS attempt_finished_us,
            (extract(epoch FROM dead_at) * 1000000)::bigint AS dead_us,
            (extract(epoch FROM expires_at) * 1000000)::bigint AS expires_us
        FROM (
            SELECT \(JobStore.deadColumns), last_attempt_number, last_attempt_outcome,
                last_attempt_worker_id, last_attempt_http_status, last_attempt_started_at,
                last_attempt_finished_at, dead_at, expires_at
            FROM gnomon_dead_letters
            WHERE ($1::text IS NULL OR queue = $1::text)
                AND ($2::jsonb IS NULL OR labels @> $2::jsonb)
                AND dead_at <= $3::timestamptz AND (dead_at < $3::timestamptz OR id < $4::uuid)
            ORDER BY dead_at DESC, id DESC
            LIMIT $5
        ) AS job
        ORDER BY dead_at DESC, id DESC
        """
}
