import GnomonCore

/// Random cron expressions in the syntax Gnomon and croniter share, for reference tests.
///
/// Left out on purpose, because the two read them differently: ranges with equal ends (croniter
/// reads `5-5` as the whole field), day-of-week steps starting at 7, and day fields whose values
/// cover the whole field without `*` (croniter then still counts the field as restricted).
enum RandomCronExpression {
    static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    static func make(using generator: inout SeededGenerator) -> String {
        var fields = [
            self.field(0...59, star: 0.15, using: &generator),
            self.hour(using: &generator),
            self.days(1...31, star: 0.75, using: &generator),
            self.field(1...12, star: 0.85, names: Self.months, using: &generator),
            self.days(0...7, star: 0.8, names: Self.days, using: &generator),
        ]
        if Double.random(in: 0..<1, using: &generator) < 0.2 {
            let seconds = ["0", "30", "*/15", "*/20", "10,40", "5-25/10", "45", "59"]
            fields.insert(seconds.randomElement(using: &generator)!, at: 0)
        }
        return fields.joined(separator: " ")
    }

    /// Hours: often every hour, often the small hours where clocks change.
    private static func hour(using generator: inout SeededGenerator) -> String {
        switch Int.random(in: 0..<10, using: &generator) {
        case 0...3:
            return "*"

        case 4...6:
            return ["0", "1", "2", "3", "1,2", "0-3", "1-2", "2-4/2", "*/2", "*/3", "0-2"].randomElement(
                using: &generator)!

        default:
            return self.field(0...23, star: 0, using: &generator)
        }
    }

    /// A day field that, unless it is `*`, leaves out at least one day.
    private static func days(
        _ range: ClosedRange<Int>, star: Double, names: [String] = [], using generator: inout SeededGenerator
    ) -> String {
        while true {
            let text = self.field(range, star: star, names: names, using: &generator)
            if text == "*" || !self.coversAll(text, range) {
                return text
            }
        }
    }

    private static func field(
        _ range: ClosedRange<Int>, star: Double, names: [String] = [], using generator: inout SeededGenerator
    ) -> String {
        if Double.random(in: 0..<1, using: &generator) < star {
            return "*"
        }
        let items = Int.random(in: 0..<10, using: &generator) < 8 ? 1 : 2
        return (0..<items).map { _ in self.item(range, names: names, using: &generator) }.joined(separator: ",")
    }

    private static func item(_ range: ClosedRange<Int>, names: [String], using generator: inout SeededGenerator)
        -> String
    {
        // Day-of-week's 7 is Sunday again: it may end a range, never start a step.
        let upper = range.upperBound == 7 ? 6 : range.upperBound
        let span = upper - range.lowerBound
        let low = Int.random(in: range.lowerBound..<upper, using: &generator)
        let high = Int.random(in: (low + 1)...range.upperBound, using: &generator)
        let step = Int.random(in: 2...max(2, span / 3), using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0, 1:
            return self.name(Int.random(in: range, using: &generator), range, names, using: &generator)

        case 2:
            return
                "\(self.name(low, range, names, using: &generator))-\(self.name(high, range, names, using: &generator))"

        case 3:
            return "\(low)-\(high)/\(step)"

        case 4:
            return "*/\(step)"

        default:
            return "\(self.name(low, range, names, using: &generator))/\(step)"
        }
    }

    /// `value`, or half the time its name in a random case where the field has names.
    private static func name(
        _ value: Int, _ range: ClosedRange<Int>, _ names: [String], using generator: inout SeededGenerator
    ) -> String {
        guard !names.isEmpty, value - range.lowerBound < names.count, Bool.random(using: &generator) else {
            return "\(value)"
        }
        let name = names[value - range.lowerBound]
        return Bool.random(using: &generator) ? name : name.lowercased()
    }

    private static func coversAll(_ text: String, _ range: ClosedRange<Int>) -> Bool {
        let field: CronFieldProbe = range.lowerBound == 1 ? .dayOfMonth : .dayOfWeek
        return field.coversAll(text)
    }
}

/// Asks Gnomon whether a day field covers its whole range, through a probe expression.
private enum CronFieldProbe {
    case dayOfMonth, dayOfWeek

    func coversAll(_ text: String) -> Bool {
        let probe = self == .dayOfMonth ? "0 0 \(text) * *" : "0 0 * * \(text)"
        return (try? CronExpression(probe)) == (try? CronExpression("0 0 * * *"))
    }
}
