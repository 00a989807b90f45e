import CLibPQ
import Foundation

/// PostgreSQL's `SELECT 1` over TLS on one libpq connection: the RPC latency's reference.
///
/// The statement is prepared once and executed with nothing in between, so the figure is the
/// round trip of the server and libpq alone. Not `Sendable`: the connection belongs to the
/// thread that made it.
final class PostgresRoundTrip {
    /// What the connection negotiated, for the report.
    struct Session: Sendable {
        var serverVersion: String
        var tlsProtocol: String
        var cipher: String
    }

    private let connection: OpaquePointer

    /// Connects over TCP with `sslmode=require` and prepares `SELECT 1`.
    ///
    /// - Parameter connectionString: A libpq key=value string for a TCP address.
    /// - Throws: ``BenchError`` when the connection fails, is not encrypted or cannot prepare.
    init(connectionString: String) throws {
        guard let connection = PQconnectdb(connectionString + " sslmode=require") else {
            throw BenchError("libpq could not allocate a connection")
        }
        self.connection = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            throw BenchError("could not connect to PostgreSQL over TLS: \(self.lastError)")
        }
        guard PQsslInUse(connection) == 1 else {
            throw BenchError("the PostgreSQL connection is not encrypted although sslmode=require was given")
        }
        let result = PQprepare(connection, "select_one", "SELECT 1", 0, nil)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            throw BenchError("could not prepare SELECT 1: \(self.lastError)")
        }
    }

    deinit {
        PQfinish(self.connection)
    }

    /// The server's version and the TLS protocol and cipher in use.
    var session: Session {
        let version = Int(PQserverVersion(self.connection))
        return Session(
            serverVersion: "\(version / 10_000).\(version % 10_000)",
            tlsProtocol: self.sslAttribute("protocol"),
            cipher: self.sslAttribute("cipher")
        )
    }

    /// Executes the prepared statement `count` times and returns each round trip.
    ///
    /// - Throws: ``BenchError`` when an execution fails.
    func time(_ count: Int) throws -> [Duration] {
        let clock = ContinuousClock()
        var durations: [Duration] = []
        durations.reserveCapacity(count)
        for _ in 0..<count {
            let start = clock.now
            let result = PQexecPrepared(self.connection, "select_one", 0, nil, nil, nil, 0)
            let elapsed = clock.now - start
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1 else {
                throw BenchError("SELECT 1 failed: \(self.lastError)")
            }
            durations.append(elapsed)
        }
        return durations
    }

    /// Connects on a thread of its own, warms up, times `count` round trips and disconnects.
    ///
    /// - Parameters:
    ///   - connectionString: A libpq key=value string for a TCP address.
    ///   - warmUp: Untimed round trips first, while the new server process fills its caches.
    ///   - count: Timed round trips.
    /// - Returns: The round trips and what the connection negotiated.
    static func measure(
        connectionString: String,
        warmUp: Int,
        count: Int
    ) async throws -> (LatencySample, Session) {
        try await BlockingThread.run(name: "gnomon-bench postgres") {
            let roundTrip = try PostgresRoundTrip(connectionString: connectionString)
            _ = try roundTrip.time(warmUp)
            return (LatencySample(durations: try roundTrip.time(count)), roundTrip.session)
        }
    }

    private func sslAttribute(_ name: String) -> String {
        PQsslAttribute(self.connection, name).map { String(cString: $0) } ?? "unknown"
    }

    private var lastError: String {
        String(cString: PQerrorMessage(self.connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
