import Foundation
import GnomonCore
import Testing

@Suite("Cron expression parsing")
struct CronExpressionParsingTests {
    @Test(
        "every accepted form reads, and prints its canonical spelling",
        arguments: [
            ("* * * * *", "* * * * *"),
            ("0 0 1 1 *", "0 0 1 1 *"),
            ("*/15 * * * *", "*/15 * * * *"),
            ("0,15,30,45 * * * *", "*/15 * * * *"),
            ("0-59/15 * * * *", "*/15 * * * *"),
            ("10-50/5 * * * *", "10-50/5 * * * *"),
            ("5/10 * * * *", "5-55/10 * * * *"),
            ("0 9-17 * * *", "0 9-17 * * *"),
            ("0 9,10 * * *", "0 9,10 * * *"),
            ("0 1,2,3,7 * * *", "0 1-3,7 * * *"),
            ("0 0 */2 * *", "0 0 */2 * *"),
            ("0 0 1 JAN,jul *", "0 0 1 */6 *"),
            ("0 0 1 JAN,jun *", "0 0 1 1,6 *"),
            ("0 0 1 jan-Mar *", "0 0 1 1-3 *"),
            ("0 0 1 JAN/3 *", "0 0 1 */3 *"),
            ("0 0 1 FEB/3 *", "0 0 1 2-11/3 *"),
            ("0 0 * * MON-FRI", "0 0 * * 1-5"),
            ("0 0 * * sun", "0 0 * * 0"),
            ("0 0 * * 7", "0 0 * * 0"),
            ("0 0 * * 0,7", "0 0 * * 0"),
            ("0 0 * * 5-7", "0 0 * * 0,5,6"),
            ("0 0 * * 0-7", "0 0 * * *"),
            ("0 0 * * */2", "0 0 * * */2"),
            ("0 0 * * 1/3", "0 0 * * 1,4"),
            ("0 0 * * 1-7/3", "0 0 * * 0,1,4"),
            ("0 0 1-31 * *", "0 0 * * *"),
            ("0 5-5 * * *", "0 5 * * *"),
            ("30 0 0 1 1 *", "30 0 0 1 1 *"),
            ("0 0 0 1 1 *", "0 0 1 1 *"),
            ("*/10 * * * * *", "*/10 * * * * *"),
            ("  0\t12  *  *  *  ", "0 12 * * *"),
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
            ("@DAILY", "0 0 * * *"),
            ("every 90s", "every 1m30s"),
            ("every 5m", "every 5m"),
            ("every 2h", "every 2h"),
            ("every 1h30m", "every 1h30m"),
            ("EVERY 1H30M15S", "every 1h30m15s"),
            ("every 3600s", "every 1h"),
            ("every 744h", "every 744h"),
        ]
    )
    func accepted(text: String, canonical: String) throws {
        let expression = try CronExpression(text)
        #expect(expression.description == canonical)
        let reread = try CronExpression(expression.description)
        #expect(reread == expression)
        #expect(reread.description == canonical)
    }

    @Test("equal expressions are equal values whatever their spelling")
    func equality() throws {
        #expect(try CronExpression("@daily") == CronExpression("0 0 * * *"))
        #expect(try CronExpression("0 0 * * 7") == CronExpression("0 0 * * SUN"))
        #expect(try CronExpression("every 90s") == CronExpression("every 1m30s"))
        #expect(try CronExpression("0 0 * * *") != CronExpression("0 0 * * 1"))
        #expect(try CronExpression("0 * * * * *") == CronExpression("* * * * *"))
    }

    @Test("intervals report their duration and calendar expressions none")
    func intervals() throws {
        #expect(try CronExpression("every 1h30m").interval == .seconds(5_400))
        #expect(try CronExpression("every 1h30m").isCalendar == false)
        #expect(try CronExpression("@hourly").interval == nil)
        #expect(try CronExpression("@hourly").isCalendar)
    }

    static let minuteForms =
        "0-59, names not allowed; lists a,b; ranges a-b; steps */n, a-b/n or a/n with n from 1 to 59"
    static let dayOfMonthForms =
        "1-31, names not allowed; lists a,b; ranges a-b; steps */n, a-b/n or a/n with n from 1 to 31"
    static let monthForms = "1-12 or JAN-DEC; lists a,b; ranges a-b; steps */n, a-b/n or a/n with n from 1 to 12"
    static let dayOfWeekForms =
        "0-7 (0 and 7 are Sunday) or SUN-SAT; lists a,b; ranges a-b; steps */n, a-b/n or a/n with n from 1 to 7"

    @Test(
        "a refused field names the field, quotes the text and lists the accepted forms",
        arguments: [
            ("60 * * * *", "out_of_range", "minute", "60", "60 is outside 0-59", Self.minuteForms),
            ("0 24 * * *", "out_of_range", "hour", "24", "24 is outside 0-23", nil),
            ("0 0 32 * *", "out_of_range", "day-of-month", "32", "32 is outside 1-31", Self.dayOfMonthForms),
            ("0 0 0 * *", "out_of_range", "day-of-month", "0", "0 is outside 1-31", Self.dayOfMonthForms),
            ("0 0 * 13 *", "out_of_range", "month", "13", "13 is outside 1-12", Self.monthForms),
            ("0 0 * * 8", "out_of_range", "day-of-week", "8", "8 is outside 0-7", Self.dayOfWeekForms),
            ("60 0 * * * *", "out_of_range", "second", "60", "60 is outside 0-59", nil),
            ("0 0 1-40 * *", "out_of_range", "day-of-month", "1-40", "40 is outside 1-31", nil),
            (
                "50-10 * * * *", "reversed_range", "minute", "50-10",
                "the range starts after it ends; write the smaller value first", nil
            ),
            (
                "0 0 * * FRI-MON", "reversed_range", "day-of-week", "FRI-MON",
                "the range starts after it ends; write the smaller value first", nil
            ),
            ("*/0 * * * *", "invalid_step", "minute", "*/0", "the step must be from 1 to 59, not 0", nil),
            ("0 */24 * * *", "invalid_step", "hour", "*/24", "the step must be from 1 to 23, not 24", nil),
            ("*/ * * * *", "malformed", "minute", "*/", "the step after / is missing", nil),
            ("*/x * * * *", "malformed", "minute", "*/x", "the step \"x\" is not a number", nil),
            ("1/2/3 * * * *", "malformed", "minute", "1/2/3", "more than one /", nil),
            ("1,,2 * * * *", "empty_field", "minute", "1,,2", "a list item is empty", nil),
            ("1, * * * *", "empty_field", "minute", "1,", "a list item is empty", nil),
            ("-5 * * * *", "empty_field", "minute", "-5", "a range is missing a value", nil),
            ("0 0 1 * MON-", "empty_field", "day-of-week", "MON-", "a range is missing a value", nil),
            (
                "0 0 JAN * *", "unknown_name", "day-of-month", "JAN", "names such as \"JAN\" are not allowed here",
                Self.dayOfMonthForms
            ),
            ("0 0 * FOO *", "unknown_name", "month", "FOO", "\"FOO\" is not a month name", Self.monthForms),
            ("0 0 * * MONDAY", "unknown_name", "day-of-week", "MONDAY", "\"MONDAY\" is not a day-of-week name", nil),
            ("1.5 * * * *", "malformed", "minute", "1.5", "\"1.5\" is not a number", nil),
            ("0 0 * * ?", "malformed", "day-of-week", "?", "\"?\" is not a number or a name", nil),
            ("0 0 L * *", "unknown_name", "day-of-month", "L", "names such as \"L\" are not allowed here", nil),
        ] as [(String, String, String, String, String, String?)]
    )
    func refusedField(
        text: String, code: String, field: String, item: String, problem: String, forms: String?
    ) {
        let error = #expect(throws: CronExpressionError.self) { try CronExpression(text) }
        #expect(error?.code.name == code)
        #expect(error?.field == field)
        #expect(error?.text == item)
        #expect(error?.message.hasPrefix("invalid \(field) field \"\(item)\": \(problem); accepted: ") == true)
        if let forms {
            #expect(error?.message.hasSuffix(forms) == true, "\(error?.message ?? "")")
        }
    }

    @Test(
        "a wrong number of fields says how many were found and that 5 or 6 are accepted",
        arguments: [("* * * *", 4), ("*", 1), ("* * * * * * *", 7), ("0 0 1 1 * 2030", 6 + 0)]
    )
    func wrongFieldCount(text: String, found: Int) throws {
        guard found != 6 else {
            // Six fields read as seconds first: 2030 is then an out-of-range day-of-week.
            let error = #expect(throws: CronExpressionError.self) { try CronExpression(text) }
            #expect(error?.field == "day-of-week")
            return
        }
        let error = #expect(throws: CronExpressionError.self) { try CronExpression(text) }
        #expect(error?.code == .wrongFieldCount)
        #expect(error?.field == nil)
        #expect(error?.message.contains("has \(found) field") == true)
        #expect(error?.message.contains("5 or 6 are accepted") == true)
    }

    @Test("an empty expression says what to write", arguments: ["", "   ", "\t"])
    func empty(text: String) {
        let error = #expect(throws: CronExpressionError.self) { try CronExpression(text) }
        #expect(error?.code == .empty)
        #expect(error?.message.hasPrefix("the cron expression is empty; write five fields") == true)
    }

    @Test("an unknown shorthand lists the known ones")
    func unknownShorthand() {
        let error = #expect(throws: CronExpressionError.self) { try CronExpression("@reboot") }
        #expect(error?.code == .unknownShorthand)
        #expect(
            error?.message
                == "unknown shorthand \"@reboot\"; accepted: @yearly, @annually, @monthly, @weekly, @daily, "
                + "@midnight, @hourly"
        )
    }

    @Test(
        "a refused interval says what is wrong and lists the accepted forms",
        arguments: [
            ("every", "expected one duration after every, found 0 words"),
            ("every 1h 30m", "expected one duration after every, found 2 words"),
            ("every 90", "the number 90 has no unit"),
            ("every 5x", "\"x\" is not h, m or s in its place"),
            ("every 30m1h", "\"h\" is not h, m or s in its place"),
            ("every 5m5m", "\"m\" is not h, m or s in its place"),
            ("every h", "h must follow a number of at most 7 digits"),
            ("every 0s", "the interval must be from 1s to 744h"),
            ("every 745h", "the interval must be from 1s to 744h"),
        ]
    )
    func refusedInterval(text: String, problem: String) {
        let error = #expect(throws: CronExpressionError.self) { try CronExpression(text) }
        #expect(error?.code == .invalidInterval)
        #expect(
            error?.message
                == "invalid interval \"\(text)\": \(problem); accepted: every 90s, every 5m, every 2h or every 1h30m: "
                + "hours, minutes and seconds in that order, each at most once, from 1s to 744h"
        )
    }

    @Test("errors print their message")
    func errorDescription() {
        let error = #expect(throws: CronExpressionError.self) { try CronExpression("0 0 32 * *") }
        #expect(error.map { "\($0)" } == error?.message)
        #expect(CronExpressionError.Code.outOfRange.description == "out_of_range")
    }
}

@Suite("Cron expression coding")
struct CronExpressionCodingTests {
    @Test("an expression encodes as its canonical text and decodes back")
    func roundTrip() throws {
        let expression = try CronExpression("0,30 9-17 * * mon-fri")
        let data = try JSONEncoder().encode([expression])
        #expect(String(decoding: data, as: UTF8.self) == #"["*\/30 9-17 * * 1-5"]"#)
        #expect(try JSONDecoder().decode([CronExpression].self, from: data) == [expression])
    }

    @Test("decoding a refused expression carries its message")
    func refused() {
        let data = Data(#"["0 0 32 * *"]"#.utf8)
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode([CronExpression].self, from: data) }
        guard case .dataCorrupted(let context) = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.debugDescription.hasPrefix("invalid day-of-month field \"32\""))
    }
}
