extension OptionParser {
    /// Takes each option's value from the command line, the environment or the default.
    func resolve(_ scan: Scan, environment: [String: String]) throws(UsageError) -> Values {
        var entries: [String: Values.Entry] = [:]
        for option in self.options where Self.request(for: option) == nil {
            entries[option.name] = try self.resolve(option, given: scan.given[option.name], environment: environment)
        }
        return Values(
            options: self.options,
            entries: entries,
            commandLineValues: scan.given,
            positionals: scan.positionals
        )
    }

    private func resolve(
        _ option: Option,
        given: [String]?,
        environment: [String: String]
    ) throws(UsageError) -> Values.Entry? {
        if let last = given?.last {
            return Values.Entry(value: last, source: .commandLine)
        }
        if let variable = option.environmentVariable, let text = environment[variable], !text.isEmpty {
            let value = try Self.environmentValue(text, of: option, variable: variable)
            return Values.Entry(value: value, source: .environment(variable: variable))
        }
        if option.isFlag {
            return Values.Entry(value: "false", source: .defaultValue)
        }
        return option.defaultValue.map { Values.Entry(value: $0, source: .defaultValue) }
    }

    private static func environmentValue(
        _ text: String,
        of option: Option,
        variable: String
    ) throws(UsageError) -> String {
        guard option.isFlag else {
            return text
        }
        guard let isOn = Self.booleanValue(text) else {
            throw Self.invalidValue(
                "environment variable \(variable) expects one of \(Self.booleanWords), got '\(text)'",
                option: option
            )
        }
        return String(isOn)
    }
}
