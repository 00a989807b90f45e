/// Matching local wall-clock times, counted as seconds since 1970-01-01T00:00:00 on that clock.
///
/// Pure calendar arithmetic, blind to time zones: the zone only decides which instants a
/// wall-clock reading stands for. The search jumps a field at a time (to the next matching
/// month, then day, hour, minute and second), so even a rare match costs a few dozen steps.
extension CronCalendarFields {
    /// Whether any date can match: `0 0 30 2 *` never can, whatever the year.
    var canEverMatch: Bool {
        // Every month has every weekday, so a restricted day-of-week always finds a day, both
        // alone and in Vixie cron's either-or with a restricted day-of-month.
        if self.restrictsDayOfWeek {
            return true
        }
        for month in 1...12 where self.months.contains(month) {
            let longest = month == 2 ? 29 : CivilCalendar.daysInMonth(year: 2001, month: month)
            // Bits 1 through `longest`: the days this month can have.
            if self.daysOfMonth.bits & ((1 << UInt64(longest + 1)) - 2) != 0 {
                return true
            }
        }
        return false
    }

    /// Whether the day `day` of `month` in `year` matches, by Vixie cron's rule.
    func matchesDay(year: Int, month: Int, day: Int) -> Bool {
        let dayOfMonth = self.daysOfMonth.contains(day)
        let dayOfWeek = self.daysOfWeek.contains(CivilCalendar.weekday(year: year, month: month, day: day))
        if self.restrictsDayOfMonth && self.restrictsDayOfWeek {
            return dayOfMonth || dayOfWeek
        }
        return dayOfMonth && dayOfWeek
    }

    /// The first matching wall-clock second at or after `wall` and before `limit`, if any.
    func nextMatch(atOrAfter wall: Int64, before limit: Int64) -> Int64? {
        var wall = wall
        while wall < limit {
            let now = UTCDateTime(secondsSinceEpoch: wall)
            guard let month = self.months.next(atOrAfter: now.month) else {
                wall = CivilCalendar.wallSeconds(year: now.year + 1, month: 1, day: 1)
                continue
            }
            guard month == now.month else {
                wall = CivilCalendar.wallSeconds(year: now.year, month: month, day: 1)
                continue
            }
            guard let day = self.nextDay(year: now.year, month: month, atOrAfter: now.day) else {
                wall = CivilCalendar.startOfNextMonth(year: now.year, month: month)
                continue
            }
            let dayStart = CivilCalendar.wallSeconds(year: now.year, month: month, day: day)
            guard day == now.day else {
                wall = dayStart
                continue
            }
            guard let found = self.nextTimeOfDay(atOrAfter: now) else {
                wall = dayStart + 86_400
                continue
            }
            let match = dayStart + found
            return match < limit ? match : nil
        }
        return nil
    }

    /// The first matching second of the day at or after `now`'s time, in seconds after midnight.
    private func nextTimeOfDay(atOrAfter now: UTCDateTime) -> Int64? {
        var (hour, minute, second) = (now.hour, now.minute, now.second)
        while let nextHour = self.hours.next(atOrAfter: hour) {
            if nextHour != hour {
                (hour, minute, second) = (nextHour, 0, 0)
            }
            while let nextMinute = self.minutes.next(atOrAfter: minute) {
                if nextMinute != minute {
                    (minute, second) = (nextMinute, 0)
                }
                if let nextSecond = self.seconds.next(atOrAfter: second), nextSecond < 60 {
                    return Int64(hour * 3_600 + minute * 60 + nextSecond)
                }
                (minute, second) = (minute + 1, 0)
            }
            (hour, minute, second) = (hour + 1, 0, 0)
        }
        return nil
    }

    private func nextDay(year: Int, month: Int, atOrAfter day: Int) -> Int? {
        let length = CivilCalendar.daysInMonth(year: year, month: month)
        guard day <= length else {
            return nil
        }
        return (day...length).first { self.matchesDay(year: year, month: month, day: $0) }
    }
}
