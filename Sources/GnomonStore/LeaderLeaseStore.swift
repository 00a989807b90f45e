/// The upkeep leadership as its holder knows it: the epoch that fences the leader's writes.
public struct LeaderLease: Sendable, Hashable {
    public var epoch: Int64
    /// Milliseconds until expiry, on the database's clock, when the lease was taken or renewed.
    public var remainingMilliseconds: Int64

    /// Creates a lease as its holder knows it.
    public init(epoch: Int64, remainingMilliseconds: Int64 = 0) {
        self.epoch = epoch
        self.remainingMilliseconds = remainingMilliseconds
    }
}

/// Who leads upkeep now, as the lease row says.
public struct LeaderLeaseState: Sendable, Hashable {
    /// The node named in the row; `nil` when the lease was released or never taken.
    public var owner: String?
    public var epoch: Int64
    /// Whether the lease is unexpired on the database's clock.
    public var isCurrent: Bool

    /// Creates a state as read from the lease row.
    public init(owner: String?, epoch: Int64, isCurrent: Bool) {
        self.owner = owner
        self.epoch = epoch
        self.isCurrent = isCurrent
    }

    /// The leader now: the owner of a current lease.
    public var leader: String? {
        self.isCurrent ? self.owner : nil
    }
}

/// The queries that elect one node to run upkeep, fenced like shard leases.
///
/// The single lease row's epoch increases whenever the leadership changes hands or is taken
/// again after it lapsed; work only the leader may do names the epoch it holds.
public enum LeaderLeaseStore {
    /// Takes the leadership if it is free or expired.
    ///
    /// - Returns: The lease with its new epoch, or `nil` when another node leads.
    public static func acquire(node: String, duration: Duration, on connection: PostgresConnection) throws
        -> LeaderLease?
    {
        try connection.query(
            """
            UPDATE gnomon_leader_lease
            SET owner_node = $1, expires_at = now() + $2::bigint * interval '1 millisecond'
            WHERE expires_at <= now()
            RETURNING epoch, (extract(epoch FROM expires_at - now()) * 1000)::bigint AS remaining_ms
            """,
            [node, duration.milliseconds]
        ).first.map(Self.lease(from:))
    }

    /// Extends the leadership `node` holds at the lease's epoch; `nil` when it lapsed or moved on.
    public static func renew(
        _ lease: LeaderLease,
        node: String,
        duration: Duration,
        on connection: PostgresConnection
    ) throws -> LeaderLease? {
        try connection.query(
            """
            UPDATE gnomon_leader_lease
            SET expires_at = now() + $3::bigint * interval '1 millisecond'
            WHERE owner_node = $1 AND epoch = $2 AND expires_at > now()
            RETURNING epoch, (extract(epoch FROM expires_at - now()) * 1000)::bigint AS remaining_ms
            """,
            [node, lease.epoch, duration.milliseconds]
        ).first.map(Self.lease(from:))
    }

    /// Gives the leadership up at once, so another node may take it without waiting for expiry.
    public static func release(_ lease: LeaderLease, node: String, on connection: PostgresConnection) throws {
        try connection.query(
            "UPDATE gnomon_leader_lease SET owner_node = NULL, expires_at = now() WHERE owner_node = $1 AND epoch = $2",
            [node, lease.epoch]
        )
    }

    /// The lease row as it is now.
    public static func current(on connection: PostgresConnection) throws -> LeaderLeaseState {
        guard
            let row = try connection.query(
                "SELECT owner_node, epoch, expires_at > now() AS current FROM gnomon_leader_lease"
            ).first
        else {
            throw StoreError(.unexpectedValue, "the database has no leader lease row; apply the migrations first")
        }
        return LeaderLeaseState(
            owner: row["owner_node"], epoch: try row.int64("epoch"), isCurrent: try row.bool("current"))
    }

    private static func lease(from row: PostgresRow) throws -> LeaderLease {
        LeaderLease(epoch: try row.int64("epoch"), remainingMilliseconds: try row.int64("remaining_ms"))
    }
}
