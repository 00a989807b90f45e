import Foundation
import GnomonCore
public import GnomonStore

/// A PostgreSQL cluster of one test's own that can be stopped and started again.
///
/// The shared test cluster cannot be restarted without disturbing every other test, and a
/// launcher picks a new socket folder on each start; this one is reached over TCP at a port
/// that stays the same, so that clients configured once find the server again.
public final class RestartablePostgres: Sendable {
    /// The cluster's own `gnomon` database, reached over TCP with a password.
    public let database: TestDatabase
    /// The 127.0.0.1 port, the same after every start.
    public let port: Int
    private let launcher: EmbeddedPostgres

    private init(database: TestDatabase, port: Int, launcher: EmbeddedPostgres) {
        self.database = database
        self.port = port
        self.launcher = launcher
    }

    /// Runs `body` against a new cluster, removed afterwards even if `body` throws.
    ///
    /// - Parameter body: The test, given the running cluster.
    /// - Returns: What `body` returns.
    public static func with<T: Sendable>(_ body: (RestartablePostgres) async throws -> T) async throws -> T {
        var configuration = try TestPostgres.makeConfiguration(tcpPort: 0)
        let first = EmbeddedPostgres(configuration: configuration, logger: .disabled)
        let endpoint: PostgresEndpoint
        do {
            endpoint = try await first.start()
        } catch {
            try? await TestPostgres.discard(first, configuration: configuration)
            throw error
        }
        // Later starts must come back at the port the first one picked.
        configuration.tcpPort = endpoint.port
        let launcher = EmbeddedPostgres(configuration: configuration, logger: .disabled)
        let cluster = RestartablePostgres(
            database: TestDatabase(name: endpoint.database, connectionString: endpoint.tcpConnectionString ?? ""),
            port: endpoint.port,
            launcher: launcher
        )
        do {
            let result = try await body(cluster)
            try await TestPostgres.discard(launcher, configuration: configuration)
            return result
        } catch {
            try? await TestPostgres.discard(launcher, configuration: configuration)
            throw error
        }
    }

    /// Stops the server with a fast shutdown: sessions are ended and their work rolled back.
    public func stop() async throws {
        try await self.launcher.stop()
    }

    /// Starts the server again at the same port.
    public func start() async throws {
        _ = try await self.launcher.start()
    }
}
