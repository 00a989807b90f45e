import Foundation
public import GnomonCore
public import GnomonStore
import Synchronization

/// A database of its own on the test process's shared cluster, dropped after the test.
///
/// Creating a database is much faster than starting a cluster, and lets a test migrate,
/// change roles' data and drop partitions without disturbing any other test. Migrated
/// databases are copies of one template migrated once per process.
public struct TestDatabase: Sendable {
    /// `test_` followed by random hex.
    public let name: String
    /// A superuser connection string to it.
    public let connectionString: String

    /// Runs `body` against a new database, migrated unless `migrated` is false, then drops it.
    ///
    /// At most six test databases are in use at once. Migrations and partition upkeep create
    /// dozens of tables and indexes in one transaction, each locked until it ends, and PostgreSQL's
    /// shared lock table (64 locks per connection by default) is shared by every database.
    public static func with<T: Sendable>(
        migrated: Bool = true,
        _ body: (TestDatabase) async throws -> T
    ) async throws -> T {
        let endpoint = try await TestPostgres.shared()
        await TestDatabasePermits.shared.acquire()
        defer { Task { await TestDatabasePermits.shared.release() } }

        let template = migrated ? try await MigratedTemplate.shared.name(on: endpoint) : "template1"
        let database = try await Self.create(from: template, on: endpoint)
        do {
            let result = try await body(database)
            try await database.drop(maintenance: endpoint.socketConnectionString)
            return result
        } catch {
            try? await database.drop(maintenance: endpoint.socketConnectionString)
            throw error
        }
    }

    /// Creates a database named `test_<random hex>` as a copy of `template`.
    public static func create(from template: String, on endpoint: PostgresEndpoint) async throws -> TestDatabase {
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await Self.onThread {
            try PostgresConnection(connectionString: endpoint.socketConnectionString)
                .execute(script: "CREATE DATABASE \(name) TEMPLATE \(template)")
        }
        var target = endpoint
        target.database = name
        return TestDatabase(name: name, connectionString: target.socketConnectionString)
    }

    /// Opens a new superuser connection and runs `body` with it on a thread of its own.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws
        -> T
    {
        let connectionString = self.connectionString
        return try await Self.onThread { try body(try PostgresConnection(connectionString: connectionString)) }
    }

    /// The versions in the migrations table, in order.
    public func recordedVersions() async throws -> [Int] {
        try await self.withConnection { connection in
            try connection.query("SELECT version FROM gnomon_schema_migrations ORDER BY version").rows.map {
                try $0.int("version")
            }
        }
    }

    private func drop(maintenance: String) async throws {
        let name = self.name
        try await Self.onThread {
            try PostgresConnection(connectionString: maintenance).execute(script: "DROP DATABASE \(name) WITH (FORCE)")
        }
    }

    /// Runs blocking libpq work on a new thread, never on Swift's cooperative pool.
    public static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.name = "gnomon-test-database"
            thread.start()
        }
    }
}

/// The database every migrated test database is copied from, migrated once per process.
private actor MigratedTemplate {
    static let shared = MigratedTemplate()

    private var migrating: Task<String, any Error>?

    public func name(on endpoint: PostgresEndpoint) async throws -> String {
        let task = self.migrating ?? Task { try await Self.migrate(on: endpoint) }
        self.migrating = task
        do {
            return try await task.value
        } catch {
            self.migrating = nil
            throw error
        }
    }

    private static func migrate(on endpoint: PostgresEndpoint) async throws -> String {
        let database = try await TestDatabase.create(from: "template1", on: endpoint)
        _ = try await database.withConnection { try Migrations.apply(on: $0, logger: .disabled) }
        return database.name
    }
}

/// Counts the test databases in use, letting at most six exist at once.
private actor TestDatabasePermits {
    static let shared = TestDatabasePermits()

    private var available = 6
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public func acquire() async {
        guard self.available == 0 else {
            self.available -= 1
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    public func release() {
        if self.waiting.isEmpty {
            self.available += 1
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}
