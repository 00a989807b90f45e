public import GnomonCore
public import GnomonStore

/// Keeps this node's share of the shards: registers the node, renews, takes and gives up leases.
///
/// Every renewal interval the manager, in one transaction, marks the node alive, renews every
/// lease it holds in one statement and reads the live nodes and every lease row. From that it
/// plans with ``ShardBalance``: over its share it stops the loops of the excess shards and then
/// releases them; under it, it takes free or expired shards, each at a new epoch.
///
/// Besides the database's expiry, each lease has a deadline on the node's monotonic clock,
/// kept by ``LeaseHoldingStateMachine``, and a watchdog task gives leases up when it passes.
/// A node cut off from the database, or paused and resumed, thus stops acting on its shards
/// before another node can take them, and never uses an old epoch again.
public actor ShardLeaseManager {
    /// This node's name in the cluster.
    public nonisolated let nodeID: String
    /// The lease lifetime and renewal cadence.
    public nonisolated let timing: LeaseTiming

    private let pool: PostgresPool
    private let logger: Logger
    private let events: OwnershipEvents
    private let clock = ContinuousClock()
    private var holdings: LeaseHoldingStateMachine<Int>
    private var shardCount = 0
    private var liveNodes: [String] = []
    private var rounds: Task<Void, Never>?
    private var watchdog: Task<Void, Never>?
    private var isStopped = false

    /// Creates a manager; nothing happens until ``start()``.
    ///
    /// - Parameters:
    ///   - nodeID: This node's name, unique in the cluster.
    ///   - pool: Connections for the manager alone, so that other work never delays a renewal.
    ///   - timing: The lease lifetime and renewal cadence.
    ///   - delegate: Told of every shard gained and lost.
    ///   - logger: Receives lease gains and losses at info.
    public init(
        nodeID: String,
        pool: PostgresPool,
        timing: LeaseTiming = LeaseTiming(),
        delegate: (any ShardOwnershipDelegate)? = nil,
        logger: Logger = .disabled
    ) {
        self.nodeID = nodeID
        self.pool = pool
        self.timing = timing
        self.logger = logger
        self.events = OwnershipEvents(delegate: delegate)
        self.holdings = LeaseHoldingStateMachine(ttl: timing.ttl, safetyMargin: timing.safetyMargin)
    }

    /// Registers the node, runs a first round, then keeps renewing and rebalancing.
    ///
    /// - Parameter address: Where the node's RPC listener can be reached, recorded for operators.
    /// - Throws: ``StoreError`` when the node cannot be registered.
    public func start(address: String = "") async throws {
        let nodeID = self.nodeID
        self.shardCount = try await self.pool.withPlatformTransaction { connection in
            try NodeRegistry.register(node: nodeID, address: address, version: GnomonVersion.current, on: connection)
            return try JobStore.load(on: connection).shardCount
        }
        self.logger.info(
            "joined the cluster",
            [
                LogKey.node: nodeID, "shard_count": String(self.shardCount),
                "lease_ttl_ms": "\(self.timing.ttlMilliseconds)",
            ]
        )
        await self.round()
        self.startTasks()
    }

    /// Stops renewing, stops every shard's loop, releases the leases and leaves the cluster.
    ///
    /// The other nodes take the shards at their next round instead of waiting for expiry.
    public func stop() async {
        guard !self.isStopped else {
            return
        }
        self.isStopped = true
        await self.stopTasks()
        let held = self.holdings.held.keys.sorted()
        var released: [ShardLease] = []
        for shard in held {
            guard let epoch = self.holdings.leaseReleased(shard) else {
                continue
            }
            await self.events.givingUp(shard, reason: .stopping)
            released.append(ShardLease(shard: shard, epoch: epoch))
        }
        let nodeID = self.nodeID
        do {
            try await self.pool.withPlatformTransaction { [released] connection in
                try ShardLeaseStore.release(released, node: nodeID, on: connection)
                try NodeRegistry.deregister(node: nodeID, on: connection)
            }
            self.logger.info("left the cluster", [LogKey.node: nodeID, "released": String(released.count)])
        } catch {
            self.logger.warning(
                "could not release shard leases; they lapse by themselves", [LogKey.error: "\(error)"])
        }
        await self.events.finish()
    }

    /// The lease this node holds on `shard` right now, or `nil`.
    ///
    /// Checked against the local deadline at the moment of the call: a shard loop asks before
    /// any work outside the database, whose own writes are fenced by the epoch in SQL.
    public func currentLease(of shard: Int) -> ShardLease? {
        self.holdings.epoch(of: shard, at: self.clock.now).map { ShardLease(shard: shard, epoch: $0) }
    }

    /// Every lease this node holds right now, ordered by shard.
    public func ownedLeases() -> [ShardLease] {
        let now = self.clock.now
        return self.holdings.held.keys.sorted().compactMap { shard in
            self.holdings.epoch(of: shard, at: now).map { ShardLease(shard: shard, epoch: $0) }
        }
    }

    /// The cluster's shard count and live nodes as of the last round.
    public func clusterView() -> (shardCount: Int, liveNodes: [String]) {
        (self.shardCount, self.liveNodes)
    }

    // MARK: - Rounds

    func startTasks() {
        guard !self.isStopped else {
            return
        }
        let interval = self.timing.renewalInterval
        self.rounds = Task { [clock] in
            var next = clock.now + interval
            while !Task.isCancelled {
                do {
                    try await Task.sleep(until: next, clock: clock)
                } catch {
                    return
                }
                await self.round()
                // Keeps the cadence of the rounds, but never runs two back to back to catch up.
                next = max(next + interval, clock.now + interval / 4)
            }
        }
        self.startWatchdog()
    }

    /// Gives leases up at their local deadlines, whether or not the rounds are getting through.
    func startWatchdog() {
        let interval = self.timing.renewalInterval
        self.watchdog = Task { [clock] in
            while !Task.isCancelled {
                let wake = self.nextDeadline(atMost: interval)
                do {
                    try await Task.sleep(until: wake, clock: clock)
                } catch {
                    return
                }
                self.loseOverdue()
            }
        }
    }

    func stopTasks() async {
        self.rounds?.cancel()
        self.watchdog?.cancel()
        await self.rounds?.value
        await self.watchdog?.value
        self.rounds = nil
        self.watchdog = nil
    }

    private func nextDeadline(atMost interval: Duration) -> ContinuousClock.Instant {
        let latest = self.clock.now + interval
        return min(self.holdings.earliestDeadline ?? latest, latest)
    }

    /// Gives up every lease whose local deadline passed, before anything else is done.
    private func loseOverdue() {
        for shard in self.holdings.clockAdvanced(to: self.clock.now) {
            self.lost(shard, reason: .deadlinePassed)
        }
    }

    private func lost(_ shard: Int, reason: ShardLossReason) {
        self.logger.info("shard lease lost", [LogKey.shard: String(shard), "reason": reason.description])
        self.events.lost(shard, reason: reason)
    }

    /// One round: renew and look, then give up or take shards to move towards the fair share.
    private func round() async {
        self.loseOverdue()
        guard let observation = await self.renewAndObserve() else {
            return
        }
        self.liveNodes = observation.liveNodes
        let plan = ShardBalance.plan(
            for: self.nodeID,
            shardCount: self.shardCount,
            liveNodes: observation.liveNodes,
            held: Set(self.holdings.held.keys),
            leases: observation.leases
        )
        if !plan.release.isEmpty {
            await self.giveUp(plan.release)
        }
        if plan.acquireLimit > 0, !plan.acquire.isEmpty, !Task.isCancelled, !self.isStopped {
            await self.take(plan.acquire, limit: plan.acquireLimit)
        }
    }

    private struct Observation: Sendable {
        var renewed: [ShardLease]
        var liveNodes: [String]
        var leases: [ShardLeaseView]
    }

    /// Heartbeats, renews every lease held and reads the cluster, in one transaction.
    ///
    /// - Returns: What was read, or `nil` when the database could not be reached.
    private func renewAndObserve() async -> Observation? {
        let sent = self.holdings.held
        let leases = sent.map { ShardLease(shard: $0.key, epoch: $0.value) }.sorted { $0.shard < $1.shard }
        let nodeID = self.nodeID
        let ttl = self.timing.ttl
        // Taken before the request leaves: the database stamps the renewal later than this.
        let sentAt = self.clock.now
        let observation: Observation
        do {
            observation = try await self.pool.withPlatformTransaction { connection in
                try NodeRegistry.heartbeat(node: nodeID, on: connection)
                let renewed = try ShardLeaseStore.renew(leases, node: nodeID, duration: ttl, on: connection)
                return Observation(
                    renewed: renewed,
                    liveNodes: try NodeRegistry.liveNodes(within: ttl, on: connection),
                    leases: try ShardLeaseStore.views(on: connection)
                )
            }
        } catch {
            self.logger.warning("could not renew shard leases", [LogKey.error: "\(error)", "held": String(sent.count)])
            for shard in self.holdings.renewalFailed(now: self.clock.now) {
                self.lost(shard, reason: .deadlinePassed)
            }
            return nil
        }
        let action = self.holdings.renewalSucceeded(
            sent: sent,
            renewed: Dictionary(uniqueKeysWithValues: observation.renewed.map { ($0.shard, $0.epoch) }),
            sentAt: sentAt,
            now: self.clock.now
        )
        for shard in action.lost {
            let refused = observation.renewed.allSatisfy { $0.shard != shard }
            self.lost(shard, reason: refused ? .renewalRefused : .deadlinePassed)
        }
        if !action.release.isEmpty {
            await self.releaseInDatabase(action.release.map { ShardLease(shard: $0.key, epoch: $0.value) })
        }
        return observation
    }

    /// Stops the loops of `shards`, then releases their leases so another node may take them.
    private func giveUp(_ shards: [Int]) async {
        var released: [ShardLease] = []
        for shard in shards {
            guard let epoch = self.holdings.leaseReleased(shard) else {
                continue
            }
            self.logger.info(
                "shard lease given up", [LogKey.shard: String(shard), LogKey.leaseEpoch: String(epoch)])
            await self.events.givingUp(shard, reason: .rebalanced)
            released.append(ShardLease(shard: shard, epoch: epoch))
        }
        await self.releaseInDatabase(released)
    }

    private func releaseInDatabase(_ leases: [ShardLease]) async {
        let nodeID = self.nodeID
        do {
            _ = try await self.pool.withPlatformTransaction { connection in
                try ShardLeaseStore.release(leases, node: nodeID, on: connection)
            }
        } catch {
            self.logger.warning(
                "could not release shard leases; they lapse by themselves", [LogKey.error: "\(error)"])
        }
    }

    /// Takes up to `limit` of the free shards in `candidates`, best first.
    private func take(_ candidates: [Int], limit: Int) async {
        let nodeID = self.nodeID
        let ttl = self.timing.ttl
        let sentAt = self.clock.now
        let taken: [ShardLease]
        do {
            taken = try await self.pool.withPlatformTransaction { connection in
                try ShardLeaseStore.acquire(
                    candidates: candidates, limit: limit, node: nodeID, duration: ttl, on: connection)
            }
        } catch {
            self.logger.warning("could not take shard leases", [LogKey.error: "\(error)"])
            return
        }
        var late: [ShardLease] = []
        let now = self.clock.now
        for lease in taken {
            guard self.holdings.leaseAcquired(lease.shard, epoch: lease.epoch, sentAt: sentAt, now: now) else {
                late.append(lease)
                continue
            }
            self.logger.info(
                "shard lease gained", [LogKey.shard: String(lease.shard), LogKey.leaseEpoch: String(lease.epoch)])
            self.events.acquired(lease)
        }
        if !late.isEmpty {
            await self.releaseInDatabase(late)
        }
    }
}
