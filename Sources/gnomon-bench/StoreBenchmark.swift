import Foundation
import GnomonCore
import GnomonStore

/// The `gnomon-bench store` run: every figure of the store's benchmark, in one process.
///
/// Ratios between figures of one run are what count: the machine is shared and noisy, so
/// figures from different runs compare poorly. Not `Sendable`: it owns a blocking connection
/// and runs on the thread that created it.
final class StoreBenchmark {
    let options: StoreBenchmarkOptions
    let connectionString: String
    let connection: PostgresConnection
    let store: JobStore
    let leases: [ShardLease]
    let report = BenchmarkReport(title: "Store: `gnomon-bench store`")
    let clock = ContinuousClock()

    /// Connects, applies the migrations, creates the tenant and takes every shard's lease.
    ///
    /// - Throws: ``StoreError`` or ``BenchError`` when the database cannot be prepared.
    init(options: StoreBenchmarkOptions, connectionString: String) throws {
        self.options = options
        self.connectionString = connectionString
        self.connection = try PostgresConnection(connectionString: connectionString)
        _ = try Migrations.apply(on: self.connection, logger: .disabled)
        // Jobs reference no tenant row, but the usage and quota rows a server keeps do.
        try self.connection.query("INSERT INTO gnomon_tenants (tenant_id) VALUES ($1)", [BenchNames.tenant])
        self.store = try JobStore.load(on: self.connection)
        self.leases = try Self.acquireLeases(shardCount: self.store.shardCount, on: self.connection)
    }

    /// Measures everything in order and returns the report as Markdown.
    ///
    /// - Parameter serverSettings: The settings the server was started with, for the report.
    func run(serverSettings: [String: String]) throws -> String {
        self.describeSettings(serverSettings)
        try self.measureBulkInsert()
        try self.measureClaimComplete()
        try self.measureDueQuery()
        try self.measureSteadyState()
        return self.report.markdown(machine: MachineInfo.current())
    }

    /// Writes a progress line to standard error.
    func progress(_ message: String) {
        printProgress(message)
    }

    private func describeSettings(_ serverSettings: [String: String]) {
        let version = (try? self.connection.query("SHOW server_version").first?[0]) ?? "unknown"
        self.report.addSection(
            "Settings",
            """
            PostgreSQL \(version), embedded, over its unix socket; \(BenchCluster.summary(of: serverSettings)); \
            other settings at their defaults. \(self.store.shardCount) shards (the migrations' default). \
            One client connection per driver, autocommit: each claim and each complete is its own \
            transaction. The benchmark connects as the cluster's superuser, so row-level security \
            is not evaluated; the JobStore and raw figures share that.
            """
        )
    }

    private static func acquireLeases(shardCount: Int, on connection: PostgresConnection) throws -> [ShardLease] {
        try (0..<shardCount).map { shard in
            let lease = try ShardLeaseStore.acquire(
                shard: shard,
                node: BenchNames.node,
                duration: .seconds(4 * 3_600),
                on: connection
            )
            guard let lease else {
                throw BenchError("shard \(shard)'s lease is held by another node in a fresh cluster")
            }
            return lease
        }
    }
}
