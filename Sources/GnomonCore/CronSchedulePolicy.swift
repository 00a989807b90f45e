/// What a calendar schedule does when daylight saving time moves the local clock.
///
/// The policies govern expressions that name particular hours, such as `30 2 * * *`. An
/// expression whose hour field matches every hour (`*/15 * * * *`, `0 * * * *`) is a rhythm
/// in elapsed time and follows the clock as it is shown instead: it fires at every matching
/// reading the clock actually shows, so it fires in both passes of a repeated hour and has
/// nothing to make up for readings a gap skipped. Fixed intervals (`every 5m`) are in
/// absolute time and never affected.
public struct CronSchedulePolicy: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What to do with a local fire time that does not exist, because the clock jumped ahead.
    public var gap: CronGapPolicy

    /// What to do with a local fire time that occurs twice, because the clock was turned back.
    public var overlap: CronOverlapPolicy

    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - gap: What to do with a local fire time that does not exist; by default the schedule
    ///     runs at the first instant after the gap.
    ///   - overlap: What to do with a local fire time that occurs twice; by default only the
    ///     first occurrence fires.
    public init(gap: CronGapPolicy = .runAtFirstValidInstant, overlap: CronOverlapPolicy = .once) {
        self.gap = gap
        self.overlap = overlap
    }

    /// Run at the first instant after a gap; fire once, at the first occurrence, in an overlap.
    public static let `default` = CronSchedulePolicy()

    /// The two raw values, such as `gap=run_at_first_valid_instant overlap=once`.
    public var description: String {
        "gap=\(self.gap.rawValue) overlap=\(self.overlap.rawValue)"
    }
}

/// What a schedule does with a local fire time the clock skips when it jumps ahead.
///
/// In New York on 2025-03-09 the clock goes from 01:59:59 EST straight to 03:00:00 EDT, so
/// 02:30 does not exist that day.
public enum CronGapPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Do not fire for that day's 02:30 at all; the next fire is the next existing match.
    case skip = "skip"

    /// Fire at the instant the gap ends: 02:30 runs at 03:00 EDT. Several skipped fire times in
    /// one gap run once, and not again if 03:00 itself matches.
    case runAtFirstValidInstant = "run_at_first_valid_instant"
}

/// What a schedule does with a local fire time that occurs twice when the clock is turned back.
///
/// In New York on 2025-11-02 the clock goes from 01:59:59 EDT back to 01:00:00 EST, so 01:30
/// occurs at 05:30 UTC and again at 06:30 UTC.
public enum CronOverlapPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Fire at the first occurrence only: 01:30 EDT.
    case once = "once"

    /// Fire at both occurrences: 01:30 EDT and, an hour later, 01:30 EST.
    case twice = "twice"
}
