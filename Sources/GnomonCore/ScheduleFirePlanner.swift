public import Foundation

/// What a schedule does with fire times it missed while it could not fire.
public enum CatchUpPolicy: Sendable, Hashable {
    /// Drop them; carry on from the next fire time.
    case skip
    /// Run the most recent one once; drop the others.
    case latest
    /// Run the most recent `limit` of them, oldest first; drop the older ones.
    case all(limit: Int)
}

/// What a schedule does when a fire comes while the job of an earlier fire is unfinished.
public enum OverlapPolicy: String, Sendable, Hashable, CaseIterable {
    /// Start the new job regardless.
    case allow
    /// Start nothing; count the fire as skipped.
    case skip
    /// Keep one fire waiting, started when the unfinished job ends; further fires are skipped.
    case bufferOne = "buffer_one"
    /// Cancel the unfinished job and start the new one.
    case cancelPrevious = "cancel_previous"
}

/// Where a schedule stands when its loop looks at it.
public struct ScheduleFireState: Sendable, Hashable {
    /// The nominal time of the next fire, before jitter.
    public var nextFireTime: Date
    /// A fire held back by ``OverlapPolicy/bufferOne``, waiting for the unfinished job.
    public var bufferedFireTime: Date?
    /// Whether the job of the schedule's last fire is pending, running or waiting to retry.
    public var previousJobUnfinished: Bool

    /// Creates a state.
    public init(nextFireTime: Date, bufferedFireTime: Date? = nil, previousJobUnfinished: Bool = false) {
        self.nextFireTime = nextFireTime
        self.bufferedFireTime = bufferedFireTime
        self.previousJobUnfinished = previousJobUnfinished
    }
}

/// What a schedule's loop does now: the fires it records, what it drops, and when it looks again.
public struct ScheduleFirePlan: Sendable, Hashable {
    /// What happens at one fire time.
    public enum Action: String, Sendable, Hashable {
        /// A job starts.
        case start = "started"
        /// Nothing starts, by the overlap policy.
        case skip = "skipped"
        /// The fire waits for the unfinished job (``OverlapPolicy/bufferOne``).
        case buffer = "buffered"
    }

    /// One fire time the loop records.
    public struct Fire: Sendable, Hashable {
        /// The nominal fire time: the fire's unique key.
        public var time: Date
        /// When it was due: the fire time with its jitter.
        public var dueAt: Date
        public var action: Action
        /// Whether it is a missed fire time run late by the catch-up policy.
        public var caughtUp: Bool

        /// Creates a fire.
        public init(time: Date, dueAt: Date, action: Action, caughtUp: Bool = false) {
            self.time = time
            self.dueAt = dueAt
            self.action = action
            self.caughtUp = caughtUp
        }
    }

    /// A buffered fire whose wait is over: its job starts now.
    public var releasedFireTime: Date?
    /// When the released buffered fire was due: its fire time with its jitter.
    public var releasedDueAt: Date?
    /// Whether the unfinished job of an earlier fire is to be cancelled first.
    public var cancelPrevious = false
    /// The fires to record, oldest first.
    public var fires: [Fire] = []
    /// Missed fire times the catch-up policy drops.
    public var missed = 0
    /// The next nominal fire time after those handled; `nil` when the schedule has ended.
    public var nextFireTime: Date?
    /// When the loop looks at the schedule again: the next fire time with its jitter.
    public var nextDueAt: Date?
    /// The fire left waiting for an unfinished job, if any.
    public var bufferedFireTime: Date?

    /// An empty plan: nothing fires, and the schedule has no next fire.
    public init() {}

    /// Fires that start a job, the released buffered fire included.
    public var startedCount: Int {
        self.fires.count { $0.action == .start } + (self.releasedFireTime == nil ? 0 : 1)
    }

    /// Fires the overlap policy skipped.
    public var skippedCount: Int {
        self.fires.count { $0.action == .skip }
    }

    /// Missed fire times run late.
    public var caughtUpCount: Int {
        self.fires.count(where: \.caughtUp)
    }
}

/// Decides, without I/O, what a schedule does with the fire times that are due.
///
/// A fire time is due when its time plus its jitter has passed. A due fire time that is more
/// than ``misfireThreshold`` late is *missed* (the schedule could not fire: the cluster was
/// down, or the shard had no owner for that long) and goes to the catch-up policy; one that is
/// less late fires normally, so a failover of a few seconds loses nothing. Every fire that is
/// run, on time or caught up, then goes through the overlap policy in order.
public struct ScheduleFirePlanner: Sendable {
    /// How late a fire may be and still count as on time.
    public var misfireThreshold: Duration
    public var catchUp: CatchUpPolicy
    public var overlap: OverlapPolicy
    /// The most fire times one plan looks at; the rest wait for the next plan.
    public var maximumFireTimes: Int
    private let next: @Sendable (Date) -> Date?
    private let jitter: @Sendable (Date) -> Duration

    /// Creates a planner.
    ///
    /// - Parameters:
    ///   - next: The schedule's first nominal fire time strictly after a date, within its
    ///     start and end; `nil` once it has ended.
    ///   - jitter: The delay added to a nominal fire time.
    public init(
        misfireThreshold: Duration,
        catchUp: CatchUpPolicy,
        overlap: OverlapPolicy,
        maximumFireTimes: Int = 100_000,
        next: @escaping @Sendable (Date) -> Date?,
        jitter: @escaping @Sendable (Date) -> Duration = { _ in .zero }
    ) {
        self.misfireThreshold = misfireThreshold
        self.catchUp = catchUp
        self.overlap = overlap
        self.maximumFireTimes = max(1, maximumFireTimes)
        self.next = next
        self.jitter = jitter
    }

    /// The plan for a schedule in `state` at `now`.
    public func plan(_ state: ScheduleFireState, now: Date) -> ScheduleFirePlan {
        var plan = ScheduleFirePlan()
        let (late, lateCount, onTime, following, complete) = self.dueFires(from: state.nextFireTime, now: now)
        plan.nextFireTime = following
        plan.nextDueAt = following.map(self.dueAt)
        guard complete else {
            // Too many fire times to look at in one plan: all of them are long missed. The
            // next plan goes on from where this one stopped and finds the latest.
            plan.missed = lateCount + onTime.count
            plan.nextDueAt = now
            plan.bufferedFireTime = state.bufferedFireTime
            return plan
        }
        let kept: Int
        switch self.catchUp {
        case .skip: kept = 0
        case .latest: kept = min(lateCount, 1)
        case .all(let limit): kept = min(lateCount, max(limit, 1))
        }
        plan.missed = lateCount - kept
        let run =
            late.suffix(kept).map { (time: $0, caughtUp: true) } + onTime.map { (time: $0, caughtUp: false) }
        self.applyOverlap(run, state: state, to: &plan)
        return plan
    }

    private func dueAt(_ time: Date) -> Date {
        let (seconds, attoseconds) = self.jitter(time).components
        return time.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// The due fire times from `first`: the late ones (only as many as any policy keeps, and
    /// their count), the on-time ones, the first fire time not yet due, and whether every due
    /// fire time was looked at.
    private func dueFires(from first: Date, now: Date)
        -> (late: [Date], lateCount: Int, onTime: [Date], following: Date?, complete: Bool)
    {
        let threshold =
            Double(self.misfireThreshold.components.seconds)
            + Double(self.misfireThreshold.components.attoseconds) / 1e18
        let keepLate: Int
        switch self.catchUp {
        case .skip: keepLate = 0
        case .latest: keepLate = 1
        case .all(let limit): keepLate = max(limit, 1)
        }
        var late: [Date] = []
        var lateCount = 0
        var onTime: [Date] = []
        var looked = 0
        var time: Date? = first
        while let current = time, self.dueAt(current) <= now {
            guard looked < self.maximumFireTimes else {
                return (late, lateCount, onTime, current, false)
            }
            looked += 1
            if now.timeIntervalSince(self.dueAt(current)) > threshold {
                lateCount += 1
                late.append(current)
                if late.count > keepLate {
                    late.removeFirst(late.count - keepLate)
                }
            } else {
                onTime.append(current)
            }
            time = self.next(current)
        }
        return (late, lateCount, onTime, time, true)
    }

    private func applyOverlap(
        _ run: [(time: Date, caughtUp: Bool)], state: ScheduleFireState, to plan: inout ScheduleFirePlan
    ) {
        var unfinished = state.previousJobUnfinished
        var buffered = state.bufferedFireTime
        if let waiting = buffered, !unfinished {
            plan.releasedFireTime = waiting
            plan.releasedDueAt = self.dueAt(waiting)
            buffered = nil
            unfinished = true
        }
        let lastStarting = self.overlap == .cancelPrevious ? run.indices.last : nil
        for (index, fire) in run.enumerated() {
            let action: ScheduleFirePlan.Action
            switch self.overlap {
            case .allow:
                action = .start
            case .skip:
                action = unfinished ? .skip : .start
            case .bufferOne:
                if !unfinished {
                    action = .start
                } else if buffered == nil {
                    action = .buffer
                    buffered = fire.time
                } else {
                    action = .skip
                }
            case .cancelPrevious:
                // Only the newest fire of the plan starts: each earlier one would be cancelled
                // by the next before it could run.
                action = index == lastStarting ? .start : .skip
                if action == .start, unfinished {
                    plan.cancelPrevious = true
                }
            }
            if action == .start {
                unfinished = true
            }
            plan.fires.append(
                ScheduleFirePlan.Fire(
                    time: fire.time, dueAt: self.dueAt(fire.time), action: action, caughtUp: fire.caughtUp))
        }
        plan.bufferedFireTime = buffered
    }
}
