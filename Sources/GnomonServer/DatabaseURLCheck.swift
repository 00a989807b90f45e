import GnomonStore

/// Checks a database URL before anything starts, so a typo is a usage error, not a crash later.
public enum DatabaseURLCheck {
    /// Validates a libpq connection URL or key=value string.
    ///
    /// - Throws: An error whose description says what is wrong with the URL.
    public static func validate(_ url: String) throws {
        try PostgresProbe.validateConnectionString(url)
    }
}
