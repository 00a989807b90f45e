public import Foundation

/// A job claimed for one attempt, with the lease token the attempt must present.
public struct ClaimedJob: Sendable, Hashable {
    public var id: UUID
    public var tenantID: String
    public var shard: Int
    public var queue: String
    public var jobType: String
    public var payloadJSON: String
    /// 1 for the first attempt.
    public var attempt: Int
    public var leaseToken: UUID
    public var leaseRemainingMilliseconds: Int64
    public var idempotencyKey: String?
    public var httpTargetJSON: String?
    public var traceparent: String?
}

/// What a heartbeat learnt about its attempt.
public struct HeartbeatOutcome: Sendable, Hashable {
    public var leaseRemainingMilliseconds: Int64
    public var cancelRequested: Bool
}

extension JobStore {
    /// Claims up to `limit` due jobs of one shard for new attempts, oldest due first.
    ///
    /// Runs only while `lease` is current: the statement reads the lease row with FOR SHARE, so
    /// a takeover waits for it and a lapsed or moved lease claims nothing. Rows other claimers
    /// hold are skipped, never waited for. Each claimed job gets a fresh lease token.
    ///
    /// The same statement adds the attempts to each tenant's running count (`running_jobs`),
    /// which the attempt's end gives back. It counts without enforcing `max_concurrent_runs`.
    /// The tenants' usage rows stay locked until the transaction ends, so claim in a
    /// transaction of its own: two transactions that each claimed in several statements could
    /// hold the same tenants' rows in different orders, and deadlock.
    ///
    /// - Parameters:
    ///   - queues: Only jobs of these queues; `nil` for every queue.
    ///   - worker: Recorded with the attempt.
    public func claim(
        shard lease: ShardLease,
        node: String,
        limit: Int,
        queues: [String]? = nil,
        worker: String,
        on connection: PostgresConnection
    ) throws -> [ClaimedJob] {
        let queueFilter: PostgresValue = queues.map { PostgresArray.literal($0) } ?? .null
        let rows = try connection.query(
            Self.claimSQL,
            [lease.shard, lease.epoch, node, limit, queueFilter, worker]
        ).rows
        return try rows.map { try Self.claimedJob(from: $0, shard: lease.shard) }
    }

    /// Extends an attempt's lease by its timeout; `nil` when the token is no longer the job's.
    public func heartbeat(
        jobID: UUID,
        shard: Int,
        leaseToken: UUID,
        on connection: PostgresConnection
    ) throws -> HeartbeatOutcome? {
        let row = try connection.query(
            """
            UPDATE gnomon_jobs
            SET lease_expires_at = now() + attempt_timeout_ms * interval '1 millisecond'
            WHERE shard = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
            RETURNING (extract(epoch FROM lease_expires_at - now()) * 1000)::bigint AS remaining_ms,
                cancel_requested
            """,
            [shard, jobID, leaseToken]
        ).first
        return try row.map {
            HeartbeatOutcome(
                leaseRemainingMilliseconds: try $0.int64("remaining_ms"),
                cancelRequested: try $0.bool("cancel_requested")
            )
        }
    }

    static func claimedJob(from row: PostgresRow, shard: Int) throws -> ClaimedJob {
        guard let id = UUID(uuidString: try row.string("id")),
            let token = UUID(uuidString: try row.string("lease_token"))
        else {
            throw StoreError(.unexpectedValue, "a claimed job has an id or lease token that is not a UUID")
        }
        return ClaimedJob(
            id: id,
            tenantID: try row.string("tenant_id"),
            shard: shard,
            queue: try row.string("queue"),
            jobType: try row.string("job_type"),
            payloadJSON: try row.string("payload"),
            attempt: try row.int("attempts"),
            leaseToken: token,
            leaseRemainingMilliseconds: try row.int64("remaining_ms"),
            idempotencyKey: row["idempotency_key"],
            httpTargetJSON: row["http_target"],
            traceparent: row["traceparent"]
        )
    }

    static let claimSQL = """
        WITH lease AS (
            SELECT epoch FROM gnomon_shard_leases
            WHERE shard = $1 AND epoch = $2 AND owner_node = $3 AND expires_at > now()
            FOR SHARE
        ),
        due AS (
            SELECT id FROM gnomon_jobs
            WHERE shard = $1 AND state IN ('pending', 'retry_wait') AND due_at <= now()
                AND ($5::text[] IS NULL OR queue = ANY($5::text[]))
                AND EXISTS (SELECT FROM lease)
            ORDER BY due_at
            LIMIT $4
            FOR UPDATE SKIP LOCKED
        ),
        claimed AS (
            UPDATE gnomon_jobs AS j
            SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(),
                lease_expires_at = now() + j.attempt_timeout_ms * interval '1 millisecond',
                lease_epoch = $2, worker_id = $6, attempt_started_at = now(),
                started_at = coalesce(j.started_at, now())
            FROM due
            WHERE j.shard = $1 AND j.id = due.id
            RETURNING j.id, j.tenant_id, j.queue, j.job_type, j.payload, j.attempts, j.lease_token,
                (extract(epoch FROM j.lease_expires_at - now()) * 1000)::bigint AS remaining_ms,
                j.idempotency_key, j.http_target, j.traceparent
        ),
        started AS (
            SELECT tenant_id, count(*) AS n FROM claimed GROUP BY tenant_id
        ),
        -- One claim may count for several tenants. Their usage rows are locked in byte order of
        -- tenant id, as the reaper locks them too, so that two such transactions cannot deadlock.
        locked AS (
            SELECT tenant_id FROM gnomon_tenant_usage
            WHERE tenant_id IN (SELECT tenant_id FROM started)
            ORDER BY tenant_id COLLATE "C"
            FOR UPDATE
        ),
        counted AS (
            UPDATE gnomon_tenant_usage AS u
            SET running_jobs = u.running_jobs + started.n
            FROM started
            WHERE u.tenant_id = started.tenant_id AND u.tenant_id IN (SELECT tenant_id FROM locked)
        )
        SELECT * FROM claimed
        """
}
