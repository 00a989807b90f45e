import CLibPQ
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

    /// Adds server settings to a connection string's `options`, keeping the options it has.
    ///
    /// Each setting becomes `-c name=value`, which the server applies to every session the
    /// string opens, before the first statement. Options already in the string stay, and a
    /// setting named twice takes the value given here.
    ///
    /// - Parameters:
    ///   - settings: Server parameters, such as `idle_in_transaction_session_timeout`, with
    ///     values free of spaces and backslashes.
    ///   - connectionString: A connection string of any form libpq reads.
    /// - Returns: The string with its `options` extended.
    public static func addingServerSettings(_ settings: [(String, String)], to connectionString: String) -> String {
        guard !settings.isEmpty else {
            return connectionString
        }
        let added = settings.map { "-c \($0.0)=\($0.1)" }
        let options = [Self.value(of: "options", in: connectionString)].compactMap { $0 }.filter { !$0.isEmpty }
        return Self.adding([("options", (options + added).joined(separator: " "))], to: connectionString)
    }

    /// The value a connection string gives a keyword, as libpq parses it; nil when it gives
    /// none or cannot be parsed.
    static func value(of keyword: String, in connectionString: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(connectionString, &error) else {
            PQfreemem(error)
            return nil
        }
        defer { PQconninfoFree(parsed) }
        var option = parsed
        while let name = option.pointee.keyword {
            if String(cString: name) == keyword {
                return option.pointee.val.map { String(cString: $0) }
            }
            option += 1
        }
        return nil
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text
    }
}
