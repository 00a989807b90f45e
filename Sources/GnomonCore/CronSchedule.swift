public import Foundation

/// An expression with the time zone, policy and anchor that pin down when it fires.
public struct CronSchedule: Sendable, Hashable {
    /// When the schedule fires.
    public var expression: CronExpression

    /// The zone whose wall clock calendar expressions are read on.
    public var timeZone: TimeZone

    /// What calendar expressions do in daylight-saving gaps and overlaps.
    public var policy: CronSchedulePolicy

    /// The instant fixed intervals count from: usually when the schedule was created.
    public var anchor: Date

    /// Creates a schedule from an already resolved zone.
    ///
    /// - Parameters:
    ///   - expression: When the schedule fires.
    ///   - timeZone: The zone whose wall clock calendar expressions are read on.
    ///   - policy: What calendar expressions do in daylight-saving gaps and overlaps.
    ///   - anchor: The instant fixed intervals count from.
    public init(
        expression: CronExpression,
        timeZone: TimeZone,
        policy: CronSchedulePolicy = .default,
        anchor: Date = CronExpression.epochAnchor
    ) {
        self.expression = expression
        self.timeZone = timeZone
        self.policy = policy
        self.anchor = anchor
    }

    /// Creates a schedule from its text and an IANA zone identifier.
    ///
    /// - Parameters:
    ///   - expression: A calendar expression, a shorthand or a fixed interval.
    ///   - timeZoneIdentifier: An IANA identifier such as `Europe/London` or `UTC`.
    ///   - policy: What calendar expressions do in daylight-saving gaps and overlaps.
    ///   - anchor: The instant fixed intervals count from; pass the schedule's creation time.
    /// - Throws: ``CronExpressionError`` when the expression or the zone cannot be read.
    public init(
        expression: String,
        timeZoneIdentifier: String,
        policy: CronSchedulePolicy = .default,
        anchor: Date = CronExpression.epochAnchor
    ) throws {
        self.init(
            expression: try CronExpression(expression),
            timeZone: try Self.timeZone(identifier: timeZoneIdentifier),
            policy: policy,
            anchor: anchor
        )
    }

    /// Resolves an IANA zone identifier, refusing abbreviations and custom offsets.
    ///
    /// `UTC` is accepted. Offsets such as `GMT+5` or `+05:30` are refused, because they have no
    /// daylight saving time and hide the zone a schedule means; `Etc/GMT-5` is the IANA spelling.
    ///
    /// - Parameter identifier: The identifier, exactly as IANA spells it: `America/New_York`.
    /// - Returns: The zone.
    /// - Throws: ``CronExpressionError`` with code `unknownTimeZone`.
    public static func timeZone(identifier: String) throws -> TimeZone {
        if identifier == "UTC" || identifier == "Etc/UTC" {
            return TimeZone(identifier: "UTC")!
        }
        let customOffset = ["GMT+", "GMT-", "UTC+", "UTC-", "+", "-"].contains { identifier.hasPrefix($0) }
        guard !customOffset, let zone = TimeZone(identifier: identifier),
            zone.identifier == identifier || TimeZone.knownTimeZoneIdentifiers.contains(identifier)
        else {
            throw CronExpressionError(
                code: .unknownTimeZone,
                field: nil,
                text: identifier,
                message: "unknown time zone \"\(identifier)\"; use an IANA zone identifier such as "
                    + "America/New_York, Europe/London or UTC (names are case-sensitive)"
            )
        }
        return zone
    }

    /// The first fire time strictly after `date`, or nil when there is none.
    public func nextFire(after date: Date) -> Date? {
        self.expression.nextFire(after: date, in: self.timeZone, policy: self.policy, anchor: self.anchor)
    }

    /// The next `count` fire times after `date`, fewer when the expression runs out.
    public func fires(after date: Date, count: Int) -> [Date] {
        self.expression.fires(after: date, count: count, in: self.timeZone, policy: self.policy, anchor: self.anchor)
    }

    /// Fire times after `date`, computed lazily one at a time.
    public func fires(after date: Date) -> CronFireSequence {
        self.expression.fires(after: date, in: self.timeZone, policy: self.policy, anchor: self.anchor)
    }
}
