/// One shard's lease as a node sees it when it plans: who holds it and whether it is current.
public struct ShardLeaseView: Sendable, Hashable {
    /// The shard's number, from zero.
    public var shard: Int
    /// The node named in the lease row; `nil` when the lease was released.
    public var owner: String?
    /// Whether the lease is unexpired on the database's clock.
    public var isCurrent: Bool

    /// Creates a view of one lease row.
    public init(shard: Int, owner: String?, isCurrent: Bool) {
        self.shard = shard
        self.owner = owner
        self.isCurrent = isCurrent
    }

    /// Whether any node may take the shard now: released, or expired.
    public var isFree: Bool {
        self.owner == nil || !self.isCurrent
    }
}

/// What one node should do to move towards an even spread of the shards.
public struct ShardRebalancePlan: Sendable, Hashable {
    /// How many shards the node should hold.
    public var fairShare: Int
    /// Shards the node holds beyond its share, to stop and release, in order.
    public var release: [Int]
    /// Free shards to try to take, best first; at most ``acquireLimit`` of them are taken.
    public var acquire: [Int]
    /// How many shards the node lacks to reach its share.
    public var acquireLimit: Int

    /// Creates a plan.
    public init(fairShare: Int, release: [Int], acquire: [Int], acquireLimit: Int) {
        self.fairShare = fairShare
        self.release = release
        self.acquire = acquire
        self.acquireLimit = acquireLimit
    }

    /// Whether the node already holds exactly its share.
    public var isBalanced: Bool {
        self.release.isEmpty && self.acquireLimit == 0
    }
}

/// Spreads a fixed number of shards evenly over the live nodes, each node deciding alone.
///
/// Every node computes the same shares from the same sorted list of live nodes: the shard
/// count divided by the number of nodes, with the remainder going one each to the first
/// nodes. A node over its share releases shards; a node under it takes free or expired ones
/// and never a current lease of another node. A node never takes more than its share, so
/// once the list of live nodes is stable the shards stop moving.
///
/// Each node also has a preferred run of shards, the one it would hold if the shards were
/// dealt out in order. It tries those first and releases others first, which keeps nodes
/// that join together from racing for the same rows and keeps the layout stable.
public enum ShardBalance {
    /// The fair share of every node, in the order of `nodes` once sorted.
    ///
    /// - Parameters:
    ///   - shardCount: The cluster's number of shards.
    ///   - nodes: The live nodes; duplicates count once.
    /// - Returns: Each node's share; the shares add up to `shardCount`.
    public static func fairShares(shardCount: Int, nodes: some Sequence<String>) -> [(node: String, share: Int)] {
        let sorted = Array(Set(nodes)).sorted()
        guard !sorted.isEmpty else {
            return []
        }
        let base = shardCount / sorted.count
        let remainder = shardCount % sorted.count
        return sorted.enumerated().map { index, node in
            (node, base + (index < remainder ? 1 : 0))
        }
    }

    /// Plans one node's next step from what it holds and what the database shows.
    ///
    /// - Parameters:
    ///   - node: The planning node; it counts as live whether or not `liveNodes` names it.
    ///   - shardCount: The cluster's number of shards.
    ///   - liveNodes: The nodes whose heartbeat is recent.
    ///   - held: The shards the node holds by its own reckoning.
    ///   - leases: Every shard's lease row, read just now.
    /// - Returns: The shards to release and to try to take.
    public static func plan(
        for node: String,
        shardCount: Int,
        liveNodes: [String],
        held: Set<Int>,
        leases: [ShardLeaseView]
    ) -> ShardRebalancePlan {
        let shares = self.fairShares(shardCount: shardCount, nodes: liveNodes + [node])
        guard let index = shares.firstIndex(where: { $0.node == node }) else {
            return ShardRebalancePlan(fairShare: 0, release: [], acquire: [], acquireLimit: 0)
        }
        let share = shares[index].share
        let start = shares[..<index].reduce(0) { $0 + $1.share }
        // Distance from the start of the preferred run, wrapping: the preferred run comes
        // first, and nodes begin their search in different places, so two nodes joining
        // together rarely want the same shard.
        let count = max(shardCount, 1)
        let rank = { (shard: Int) -> Int in ((shard - start) % count + count) % count }

        if held.count > share {
            let release = held.sorted { rank($0) > rank($1) }.prefix(held.count - share)
            return ShardRebalancePlan(fairShare: share, release: Array(release), acquire: [], acquireLimit: 0)
        }
        let free = leases.filter { $0.isFree && !held.contains($0.shard) && (0..<shardCount).contains($0.shard) }
        let acquire = free.map(\.shard).sorted { rank($0) < rank($1) }
        return ShardRebalancePlan(fairShare: share, release: [], acquire: acquire, acquireLimit: share - held.count)
    }
}
