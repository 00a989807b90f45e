/// The six sets of a calendar expression.
struct CronCalendarFields: Sendable, Hashable, CustomStringConvertible {
    var seconds: CronValueSet
    var minutes: CronValueSet
    var hours: CronValueSet
    var daysOfMonth: CronValueSet
    var months: CronValueSet
    var daysOfWeek: CronValueSet

    // Computed once: the day rule asks for them for every day it looks at.
    private static let everyDayOfMonth = CronField.dayOfMonth.all
    private static let everyDayOfWeek = CronField.dayOfWeek.all
    private static let everyHour = CronField.hour.all

    var restrictsDayOfMonth: Bool {
        self.daysOfMonth != Self.everyDayOfMonth
    }

    var restrictsDayOfWeek: Bool {
        self.daysOfWeek != Self.everyDayOfWeek
    }

    /// Whether every hour matches: such expressions run by elapsed time across DST changes.
    var matchesEveryHour: Bool {
        self.hours == Self.everyHour
    }

    var description: String {
        let days = [
            Self.describe(self.minutes, .minute),
            Self.describe(self.hours, .hour),
            Self.describe(self.daysOfMonth, .dayOfMonth),
            Self.describe(self.months, .month),
            Self.describe(self.daysOfWeek, .dayOfWeek),
        ]
        let fields = self.seconds == CronValueSet([0]) ? days : [Self.describe(self.seconds, .second)] + days
        return fields.joined(separator: " ")
    }

    /// `*`, `*/n`, `a-b/n` for a progression of three or more, or a list of runs and numbers.
    private static func describe(_ set: CronValueSet, _ field: CronField) -> String {
        let all = field.all
        if set == all {
            return "*"
        }
        let members = set.members
        if members.count >= 2, let step = Self.commonStep(members), step > 1 {
            let first = members.first!
            let last = members.last!
            if first == field.lowest && last + step > field.highestStored {
                return "*/\(step)"
            }
            if members.count >= 3 {
                return "\(first)-\(last)/\(step)"
            }
        }
        return Self.runs(members).joined(separator: ",")
    }

    private static func commonStep(_ members: [Int]) -> Int? {
        let step = members[1] - members[0]
        for index in 1..<members.count where members[index] - members[index - 1] != step {
            return nil
        }
        return step
    }

    /// Consecutive runs of three or more as `a-b`, everything else as single numbers.
    private static func runs(_ members: [Int]) -> [String] {
        var parts: [String] = []
        var index = 0
        while index < members.count {
            var end = index
            while end + 1 < members.count && members[end + 1] == members[end] + 1 {
                end += 1
            }
            if end - index >= 2 {
                parts.append("\(members[index])-\(members[end])")
            } else {
                parts += members[index...end].map(String.init)
            }
            index = end + 1
        }
        return parts
    }
}
