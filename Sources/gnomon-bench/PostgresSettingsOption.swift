import GnomonCore

/// Reads the repeatable `--set NAME=VALUE` option that adds PostgreSQL server settings.
enum PostgresSettingsOption {
    /// The settings named by `pairs`, later ones replacing earlier ones of the same name.
    ///
    /// - Throws: ``UsageError`` for a pair without `=` or without a name.
    static func parse(_ pairs: [String]) throws(UsageError) -> [String: String] {
        var settings: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw UsageError(
                    code: .invalidValue,
                    message: "option '--set' expects NAME=VALUE, such as autovacuum_naptime=10s, got '\(pair)'",
                    option: "--set"
                )
            }
            settings[parts[0]] = parts[1]
        }
        return settings
    }
}
