import Foundation
import GnomonCore
import GnomonStore
import Synchronization

/// The work only a shard's owner does, for one owned shard: ending attempts whose leases
/// expired, so their jobs retry (attempt + 1) or go to the dead-letter queue.
///
/// It sleeps until the shard's next attempt-lease expiry, or until an attempt that expires
/// sooner starts (``attemptStarted(expiringAt:)``): lease streams on this node say so
/// directly, those on other nodes by a notification (``JobNotifications/attemptsChannel``).
/// It never polls on a fixed interval; the sleep is capped at ``maximumSleep`` only as a
/// backstop for a notification lost without the listener noticing.
/// Every write is fenced by the shard lease's epoch: after the lease moves on, the loop's
/// writes change nothing. It wakes the lease streams of the queues whose jobs it sent back.
final class ShardLoop: Sendable {
    /// The longest sleep, a backstop: a lost notification delays ending an attempt by at most this.
    static let maximumSleep = Duration.seconds(30)
    private static let batch = 500

    let lease: ShardLease
    private let wakeup = Wakeup()
    private let passCount = PassCount()
    private let task: Task<Void, Never>

    /// Starts the loop for a shard this node holds under `lease`.
    init(lease: ShardLease, node: String, pool: PostgresPool, store: JobStore, logger: Logger) {
        self.lease = lease
        let wakeup = self.wakeup
        let passCount = self.passCount
        self.task = Task {
            await Self.run(
                lease: lease, node: node, pool: pool, store: store, logger: logger,
                sleep: {
                    passCount.value.add(1, ordering: .relaxed)
                    await wakeup.wait(until: .now + $0)
                })
        }
    }

    /// How many passes over the shard the loop has finished.
    var passes: Int {
        self.passCount.value.load(ordering: .relaxed)
    }

    /// Tells the loop an attempt of its shard started on this node and expires at `expiry`,
    /// so that it wakes then if it meant to sleep longer.
    func attemptStarted(expiringAt expiry: ContinuousClock.Instant) {
        self.wakeup.wake(ifSleepingPast: expiry)
    }

    /// Stops the loop; it writes nothing after its current statement.
    func stop() async {
        self.task.cancel()
        await self.task.value
    }

    private static func run(
        lease: ShardLease,
        node: String,
        pool: PostgresPool,
        store: JobStore,
        logger: Logger,
        sleep wait: @Sendable (Duration) async -> Void
    ) async {
        while !Task.isCancelled {
            var sleep = Self.maximumSleep
            do {
                let (reaped, queues, next) = try await pool.withPlatformTransaction { connection in
                    // Ending an expired attempt again after a database crash changes nothing new.
                    try connection.commitWithoutFlushWait()
                    let queues = try connection.query(
                        """
                        SELECT DISTINCT tenant_id, queue FROM gnomon_jobs
                        WHERE shard = $1 AND state = 'running' AND lease_expires_at <= now()
                        """,
                        [lease.shard]
                    ).rows.map { (try $0.string("tenant_id"), try $0.string("queue")) }
                    let reaped =
                        queues.isEmpty
                        ? 0 : try store.reapExpiredLeases(shard: lease, node: node, limit: Self.batch, on: connection)
                    if reaped > 0 {
                        for (tenant, queue) in queues {
                            try connection.notify(
                                JobNotifications.channel,
                                payload: JobNotifications.payload(tenantID: tenant, queue: queue))
                        }
                    }
                    let next = try connection.query(
                        """
                        SELECT (extract(epoch FROM min(lease_expires_at) - now()) * 1000)::bigint AS ms
                        FROM gnomon_jobs WHERE shard = $1 AND state = 'running'
                        """,
                        [lease.shard]
                    ).first.flatMap { $0["ms"] }.flatMap { Int64($0) }
                    return (reaped, queues, next)
                }
                if reaped > 0 {
                    logger.debug(
                        "expired attempts ended",
                        ["shard": String(lease.shard), "count": String(reaped), "queues": String(queues.count)])
                }
                if reaped >= Self.batch {
                    continue
                }
                if let next {
                    sleep = min(sleep, .milliseconds(max(next, 0) + 5))
                }
            } catch {
                if Task.isCancelled {
                    return
                }
                logger.warning(
                    "a shard loop failed; retrying", ["shard": String(lease.shard), LogKey.error: "\(error)"])
                sleep = .seconds(1)
            }
            await wait(sleep)
        }
    }
}

/// A loop's count of finished passes, shared between the loop's task and its readers.
private final class PassCount: Sendable {
    let value = Atomic<Int>(0)
}
