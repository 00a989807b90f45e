/// A retry setting outside the range the server accepts.
///
/// The message names the setting by its field in a job spec, such as `backoff.multiplier`, and
/// gives the accepted range and the value that was refused.
public struct RetryPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, open to new kinds without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A stable lower-case name for the kind of mistake.
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// A value outside its accepted range.
        public static let outOfRange = Code("out_of_range")

        /// The code's name, as written in logs.
        public var description: String {
            self.name
        }
    }

    /// What was wrong.
    public var code: Code

    /// The setting at fault, as its field in a job spec: `max_attempts`, `backoff.jitter`, ...
    public var field: String

    /// One sentence naming the field, the accepted range and the refused value.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What was wrong.
    ///   - field: The setting at fault, as its field in a job spec.
    ///   - message: One sentence naming the field, the accepted range and the refused value.
    public init(code: Code, field: String, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    /// The message.
    public var description: String {
        self.message
    }
}

extension RetryPolicyError {
    /// The error for `value` of `field` outside `lower` to `upper`, each already formatted.
    static func outOfRange(_ field: String, from lower: String, to upper: String, not value: String)
        -> RetryPolicyError
    {
        RetryPolicyError(
            code: .outOfRange,
            field: field,
            message: "\(field) must be from \(lower) to \(upper), not \(value)"
        )
    }
}
