import GnomonCore
import Testing

@Suite("UTC date and time")
struct UTCDateTimeTests {
    @Test(
        "seconds since the epoch become the calendar date and time",
        arguments: [
            (0, "1970-01-01T00:00:00"),
            (-1, "1969-12-31T23:59:59"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_709_164_799, "2024-02-28T23:59:59"),
            (1_709_251_199, "2024-02-29T23:59:59"),
            (4_102_444_800, "2100-01-01T00:00:00"),
            (-62_135_596_800, "0001-01-01T00:00:00"),
            (253_402_300_799, "9999-12-31T23:59:59"),
        ] as [(Int64, String)]
    )
    func knownInstants(seconds: Int64, expected: String) {
        #expect(UTCDateTime(secondsSinceEpoch: seconds).formatted() == expected)
    }

    @Test("every day for 800 years follows the one before")
    func consecutiveDays() {
        var previous = UTCDateTime(secondsSinceEpoch: -86_400 * 146_097)
        for day in (-146_097 + 1)...146_097 {
            let current = UTCDateTime(secondsSinceEpoch: Int64(day) * 86_400)
            let nextDay = previous.day + 1
            let sameMonth = current.year == previous.year && current.month == previous.month && current.day == nextDay
            let nextMonth = current.day == 1 && (current.month == previous.month % 12 + 1)
            #expect(sameMonth || nextMonth, "day \(day): \(previous.formatted()) then \(current.formatted())")
            previous = current
        }
    }
}
