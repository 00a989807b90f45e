import Foundation
import GnomonCore
import Testing

/// What a schedule does with due fire times: catch-up after downtime, overlap, jitter.
@Suite("Schedule fire planning")
struct ScheduleFirePlannerTests {
    /// 10:00:00 UTC on 2026-12-04.
    private static let ten = Date(timeIntervalSince1970: 1_796_378_400)

    private static func at(_ minutes: Double) -> Date {
        Self.ten.addingTimeInterval(minutes * 60)
    }

    /// A planner for a schedule that fires every minute, with a 60 s misfire threshold.
    private static func everyMinute(
        _ catchUp: CatchUpPolicy = .latest,
        _ overlap: OverlapPolicy = .allow,
        jitter: @escaping @Sendable (Date) -> Duration = { _ in .zero },
        until end: Date? = nil,
        maximumFireTimes: Int = 100_000
    ) -> ScheduleFirePlanner {
        ScheduleFirePlanner(
            misfireThreshold: .seconds(60), catchUp: catchUp, overlap: overlap, maximumFireTimes: maximumFireTimes,
            next: { date in
                let next = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
                return end.map { next > $0 ? nil : next } ?? next
            },
            jitter: jitter)
    }

    private static func times(_ plan: ScheduleFirePlan) -> [Double] {
        plan.fires.map { $0.time.timeIntervalSince(Self.ten) / 60 }
    }

    @Test("nothing is due before the fire time; the plan only says when to look again")
    func notYetDue() {
        let plan = Self.everyMinute().plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(0.5))
        #expect(plan.fires.isEmpty)
        #expect(plan.missed == 0)
        #expect(plan.nextFireTime == Self.at(1))
        #expect(plan.nextDueAt == Self.at(1))
    }

    @Test(
        "a fire a few seconds late, as after a failover, runs on time under every catch-up policy",
        arguments: [CatchUpPolicy.skip, .latest, .all(limit: 10)])
    func slightlyLate(policy: CatchUpPolicy) {
        let plan = Self.everyMinute(policy).plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(1.5))
        #expect(Self.times(plan) == [1])
        #expect(plan.fires.map(\.action) == [.start])
        #expect(plan.fires.map(\.caughtUp) == [false])
        #expect(plan.missed == 0)
        #expect(plan.nextFireTime == Self.at(2))
    }

    // Down from 10:00:30 to 10:05:10: fire times 10:01 to 10:04 are over 60 s late, 10:05 is not.

    @Test("skip drops every missed fire time and counts it; the on-time fire runs")
    func skipAfterDowntime() {
        let plan = Self.everyMinute(.skip).plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(5 + 10 / 60))
        #expect(Self.times(plan) == [5])
        #expect(plan.missed == 4)
        #expect(plan.caughtUpCount == 0)
        #expect(plan.nextFireTime == Self.at(6))
    }

    @Test("latest runs the most recent missed fire time, then the on-time one")
    func latestAfterDowntime() {
        let plan = Self.everyMinute(.latest).plan(
            ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(5 + 10 / 60))
        #expect(Self.times(plan) == [4, 5])
        #expect(plan.fires.map(\.caughtUp) == [true, false])
        #expect(plan.missed == 3)
        #expect(plan.caughtUpCount == 1)
        #expect(plan.startedCount == 2)
    }

    @Test("all runs every missed fire time up to the limit, the most recent ones, oldest first")
    func allAfterDowntime() {
        let unlimited = Self.everyMinute(.all(limit: 100)).plan(
            ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(5 + 10 / 60))
        #expect(Self.times(unlimited) == [1, 2, 3, 4, 5])
        #expect(unlimited.missed == 0)
        #expect(unlimited.caughtUpCount == 4)

        let limited = Self.everyMinute(.all(limit: 2)).plan(
            ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(5 + 10 / 60))
        #expect(Self.times(limited) == [3, 4, 5])
        #expect(limited.missed == 2)
        #expect(limited.caughtUpCount == 2)
    }

    @Test("a very long outage is handled in bounded steps: all missed, then the latest from the next plan")
    func boundedSteps() {
        let planner = Self.everyMinute(.latest, maximumFireTimes: 1_000)
        let now = Self.at(10_000.5)
        let first = planner.plan(ScheduleFireState(nextFireTime: Self.at(1)), now: now)
        #expect(first.fires.isEmpty)
        #expect(first.missed == 1_000)
        #expect(first.nextFireTime == Self.at(1_001))
        #expect(first.nextDueAt == now)

        var state = ScheduleFireState(nextFireTime: Self.at(1_001))
        var missed = first.missed
        var fired: [Double] = []
        for _ in 0..<20 {
            let plan = planner.plan(state, now: now)
            missed += plan.missed
            fired += Self.times(plan)
            guard let next = plan.nextFireTime, plan.fires.isEmpty else {
                break
            }
            state.nextFireTime = next
        }
        #expect(fired == [9_999, 10_000])
        #expect(missed == 9_998)
    }

    @Test("a plan stopped at its limit counts every fire time it looked at as missed, on time or not")
    func limitCountsOnTimeFires() {
        let planner = ScheduleFirePlanner(
            misfireThreshold: .seconds(86_400), catchUp: .latest, overlap: .allow, maximumFireTimes: 10,
            next: { $0.addingTimeInterval(60) })
        let plan = planner.plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(100))
        #expect(plan.fires.isEmpty)
        #expect(plan.missed == 10)
        #expect(plan.nextFireTime == Self.at(11))
    }

    @Test("overlap allow starts every fire")
    func overlapAllow() {
        let plan = Self.everyMinute(.all(limit: 10), .allow).plan(
            ScheduleFireState(nextFireTime: Self.at(1), previousJobUnfinished: true), now: Self.at(3.1))
        #expect(plan.fires.map(\.action) == [.start, .start, .start])
        #expect(!plan.cancelPrevious)
    }

    @Test("overlap skip skips while the last job is unfinished, and after a fire of the same plan started")
    func overlapSkip() {
        let busy = Self.everyMinute(.latest, .skip).plan(
            ScheduleFireState(nextFireTime: Self.at(1), previousJobUnfinished: true), now: Self.at(1.1))
        #expect(busy.fires.map(\.action) == [.skip])
        #expect(busy.skippedCount == 1)
        #expect(busy.startedCount == 0)

        let free = Self.everyMinute(.all(limit: 10), .skip).plan(
            ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(3.1))
        #expect(free.fires.map(\.action) == [.start, .skip, .skip])
    }

    @Test("overlap buffer-one keeps one fire waiting and skips the rest")
    func overlapBufferOne() {
        let plan = Self.everyMinute(.all(limit: 10), .bufferOne).plan(
            ScheduleFireState(nextFireTime: Self.at(1), previousJobUnfinished: true), now: Self.at(3.1))
        #expect(plan.fires.map(\.action) == [.buffer, .skip, .skip])
        #expect(plan.bufferedFireTime == Self.at(1))
        #expect(plan.releasedFireTime == nil)
    }

    @Test("a buffered fire starts once the last job finished, and the next fire waits behind it")
    func bufferReleased() {
        let planner = Self.everyMinute(.latest, .bufferOne)
        let released = planner.plan(
            ScheduleFireState(nextFireTime: Self.at(2), bufferedFireTime: Self.at(1)), now: Self.at(1.5))
        #expect(released.releasedFireTime == Self.at(1))
        #expect(released.releasedDueAt == Self.at(1))
        #expect(released.fires.isEmpty)
        #expect(released.bufferedFireTime == nil)
        #expect(released.startedCount == 1)
        #expect(released.nextDueAt == Self.at(2))

        let both = planner.plan(
            ScheduleFireState(nextFireTime: Self.at(2), bufferedFireTime: Self.at(1)), now: Self.at(2.1))
        #expect(both.releasedFireTime == Self.at(1))
        #expect(both.fires.map(\.action) == [.buffer])
        #expect(both.bufferedFireTime == Self.at(2))

        let stillBusy = planner.plan(
            ScheduleFireState(nextFireTime: Self.at(2), bufferedFireTime: Self.at(1), previousJobUnfinished: true),
            now: Self.at(1.5))
        #expect(stillBusy.releasedFireTime == nil)
        #expect(stillBusy.bufferedFireTime == Self.at(1))
    }

    @Test("overlap cancel-previous cancels the unfinished job and starts only the newest fire of a plan")
    func overlapCancelPrevious() {
        let planner = Self.everyMinute(.all(limit: 10), .cancelPrevious)
        let one = planner.plan(
            ScheduleFireState(nextFireTime: Self.at(1), previousJobUnfinished: true), now: Self.at(1.1))
        #expect(one.fires.map(\.action) == [.start])
        #expect(one.cancelPrevious)

        let idle = planner.plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(1.1))
        #expect(!idle.cancelPrevious)

        let several = planner.plan(
            ScheduleFireState(nextFireTime: Self.at(1), previousJobUnfinished: true), now: Self.at(3.1))
        #expect(several.fires.map(\.action) == [.skip, .skip, .start])
        #expect(several.cancelPrevious)
    }

    @Test("jitter delays the due time and is counted in lateness; the fire keeps its nominal time")
    func jitter() {
        let planner = Self.everyMinute(jitter: { _ in .seconds(20) })
        let early = planner.plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(1.2))
        #expect(early.fires.isEmpty)
        #expect(early.nextDueAt == Self.at(1).addingTimeInterval(20))

        let due = planner.plan(ScheduleFireState(nextFireTime: Self.at(1)), now: Self.at(1.5))
        #expect(due.fires.map(\.time) == [Self.at(1)])
        #expect(due.fires.map(\.dueAt) == [Self.at(1).addingTimeInterval(20)])
        #expect(due.nextDueAt == Self.at(2).addingTimeInterval(20))
    }

    @Test("a schedule past its end fires its last due time and has no next")
    func ended() {
        let plan = Self.everyMinute(until: Self.at(2)).plan(
            ScheduleFireState(nextFireTime: Self.at(2)), now: Self.at(2.1))
        #expect(Self.times(plan) == [2])
        #expect(plan.nextFireTime == nil)
        #expect(plan.nextDueAt == nil)
    }
}
