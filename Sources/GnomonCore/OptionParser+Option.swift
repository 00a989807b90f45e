extension OptionParser {
    /// One option a program accepts, declared once for parsing and for help.
    public struct Option: Sendable, Hashable {
        /// Whether an option is a switch or carries a value.
        public enum Kind: Sendable, Hashable {
            /// A boolean switch; given means true, absent means false.
            case flag

            /// An option carrying one string value, shown in help as `valueName`, such as `PATH`.
            case value(valueName: String)
        }

        /// The long name without dashes, such as `data-dir` for `--data-dir`.
        public var name: String

        /// The single-letter name used as `-x`, if any.
        public var shortName: Character?

        /// Whether the option is a flag or carries a value.
        public var kind: Kind

        /// One sentence for the help text.
        public var help: String

        /// The value used when neither the command line nor the environment gives one.
        public var defaultValue: String?

        /// How help describes the default when `defaultValue` alone would not explain it.
        public var defaultDescription: String?

        /// The environment variable read when the command line does not give the option.
        public var environmentVariable: String?

        /// Declares a boolean switch.
        ///
        /// On the command line `--name` means true; `--name=false` (or `0`, `no`) overrides a
        /// variable set in the environment. The environment variable accepts `1`, `0`, `true`,
        /// `false`, `yes` and `no`.
        ///
        /// - Parameters:
        ///   - name: The long name without dashes.
        ///   - shortName: The single-letter name, if any.
        ///   - environment: The environment variable holding the switch, if any.
        ///   - help: One sentence for the help text.
        public static func flag(
            _ name: String,
            short shortName: Character? = nil,
            environment: String? = nil,
            help: String
        ) -> Option {
            Option(
                name: name,
                shortName: shortName,
                kind: .flag,
                help: help,
                defaultValue: nil,
                defaultDescription: nil,
                environmentVariable: environment
            )
        }

        /// Declares an option carrying a value, given as `--name value` or `--name=value`.
        ///
        /// - Parameters:
        ///   - name: The long name without dashes.
        ///   - shortName: The single-letter name, if any.
        ///   - valueName: What the value is, in capitals, such as `PATH` or `HOST:PORT`.
        ///   - defaultValue: The value used when none is given, if any.
        ///   - defaultDescription: How help describes the default, when the value alone would not.
        ///   - environment: The environment variable holding the value, if any.
        ///   - help: One sentence for the help text.
        public static func value(
            _ name: String,
            short shortName: Character? = nil,
            valueName: String,
            default defaultValue: String? = nil,
            defaultDescription: String? = nil,
            environment: String? = nil,
            help: String
        ) -> Option {
            Option(
                name: name,
                shortName: shortName,
                kind: .value(valueName: valueName),
                help: help,
                defaultValue: defaultValue,
                defaultDescription: defaultDescription,
                environmentVariable: environment
            )
        }

        /// The option as typed on a command line, such as `--data-dir`.
        public var longFlag: String {
            "--" + self.name
        }

        /// Whether the option is a boolean switch.
        public var isFlag: Bool {
            self.kind == .flag
        }
    }

    /// A sample command shown at the end of the help text.
    public struct Example: Sendable, Hashable {
        /// What the command does, in one sentence.
        public var summary: String

        /// The command line, as it would be typed.
        public var command: String

        /// Creates an example.
        ///
        /// - Parameters:
        ///   - summary: What the command does, in one sentence.
        ///   - command: The command line, as it would be typed.
        public init(_ summary: String, command: String) {
            self.summary = summary
            self.command = command
        }
    }
}
