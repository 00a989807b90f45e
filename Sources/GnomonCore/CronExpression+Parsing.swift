import Foundation

extension CronExpression {
    /// The shorthands and the five fields each stands for.
    static let shorthands: [(name: String, fields: String)] = [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ]

    /// Reads a calendar expression, a shorthand or a fixed interval.
    ///
    /// - Parameter text: Five or six fields, an `@` shorthand, or `every` and a duration.
    /// - Throws: ``CronExpressionError`` naming the field, the refused text and the accepted forms.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw CronExpressionError(
                code: .empty,
                field: nil,
                text: text,
                message:
                    "the cron expression is empty; write five fields (minute hour day-of-month month day-of-week), "
                    + "six with a leading second, an @ shorthand such as @daily, or an interval such as every 5m"
            )
        }
        let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if trimmed.hasPrefix("@") {
            self = try Self.parseShorthand(trimmed)
        } else if words[0].lowercased() == "every" {
            self = try Self.parseInterval(words, text: trimmed)
        } else {
            self.init(form: .calendar(try Self.parseFields(words, text: trimmed)))
        }
    }

    private static func parseShorthand(_ text: String) throws -> CronExpression {
        guard let shorthand = Self.shorthands.first(where: { $0.name == text.lowercased() }) else {
            let names = Self.shorthands.map(\.name).joined(separator: ", ")
            throw CronExpressionError(
                code: .unknownShorthand,
                field: nil,
                text: text,
                message: "unknown shorthand \"\(text)\"; accepted: \(names)"
            )
        }
        return try CronExpression(shorthand.fields)
    }

    private static func parseFields(_ words: [String], text: String) throws -> CronCalendarFields {
        guard words.count == 5 || words.count == 6 else {
            throw CronExpressionError(
                code: .wrongFieldCount,
                field: nil,
                text: text,
                message: "\"\(text)\" has \(words.count) field\(words.count == 1 ? "" : "s"); "
                    + "5 or 6 are accepted: minute hour day-of-month month day-of-week, "
                    + "or second minute hour day-of-month month day-of-week"
            )
        }
        let fields = words.count == 6 ? words : ["0"] + words
        return CronCalendarFields(
            seconds: try Self.parseField(fields[0], .second),
            minutes: try Self.parseField(fields[1], .minute),
            hours: try Self.parseField(fields[2], .hour),
            daysOfMonth: try Self.parseField(fields[3], .dayOfMonth),
            months: try Self.parseField(fields[4], .month),
            daysOfWeek: try Self.parseField(fields[5], .dayOfWeek)
        )
    }

    /// Reads one field: a comma-separated list of `*`, values, ranges and steps.
    static func parseField(_ text: String, _ field: CronField) throws -> CronValueSet {
        var set = CronValueSet()
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else {
                throw CronExpressionError.invalid(.emptyField, field, item: text, problem: "a list item is empty")
            }
            for value in try Self.parseItem(item, field) {
                set.insert(field == .dayOfWeek && value == 7 ? 0 : value)
            }
        }
        return set
    }

    /// The values of one list item: `*`, `a`, `a-b`, or any of them with `/n`.
    private static func parseItem(_ item: String, _ field: CronField) throws -> StrideThrough<Int> {
        let parts = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else {
            throw CronExpressionError.invalid(.malformed, field, item: item, problem: "more than one /")
        }
        let step = parts.count == 2 ? try Self.parseStep(parts[1], item: item, field) : nil
        let base = parts[0]
        var lower: Int
        var upper: Int
        if base == "*" {
            (lower, upper) = (field.lowest, field.highestStored)
        } else if let dash = base.firstIndex(of: "-") {
            lower = try Self.parseValue(String(base[..<dash]), item: item, field)
            upper = try Self.parseValue(String(base[base.index(after: dash)...]), item: item, field)
            guard lower <= upper else {
                throw CronExpressionError.invalid(
                    .reversedRange,
                    field,
                    item: item,
                    problem: "the range starts after it ends; write the smaller value first"
                )
            }
        } else {
            lower = try Self.parseValue(base, item: item, field)
            // `a/n` runs from a to the end of the field; a plain value is just itself.
            upper = step == nil ? lower : field.highestStored
        }
        return stride(from: lower, through: upper, by: step ?? 1)
    }

    private static func parseStep(_ text: String, item: String, _ field: CronField) throws -> Int {
        guard let step = Self.decimal(text) else {
            let problem = text.isEmpty ? "the step after / is missing" : "the step \"\(text)\" is not a number"
            throw CronExpressionError.invalid(.malformed, field, item: item, problem: problem)
        }
        guard step >= 1 && step <= field.highest else {
            throw CronExpressionError.invalid(
                .invalidStep,
                field,
                item: item,
                problem: "the step must be from 1 to \(field.highest), not \(step)"
            )
        }
        return step
    }

    private static func parseValue(_ text: String, item: String, _ field: CronField) throws -> Int {
        guard !text.isEmpty else {
            throw CronExpressionError.invalid(.emptyField, field, item: item, problem: "a range is missing a value")
        }
        if let value = Self.decimal(text) {
            guard value >= field.lowest && value <= field.highest else {
                throw CronExpressionError.invalid(
                    .outOfRange,
                    field,
                    item: item,
                    problem: "\(text) is outside \(field.lowest)-\(field.highest)"
                )
            }
            return value
        }
        guard text.allSatisfy(\.isLetter) else {
            throw CronExpressionError.invalid(
                .malformed,
                field,
                item: item,
                problem: "\"\(text)\" is not a number\(field.names.isEmpty ? "" : " or a name")"
            )
        }
        guard let index = field.names.firstIndex(of: text.uppercased()) else {
            let problem =
                field.names.isEmpty
                ? "names such as \"\(text)\" are not allowed here" : "\"\(text)\" is not a \(field.name) name"
            throw CronExpressionError.invalid(.unknownName, field, item: item, problem: problem)
        }
        return field.lowest + index
    }

    /// A non-negative decimal number of at most nine digits, or nil.
    private static func decimal(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return Int(text)
    }
}
