import Foundation

extension CronExpression {
    /// The forms an interval takes, for error messages.
    static let intervalForms =
        "every 90s, every 5m, every 2h or every 1h30m: hours, minutes and seconds in that order, "
        + "each at most once, from 1s to 744h"

    /// Reads `every` followed by a duration such as `90s` or `1h30m`.
    static func parseInterval(_ words: [String], text: String) throws -> CronExpression {
        let refuse = { (problem: String) in
            CronExpressionError(
                code: .invalidInterval,
                field: nil,
                text: text,
                message: "invalid interval \"\(text)\": \(problem); accepted: \(Self.intervalForms)"
            )
        }
        guard words.count == 2 else {
            throw refuse("expected one duration after every, found \(words.count - 1) words")
        }
        var seconds: Int64 = 0
        var number = ""
        var units = ["h": Int64(3_600), "m": 60, "s": 1]
        for character in words[1].lowercased() {
            if character.isASCII && character.isNumber {
                number.append(character)
                continue
            }
            let unit = String(character)
            guard let scale = units[unit] else {
                throw refuse("\"\(unit)\" is not h, m or s in its place")
            }
            guard !number.isEmpty, number.count <= 7, let value = Int64(number) else {
                throw refuse("\(unit) must follow a number of at most 7 digits")
            }
            seconds += value * scale
            number = ""
            // Units come in order, each once: after minutes only seconds may follow.
            units = units.filter { $0.value < scale }
        }
        guard number.isEmpty else {
            throw refuse("the number \(number) has no unit")
        }
        guard seconds >= 1 && seconds <= Int64(Self.longestInterval.components.seconds) else {
            throw refuse("the interval must be from 1s to 744h")
        }
        return CronExpression(form: .interval(seconds: seconds))
    }

    /// The first instant of `anchor + k × interval`, for any integer `k`, after `date`.
    func nextIntervalFire(after date: Date, every seconds: Int64, anchor: Date) -> Date {
        let interval = Double(seconds)
        var steps = ((date.timeIntervalSince1970 - anchor.timeIntervalSince1970) / interval).rounded(.down)
        var fire = anchor.addingTimeInterval(steps * interval)
        // Floating-point rounding can leave the step one short or one long; these correct it.
        while fire <= date {
            steps += 1
            fire = anchor.addingTimeInterval(steps * interval)
        }
        while anchor.addingTimeInterval((steps - 1) * interval) > date {
            steps -= 1
            fire = anchor.addingTimeInterval(steps * interval)
        }
        return fire
    }
}
