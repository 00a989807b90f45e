/// A shard lease as its holder knows it: the epoch that fences its writes, and its expiry.
public struct ShardLease: Sendable, Hashable {
    public var shard: Int
    public var epoch: Int64
    /// Milliseconds until expiry, on the database's clock, when the lease was taken or renewed.
    public var remainingMilliseconds: Int64

    /// Creates a lease as its holder knows it.
    public init(shard: Int, epoch: Int64, remainingMilliseconds: Int64 = 0) {
        self.shard = shard
        self.epoch = epoch
        self.remainingMilliseconds = remainingMilliseconds
    }
}

/// The queries that hand shards to nodes, fenced by an epoch the database advances.
public enum ShardLeaseStore {
    /// Takes a shard whose lease has lapsed or that `node` already holds, for `duration`.
    ///
    /// - Returns: The lease, or `nil` when another node holds it.
    public static func acquire(
        shard: Int,
        node: String,
        duration: Duration,
        on connection: PostgresConnection
    ) throws -> ShardLease? {
        let row = try connection.query(
            """
            UPDATE gnomon_shard_leases
            SET owner_node = $2, expires_at = now() + $3::bigint * interval '1 millisecond'
            WHERE shard = $1 AND (expires_at <= now() OR owner_node = $2)
            RETURNING epoch, (extract(epoch FROM expires_at - now()) * 1000)::bigint AS remaining_ms
            """,
            [shard, node, duration.milliseconds]
        ).first
        return try row.map { try Self.lease(shard: shard, row: $0) }
    }

    /// Extends a lease the node holds at `epoch`; `nil` when it lapsed or moved on.
    ///
    /// Renewing keeps the epoch, so writes made under it stay valid.
    public static func renew(
        _ lease: ShardLease,
        node: String,
        duration: Duration,
        on connection: PostgresConnection
    ) throws -> ShardLease? {
        let row = try connection.query(
            """
            UPDATE gnomon_shard_leases
            SET expires_at = now() + $4::bigint * interval '1 millisecond'
            WHERE shard = $1 AND owner_node = $2 AND epoch = $3 AND expires_at > now()
            RETURNING epoch, (extract(epoch FROM expires_at - now()) * 1000)::bigint AS remaining_ms
            """,
            [lease.shard, node, lease.epoch, duration.milliseconds]
        ).first
        return try row.map { try Self.lease(shard: lease.shard, row: $0) }
    }

    /// Gives a lease up at once, so another node may take the shard without waiting for expiry.
    public static func release(_ lease: ShardLease, node: String, on connection: PostgresConnection) throws {
        try connection.query(
            """
            UPDATE gnomon_shard_leases SET owner_node = NULL, expires_at = now()
            WHERE shard = $1 AND owner_node = $2 AND epoch = $3
            """,
            [lease.shard, node, lease.epoch]
        )
    }

    private static func lease(shard: Int, row: PostgresRow) throws -> ShardLease {
        ShardLease(shard: shard, epoch: try row.int64("epoch"), remainingMilliseconds: try row.int64("remaining_ms"))
    }
}
