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
