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
            let connection = try ProbeConnection(connectionString: connectionString)
            return try connection.singleValue("SHOW server_version") ?? ""
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
            let connection = try ProbeConnection(connectionString: maintenanceConnectionString)
            let existing = try connection.singleValue(
                "SELECT datname FROM pg_database WHERE datname = $1",
                parameters: [database]
            )
            guard existing == nil else {
                return false
            }
            try connection.execute("CREATE DATABASE \(try connection.quotedIdentifier(database))")
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

/// One blocking libpq connection, closed when released; used by one thread only.
private final class ProbeConnection {
    private let handle: OpaquePointer

    init(connectionString: String) throws {
        guard let handle = PQconnectdb(connectionString) else {
            throw StoreError(.connectionFailed, "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = Self.errorMessage(handle)
            PQfinish(handle)
            throw StoreError(.connectionFailed, "could not connect to PostgreSQL: \(reason)")
        }
        self.handle = handle
    }

    deinit {
        PQfinish(self.handle)
    }

    /// Runs a statement that returns no rows.
    func execute(_ sql: String) throws {
        let result = PQexec(self.handle, sql)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            throw StoreError(.queryFailed, "PostgreSQL refused a statement: \(Self.errorMessage(self.handle))")
        }
    }

    /// Runs a query and returns the first column of its first row, or nil when it has no rows.
    func singleValue(_ sql: String, parameters: [String] = []) throws -> String? {
        let result = self.query(sql, parameters: parameters)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK else {
            throw StoreError(.queryFailed, "PostgreSQL refused a query: \(Self.errorMessage(self.handle))")
        }
        guard PQntuples(result) > 0, PQgetisnull(result, 0, 0) == 0 else {
            return nil
        }
        return String(cString: PQgetvalue(result, 0, 0))
    }

    /// Quotes a name as an SQL identifier, as the connected server expects.
    func quotedIdentifier(_ name: String) throws -> String {
        guard let quoted = PQescapeIdentifier(self.handle, name, name.utf8.count) else {
            throw StoreError(.queryFailed, "libpq could not quote the name: \(Self.errorMessage(self.handle))")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    private func query(_ sql: String, parameters: [String]) -> OpaquePointer? {
        let copies = parameters.map { strdup($0) }
        defer {
            for copy in copies {
                free(copy)
            }
        }
        let values = copies.map { UnsafePointer<CChar>($0) }
        return values.withUnsafeBufferPointer { buffer in
            PQexecParams(self.handle, sql, Int32(values.count), nil, buffer.baseAddress, nil, nil, 0)
        }
    }

    private static func errorMessage(_ handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
