/// The cluster's membership: each node's row, kept fresh by heartbeats on the database's clock.
///
/// A node is live while its last heartbeat is younger than the lease lifetime; the upkeep
/// leader deletes the rows of nodes gone for longer. A heartbeat writes the row again if it
/// was deleted, so a node that was paused for a while rejoins by itself.
public enum NodeRegistry {
    /// Writes the node's row as freshly started, replacing one left by an earlier run.
    ///
    /// - Parameters:
    ///   - node: The node's name, unique in the cluster.
    ///   - address: Where the node's RPC listener can be reached, for operators.
    ///   - version: The node's software version.
    public static func register(
        node: String,
        address: String,
        version: String,
        on connection: PostgresConnection
    ) throws {
        try connection.query(
            """
            INSERT INTO gnomon_nodes (node_id, address, version) VALUES ($1, $2, $3)
            ON CONFLICT (node_id) DO UPDATE
            SET address = EXCLUDED.address, version = EXCLUDED.version, started_at = now(), heartbeat_at = now()
            """,
            [node, address, version]
        )
    }

    /// Marks the node alive now, writing its row again if the leader had deleted it.
    public static func heartbeat(node: String, on connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO gnomon_nodes (node_id) VALUES ($1)
            ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()
            """,
            [node]
        )
    }

    /// Removes the node's row, so the others count it gone at once.
    public static func deregister(node: String, on connection: PostgresConnection) throws {
        try connection.query("DELETE FROM gnomon_nodes WHERE node_id = $1", [node])
    }

    /// The nodes whose last heartbeat is younger than `ttl`, sorted by name.
    public static func liveNodes(within ttl: Duration, on connection: PostgresConnection) throws -> [String] {
        try connection.query(
            """
            SELECT node_id FROM gnomon_nodes
            WHERE heartbeat_at > now() - $1::bigint * interval '1 millisecond'
            ORDER BY node_id
            """,
            [ttl.milliseconds]
        ).rows.map { try $0.string("node_id") }
    }

    /// Deletes the rows of nodes silent for at least `ttl`, while `node` leads at `leader`.
    ///
    /// - Returns: The nodes deleted, sorted; none when the leadership moved on.
    public static func deleteGone(
        olderThan ttl: Duration,
        leader: LeaderLease,
        node: String,
        on connection: PostgresConnection
    ) throws -> [String] {
        try connection.query(
            """
            WITH current_leader AS (
                SELECT epoch FROM gnomon_leader_lease
                WHERE owner_node = $2 AND epoch = $3 AND expires_at > now()
                FOR SHARE
            )
            DELETE FROM gnomon_nodes
            WHERE heartbeat_at <= now() - $1::bigint * interval '1 millisecond' AND EXISTS (SELECT FROM current_leader)
            RETURNING node_id
            """,
            [ttl.milliseconds, node, leader.epoch]
        ).rows.map { try $0.string("node_id") }.sorted()
    }
}
