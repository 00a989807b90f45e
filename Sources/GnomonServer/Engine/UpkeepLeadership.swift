import Foundation
public import GnomonCore
public import GnomonStore

/// Elects one node to run the cluster's upkeep, and runs it while this node leads.
///
/// Every renewal interval the node renews the leadership it holds, or takes it when it is
/// free or expired, through the single lease row in `gnomon_leader_lease`, fenced by an epoch
/// like a shard lease and given up early by the node's own clock in the same way. While it
/// leads, a task of its own deletes the rows of nodes long gone, and keeps the time
/// partitions ahead and within retention.
public actor UpkeepLeadership {
    /// What the leader does, and how often.
    public struct Duties: Sendable {
        /// How often partitions are created and dropped; also once on taking the leadership.
        public var partitionUpkeepInterval: Duration
        /// Nodes silent for this long are deleted from the membership.
        public var goneNodeAge: Duration
        /// How often gone nodes are looked for.
        public var goneNodeInterval: Duration
        /// Whether the leader runs partition upkeep at all.
        public var runsPartitionUpkeep: Bool

        /// Creates duties: partitions hourly, gone nodes deleted after three lease lifetimes.
        public init(
            timing: LeaseTiming,
            partitionUpkeepInterval: Duration = .seconds(3_600),
            runsPartitionUpkeep: Bool = true
        ) {
            self.partitionUpkeepInterval = partitionUpkeepInterval
            self.goneNodeAge = timing.ttl * 3
            self.goneNodeInterval = timing.ttl
            self.runsPartitionUpkeep = runsPartitionUpkeep
        }
    }

    /// This node's name in the cluster.
    public nonisolated let nodeID: String
    /// The lease lifetime and renewal cadence.
    public nonisolated let timing: LeaseTiming

    private let duties: Duties
    private let pool: PostgresPool
    private let logger: Logger
    private let clock = ContinuousClock()
    private var holding: LeaseHoldingStateMachine<String>
    private var rounds: Task<Void, Never>?
    private var watchdog: Task<Void, Never>?
    private var upkeep: Task<Void, Never>?
    private var isStopped = false

    private static let key = "upkeep"

    /// Creates the election; nothing happens until ``start()``.
    ///
    /// - Parameters:
    ///   - nodeID: This node's name, unique in the cluster.
    ///   - pool: Connections for the election and the upkeep.
    ///   - timing: The lease lifetime and renewal cadence.
    ///   - duties: What the leader does; defaults to hourly partitions.
    ///   - logger: Receives leadership changes at info.
    public init(
        nodeID: String,
        pool: PostgresPool,
        timing: LeaseTiming = LeaseTiming(),
        duties: Duties? = nil,
        logger: Logger = .disabled
    ) {
        self.nodeID = nodeID
        self.pool = pool
        self.timing = timing
        self.duties = duties ?? Duties(timing: timing)
        self.logger = logger
        self.holding = LeaseHoldingStateMachine(ttl: timing.ttl, safetyMargin: timing.safetyMargin)
    }

    /// Runs a first election round, then keeps electing.
    public func start() async {
        await self.round()
        self.startTasks()
    }

    /// Stops the upkeep and releases the leadership, so another node may take it at once.
    public func stop() async {
        guard !self.isStopped else {
            return
        }
        self.isStopped = true
        await self.stopTasks()
        guard let epoch = self.holding.leaseReleased(Self.key) else {
            return
        }
        await self.stopUpkeep()
        let nodeID = self.nodeID
        do {
            try await self.pool.withPlatformTransaction { connection in
                try LeaderLeaseStore.release(LeaderLease(epoch: epoch), node: nodeID, on: connection)
            }
            self.logger.info("upkeep leadership released", [LogKey.leaseEpoch: String(epoch)])
        } catch {
            self.logger.warning(
                "could not release the upkeep leadership; it lapses by itself", [LogKey.error: "\(error)"])
        }
    }

    /// The leadership this node holds right now, checked against its local deadline.
    public func currentLease() -> LeaderLease? {
        self.holding.epoch(of: Self.key, at: self.clock.now).map { LeaderLease(epoch: $0) }
    }

    /// Whether this node leads upkeep right now.
    public var isLeader: Bool {
        self.currentLease() != nil
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
                next = max(next + interval, clock.now + interval / 4)
            }
        }
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
        return min(self.holding.earliestDeadline ?? latest, latest)
    }

    private func loseOverdue() {
        if !self.holding.clockAdvanced(to: self.clock.now).isEmpty {
            self.lostLeadership(reason: .deadlinePassed)
        }
    }

    /// Stops the upkeep without waiting for a run in progress, which is idempotent.
    private func lostLeadership(reason: ShardLossReason) {
        self.logger.info("upkeep leadership lost", ["reason": reason.description])
        self.upkeep?.cancel()
        self.upkeep = nil
    }

    /// Renews the leadership held, or takes it when it is free.
    private func round() async {
        self.loseOverdue()
        let nodeID = self.nodeID
        let ttl = self.timing.ttl
        let held = self.holding.held[Self.key]
        let sentAt = self.clock.now
        let answer: LeaderLease?
        do {
            answer = try await self.pool.withPlatformTransaction { connection in
                if let held {
                    return try LeaderLeaseStore.renew(
                        LeaderLease(epoch: held), node: nodeID, duration: ttl, on: connection)
                }
                return try LeaderLeaseStore.acquire(node: nodeID, duration: ttl, on: connection)
            }
        } catch {
            self.logger.warning("could not renew the upkeep leadership", [LogKey.error: "\(error)"])
            if !self.holding.renewalFailed(now: self.clock.now).isEmpty {
                self.lostLeadership(reason: .deadlinePassed)
            }
            return
        }
        let now = self.clock.now
        if let held {
            let action = self.holding.renewalSucceeded(
                sent: [Self.key: held],
                renewed: answer.map { [Self.key: $0.epoch] } ?? [:],
                sentAt: sentAt,
                now: now
            )
            if !action.lost.isEmpty {
                self.lostLeadership(reason: answer == nil ? .renewalRefused : .deadlinePassed)
            }
            if !action.release.isEmpty {
                await self.release(LeaderLease(epoch: held))
            }
        } else if let answer {
            guard !self.isStopped, !Task.isCancelled,
                self.holding.leaseAcquired(Self.key, epoch: answer.epoch, sentAt: sentAt, now: now)
            else {
                await self.release(answer)
                return
            }
            self.logger.info("upkeep leadership gained", [LogKey.leaseEpoch: String(answer.epoch)])
            self.startUpkeep(epoch: answer.epoch)
        }
    }

    private func release(_ lease: LeaderLease) async {
        let nodeID = self.nodeID
        try? await self.pool.withPlatformTransaction { connection in
            try LeaderLeaseStore.release(lease, node: nodeID, on: connection)
        }
    }

    // MARK: - Upkeep

    private func startUpkeep(epoch: Int64) {
        self.upkeep?.cancel()
        let duties = self.duties
        let pool = self.pool
        let nodeID = self.nodeID
        let logger = self.logger
        self.upkeep = Task.detached { [clock] in
            var nextPartitions = clock.now
            while !Task.isCancelled {
                let now = clock.now
                if duties.runsPartitionUpkeep, now >= nextPartitions {
                    await Self.maintainPartitions(pool: pool, logger: logger)
                    nextPartitions = now + duties.partitionUpkeepInterval
                }
                await Self.deleteGoneNodes(
                    olderThan: duties.goneNodeAge, epoch: epoch, nodeID: nodeID, pool: pool, logger: logger)
                let wake = min(clock.now + duties.goneNodeInterval, nextPartitions)
                do {
                    try await Task.sleep(until: wake, clock: clock)
                } catch {
                    return
                }
            }
        }
    }

    private func stopUpkeep() async {
        self.upkeep?.cancel()
        await self.upkeep?.value
        self.upkeep = nil
    }

    private static func maintainPartitions(pool: PostgresPool, logger: Logger) async {
        do {
            let report = try await pool.withConnection { connection in
                try PartitionUpkeep.run(on: connection, now: Date())
            }
            if !report.isEmpty {
                logger.info(
                    "partitions maintained",
                    ["created": String(report.created.count), "dropped": String(report.dropped.count)]
                )
            }
        } catch {
            logger.warning("partition upkeep failed", [LogKey.error: "\(error)"])
        }
    }

    private static func deleteGoneNodes(
        olderThan age: Duration,
        epoch: Int64,
        nodeID: String,
        pool: PostgresPool,
        logger: Logger
    ) async {
        do {
            let gone = try await pool.withPlatformTransaction { connection in
                try NodeRegistry.deleteGone(
                    olderThan: age, leader: LeaderLease(epoch: epoch), node: nodeID, on: connection)
            }
            if !gone.isEmpty {
                logger.info("gone nodes removed from the cluster", ["nodes": gone.joined(separator: ",")])
            }
        } catch {
            logger.warning("could not remove gone nodes", [LogKey.error: "\(error)"])
        }
    }
}
