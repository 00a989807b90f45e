public import Foundation

/// When a schedule fires: a calendar cron expression or a fixed interval.
///
/// Calendar expressions have five fields, `minute hour day-of-month month day-of-week`, or six
/// with a leading `second`. Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or
/// `a/n` (from `a` to the field's end), or a comma-separated list of those. Months take the
/// names JAN to DEC and days of the week SUN to SAT, in any case; 0 and 7 are both Sunday. The
/// shorthands `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and
/// `@hourly` stand for their usual five fields.
///
/// Day-of-month and day-of-week combine as in Vixie cron: when both are restricted, a day
/// matches if either matches, so `0 9 1 * MON` fires on the first of each month and on every
/// Monday. A field is restricted when it leaves out at least one of its values, so `*/2` in
/// day-of-month is restricted (Vixie cron, which looks only for a leading `*`, treats it as
/// unrestricted; croniter agrees with Gnomon). When either field is unrestricted, the other
/// alone decides.
///
/// Fixed intervals are written `every 90s`, `every 5m`, `every 2h` or `every 1h30m`. They are
/// instants in absolute time, `anchor + k × interval` for every integer `k`, where the anchor
/// is given by the caller (a schedule uses the instant it was created); time zones and
/// daylight-saving policies do not apply to them.
///
/// Two expressions are equal when they fire at the same times, and ``description`` prints
/// the one canonical spelling for all of them: `*/15 * * * *` and `0,15,30,45 * * * *` are equal
/// and both print `*/15 * * * *`.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    enum Form: Sendable, Hashable {
        case calendar(CronCalendarFields)
        case interval(seconds: Int64)
    }

    let form: Form

    init(form: Form) {
        self.form = form
    }

    /// The longest fixed interval accepted: 31 days.
    public static let longestInterval: Duration = .seconds(31 * 86_400)

    /// The anchor fixed intervals count from when none is given: 1970-01-01T00:00:00Z.
    ///
    /// From this anchor `every 5m` fires at :00, :05, :10 of every hour, and `every 2h` at
    /// even hours UTC.
    public static let epochAnchor = Date(timeIntervalSince1970: 0)

    /// The interval of an `every` expression, or nil for a calendar expression.
    public var interval: Duration? {
        guard case .interval(let seconds) = self.form else {
            return nil
        }
        return .seconds(seconds)
    }

    /// Whether this is a calendar expression, to which time zones and policies apply.
    public var isCalendar: Bool {
        self.interval == nil
    }

    /// The canonical spelling: five fields, or six when the seconds are not just 0, with sets
    /// written as `*`, `*/n`, `a-b/n`, ranges and lists of numbers; `every` with hours, minutes
    /// and seconds, such as `every 1h30m`.
    public var description: String {
        switch self.form {
        case .calendar(let fields):
            return fields.description

        case .interval(let seconds):
            return Self.describeInterval(seconds)
        }
    }

    private static func describeInterval(_ seconds: Int64) -> String {
        var text = "every "
        let (hours, minutes, rest) = (seconds / 3_600, seconds % 3_600 / 60, seconds % 60)
        if hours > 0 {
            text += "\(hours)h"
        }
        if minutes > 0 {
            text += "\(minutes)m"
        }
        if rest > 0 {
            text += "\(rest)s"
        }
        return text
    }
}

extension CronExpression: Codable {
    /// Reads an expression from its text.
    ///
    /// - Throws: `DecodingError.dataCorrupted` carrying the ``CronExpressionError`` message.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(text)
        } catch let error as CronExpressionError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    /// Writes the canonical spelling.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}
