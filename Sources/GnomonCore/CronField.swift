/// One of the six positions of a cron expression, with the values and names it accepts.
///
/// Day-of-week accepts 0 to 7, where both 0 and 7 are Sunday; its values are stored as 0 to 6.
public struct CronField: Sendable, Hashable, CustomStringConvertible {
    /// The field's name as error messages and documentation spell it, such as `day-of-month`.
    public let name: String

    /// The smallest value the field accepts.
    public let lowest: Int

    /// The largest value the field accepts; 7 for day-of-week, which stores it as 0.
    public let highest: Int

    /// The names the field accepts, in order from `lowest`; empty when names are not allowed.
    let names: [String]

    private init(name: String, lowest: Int, highest: Int, names: [String] = []) {
        self.name = name
        self.lowest = lowest
        self.highest = highest
        self.names = names
    }

    /// Seconds, 0 to 59: the leading field of a six-field expression.
    public static let second = CronField(name: "second", lowest: 0, highest: 59)

    /// Minutes, 0 to 59.
    public static let minute = CronField(name: "minute", lowest: 0, highest: 59)

    /// Hours of the day, 0 to 23.
    public static let hour = CronField(name: "hour", lowest: 0, highest: 23)

    /// Days of the month, 1 to 31.
    public static let dayOfMonth = CronField(name: "day-of-month", lowest: 1, highest: 31)

    /// Months, 1 to 12 or JAN to DEC.
    public static let month = CronField(
        name: "month",
        lowest: 1,
        highest: 12,
        names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )

    /// Days of the week, 0 to 7 (0 and 7 are Sunday) or SUN to SAT.
    public static let dayOfWeek = CronField(
        name: "day-of-week",
        lowest: 0,
        highest: 7,
        names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
    )

    /// The largest value stored: day-of-week folds 7 into 0.
    var highestStored: Int {
        self == .dayOfWeek ? 6 : self.highest
    }

    /// Every value the field can hold.
    var all: CronValueSet {
        let upTo = (UInt64(1) << UInt64(self.highestStored + 1)) - 1
        let below = (UInt64(1) << UInt64(self.lowest)) - 1
        return CronValueSet(bits: upTo & ~below)
    }

    /// The forms the field accepts, for error messages.
    var acceptedForms: String {
        let values: String
        if self == .dayOfWeek {
            values = "0-7 (0 and 7 are Sunday) or SUN-SAT"
        } else if self.names.isEmpty {
            values = "\(self.lowest)-\(self.highest), names not allowed"
        } else {
            values = "\(self.lowest)-\(self.highest) or \(self.names.first!)-\(self.names.last!)"
        }
        return "\(values); lists a,b; ranges a-b; steps */n, a-b/n or a/n with n from 1 to \(self.highest)"
    }

    /// The name.
    public var description: String {
        self.name
    }
}

/// A set of small non-negative integers, the values one field of an expression matches.
struct CronValueSet: Sendable, Hashable {
    var bits: UInt64

    init(bits: UInt64 = 0) {
        self.bits = bits
    }

    init(_ values: some Sequence<Int>) {
        self.bits = 0
        for value in values {
            self.insert(value)
        }
    }

    var isEmpty: Bool {
        self.bits == 0
    }

    var count: Int {
        self.bits.nonzeroBitCount
    }

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && self.bits & (1 << UInt64(value)) != 0
    }

    mutating func insert(_ value: Int) {
        self.bits |= 1 << UInt64(value)
    }

    /// The smallest member at or above `value`, if any.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else {
            return nil
        }
        let above = self.bits >> UInt64(max(0, value))
        return above == 0 ? nil : max(0, value) + above.trailingZeroBitCount
    }

    /// The members in increasing order.
    var members: [Int] {
        (0..<64).filter { self.contains($0) }
    }
}
