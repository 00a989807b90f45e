public import Foundation

/// A tenant's queue: whether it is paused, and what waits and runs in it now.
public struct QueueRecord: Sendable, Hashable {
    public var name: String
    public var tenantID: String
    public var paused: Bool
    public var createdAt: Date
    public var pending: Int64
    public var running: Int64
    public var retryWait: Int64
    public var dead: Int64
    /// How long the oldest due job has waited to start, in milliseconds; 0 when none waits.
    public var oldestPendingAgeMilliseconds: Int64
}

/// The queries of queues: made on first submission, listed with live counts, paused and resumed.
///
/// Every function runs in the tenant's transaction, whose row-level security keeps it to the
/// tenant's own queues.
public enum QueueStore {
    /// Records queues the first time a job names them; a queue already known is left as it is.
    public static func ensure(_ names: [String], tenantID: String, on connection: PostgresConnection) throws {
        guard !names.isEmpty else {
            return
        }
        try connection.query(
            """
            INSERT INTO gnomon_queues (tenant_id, name)
            SELECT $1, unnest($2::text[])
            ON CONFLICT (tenant_id, name) DO NOTHING
            """,
            [tenantID, PostgresArray.literal(names)]
        )
    }

    /// The tenant's queues in name order, after `after`, at most `limit`.
    public static func list(
        tenantID: String,
        after: String?,
        limit: Int,
        on connection: PostgresConnection
    ) throws -> (queues: [QueueRecord], nextAfter: String?) {
        let rows = try connection.query(
            """
            SELECT name FROM gnomon_queues
            WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2::text)
            ORDER BY name LIMIT $3
            """,
            [tenantID, after, limit + 1]
        ).rows
        let names = try rows.prefix(limit).map { try $0.string("name") }
        let queues = try names.compactMap { try Self.get($0, tenantID: tenantID, on: connection) }
        return (queues, rows.count > limit ? names.last : nil)
    }

    /// One queue with its counts, or `nil` when the tenant has none of that name.
    public static func get(_ name: String, tenantID: String, on connection: PostgresConnection) throws -> QueueRecord? {
        guard
            let row = try connection.query(
                """
                SELECT q.name, q.paused, (extract(epoch FROM q.created_at) * 1000000)::bigint AS created_us,
                    (SELECT count(*) FROM gnomon_jobs j
                        WHERE j.tenant_id = q.tenant_id AND j.queue = q.name AND j.state = 'pending') AS pending,
                    (SELECT count(*) FROM gnomon_jobs j
                        WHERE j.tenant_id = q.tenant_id AND j.queue = q.name AND j.state = 'running') AS running,
                    (SELECT count(*) FROM gnomon_jobs j
                        WHERE j.tenant_id = q.tenant_id AND j.queue = q.name AND j.state = 'retry_wait') AS retry_wait,
                    (SELECT count(*) FROM gnomon_dead_letters d
                        WHERE d.tenant_id = q.tenant_id AND d.queue = q.name) AS dead,
                    coalesce((SELECT (extract(epoch FROM now() - min(j.due_at)) * 1000)::bigint FROM gnomon_jobs j
                        WHERE j.tenant_id = q.tenant_id AND j.queue = q.name
                            AND j.state IN ('pending', 'retry_wait') AND j.due_at <= now()), 0) AS oldest_ms
                FROM gnomon_queues q
                WHERE q.tenant_id = $1 AND q.name = $2
                """,
                [tenantID, name]
            ).first
        else {
            return nil
        }
        return QueueRecord(
            name: try row.string("name"),
            tenantID: tenantID,
            paused: try row.bool("paused"),
            createdAt: try row.date(microseconds: "created_us"),
            pending: try row.int64("pending"),
            running: try row.int64("running"),
            retryWait: try row.int64("retry_wait"),
            dead: try row.int64("dead"),
            oldestPendingAgeMilliseconds: max(try row.int64("oldest_ms"), 0)
        )
    }

    /// Pauses or resumes a queue: while paused, workers lease none of its jobs; jobs may still
    /// be submitted, and attempts already running go on.
    ///
    /// - Returns: The queue as it is now, or `nil` when the tenant has none of that name.
    public static func setPaused(
        _ paused: Bool,
        name: String,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> QueueRecord? {
        let changed = try connection.query(
            "UPDATE gnomon_queues SET paused = $3 WHERE tenant_id = $1 AND name = $2",
            [tenantID, name, paused]
        )
        guard changed.affectedRows == 1 else {
            return nil
        }
        return try Self.get(name, tenantID: tenantID, on: connection)
    }
}
