import Foundation
import GnomonCore
import Testing

/// Fire times across daylight-saving changes, checked by hand against the zones' rules for 2025.
///
/// New York: 2025-03-09 02:00 EST jumps to 03:00 EDT; 2025-11-02 02:00 EDT falls back to 01:00 EST.
/// London: 2025-03-30 01:00 GMT jumps to 02:00 BST; 2025-10-26 02:00 BST falls back to 01:00 GMT.
/// Lord Howe moves by 30 minutes: 2025-04-06 02:00 (+11:00) falls back to 01:30 (+10:30);
/// 2025-10-05 02:00 (+10:30) jumps to 02:30 (+11:00).
/// Havana changes at midnight: 2025-03-09 00:00 CST jumps to 01:00 CDT; 2025-11-02 01:00 CDT
/// falls back to 00:00 CST.
@Suite("Cron fire times across daylight-saving changes")
struct CronDaylightSavingTests {
    static let skipOnce = CronSchedulePolicy(gap: .skip, overlap: .once)
    static let runTwice = CronSchedulePolicy(gap: .runAtFirstValidInstant, overlap: .twice)

    /// The fires of `text` after `start`, printed on the wall clock of `zone` with its offset.
    func fires(
        _ text: String, _ zone: String, after start: String, count: Int,
        policy: CronSchedulePolicy = .default
    ) throws -> [String] {
        let schedule = try CronSchedule(expression: text, timeZoneIdentifier: zone, policy: policy)
        return schedule.fires(after: CronTestTime.instant(start), count: count).map {
            CronTestTime.local($0, schedule.timeZone)
        }
    }

    @Test("the default policy runs at the first valid instant and once in an overlap")
    func defaults() {
        #expect(CronSchedulePolicy.default == CronSchedulePolicy(gap: .runAtFirstValidInstant, overlap: .once))
        #expect(CronSchedulePolicy.default.description == "gap=run_at_first_valid_instant overlap=once")
    }

    @Test("policies encode as their stable raw values")
    func codable() throws {
        let data = try JSONEncoder().encode(Self.skipOnce)
        #expect(String(decoding: data, as: UTF8.self).contains("\"gap\":\"skip\""))
        #expect(try JSONDecoder().decode(CronSchedulePolicy.self, from: data) == Self.skipOnce)
        #expect(CronGapPolicy.allCases.map(\.rawValue) == ["skip", "run_at_first_valid_instant"])
        #expect(CronOverlapPolicy.allCases.map(\.rawValue) == ["once", "twice"])
    }

    @Test("New York spring forward: 02:30 runs at 03:00 EDT, or is skipped")
    func newYorkGap() throws {
        let start = "2025-03-07T12:00:00-05:00"
        #expect(
            try self.fires("30 2 * * *", "America/New_York", after: start, count: 3)
                == ["2025-03-08T02:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"])
        #expect(
            try self.fires("30 2 * * *", "America/New_York", after: start, count: 2, policy: Self.skipOnce)
                == ["2025-03-08T02:30:00-05:00", "2025-03-10T02:30:00-04:00"])
        // Several times in one gap, and a match at 03:00 itself, run once.
        #expect(
            try self.fires("0,30 1-3 * * *", "America/New_York", after: "2025-03-09T00:30:00-05:00", count: 4)
                == [
                    "2025-03-09T01:00:00-05:00", "2025-03-09T01:30:00-05:00", "2025-03-09T03:00:00-04:00",
                    "2025-03-09T03:30:00-04:00",
                ])
        #expect(
            try self.fires("0,30 2,3 * * *", "America/New_York", after: start, count: 3)
                == ["2025-03-08T02:00:00-05:00", "2025-03-08T02:30:00-05:00", "2025-03-08T03:00:00-05:00"])
        #expect(
            try self.fires("0,30 2,3 * * *", "America/New_York", after: "2025-03-09T00:00:00-05:00", count: 3)
                == ["2025-03-09T03:00:00-04:00", "2025-03-09T03:30:00-04:00", "2025-03-10T02:00:00-04:00"])
        #expect(
            try self.fires("30 30 2 * * *", "America/New_York", after: start, count: 2)
                == ["2025-03-08T02:30:30-05:00", "2025-03-09T03:00:00-04:00"])
    }

    @Test("New York fall back: 01:30 fires at the first occurrence, or at both")
    func newYorkOverlap() throws {
        let start = "2025-11-01T12:00:00-04:00"
        #expect(
            try self.fires("30 1 * * *", "America/New_York", after: start, count: 2)
                == ["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"])
        #expect(
            try self.fires("30 1 * * *", "America/New_York", after: start, count: 3, policy: Self.runTwice)
                == ["2025-11-02T01:30:00-04:00", "2025-11-02T01:30:00-05:00", "2025-11-03T01:30:00-05:00"])
    }

    @Test("a search starting inside the repeated hour knows which pass it is in")
    func startInsideOverlap() throws {
        // 01:10 EST is the second pass: 01:20 EDT has already gone by.
        let secondPass = "2025-11-02T01:10:00-05:00"
        #expect(
            try self.fires("20 1 * * *", "America/New_York", after: secondPass, count: 1)
                == ["2025-11-03T01:20:00-05:00"])
        #expect(
            try self.fires("20 1 * * *", "America/New_York", after: secondPass, count: 1, policy: Self.runTwice)
                == ["2025-11-02T01:20:00-05:00"])
        // 01:10 EDT is the first pass: 01:05 comes round again only under twice.
        let firstPass = "2025-11-02T01:10:00-04:00"
        #expect(
            try self.fires("5 1 * * *", "America/New_York", after: firstPass, count: 1, policy: Self.runTwice)
                == ["2025-11-02T01:05:00-05:00"])
        #expect(
            try self.fires("5 1 * * *", "America/New_York", after: firstPass, count: 1)
                == ["2025-11-03T01:05:00-05:00"])
    }

    @Test("every-N-minutes expressions fire in both passes of the repeated hour, under either policy")
    func wildcardHourOverlap() throws {
        let expected = [
            "2025-11-02T00:30:00-04:00", "2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00",
            "2025-11-02T01:00:00-05:00", "2025-11-02T01:30:00-05:00", "2025-11-02T02:00:00-05:00",
        ]
        let start = "2025-11-02T00:15:00-04:00"
        #expect(try self.fires("*/30 * * * *", "America/New_York", after: start, count: 6) == expected)
        #expect(
            try self.fires("*/30 * * * *", "America/New_York", after: start, count: 6, policy: Self.runTwice)
                == expected)
    }

    @Test("every-N-minutes expressions do not make up for readings a gap skipped")
    func wildcardHourGap() throws {
        let start = "2025-03-09T00:45:00-05:00"
        #expect(
            try self.fires("*/30 * * * *", "America/New_York", after: start, count: 4)
                == [
                    "2025-03-09T01:00:00-05:00", "2025-03-09T01:30:00-05:00", "2025-03-09T03:00:00-04:00",
                    "2025-03-09T03:30:00-04:00",
                ])
        #expect(
            try self.fires("30 * * * *", "America/New_York", after: start, count: 2)
                == ["2025-03-09T01:30:00-05:00", "2025-03-09T03:30:00-04:00"])
    }

    @Test("London: 01:30 runs at 02:00 BST in spring, and once or twice in autumn")
    func london() throws {
        #expect(
            try self.fires("30 1 * * *", "Europe/London", after: "2025-03-29T12:00:00Z", count: 2)
                == ["2025-03-30T02:00:00+01:00", "2025-03-31T01:30:00+01:00"])
        #expect(
            try self.fires("30 1 * * *", "Europe/London", after: "2025-10-25T12:00:00+01:00", count: 2)
                == ["2025-10-26T01:30:00+01:00", "2025-10-27T01:30:00Z"])
        #expect(
            try self.fires(
                "30 1 * * *", "Europe/London", after: "2025-10-25T12:00:00+01:00", count: 2, policy: Self.runTwice)
                == ["2025-10-26T01:30:00+01:00", "2025-10-26T01:30:00Z"])
    }

    @Test("Lord Howe's half-hour changes: the gap ends at 02:30, the overlap repeats 01:30 to 02:00")
    func lordHowe() throws {
        let zone = "Australia/Lord_Howe"
        #expect(
            try self.fires("15 2 * * *", zone, after: "2025-10-04T12:00:00+10:30", count: 2)
                == ["2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"])
        #expect(
            try self.fires("15 2 * * *", zone, after: "2025-10-04T12:00:00+10:30", count: 1, policy: Self.skipOnce)
                == ["2025-10-06T02:15:00+11:00"])
        #expect(
            try self.fires("45 1 * * *", zone, after: "2025-04-05T12:00:00+11:00", count: 2)
                == ["2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"])
        #expect(
            try self.fires("45 1 * * *", zone, after: "2025-04-05T12:00:00+11:00", count: 2, policy: Self.runTwice)
                == ["2025-04-06T01:45:00+11:00", "2025-04-06T01:45:00+10:30"])
        #expect(
            try self.fires("*/15 * * * *", zone, after: "2025-04-06T01:10:00+11:00", count: 6)
                == [
                    "2025-04-06T01:15:00+11:00", "2025-04-06T01:30:00+11:00", "2025-04-06T01:45:00+11:00",
                    "2025-04-06T01:30:00+10:30", "2025-04-06T01:45:00+10:30", "2025-04-06T02:00:00+10:30",
                ])
        // Fifteen minutes of elapsed time across the gap, with no extra fire at 02:30.
        #expect(
            try self.fires("*/15 * * * *", zone, after: "2025-10-05T01:40:00+10:30", count: 3)
                == ["2025-10-05T01:45:00+10:30", "2025-10-05T02:30:00+11:00", "2025-10-05T02:45:00+11:00"])
    }

    @Test("Havana changes at midnight: a missing midnight runs at 01:00, a doubled one runs once")
    func havanaMidnight() throws {
        let zone = "America/Havana"
        #expect(
            try self.fires("0 0 * * *", zone, after: "2025-03-08T12:00:00-05:00", count: 2)
                == ["2025-03-09T01:00:00-04:00", "2025-03-10T00:00:00-04:00"])
        #expect(
            try self.fires("0 0 * * *", zone, after: "2025-03-08T12:00:00-05:00", count: 1, policy: Self.skipOnce)
                == ["2025-03-10T00:00:00-04:00"])
        // Sunday 9 March has no midnight; the gap policy still fires on that Sunday, at 01:00.
        #expect(
            try self.fires("0 0 * * SUN", zone, after: "2025-03-08T12:00:00-05:00", count: 1)
                == ["2025-03-09T01:00:00-04:00"])
        #expect(
            try self.fires("0 0 * * *", zone, after: "2025-11-01T12:00:00-04:00", count: 2)
                == ["2025-11-02T00:00:00-04:00", "2025-11-03T00:00:00-05:00"])
        #expect(
            try self.fires("0 0 * * *", zone, after: "2025-11-01T12:00:00-04:00", count: 2, policy: Self.runTwice)
                == ["2025-11-02T00:00:00-04:00", "2025-11-02T00:00:00-05:00"])
    }

    @Test(
        "an unknown zone is refused with the way to name one",
        arguments: ["Mars/Olympus", "america/new_york", "GMT+5", "+05:30", ""])
    func unknownZone(identifier: String) {
        let error = #expect(throws: CronExpressionError.self) {
            try CronSchedule(expression: "@daily", timeZoneIdentifier: identifier)
        }
        #expect(error?.code == .unknownTimeZone)
        #expect(error?.text == identifier)
        #expect(
            error?.message
                == "unknown time zone \"\(identifier)\"; use an IANA zone identifier such as America/New_York, "
                + "Europe/London or UTC (names are case-sensitive)")
    }

    @Test(
        "IANA zones, UTC and links are accepted",
        arguments: ["UTC", "Etc/UTC", "Asia/Kathmandu", "Etc/GMT-5", "US/Eastern"])
    func knownZone(identifier: String) throws {
        _ = try CronSchedule.timeZone(identifier: identifier)
    }
}
