extension OptionParser.Values {
    /// Converts an option's value, or returns `nil` when it has none and no default.
    ///
    /// - Parameters:
    ///   - name: The option's long name without dashes.
    ///   - expected: What would have been accepted, for the error message.
    ///   - transform: The conversion, returning `nil` for a value it refuses.
    /// - Throws: ``UsageError`` naming the flag or environment variable when `transform` refuses.
    public func convert<Value>(
        _ name: String,
        expected: String,
        _ transform: (String) -> Value?
    ) throws(UsageError) -> Value? {
        guard let text = self.string(name) else {
            return nil
        }
        guard let value = transform(text) else {
            throw self.invalidValue(name, expected: expected)
        }
        return value
    }

    /// Returns an option's value, refusing an empty one such as `--data-dir=`.
    ///
    /// - Parameter name: The option's long name without dashes.
    /// - Throws: ``UsageError`` when the value is empty.
    public func nonEmptyString(_ name: String) throws(UsageError) -> String? {
        try self.convert(name, expected: "a non-empty value") { $0.isEmpty ? nil : $0 }
    }

    /// Returns an option's value as a whole number within a range.
    ///
    /// - Parameters:
    ///   - name: The option's long name without dashes.
    ///   - range: The numbers accepted.
    /// - Throws: ``UsageError`` when the value is not a whole number in `range`.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        return try self.convert(name, expected: expected) { text in
            Int(text).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    /// Returns an option's value as a duration such as `250ms`, `30s`, `5m`, `1h` or `1m30s`.
    ///
    /// - Parameter name: The option's long name without dashes.
    /// - Throws: ``UsageError`` when the value is not such a duration.
    public func duration(_ name: String) throws(UsageError) -> Duration? {
        try self.convert(name, expected: "a duration such as 250ms, 30s, 5m or 1h", DurationSyntax.parse)
    }

    /// Returns an option's value as one of a fixed list of words, ignoring case.
    ///
    /// - Parameters:
    ///   - name: The option's long name without dashes.
    ///   - choices: The words accepted, in the order the error message lists them.
    /// - Returns: The word as spelled in `choices`.
    /// - Throws: ``UsageError`` listing `choices` when the value is none of them.
    public func choice(_ name: String, from choices: [String]) throws(UsageError) -> String? {
        let expected = "one of \(choices.joined(separator: ", "))"
        return try self.convert(name, expected: expected) { text in
            choices.first { $0.lowercased() == text.lowercased() }
        }
    }
}

/// Reads durations written as whole numbers with units: `ms`, `s`, `m` and `h`.
enum DurationSyntax {
    /// Parses `250ms`, `30s`, `1m30s` or `0`; returns `nil` for anything else or on overflow.
    static func parse(_ text: String) -> Duration? {
        if text == "0" {
            return .zero
        }
        var milliseconds = 0
        var rest = Substring(text)
        while !rest.isEmpty {
            guard let (part, remainder) = Self.parsePart(rest) else {
                return nil
            }
            let (sum, overflow) = milliseconds.addingReportingOverflow(part)
            guard !overflow else {
                return nil
            }
            milliseconds = sum
            rest = remainder
        }
        return text.isEmpty ? nil : .milliseconds(milliseconds)
    }

    /// Parses one number and unit, returning its milliseconds and the text after it.
    private static func parsePart(_ text: Substring) -> (milliseconds: Int, rest: Substring)? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).prefix { $0.isLetter }
        guard let count = Int(digits), let scale = Self.unitScale(unit) else {
            return nil
        }
        let (milliseconds, overflow) = count.multipliedReportingOverflow(by: scale)
        return overflow ? nil : (milliseconds, text.dropFirst(digits.count + unit.count))
    }

    private static func unitScale(_ unit: Substring) -> Int? {
        switch unit {
        case "ms": return 1
        case "s": return 1000
        case "m": return 60 * 1000
        case "h": return 60 * 60 * 1000
        default: return nil
        }
    }
}
