public import GnomonStore

/// Why a node stopped holding a shard.
public struct ShardLossReason: Sendable, Hashable, CustomStringConvertible {
    private let name: String

    private init(_ name: String) {
        self.name = name
    }

    /// The node held more than its share and gave the shard up to another.
    public static let rebalanced = ShardLossReason("rebalanced")
    /// The node is stopping and gave every shard up.
    public static let stopping = ShardLossReason("stopping")
    /// The database refused the renewal: the lease lapsed or moved on.
    public static let renewalRefused = ShardLossReason("renewal_refused")
    /// No renewal succeeded in time by the node's own clock; the database may still count
    /// the lease, but it will not for long.
    public static let deadlinePassed = ShardLossReason("deadline_passed")

    public var description: String {
        self.name
    }
}

/// Told when this node gains or loses a shard, so the shard's loop starts and stops.
///
/// Calls come one at a time, in the order the changes happened, from a task of the lease
/// manager's own. Whatever the delegate does, a shard loop's writes stay fenced by the epoch
/// in SQL, and ``ShardLeaseManager/currentLease(of:)`` stops answering for a shard as soon as
/// its lease is lost, even before the delegate hears of it.
public protocol ShardOwnershipDelegate: Sendable {
    /// The node took `lease`: start the shard's loop, naming its epoch in every write.
    func shardAcquired(_ lease: ShardLease) async

    /// The node no longer holds `shard`: stop its loop, and return once it stopped.
    ///
    /// For a shard given up on purpose the lease is released only after this returns, so no
    /// other node starts on the shard while this one is still writing.
    func shardLost(_ shard: Int, reason: ShardLossReason) async
}
