/// Proleptic Gregorian calendar arithmetic on wall-clock seconds since 1970-01-01T00:00:00.
enum CivilCalendar {
    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2:
            return Self.isLeapYear(year) ? 29 : 28

        case 4, 6, 9, 11:
            return 30

        default:
            return 31
        }
    }

    /// Days from 1970-01-01 to the date, after Howard Hinnant's `days_from_civil`.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let shiftedYear = Int64(month <= 2 ? year - 1 : year)
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Midnight at the start of the date, in wall-clock seconds.
    static func wallSeconds(year: Int, month: Int, day: Int) -> Int64 {
        Self.days(year: year, month: month, day: day) * 86_400
    }

    static func startOfNextMonth(year: Int, month: Int) -> Int64 {
        month == 12
            ? Self.wallSeconds(year: year + 1, month: 1, day: 1)
            : Self.wallSeconds(year: year, month: month + 1, day: 1)
    }

    /// 0 for Sunday to 6 for Saturday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        // 1970-01-01 was a Thursday.
        let weekday = (Self.days(year: year, month: month, day: day) + 4) % 7
        return Int(weekday < 0 ? weekday + 7 : weekday)
    }
}
