/// A cron expression, interval or time zone that could not be read.
///
/// The message names the field at fault (such as `day-of-month`), quotes the text that was
/// refused, and lists the forms the field accepts.
public struct CronExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, open to new kinds without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A stable lower-case name for the kind of mistake.
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The expression is empty or only white space.
        public static let empty = Code("empty")

        /// Neither 5 nor 6 fields.
        public static let wrongFieldCount = Code("wrong_field_count")

        /// A field, or an item of a list, with nothing in it.
        public static let emptyField = Code("empty_field")

        /// Text that is no number, name, range or step.
        public static let malformed = Code("malformed")

        /// A name where names are not allowed, or a name the field does not know.
        public static let unknownName = Code("unknown_name")

        /// A value outside the field's range.
        public static let outOfRange = Code("out_of_range")

        /// A range whose start is after its end.
        public static let reversedRange = Code("reversed_range")

        /// A step of 0 or larger than the field allows.
        public static let invalidStep = Code("invalid_step")

        /// An `@` shorthand that does not exist.
        public static let unknownShorthand = Code("unknown_shorthand")

        /// An `every` interval that cannot be read or is out of range.
        public static let invalidInterval = Code("invalid_interval")

        /// A time zone that is not an IANA zone identifier.
        public static let unknownTimeZone = Code("unknown_time_zone")

        /// The code's name, as written in logs.
        public var description: String {
            self.name
        }
    }

    /// What was wrong.
    public var code: Code

    /// The field at fault, such as `day-of-month`, or nil when the mistake is not in one field.
    public var field: String?

    /// The text that was refused: a field, an item of a list, or the whole expression.
    public var text: String

    /// One or two sentences naming the field, the refused text and what would be accepted.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What was wrong.
    ///   - field: The field at fault, or nil when the mistake is not in one field.
    ///   - text: The text that was refused.
    ///   - message: Sentences naming the field, the refused text and what would be accepted.
    public init(code: Code, field: String?, text: String, message: String) {
        self.code = code
        self.field = field
        self.text = text
        self.message = message
    }

    /// The message.
    public var description: String {
        self.message
    }
}

extension CronExpressionError {
    /// The error for `item` of `field`, where `problem` says what is wrong with it.
    static func invalid(_ code: Code, _ field: CronField, item: String, problem: String) -> CronExpressionError {
        CronExpressionError(
            code: code,
            field: field.name,
            text: item,
            message: "invalid \(field.name) field \"\(item)\": \(problem); accepted: \(field.acceptedForms)"
        )
    }
}
