import Foundation
import GnomonCore
import Testing

@Suite("Cron next fire times on the calendar")
struct CronNextFireTests {
    static let utc = CronTestTime.zone("UTC")

    /// The next `count` fires of `text` after `start`, printed on the wall clock of `zone`.
    func fires(_ text: String, after start: String, count: Int = 5, zone: TimeZone = Self.utc) throws -> [String] {
        let expression = try CronExpression(text)
        return expression.fires(after: CronTestTime.instant(start), count: count, in: zone).map {
            CronTestTime.local($0, zone)
        }
    }

    @Test("every minute fires at the next whole minute, strictly after the start")
    func everyMinute() throws {
        #expect(
            try self.fires("* * * * *", after: "2025-01-01T10:00:00Z", count: 2)
                == ["2025-01-01T10:01:00Z", "2025-01-01T10:02:00Z"])
        #expect(try self.fires("* * * * *", after: "2025-01-01T10:00:59.500Z", count: 1) == ["2025-01-01T10:01:00Z"])
        #expect(try self.fires("* * * * *", after: "2025-12-31T23:59:30Z", count: 1) == ["2026-01-01T00:00:00Z"])
    }

    @Test("steps, ranges and lists fire where they say")
    func stepsRangesLists() throws {
        #expect(
            try self.fires("*/15 * * * *", after: "2025-01-01T10:07:00Z", count: 3)
                == ["2025-01-01T10:15:00Z", "2025-01-01T10:30:00Z", "2025-01-01T10:45:00Z"])
        #expect(
            try self.fires("10-50/20 9,17 * * *", after: "2025-01-01T09:30:00Z", count: 4)
                == ["2025-01-01T09:50:00Z", "2025-01-01T17:10:00Z", "2025-01-01T17:30:00Z", "2025-01-01T17:50:00Z"])
        #expect(
            try self.fires("0 12 * * MON-FRI", after: "2025-01-03T12:00:00Z", count: 2)
                == ["2025-01-06T12:00:00Z", "2025-01-07T12:00:00Z"])
    }

    @Test("six fields fire on seconds")
    func seconds() throws {
        #expect(
            try self.fires("*/20 * * * * *", after: "2025-01-01T10:00:41Z", count: 3)
                == ["2025-01-01T10:01:00Z", "2025-01-01T10:01:20Z", "2025-01-01T10:01:40Z"])
        #expect(
            try self.fires("30 59 23 31 12 *", after: "2025-06-01T00:00:00Z", count: 2)
                == ["2025-12-31T23:59:30Z", "2026-12-31T23:59:30Z"])
    }

    @Test("the 31st fires only in months that have one")
    func monthEnds() throws {
        #expect(
            try self.fires("0 0 31 * *", after: "2025-01-31T00:00:00Z", count: 6)
                == [
                    "2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-31T00:00:00Z",
                    "2025-10-31T00:00:00Z", "2025-12-31T00:00:00Z",
                ])
        #expect(
            try self.fires("0 0 30 * *", after: "2025-01-30T00:00:00Z", count: 2)
                == ["2025-03-30T00:00:00Z", "2025-04-30T00:00:00Z"])
    }

    @Test("February 29 fires only in leap years, skipping 2100")
    func leapYears() throws {
        #expect(
            try self.fires("0 0 29 2 *", after: "2025-01-01T00:00:00Z", count: 3)
                == ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"])
        #expect(try self.fires("0 0 29 2 *", after: "2096-03-01T00:00:00Z", count: 1) == ["2104-02-29T00:00:00Z"])
        #expect(try self.fires("0 0 29 2 *", after: "2399-01-01T00:00:00Z", count: 1) == ["2400-02-29T00:00:00Z"])
        #expect(
            try self.fires("0 0 28-29 2 *", after: "2027-03-01T00:00:00Z", count: 3)
                == ["2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"])
    }

    @Test(
        "an expression that can never match gives nil at once",
        arguments: ["0 0 30 2 *", "0 0 31 2,4,6,9,11 *", "0 0 30,31 FEB *", "0 0 0 31 4 *"]
    )
    func impossible(text: String) throws {
        let expression = try CronExpression(text)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(expression.nextFire(after: CronTestTime.instant("2025-01-01T00:00:00Z"), in: Self.utc) == nil)
        }
        #expect(elapsed < .milliseconds(200))
        #expect(Array(expression.fires(after: .now, in: Self.utc)).isEmpty)
    }

    @Test("a restricted day-of-month or day-of-week fires when either matches")
    func dayOfMonthOrDayOfWeek() throws {
        // June 2025: the 13th is a Friday, July 13th a Sunday.
        #expect(
            try self.fires("0 9 13 * FRI", after: "2025-06-01T00:00:00Z", count: 7)
                == [
                    "2025-06-06T09:00:00Z", "2025-06-13T09:00:00Z", "2025-06-20T09:00:00Z", "2025-06-27T09:00:00Z",
                    "2025-07-04T09:00:00Z", "2025-07-11T09:00:00Z", "2025-07-13T09:00:00Z",
                ])
        // A step restricts day-of-month too: odd days, or any Monday.
        #expect(
            try self.fires("0 0 */2 * MON", after: "2025-06-01T00:00:00Z", count: 4)
                == ["2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z", "2025-06-05T00:00:00Z", "2025-06-07T00:00:00Z"])
    }

    @Test("an unrestricted day field leaves the other to decide alone")
    func oneDayFieldRestricted() throws {
        #expect(
            try self.fires("0 0 * * SUN", after: "2025-06-01T00:00:00Z", count: 2)
                == ["2025-06-08T00:00:00Z", "2025-06-15T00:00:00Z"])
        #expect(
            try self.fires("0 0 13 * *", after: "2025-06-01T00:00:00Z", count: 2)
                == ["2025-06-13T00:00:00Z", "2025-07-13T00:00:00Z"])
        #expect(
            try self.fires("0 0 13 * 0-7", after: "2025-06-01T00:00:00Z", count: 2)
                == ["2025-06-13T00:00:00Z", "2025-07-13T00:00:00Z"])
        #expect(
            try self.fires("0 0 1-31 * FRI", after: "2025-06-01T00:00:00Z", count: 2)
                == ["2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z"])
    }

    @Test("shorthands fire at their usual times")
    func shorthands() throws {
        let start = "2025-06-15T12:34:56Z"
        #expect(try self.fires("@yearly", after: start, count: 1) == ["2026-01-01T00:00:00Z"])
        #expect(try self.fires("@monthly", after: start, count: 1) == ["2025-07-01T00:00:00Z"])
        #expect(try self.fires("@weekly", after: start, count: 1) == ["2025-06-22T00:00:00Z"])
        #expect(try self.fires("@daily", after: start, count: 1) == ["2025-06-16T00:00:00Z"])
        #expect(try self.fires("@hourly", after: start, count: 1) == ["2025-06-15T13:00:00Z"])
    }

    @Test("calendar fields are read on the zone's wall clock, also at a 45-minute offset")
    func kathmandu() throws {
        let zone = CronTestTime.zone("Asia/Kathmandu")
        #expect(
            try self.fires("0 9 * * *", after: "2025-06-15T00:00:00Z", count: 2, zone: zone)
                == ["2025-06-15T09:00:00+05:45", "2025-06-16T09:00:00+05:45"])
        let expression = try CronExpression("*/30 * * * *")
        let fires = expression.fires(after: CronTestTime.instant("2025-06-15T00:00:00Z"), count: 2, in: zone)
        #expect(fires.map { CronTestTime.local($0, Self.utc) } == ["2025-06-15T00:15:00Z", "2025-06-15T00:45:00Z"])
    }

    @Test("a fixed interval counts from its anchor in absolute time, in any zone")
    func interval() throws {
        let expression = try CronExpression("every 90s")
        let anchor = CronTestTime.instant("2025-03-09T06:59:07.250Z")
        let newYork = CronTestTime.zone("America/New_York")
        let fires = expression.fires(after: anchor, count: 3, in: newYork, anchor: anchor)
        #expect(
            fires == [anchor.addingTimeInterval(90), anchor.addingTimeInterval(180), anchor.addingTimeInterval(270)])
        // Across New York's spring-forward gap the spacing stays 90 seconds.
        #expect(fires.map { CronTestTime.local($0, newYork) }[1] == "2025-03-09T03:02:07-04:00")
        // Before the anchor, the same grid extends backwards.
        #expect(expression.nextFire(after: anchor.addingTimeInterval(-50), in: newYork, anchor: anchor) == anchor)
        #expect(
            expression.nextFire(after: anchor.addingTimeInterval(-1_000), in: newYork, anchor: anchor)
                == anchor.addingTimeInterval(-990))
        // Without an anchor, intervals count from the Unix epoch: every 5m fires on the five minutes.
        #expect(try self.fires("every 5m", after: "2025-01-01T10:07:00Z", count: 1) == ["2025-01-01T10:10:00Z"])
    }

    @Test("the lazy sequence gives the same fires as repeated next-fire calls")
    func lazySequence() throws {
        let expression = try CronExpression("7 */5 * * *")
        let start = CronTestTime.instant("2025-01-01T00:00:00Z")
        var expected: [Date] = []
        var last = start
        for _ in 0..<50 {
            last = expression.nextFire(after: last, in: Self.utc)!
            expected.append(last)
        }
        #expect(Array(expression.fires(after: start, in: Self.utc).prefix(50)) == expected)
        #expect(expression.fires(after: start, count: 50, in: Self.utc) == expected)
    }

    @Test("next-fire jumps field by field: a thousand rare searches are quick")
    func speed() throws {
        let expression = try CronExpression("59 23 29 2 *")
        let newYork = CronTestTime.zone("America/New_York")
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            var last = CronTestTime.instant("2000-01-01T00:00:00Z")
            for _ in 0..<1_000 {
                last = expression.nextFire(after: last, in: newYork)!
            }
        }
        #expect(elapsed < .seconds(2))
    }
}
