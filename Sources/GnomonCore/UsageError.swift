/// A command line or environment that a program cannot run with.
///
/// The message is one line meant for the person who typed the command: it names the option or
/// environment variable at fault and says what would have been accepted.
public struct UsageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of mistake the user made, open to new kinds without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A stable lower-case name for the kind of mistake.
        public let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// An option that the program does not declare.
        public static let unknownOption = Code("unknown_option")

        /// An option that takes a value was given none.
        public static let missingValue = Code("missing_value")

        /// A value, from the command line, the environment or a default, that does not convert.
        public static let invalidValue = Code("invalid_value")

        /// Two options were given that cannot be used together.
        public static let conflictingOptions = Code("conflicting_options")

        /// A positional argument was given where the program takes none, or too many.
        public static let unexpectedArgument = Code("unexpected_argument")

        /// The code's name, as written in logs.
        public var description: String {
            self.name
        }
    }

    /// What kind of mistake this is.
    public var code: Code

    /// A one-line explanation naming the option at fault and what was expected.
    public var message: String

    /// The option the error concerns, as a long flag such as `--listen`, or as typed when unknown.
    ///
    /// It is the option's flag even when the bad value came from its environment variable; the
    /// message names the variable in that case.
    public var option: String?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What kind of mistake this is.
    ///   - message: A one-line explanation naming the option and what was expected.
    ///   - option: The option concerned, as a long flag, or `nil` when no option is.
    public init(code: Code, message: String, option: String? = nil) {
        self.code = code
        self.message = message
        self.option = option
    }

    /// The message, ready to print after the program's name.
    public var description: String {
        self.message
    }
}
