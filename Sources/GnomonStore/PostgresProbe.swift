import CLibPQ
import Foundation

/// Short one-off conversations with a PostgreSQL server, and connection-string checks.
///
/// Each call opens its own libpq connection on a dedicated thread, because libpq blocks and
/// Swift's cooperative thread pool must never be blocked.
public enum PostgresProbe {
    /// Connects, asks the server for its version and disconnects.
    ///
    /// - Parameter connectionString: A libpq URL or key=value connection string.
    /// - Returns: The server's `server_version`, such as `15.8 (Debian 15.8-0+deb12u1)`.
    /// - Throws: ``StoreError`` with code `connectionFailed` or `queryFailed`.
    public static func serverVersion(connectionString: String) async throws -> String {
        try await self.onDedicatedThread {
            let connection = try PostgresConnection(connectionString: connectionString)
            return try connection.query("SHOW server_version").first?[0] ?? ""
        }
    }

    /// Checks that a libpq connection URL or key=value string can be parsed.
    ///
    /// The string itself is never repeated in the error, because it may hold a password.
    ///
    /// - Parameter string: Such as `postgresql://user@localhost/db` or `host=/tmp dbname=db`.
    /// - Throws: ``StoreError`` with code `invalidConnectionString` saying what is wrong.
    public static func validateConnectionString(_ string: String) throws {
        _ = try self.parseConnectionString(string)
    }

    /// Parses a connection string into the keywords it sets, as libpq reads it.
    static func parseConnectionString(_ string: String) throws -> [String: String] {
        guard !string.allSatisfy(\.isWhitespace) else {
            throw StoreError(
                .invalidConnectionString,
                "the connection string is empty; expected a URL such as postgresql://user@localhost:5432/db "
                    + "or key=value pairs such as host=/tmp dbname=db"
            )
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(string, &errorMessage) else {
            throw self.parseError(errorMessage)
        }
        defer { PQconninfoFree(options) }
        return self.keywordValues(options)
    }

    /// Creates `database` unless it exists, connecting to the `postgres` maintenance database.
    ///
    /// - Returns: Whether the database was created.
    static func createDatabaseIfMissing(_ database: String, maintenanceConnectionString: String) async throws -> Bool {
        try await self.onDedicatedThread {
            let connection = try PostgresConnection(connectionString: maintenanceConnectionString)
            let existing = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])
            guard existing.rows.isEmpty else {
                return false
            }
            try connection.execute(script: "CREATE DATABASE \(try connection.quotedIdentifier(database))")
            return true
        }
    }

    private static func parseError(_ errorMessage: UnsafeMutablePointer<CChar>?) -> StoreError {
        var reason = "libpq could not parse it"
        if let errorMessage {
            reason = String(cString: errorMessage).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfreemem(errorMessage)
        }
        return StoreError(
            .invalidConnectionString,
            "invalid connection string: \(reason); expected a URL such as postgresql://user@localhost:5432/db "
                + "or key=value pairs such as host=/tmp dbname=db"
        )
    }

    private static func keywordValues(_ options: UnsafeMutablePointer<PQconninfoOption>) -> [String: String] {
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                values[String(cString: keyword)] = String(cString: value)
            }
            option += 1
        }
        return values
    }

    /// Runs blocking work on a new thread and resumes the caller when it is done.
    private static func onDedicatedThread<T: Sendable>(
        _ work: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try work() })
            }
            thread.name = "gnomon-libpq-probe"
            thread.start()
        }
    }
}
