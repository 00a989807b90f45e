public import GnomonCore

extension ShardLeaseStore {
    /// Every shard's lease row as it is now, ordered by shard.
    ///
    /// - Returns: Each shard's owner and whether its lease is unexpired on the database's clock.
    public static func views(on connection: PostgresConnection) throws -> [ShardLeaseView] {
        try connection.query(
            "SELECT shard, owner_node, expires_at > now() AS current FROM gnomon_shard_leases ORDER BY shard"
        ).rows.map { row in
            ShardLeaseView(shard: try row.int("shard"), owner: row["owner_node"], isCurrent: try row.bool("current"))
        }
    }

    /// Extends, in one statement, every lease in `leases` that `node` still holds at its epoch.
    ///
    /// A lease that lapsed or moved on is left out of the answer: its holder must stop.
    ///
    /// - Returns: The leases renewed, with the time left on each.
    public static func renew(
        _ leases: [ShardLease],
        node: String,
        duration: Duration,
        on connection: PostgresConnection
    ) throws -> [ShardLease] {
        guard !leases.isEmpty else {
            return []
        }
        let rows = try connection.query(
            """
            UPDATE gnomon_shard_leases AS l
            SET expires_at = now() + $4::bigint * interval '1 millisecond'
            FROM unnest($2::integer[], $3::bigint[]) AS held(shard, epoch)
            WHERE l.shard = held.shard AND l.epoch = held.epoch AND l.owner_node = $1 AND l.expires_at > now()
            RETURNING l.shard, l.epoch, (extract(epoch FROM l.expires_at - now()) * 1000)::bigint AS remaining_ms
            """,
            [
                node, try PostgresArray.literal(values: leases.map(\.shard)),
                try PostgresArray.literal(values: leases.map(\.epoch)), duration.milliseconds,
            ]
        ).rows
        return try rows.map(Self.lease(from:))
    }

    /// Takes up to `limit` of the `candidates` whose lease is free or expired, best first.
    ///
    /// Rows that another node is taking at the same moment are skipped rather than waited
    /// for. Each lease taken gets a new epoch, even one this node held before it lapsed.
    ///
    /// - Parameters:
    ///   - candidates: Shards to try, in order of preference.
    ///   - limit: At most this many are taken.
    ///   - node: The taking node.
    ///   - duration: How long the leases last on the database's clock.
    /// - Returns: The leases taken, in order of shard.
    public static func acquire(
        candidates: [Int],
        limit: Int,
        node: String,
        duration: Duration,
        on connection: PostgresConnection
    ) throws -> [ShardLease] {
        guard !candidates.isEmpty, limit > 0 else {
            return []
        }
        let rows = try connection.query(
            """
            WITH wanted AS (
                SELECT l.shard
                FROM gnomon_shard_leases AS l
                JOIN unnest($2::integer[]) WITH ORDINALITY AS c(shard, rank) ON c.shard = l.shard
                WHERE l.expires_at <= now()
                ORDER BY c.rank
                LIMIT $3
                FOR UPDATE OF l SKIP LOCKED
            )
            UPDATE gnomon_shard_leases AS l
            SET owner_node = $1, expires_at = now() + $4::bigint * interval '1 millisecond'
            FROM wanted
            WHERE l.shard = wanted.shard
            RETURNING l.shard, l.epoch, (extract(epoch FROM l.expires_at - now()) * 1000)::bigint AS remaining_ms
            """,
            [node, try PostgresArray.literal(values: candidates), limit, duration.milliseconds]
        ).rows
        return try rows.map(Self.lease(from:)).sorted { $0.shard < $1.shard }
    }

    /// Gives up, in one statement, every lease in `leases` that `node` still holds at its epoch.
    ///
    /// - Returns: The number of leases released.
    @discardableResult
    public static func release(_ leases: [ShardLease], node: String, on connection: PostgresConnection) throws -> Int {
        guard !leases.isEmpty else {
            return 0
        }
        return try connection.query(
            """
            UPDATE gnomon_shard_leases AS l SET owner_node = NULL, expires_at = now()
            FROM unnest($2::integer[], $3::bigint[]) AS held(shard, epoch)
            WHERE l.shard = held.shard AND l.epoch = held.epoch AND l.owner_node = $1
            """,
            [
                node, try PostgresArray.literal(values: leases.map(\.shard)),
                try PostgresArray.literal(values: leases.map(\.epoch)),
            ]
        ).affectedRows
    }

    private static func lease(from row: PostgresRow) throws -> ShardLease {
        ShardLease(
            shard: try row.int("shard"),
            epoch: try row.int64("epoch"),
            remainingMilliseconds: try row.int64("remaining_ms")
        )
    }
}
