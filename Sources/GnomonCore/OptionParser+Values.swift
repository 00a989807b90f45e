extension OptionParser {
    /// Where an option's value came from, which decides how an error about it is worded.
    public enum ValueSource: Sendable, Hashable {
        /// The command line gave it.
        case commandLine

        /// The named environment variable gave it.
        case environment(variable: String)

        /// Neither did; it is the option's declared default.
        case defaultValue
    }

    /// The values of a parsed command line, each taken from the flag, the environment or the default.
    ///
    /// Values are strings; the typed helpers convert them and word their errors after the place
    /// the value came from. Asking for an option that was never declared is a programming error.
    public struct Values: Sendable, Equatable {
        struct Entry: Sendable, Equatable {
            var value: String
            var source: ValueSource
        }

        /// The arguments that are not options, in order, including everything after `--`.
        public let positionals: [String]

        private let options: [Option]
        private let entries: [String: Entry]
        private let commandLineValues: [String: [String]]

        init(
            options: [Option],
            entries: [String: Entry],
            commandLineValues: [String: [String]],
            positionals: [String]
        ) {
            self.options = options
            self.entries = entries
            self.commandLineValues = commandLineValues
            self.positionals = positionals
        }

        /// Whether a flag is on.
        ///
        /// - Parameter name: The flag's long name without dashes.
        public func isSet(_ name: String) -> Bool {
            precondition(self.option(name).isFlag, "option '\(name)' is not a flag")
            return self.entries[name]?.value == "true"
        }

        /// Returns the value of an option, or `nil` when it has none and no default.
        ///
        /// - Parameter name: The option's long name without dashes.
        public func string(_ name: String) -> String? {
            _ = self.option(name)
            return self.entries[name]?.value
        }

        /// Returns every value given on the command line for an option that may be repeated.
        ///
        /// When the command line does not give the option, the environment or default value
        /// is the only one.
        ///
        /// - Parameter name: The option's long name without dashes.
        public func strings(_ name: String) -> [String] {
            if let given = self.commandLineValues[name] {
                return given
            }
            return self.string(name).map { [$0] } ?? []
        }

        /// Returns where the value of an option came from, or `nil` when it has none.
        ///
        /// - Parameter name: The option's long name without dashes.
        public func source(of name: String) -> ValueSource? {
            _ = self.option(name)
            return self.entries[name]?.source
        }

        /// Names the place an option's value came from, as error messages begin.
        ///
        /// - Parameter name: The option's long name without dashes.
        /// - Returns: `option '--name'` or `environment variable NAME`, or for a default
        ///   `the default of option '--name'`.
        public func origin(of name: String) -> String {
            let flag = self.option(name).longFlag
            switch self.source(of: name) {
            case .environment(let variable): return "environment variable \(variable)"
            case .defaultValue: return "the default of option '\(flag)'"
            case .commandLine, nil: return "option '\(flag)'"
            }
        }

        /// Makes the error for a value that does not convert, for the caller's own conversions.
        ///
        /// - Parameters:
        ///   - name: The option's long name without dashes.
        ///   - expected: What would have been accepted, such as `a PostgreSQL URL`.
        /// - Returns: An error reading `<origin> expects <expected>, got '<value>'`.
        public func invalidValue(_ name: String, expected: String) -> UsageError {
            let value = self.string(name) ?? ""
            return UsageError(
                code: .invalidValue,
                message: "\(self.origin(of: name)) expects \(expected), got '\(value)'",
                option: self.option(name).longFlag
            )
        }

        private func option(_ name: String) -> Option {
            guard let option = self.options.first(where: { $0.name == name }) else {
                preconditionFailure("option '\(name)' is not declared")
            }
            return option
        }
    }
}
