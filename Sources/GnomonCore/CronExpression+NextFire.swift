public import Foundation

extension CronExpression {
    /// How far ahead a calendar search goes before it gives up: ten years.
    ///
    /// Any expression that can match at all matches within eight years (February 29 can be
    /// eight years apart, across 2100), and one that never can is recognised before searching.
    static let searchHorizon: Int64 = 3_653 * 86_400

    /// The first fire time strictly after `date`.
    ///
    /// Calendar expressions are matched on the wall clock of `zone`, with `policy` deciding
    /// what happens where daylight saving time skips or repeats local times; they fire on whole
    /// seconds. Fixed intervals fire at `anchor + k × interval` and ignore `zone` and `policy`.
    ///
    /// - Parameters:
    ///   - date: The instant to search after.
    ///   - zone: The time zone whose wall clock calendar fields are read on.
    ///   - policy: What to do in daylight-saving gaps and overlaps.
    ///   - anchor: The instant fixed intervals count from.
    /// - Returns: The next fire time, or nil when the expression can never match, such as
    ///   `0 0 30 2 *`, or matches nothing in the next ten years.
    public func nextFire(
        after date: Date,
        in zone: TimeZone,
        policy: CronSchedulePolicy = .default,
        anchor: Date = CronExpression.epochAnchor
    ) -> Date? {
        switch self.form {
        case .calendar(let fields):
            return ZonedCalendarSearch(fields: fields, zone: zone, policy: policy).nextFire(after: date)

        case .interval(let seconds):
            return self.nextIntervalFire(after: date, every: seconds, anchor: anchor)
        }
    }

    /// The next `count` fire times after `date`, fewer when the expression runs out.
    ///
    /// - Parameters:
    ///   - date: The instant to search after.
    ///   - count: How many fire times to return at most.
    ///   - zone: The time zone whose wall clock calendar fields are read on.
    ///   - policy: What to do in daylight-saving gaps and overlaps.
    ///   - anchor: The instant fixed intervals count from.
    /// - Returns: Fire times in increasing order.
    public func fires(
        after date: Date,
        count: Int,
        in zone: TimeZone,
        policy: CronSchedulePolicy = .default,
        anchor: Date = CronExpression.epochAnchor
    ) -> [Date] {
        Array(self.fires(after: date, in: zone, policy: policy, anchor: anchor).prefix(count))
    }

    /// Fire times after `date`, computed lazily one at a time, for previews.
    ///
    /// - Parameters:
    ///   - date: The instant to search after.
    ///   - zone: The time zone whose wall clock calendar fields are read on.
    ///   - policy: What to do in daylight-saving gaps and overlaps.
    ///   - anchor: The instant fixed intervals count from.
    /// - Returns: A sequence that ends only when the expression runs out of matches.
    public func fires(
        after date: Date,
        in zone: TimeZone,
        policy: CronSchedulePolicy = .default,
        anchor: Date = CronExpression.epochAnchor
    ) -> CronFireSequence {
        CronFireSequence(expression: self, after: date, zone: zone, policy: policy, anchor: anchor)
    }
}

/// Fire times of an expression after an instant, each computed when it is asked for.
public struct CronFireSequence: Sequence, IteratorProtocol, Sendable {
    private let expression: CronExpression
    private let zone: TimeZone
    private let policy: CronSchedulePolicy
    private let anchor: Date
    private var last: Date?

    init(expression: CronExpression, after date: Date, zone: TimeZone, policy: CronSchedulePolicy, anchor: Date) {
        self.expression = expression
        self.zone = zone
        self.policy = policy
        self.anchor = anchor
        self.last = date
    }

    /// The next fire time, or nil once the expression has none left.
    public mutating func next() -> Date? {
        guard let last = self.last else {
            return nil
        }
        self.last = self.expression.nextFire(after: last, in: self.zone, policy: self.policy, anchor: self.anchor)
        return self.last
    }
}

/// A span of time in which a zone keeps one UTC offset, between two of its transitions.
struct ZoneSegment {
    /// The transition that began the segment, when there was one in the week before.
    var start: Int64?
    var previousOffset: Int64
    var offset: Int64
    /// The transition that ends the segment, or nil when the zone never changes again.
    var end: Int64?
    var nextOffset: Int64

    /// The segment that `instant` falls in.
    init(containing instant: Int64, in zone: TimeZone) {
        var start: Int64?
        // Only a recent start matters: it tells which wall-clock times were already shown once.
        var probe = instant - 7 * 86_400
        while let transition = Self.transition(after: probe, in: zone), transition <= instant {
            start = transition
            probe = transition
        }
        self.init(start: start, offset: Self.offset(at: instant, in: zone), endAfter: instant, zone: zone)
    }

    private init(start: Int64?, offset: Int64, endAfter instant: Int64, zone: TimeZone) {
        self.start = start
        self.previousOffset = start.map { Self.offset(at: $0 - 1, in: zone) } ?? offset
        self.offset = offset
        self.end = Self.transition(after: instant, in: zone)
        self.nextOffset = self.end.map { Self.offset(at: $0, in: zone) } ?? offset
    }

    /// The segment after this one; only called when this one ends.
    func following(in zone: TimeZone) -> ZoneSegment {
        ZoneSegment(start: self.end!, offset: self.nextOffset, endAfter: self.end!, zone: zone)
    }

    /// Where the wall-clock times this segment repeats from the one before it end, if it does.
    ///
    /// After the clock is turned back from 02:00 to 01:00, walls from 01:00 up to this 02:00
    /// were already shown before the transition: they are the overlap's second pass.
    var repeatedWallsEnd: Int64? {
        guard let start = self.start, self.previousOffset > self.offset else {
            return nil
        }
        return start + self.previousOffset
    }

    static func offset(at instant: Int64, in zone: TimeZone) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
    }

    static func transition(after instant: Int64, in zone: TimeZone) -> Int64? {
        zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(instant))).map {
            Int64($0.timeIntervalSince1970.rounded(.down))
        }
    }
}

/// The search for a calendar expression's next fire in one zone, under one policy.
struct ZonedCalendarSearch {
    let fields: CronCalendarFields
    let zone: TimeZone
    let policy: CronSchedulePolicy

    /// Walks the zone's segments forwards, matching walls each segment shows, in instant order.
    func nextFire(after date: Date) -> Date? {
        guard self.fields.canEverMatch else {
            return nil
        }
        var from = Int64(date.timeIntervalSince1970.rounded(.down)) + 1
        let horizon = from + CronExpression.searchHorizon
        var segment = ZoneSegment(containing: from, in: self.zone)
        while from < horizon {
            if let fire = self.firstFire(in: segment, from: from, before: horizon) {
                return Date(timeIntervalSince1970: Double(fire))
            }
            guard let end = segment.end, end < horizon else {
                return nil
            }
            if let fire = self.gapFire(at: end, after: segment) {
                return Date(timeIntervalSince1970: Double(fire))
            }
            if let skip = self.skipTarget(after: end, horizon: horizon) {
                from = skip
                segment = ZoneSegment(containing: from, in: self.zone)
            } else {
                from = end
                segment = segment.following(in: self.zone)
            }
        }
        return nil
    }

    /// The largest UTC offset any zone has: wall clocks are within this of the instant.
    private static let widestOffset: Int64 = 14 * 3_600

    /// An instant past `end` up to which nothing can fire, when the next match is far away.
    ///
    /// Rare expressions would otherwise walk every daylight-saving segment up to their next
    /// match. Instants before the next matching wall minus the widest offset show only walls
    /// that do not match, so no fire or gap fire can happen there.
    private func skipTarget(after end: Int64, horizon: Int64) -> Int64? {
        let earliestWall = end - 2 * 86_400
        guard let match = self.fields.nextMatch(atOrAfter: earliestWall, before: horizon + Self.widestOffset) else {
            return horizon
        }
        let target = match - Self.widestOffset - 1
        return target > end ? target : nil
    }

    /// Wildcard-hour expressions count elapsed time, so they fire in both passes and fill no gaps.
    private var followsClock: Bool {
        self.fields.matchesEveryHour
    }

    /// The first fire at or after `from` among the walls `segment` shows.
    private func firstFire(in segment: ZoneSegment, from: Int64, before horizon: Int64) -> Int64? {
        let offset = segment.offset
        let endWall = min(segment.end ?? horizon, horizon) + offset
        var wall = from + offset
        while let match = self.fields.nextMatch(atOrAfter: wall, before: endWall) {
            let secondPass = segment.repeatedWallsEnd.map { match < $0 } ?? false
            if secondPass && !self.followsClock && self.policy.overlap == .once {
                wall = segment.repeatedWallsEnd!
                continue
            }
            return match - offset
        }
        return nil
    }

    /// The instant a gap ends, when the policy runs the walls the gap skipped and one matches.
    private func gapFire(at end: Int64, after segment: ZoneSegment) -> Int64? {
        guard segment.nextOffset > segment.offset, self.policy.gap == .runAtFirstValidInstant, !self.followsClock
        else {
            return nil
        }
        let skipped = self.fields.nextMatch(atOrAfter: end + segment.offset, before: end + segment.nextOffset)
        return skipped == nil ? nil : end
    }
}
