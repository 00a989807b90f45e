/// A calendar date and time of day in UTC, computed from seconds since the Unix epoch.
///
/// Pure arithmetic on the proleptic Gregorian calendar, so it needs neither the C library's
/// time functions nor Foundation, and gives the same answer on every machine.
public struct UTCDateTime: Sendable, Hashable {
    public var year: Int
    /// 1 to 12.
    public var month: Int
    /// 1 to 31.
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    /// The date and time `seconds` after 1970-01-01T00:00:00Z; negative counts go before it.
    public init(secondsSinceEpoch seconds: Int64) {
        let (days, secondOfDay) = Self.floorDivide(seconds, 86_400)
        // Days to civil date, after Howard Hinnant's algorithm: eras of 400 years from 0000-03-01.
        let shifted = days + 719_468
        let (era, dayOfEra) = Self.floorDivide(shifted, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        self.year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        self.month = Int(month)
        self.day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        self.hour = Int(secondOfDay / 3_600)
        self.minute = Int(secondOfDay % 3_600 / 60)
        self.second = Int(secondOfDay % 60)
    }

    /// `YYYY-MM-DD`, then `separator`, then `hh:mm:ss`.
    public func formatted(separator: String = "T") -> String {
        Self.pad(self.year, 4) + "-" + Self.pad(self.month, 2) + "-" + Self.pad(self.day, 2) + separator
            + Self.pad(self.hour, 2) + ":" + Self.pad(self.minute, 2) + ":" + Self.pad(self.second, 2)
    }

    /// `value` in decimal, left-padded with zeros to `width` digits.
    public static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
