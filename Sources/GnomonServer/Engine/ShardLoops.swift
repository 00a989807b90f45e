import Foundation
import GnomonCore
import GnomonStore
import Synchronization

/// Runs one ``ShardLoop`` and one ``ScheduleLoop`` for each shard this node holds: started
/// when the lease manager reports a shard acquired, stopped (and awaited) when it reports the
/// shard lost.
///
/// The loops share a small pool of their own, so that a burst of calls cannot hold back the
/// reaping of expired attempts, nor reaping hold back calls.
final class ShardLoops: ShardOwnershipDelegate {
    private let node: String
    private let pool: PostgresPool
    private let store: JobStore
    private let misfireThreshold: Duration
    private let logger: Logger
    private let loops = Synchronization.Mutex<[Int: ShardLoop]>([:])
    private let scheduleLoops = Synchronization.Mutex<[Int: ScheduleLoop]>([:])

    /// Creates the runner; loops start as shards are acquired.
    ///
    /// - Parameters:
    ///   - node: This node's id, which the shard leases name.
    ///   - connectionString: The database.
    ///   - store: The jobs, with the cluster's shard count.
    ///   - misfireThreshold: How late a schedule's fire may be and still run as on time.
    ///   - logger: Receives the loops' failures.
    init(
        node: String, connectionString: String, store: JobStore, misfireThreshold: Duration = .seconds(60),
        logger: Logger
    ) {
        self.node = node
        self.pool = PostgresPool(connectionString: connectionString, maximumConnections: 4, logger: logger)
        self.store = store
        self.misfireThreshold = misfireThreshold
        self.logger = logger
    }

    /// The shards whose loops run now, in order.
    var runningShards: [Int] {
        self.loops.withLock { $0.keys.sorted() }
    }

    func shardAcquired(_ lease: ShardLease) async {
        let loop = ShardLoop(lease: lease, node: self.node, pool: self.pool, store: self.store, logger: self.logger)
        let previous = self.loops.withLock { loops in
            defer { loops[lease.shard] = loop }
            return loops[lease.shard]
        }
        let scheduleLoop = ScheduleLoop(
            lease: lease, node: self.node, pool: self.pool, store: self.store,
            misfireThreshold: self.misfireThreshold, logger: self.logger)
        let previousSchedules = self.scheduleLoops.withLock { loops in
            defer { loops[lease.shard] = scheduleLoop }
            return loops[lease.shard]
        }
        // A shard acquired again at a new epoch replaces its loops; the old ones' writes are
        // fenced by their epoch either way.
        await previous?.stop()
        await previousSchedules?.stop()
    }

    func shardLost(_ shard: Int, reason: ShardLossReason) async {
        let loop = self.loops.withLock { $0.removeValue(forKey: shard) }
        let scheduleLoop = self.scheduleLoops.withLock { $0.removeValue(forKey: shard) }
        await loop?.stop()
        await scheduleLoop?.stop()
    }

    /// Wakes the schedule loops of `shards` held here, or of every shard held here when
    /// `shards` is empty, to look at their schedules again.
    func schedulesChanged(_ shards: [Int]) {
        let loops = self.scheduleLoops.withLock { loops in
            shards.isEmpty ? Array(loops.values) : shards.compactMap { loops[$0] }
        }
        for loop in loops {
            loop.schedulesChanged()
        }
    }

    /// How many passes the loop of `shard` has finished, if it runs here.
    func passes(ofShard shard: Int) -> Int? {
        self.loops.withLock { $0[shard]?.passes }
    }

    /// Whether this node runs the loop of `shard` now.
    func holds(_ shard: Int) -> Bool {
        self.loops.withLock { $0[shard] != nil }
    }

    /// Tells the loops of shards held here that attempts of theirs started, so that each
    /// wakes when the earliest of them expires. Call after the claim committed.
    func attemptsStarted(_ jobs: [ClaimedJob]) {
        // No jobs is not "no expiries known": waking every loop for an empty claim made each
        // idle lease-stream round cost a pass of every shard loop.
        guard !jobs.isEmpty else {
            return
        }
        self.attemptsStarted(Self.earliestExpiries(jobs))
    }

    /// Tells the loops of shards held here when attempts of theirs expire, by shard; with no
    /// expiries at all, wakes every loop to look for itself.
    func attemptsStarted(_ expiries: [Int: Date]) {
        let loops = self.loops.withLock { loops in
            expiries.isEmpty ? Array(loops.values) : expiries.keys.compactMap { loops[$0] }
        }
        let now = (wall: Date(), clock: ContinuousClock.now)
        for loop in loops {
            guard let expiry = expiries[loop.lease.shard] else {
                loop.attemptStarted(expiringAt: now.clock)
                continue
            }
            let milliseconds = Int64((expiry.timeIntervalSince(now.wall) * 1_000).rounded(.up))
            loop.attemptStarted(expiringAt: now.clock + .milliseconds(milliseconds))
        }
    }

    /// When the earliest of `jobs`' leases expires, by shard.
    static func earliestExpiries(_ jobs: [ClaimedJob]) -> [Int: Date] {
        let now = Date()
        var earliest: [Int: Date] = [:]
        for job in jobs {
            let expiry = now.addingTimeInterval(Double(job.leaseRemainingMilliseconds) / 1_000)
            earliest[job.shard] = min(earliest[job.shard] ?? expiry, expiry)
        }
        return earliest
    }

    /// Stops every loop, then closes the pool. Call after the lease manager stopped.
    func shutdown() async {
        let loops = self.loops.withLock { loops in
            defer { loops.removeAll() }
            return Array(loops.values)
        }
        let scheduleLoops = self.scheduleLoops.withLock { loops in
            defer { loops.removeAll() }
            return Array(loops.values)
        }
        for loop in loops {
            await loop.stop()
        }
        for loop in scheduleLoops {
            await loop.stop()
        }
        await self.pool.shutdown()
    }
}
