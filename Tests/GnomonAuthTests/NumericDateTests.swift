import Testing

@testable import GnomonAuth

@Suite("Numeric dates")
struct NumericDateTests {
    private func date(_ text: String) -> NumericDate? {
        NumericDate(JSONNumber(text: text)!)
    }

    @Test(
        "reads integers, decimals and exponents exactly",
        arguments: [
            ("0", 0, 0),
            ("-0", 0, 0),
            ("1767225600", 1_767_225_600, 0),
            ("1767225600.5", 1_767_225_600, 500_000_000),
            ("1767225600.000000001", 1_767_225_600, 1),
            ("1767225600.0000000019", 1_767_225_600, 1),
            ("4.1e9", 4_100_000_000, 0),
            ("4100000000E-0", 4_100_000_000, 0),
            ("17672256005e-1", 1_767_225_600, 500_000_000),
            ("0.00000000000000001e17", 1, 0),
            ("1e-300", 0, 0),
            ("253402300799", 253_402_300_799, 0),
            ("253402300799.999999999", 253_402_300_799, 999_999_999),
        ] as [(String, Int64, Int64)]
    )
    func reads(text: String, seconds: Int64, nanoseconds: Int64) {
        #expect(self.date(text) == NumericDate(seconds: seconds, nanoseconds: nanoseconds))
    }

    @Test(
        "refuses negative times and times after year 9999, however written",
        arguments: [
            "-1", "-0.5", "253402300800", "1e12", "1e300", "1e99999999999999999999",
            "9" + String(repeating: "9", count: 400),
        ]
    )
    func refuses(text: String) {
        #expect(self.date(text) == nil)
    }

    @Test("formats as ISO 8601 in UTC")
    func formats() {
        #expect(NumericDate(seconds: 1_796_292_000).formatted == "2026-12-03T10:00:00Z")
    }

    @Test("moves by nanoseconds across second boundaries both ways")
    func adds() {
        let date = NumericDate(seconds: 10, nanoseconds: 900_000_000)
        #expect(date.adding(nanoseconds: 200_000_000) == NumericDate(seconds: 11, nanoseconds: 100_000_000))
        #expect(date.adding(nanoseconds: -950_000_000) == NumericDate(seconds: 9, nanoseconds: 950_000_000))
        #expect(date.adding(nanoseconds: 60_000_000_000) == NumericDate(seconds: 70, nanoseconds: 900_000_000))
    }

    @Test("reads a Date's seconds and nanoseconds")
    func fromDate() {
        let date = NumericDate(timeIntervalSince1970: 1_893_456_000.25)
        #expect(date == NumericDate(seconds: 1_893_456_000, nanoseconds: 250_000_000))
    }
}
