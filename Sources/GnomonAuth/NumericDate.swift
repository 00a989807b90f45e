import GnomonCore

/// A moment as a JWT time claim gives it: seconds since 1970-01-01T00:00:00Z, held exactly.
///
/// Read from a claim's JSON text digit by digit, never through a `Double`, so `4102444800.75`
/// and `4.1e9` are exact, and a number too large for any real date, such as `1e300`, is
/// refused instead of overflowing. Fractions finer than a nanosecond are cut off.
struct NumericDate: Sendable, Hashable, Comparable {
    /// 9999-12-31T23:59:59Z: later moments are refused as malformed.
    static let latestSecond: Int64 = 253_402_300_799

    /// Whole seconds since the epoch, from 0 to ``latestSecond``.
    var seconds: Int64
    /// Nanoseconds past ``seconds``, from 0 to 999,999,999.
    var nanoseconds: Int64

    init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// Reads a claim's number.
    ///
    /// - Returns: `nil` when the number is negative or later than year 9999.
    init?(_ number: JSONNumber) {
        var text = Substring(number.text)
        if text.hasPrefix("-") {
            // -0 and -0.0 are zero; anything else negative is before 1970 and refused.
            let mantissa = text.dropFirst().prefix { $0 != "e" && $0 != "E" }
            guard mantissa.allSatisfy({ $0 == "0" || $0 == "." }) else {
                return nil
            }
            self.init(seconds: 0)
            return
        }
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Self.clampedExponent(text[text.index(after: marker)...])
            text = text[..<marker]
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let fraction = parts.count > 1 ? parts[1] : ""
        // The digits, and where the decimal point falls among them.
        var digits = Array((parts[0] + fraction).utf8.map { Int64($0 - UInt8(ascii: "0")) })
        var point = parts[0].count + exponent
        while let first = digits.first, first == 0 {
            digits.removeFirst()
            point -= 1
        }
        guard !digits.isEmpty else {
            self.init(seconds: 0)
            return
        }
        // latestSecond has 12 digits, so a point further right is always too late.
        guard point <= 12 else {
            return nil
        }
        var seconds: Int64 = 0
        for index in 0..<max(point, 0) {
            seconds = seconds * 10 + (index < digits.count ? digits[index] : 0)
        }
        var nanoseconds: Int64 = 0
        for index in point..<point + 9 {
            nanoseconds = nanoseconds * 10 + (index >= 0 && index < digits.count ? digits[index] : 0)
        }
        guard seconds <= Self.latestSecond else {
            return nil
        }
        self.init(seconds: seconds, nanoseconds: nanoseconds)
    }

    /// The current time, or any `Date`, as a numeric date.
    init(timeIntervalSince1970 interval: Double) {
        let whole = interval.rounded(.down)
        self.seconds = Int64(whole)
        self.nanoseconds = min(Int64(((interval - whole) * 1e9).rounded(.down)), 999_999_999)
    }

    /// An exponent's value, limited to ±100 so that a giant exponent cannot overflow.
    private static func clampedExponent(_ text: Substring) -> Int {
        let negative = text.hasPrefix("-")
        let digits = text.drop { $0 == "+" || $0 == "-" }.drop { $0 == "0" }
        let magnitude = digits.count > 3 ? 100 : min(Int(digits) ?? 0, 100)
        return negative ? -magnitude : magnitude
    }

    static func < (lhs: NumericDate, rhs: NumericDate) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    /// This moment moved by a number of nanoseconds, either way.
    func adding(nanoseconds offset: Int64) -> NumericDate {
        let total = self.nanoseconds + offset % 1_000_000_000
        let carry = total >= 1_000_000_000 ? 1 : total < 0 ? -1 : 0
        return NumericDate(
            seconds: self.seconds + offset / 1_000_000_000 + Int64(carry),
            nanoseconds: total - Int64(carry) * 1_000_000_000
        )
    }

    /// The moment as `2026-12-03T10:00:00Z`, whole seconds only.
    var formatted: String {
        UTCDateTime(secondsSinceEpoch: self.seconds).formatted() + "Z"
    }
}
