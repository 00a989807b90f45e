import Foundation
import GnomonCore
import GnomonStore

/// Fires the schedules of one owned shard, each fire time once.
///
/// It sleeps until the shard's earliest due schedule, or until told that a schedule of its
/// shard changed (``schedulesChanged()``: created, updated, resumed, or a buffered fire
/// released, by a notification on ``ScheduleService/channel``). It never polls on a fixed
/// interval; the sleep is capped at ``maximumSleep`` only as a backstop for a lost
/// notification. Each pass is one transaction fenced by the shard lease's epoch
/// (``ScheduleFireStore/fireDue(lease:node:limit:store:plan:job:on:)``).
final class ScheduleLoop: Sendable {
    /// The longest sleep, a backstop: a lost notification delays a changed schedule by at most this.
    static let maximumSleep = Duration.seconds(30)
    /// The most schedules one pass fires.
    static let batch = 500

    let lease: ShardLease
    private let wakeup = Wakeup()
    private let task: Task<Void, Never>

    /// Starts the loop for a shard this node holds under `lease`.
    ///
    /// - Parameter misfireThreshold: How late a fire may be and still run as on time.
    init(
        lease: ShardLease, node: String, pool: PostgresPool, store: JobStore, misfireThreshold: Duration,
        logger: Logger
    ) {
        self.lease = lease
        let wakeup = self.wakeup
        self.task = Task {
            await Self.run(
                lease: lease, node: node, pool: pool, store: store, misfireThreshold: misfireThreshold,
                logger: logger, sleep: { await wakeup.wait(until: .now + $0) })
        }
    }

    /// Wakes the loop to look at its shard's schedules again.
    func schedulesChanged() {
        self.wakeup.wake()
    }

    /// Stops the loop; it writes nothing after its current statement.
    func stop() async {
        self.task.cancel()
        await self.task.value
    }

    /// The plan of a due schedule at `now`: its timing and policies, as stored.
    static func plan(_ schedule: DueSchedule, now: Date, misfireThreshold: Duration) -> ScheduleFirePlan? {
        let definition = schedule.record.definition
        guard let state = schedule.fireState,
            let timing = try? ScheduleTiming.schedule(definition, createdAt: schedule.record.createdAt)
        else {
            return nil
        }
        let catchUp: CatchUpPolicy =
            switch definition.catchUpPolicy {
            case "skip": .skip
            case "all": .all(limit: definition.catchUpLimit)
            default: .latest
            }
        let scheduleID = schedule.record.scheduleID
        let jitter = Duration.milliseconds(definition.jitterMilliseconds)
        let planner = ScheduleFirePlanner(
            misfireThreshold: misfireThreshold,
            catchUp: catchUp,
            overlap: OverlapPolicy(rawValue: definition.overlapPolicy) ?? .skip,
            next: { ScheduleTiming.nextFire(timing, definition: definition, after: $0) },
            jitter: { CronJitter.jitter(scheduleID: scheduleID, fireTime: $0, maximum: jitter) })
        return planner.plan(state, now: now)
    }

    private static func run(
        lease: ShardLease,
        node: String,
        pool: PostgresPool,
        store: JobStore,
        misfireThreshold: Duration,
        logger: Logger,
        sleep wait: @Sendable (Duration) async -> Void
    ) async {
        while !Task.isCancelled {
            var sleep = Self.maximumSleep
            do {
                let pass = try await pool.withPlatformTransaction { connection in
                    let pass = try ScheduleFireStore.fireDue(
                        lease: lease, node: node, limit: Self.batch, store: store,
                        plan: { Self.plan($0, now: $1, misfireThreshold: misfireThreshold) },
                        job: { schedule, fireTime, dueAt in
                            try? JobTemplate(json: schedule.definition.jobTemplateJSON)
                                .job(scheduleID: schedule.scheduleID, fireTime: fireTime, runAt: dueAt)
                        },
                        on: connection)
                    for started in pass.startedQueues {
                        try connection.notify(
                            JobNotifications.channel,
                            payload: JobNotifications.payload(tenantID: started.tenantID, queue: started.queue))
                    }
                    return pass
                }
                guard pass.leaseHeld else {
                    // The lease manager stops this loop once it sees the loss; until then, look
                    // again at the backstop's pace, not in a tight loop.
                    await wait(.seconds(1))
                    continue
                }
                if pass.started > 0 || pass.alreadyRecorded > 0 {
                    logger.debug(
                        "schedules fired",
                        [
                            "shard": String(lease.shard), "schedules": String(pass.schedules),
                            "started": String(pass.started), "already_recorded": String(pass.alreadyRecorded),
                        ])
                }
                if pass.schedules >= Self.batch {
                    continue
                }
                if let next = pass.nextDueInMilliseconds {
                    sleep = min(sleep, .milliseconds(max(next, 0) + 1))
                }
            } catch {
                if Task.isCancelled {
                    return
                }
                logger.warning(
                    "a schedule loop failed; retrying", ["shard": String(lease.shard), LogKey.error: "\(error)"])
                sleep = .seconds(1)
            }
            await wait(sleep)
        }
    }
}
