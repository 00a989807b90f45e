import Foundation
import GnomonServer
import GnomonStore
import GnomonTestSupport
import Synchronization
import Testing

/// Records every shard a lease manager tells it of, in order, with when it heard.
final class OwnershipRecorder: ShardOwnershipDelegate {
    struct Event: Sendable, Equatable {
        var shard: Int
        /// The epoch for a shard gained, `nil` for one lost.
        var epoch: Int64?
        var reason: ShardLossReason?
        /// The wall clock when the delegate heard, in milliseconds since 1970.
        var atUnixMilliseconds: Int64
    }

    private let recorded = Mutex<[Event]>([])
    private let onLost: (@Sendable (Int, ShardLossReason) async -> Void)?

    /// Creates a recorder that also runs `onLost` for every shard lost, before it returns.
    init(onLost: (@Sendable (Int, ShardLossReason) async -> Void)? = nil) {
        self.onLost = onLost
    }

    var events: [Event] {
        self.recorded.withLock { $0 }
    }

    func shardAcquired(_ lease: ShardLease) async {
        self.append(Event(shard: lease.shard, epoch: lease.epoch, reason: nil, atUnixMilliseconds: Self.nowMs()))
    }

    func shardLost(_ shard: Int, reason: ShardLossReason) async {
        self.append(Event(shard: shard, epoch: nil, reason: reason, atUnixMilliseconds: Self.nowMs()))
        await self.onLost?(shard, reason)
    }

    private func append(_ event: Event) {
        self.recorded.withLock { $0.append(event) }
    }

    private static func nowMs() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1_000)
    }
}

/// One shard lease row as the database has it now.
struct LeaseRow: Sendable, Equatable {
    var shard: Int
    var owner: String?
    var epoch: Int64
    var isCurrent: Bool
    var expiresAtUnixMilliseconds: Int64
}

extension TestDatabase {
    /// Every shard lease row, ordered by shard.
    func leaseRows() async throws -> [LeaseRow] {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT shard, owner_node, epoch, expires_at > now() AS current,
                    CASE WHEN isfinite(expires_at) THEN (extract(epoch FROM expires_at) * 1000)::bigint END AS expires_ms
                FROM gnomon_shard_leases ORDER BY shard
                """
            ).rows.map { row in
                LeaseRow(
                    shard: try row.int("shard"),
                    owner: row["owner_node"],
                    epoch: try row.int64("epoch"),
                    isCurrent: try row.bool("current"),
                    expiresAtUnixMilliseconds: (try? row.int64("expires_ms")) ?? Int64.min
                )
            }
        }
    }

    /// How many shards each node holds by a current lease, as the database says.
    func currentOwners() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await self.leaseRows() where row.isCurrent {
            counts[row.owner ?? "", default: 0] += 1
        }
        return counts
    }
}

/// A test node: a lease manager with a pool and a recorder of its own.
struct TestNode: Sendable {
    let manager: ShardLeaseManager
    let recorder: OwnershipRecorder
    let pool: PostgresPool

    init(_ nodeID: String, database: TestDatabase, timing: LeaseTiming, recorder: OwnershipRecorder = .init()) {
        self.pool = PostgresPool(connectionString: database.connectionString, maximumConnections: 2)
        self.recorder = recorder
        self.manager = ShardLeaseManager(nodeID: nodeID, pool: self.pool, timing: timing, delegate: self.recorder)
    }

    /// The shards the manager holds now.
    func owned() async -> Set<Int> {
        Set(await self.manager.ownedLeases().map(\.shard))
    }

    /// Stops the manager gracefully and closes the pool.
    func shutdown() async {
        await self.manager.stop()
        await self.pool.shutdown()
    }
}

/// Polls `condition` every 50 ms until it holds, for at most `limit`.
///
/// - Returns: How long it took.
@discardableResult
func eventually(
    within limit: Duration,
    _ description: String,
    _ condition: () async throws -> Bool
) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < limit {
        if try await condition() {
            return clock.now - start
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("not within \(limit): \(description)")
    return clock.now - start
}
