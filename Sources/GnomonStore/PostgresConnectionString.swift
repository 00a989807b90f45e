import Foundation

/// Connection strings as libpq reads them: URIs, keyword/value lists, or a bare database name.
public enum PostgresConnectionString {
    /// Adds keyword/value parameters to a connection string of any form.
    ///
    /// libpq takes the last value given for a keyword, so the parameters added override any
    /// the string already names.
    ///
    /// - Parameters:
    ///   - parameters: libpq keywords, such as `connect_timeout`, with their values.
    ///   - connectionString: A `postgresql://` URI, a keyword/value list or a database name.
    /// - Returns: A string of the same form with the parameters at its end.
    public static func adding(_ parameters: [(String, String)], to connectionString: String) -> String {
        guard !parameters.isEmpty else {
            return connectionString
        }
        let trimmed = connectionString.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://") {
            let query = parameters.map { "\(Self.percentEncoded($0.0))=\(Self.percentEncoded($0.1))" }
            return trimmed + (trimmed.contains("?") ? "&" : "?") + query.joined(separator: "&")
        }
        if trimmed.contains("=") {
            return trimmed + " " + ConnectionInfo.format(parameters)
        }
        let database = trimmed.isEmpty ? [] : [("dbname", trimmed)]
        return ConnectionInfo.format(database + parameters)
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text
    }
}
