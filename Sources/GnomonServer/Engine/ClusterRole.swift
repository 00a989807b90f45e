public import GnomonCore
import GnomonStore

/// What this node knows of the cluster, as the status service reports it.
public struct ClusterStatus: Sendable, Hashable {
    /// The cluster's fixed number of shards.
    public var shardCount: Int
    /// The shards this node holds now, in order.
    public var ownedShards: [Int]
    /// The nodes whose heartbeat was recent at the last round, this one included.
    public var liveNodes: [String]
    /// Whether this node leads upkeep now.
    public var isLeader: Bool
}

/// This node's part in the cluster: its share of the shards, and the upkeep leadership.
///
/// Each part has its own small pool of connections, so that neither the server's calls nor
/// a long upkeep run can delay a lease renewal.
public final class ClusterRole: Sendable {
    /// Keeps this node's share of the shards.
    public let shards: ShardLeaseManager
    /// Elects the upkeep leader and runs upkeep while this node leads.
    public let leadership: UpkeepLeadership
    private let shardPool: PostgresPool
    private let leadershipPool: PostgresPool

    /// Creates the role; nothing happens until ``start(address:)``.
    ///
    /// - Parameters:
    ///   - nodeID: This node's name, unique in the cluster.
    ///   - connectionString: The database, for pools of the role's own.
    ///   - timing: The lease lifetime and renewal cadence.
    ///   - delegate: Told of every shard gained and lost.
    ///   - logger: Receives lease and leadership changes.
    public init(
        nodeID: String,
        connectionString: String,
        timing: LeaseTiming,
        delegate: (any ShardOwnershipDelegate)? = nil,
        logger: Logger
    ) {
        let leaseConnections = Self.leaseConnectionString(connectionString, timing: timing)
        self.shardPool = PostgresPool(connectionString: leaseConnections, maximumConnections: 2, logger: logger)
        self.leadershipPool = PostgresPool(connectionString: leaseConnections, maximumConnections: 2, logger: logger)
        self.shards = ShardLeaseManager(
            nodeID: nodeID, pool: self.shardPool, timing: timing, delegate: delegate, logger: logger)
        self.leadership = UpkeepLeadership(nodeID: nodeID, pool: self.leadershipPool, timing: timing, logger: logger)
    }

    /// The database, with TCP timeouts that fail a call cut off by the network within a lifetime.
    ///
    /// Without them, a renewal sent just before the network dropped would wait for the
    /// kernel's retransmissions, some fifteen minutes, and the node could not rejoin when the
    /// network came back. The local deadlines keep the node safe either way; these keep it live.
    static func leaseConnectionString(_ connectionString: String, timing: LeaseTiming) -> String {
        let ttl = timing.ttlMilliseconds
        return PostgresConnectionString.adding(
            [
                ("connect_timeout", String(max(2, ttl / 1_000))),
                ("tcp_user_timeout", String(ttl)),
                ("keepalives_idle", String(max(1, ttl / 1_000))),
                ("keepalives_interval", "1"),
                ("keepalives_count", "3"),
            ],
            to: connectionString
        )
    }

    /// This node's name in the cluster.
    public var nodeID: String {
        self.shards.nodeID
    }

    /// Joins the cluster, takes a share of the shards and stands for the leadership.
    ///
    /// - Parameter address: Where the node's RPC listener can be reached, for operators.
    /// - Throws: ``StoreError`` when the node cannot register.
    public func start(address: String) async throws {
        try await self.shards.start(address: address)
        await self.leadership.start()
    }

    /// Gives up the leadership and every shard at once, so other nodes take them without delay.
    public func stop() async {
        await self.leadership.stop()
        await self.shards.stop()
        await self.shardPool.shutdown()
        await self.leadershipPool.shutdown()
    }

    /// The shards held, the live nodes and the leadership, as this node knows them now.
    public func status() async -> ClusterStatus {
        let view = await self.shards.clusterView()
        return ClusterStatus(
            shardCount: view.shardCount,
            ownedShards: await self.shards.ownedLeases().map(\.shard),
            liveNodes: view.liveNodes,
            isLeader: await self.leadership.isLeader
        )
    }
}
