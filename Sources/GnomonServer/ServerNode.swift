import Foundation
public import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// One running `gnomond` node: its database, its listeners and its part in the cluster.
///
/// Start it once, then stop it once; stopping shuts down what starting brought up, in reverse.
public actor ServerNode {
    /// What the node connected to when it started.
    public struct Database: Sendable, Equatable {
        /// Whether the node runs its own PostgreSQL in its data folder.
        public var isEmbedded: Bool
        /// The server's version, such as `15.18`.
        public var serverVersion: String
        /// The highest migration applied.
        public var schemaVersion: Int

        /// Creates a description of a database.
        public init(isEmbedded: Bool, serverVersion: String, schemaVersion: Int) {
            self.isEmbedded = isEmbedded
            self.serverVersion = serverVersion
            self.schemaVersion = schemaVersion
        }
    }

    private let configuration: ServerConfiguration
    private let logger: Logger
    private let dataDirectory: String
    private var embedded: EmbeddedPostgres?
    private var rpc: RPCEndpoint?
    private var cluster: ClusterRole?
    private var shardLoops: ShardLoops?

    /// Creates a node; nothing starts until ``start()``.
    ///
    /// - Parameters:
    ///   - configuration: The node's settings.
    ///   - workingDirectory: The folder a relative data folder is resolved against.
    ///   - logger: Where the node logs.
    public init(configuration: ServerConfiguration, workingDirectory: String, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.dataDirectory = Self.resolve(configuration.dataDirectory, against: workingDirectory)
    }

    /// Connects to the configured database, starting the embedded one when there is no URL.
    ///
    /// - Returns: What the node connected to.
    /// - Throws: ``StoreError`` when the database cannot be started or reached.
    public func start() async throws -> Database {
        self.logger.info(
            "gnomond starting",
            ["version": GnomonVersion.current, LogKey.pid: String(getpid())]
        )
        let (databaseConnectionString, isEmbedded) = try await self.connectionString()
        let connectionString = Self.sessionConnectionString(
            databaseConnectionString, leaseTTL: self.configuration.leaseTTL)
        let version = try await PostgresProbe.serverVersion(connectionString: connectionString)
        let (schemaVersion, store) = try await self.prepareSchema(connectionString)
        self.logger.info(
            "database ready",
            ["server_version": version, "embedded": String(isEmbedded), "schema_version": String(schemaVersion)]
        )
        let database = Database(isEmbedded: isEmbedded, serverVersion: version, schemaVersion: schemaVersion)
        let nodeID = RPCEndpoint.nodeID(self.configuration.nodeID)
        let shardLoops = ShardLoops(
            node: nodeID, connectionString: connectionString, store: store,
            misfireThreshold: self.configuration.misfireThreshold, logger: self.logger.forSource("shard"))
        self.shardLoops = shardLoops
        let cluster = ClusterRole(
            nodeID: nodeID,
            connectionString: connectionString,
            timing: LeaseTiming(ttl: self.configuration.leaseTTL),
            delegate: shardLoops,
            logger: self.logger.forSource("cluster")
        )
        self.cluster = cluster
        let rpc = try await RPCEndpoint.start(
            configuration: self.configuration,
            dataDirectory: self.dataDirectory,
            database: database,
            connectionString: connectionString,
            cluster: cluster,
            shardLoops: shardLoops,
            logger: self.logger
        )
        self.rpc = rpc
        try await cluster.start(address: "\(self.configuration.listenAddress.host):\(rpc.port)")
        return database
    }

    /// The port the RPC server listens on, once started.
    public var rpcPort: UInt16? {
        self.rpc?.port
    }

    /// Stops what ``start()`` started; safe to call when nothing was started.
    public func stop() async throws {
        if let rpc = self.rpc {
            await rpc.stop(timeout: self.configuration.shutdownTimeout)
            self.rpc = nil
        }
        if let cluster = self.cluster {
            // Stopping the leases stops each shard's loop before its lease is released.
            await cluster.stop()
            self.cluster = nil
        }
        if let shardLoops = self.shardLoops {
            await shardLoops.shutdown()
            self.shardLoops = nil
        }
        if let embedded = self.embedded {
            try await embedded.stop()
            self.embedded = nil
        }
        self.logger.info("gnomond stopped")
    }

    /// The database, with every session of this node ended by PostgreSQL once it has idled
    /// inside a transaction for a lease lifetime.
    ///
    /// A node paused inside a transaction (stopped, swapped out, cut off mid-call) would
    /// otherwise keep its row locks until it runs again and stall other nodes working for the
    /// same tenant; by the end of a lease lifetime it has lost its shards anyway. Statements
    /// that run long are not idle and are not affected.
    static func sessionConnectionString(_ connectionString: String, leaseTTL: Duration) -> String {
        let milliseconds = max(1_000, LeaseTiming(ttl: leaseTTL).ttlMilliseconds)
        return PostgresConnectionString.addingServerSettings(
            [("idle_in_transaction_session_timeout", String(milliseconds))], to: connectionString)
    }

    private func connectionString() async throws -> (String, Bool) {
        if let url = self.configuration.databaseURL {
            return (url, false)
        }
        return (try await self.startEmbedded(), true)
    }

    /// Applies the migrations under their advisory lock, so nodes starting together apply each
    /// once, then brings the time partitions up to date; the upkeep leader keeps them so.
    ///
    /// - Returns: The schema version, and the job store with the cluster's shard count.
    private func prepareSchema(_ connectionString: String) async throws -> (Int, JobStore) {
        let logger = self.logger.forSource("store")
        return try await BlockingWork.run {
            let connection = try PostgresConnection(connectionString: connectionString)
            _ = try Migrations.apply(on: connection, logger: logger)
            _ = try PartitionUpkeep.run(on: connection, now: Date())
            return (Migrations.latestVersion, try JobStore.load(on: connection))
        }
    }

    private func startEmbedded() async throws -> String {
        try Self.createDataDirectory(self.dataDirectory)
        var settings = EmbeddedPostgres.Configuration(
            dataDirectory: self.clusterDirectory(),
            tcpPort: self.configuration.embeddedPostgresPort.map { Int($0) }
        )
        settings.database = "gnomon"
        // Migrations and upkeep touch every shard's partition in one transaction.
        settings.settings["max_locks_per_transaction"] = "256"
        let embedded = EmbeddedPostgres(configuration: settings, logger: self.logger.forSource("postgres"))
        self.embedded = embedded
        let endpoint = try await embedded.start()
        var metadata = ["socket_directory": endpoint.socketDirectory, LogKey.path: self.dataDirectory]
        if endpoint.listensOnTCP {
            metadata[LogKey.address] = "127.0.0.1:\(endpoint.port)"
        }
        self.logger.info("embedded PostgreSQL ready", metadata)
        return endpoint.socketConnectionString
    }

    /// The cluster's folder: `postgres` in the data folder, unless the server's account cannot
    /// reach it there (root's data folder under a private home), in which case the cluster
    /// lives in a folder of its own under `/var/lib/gnomon`, named after the data folder.
    private func clusterDirectory() -> String {
        let preferred = self.dataDirectory + "/postgres"
        if EmbeddedPostgres.canReach(preferred) {
            return preferred
        }
        let name = EmbeddedPostgres.Configuration(dataDirectory: preferred).clusterName
        let fallback = "\(Self.sharedClusterRoot)/\(name)"
        self.logger.info(
            "embedded PostgreSQL kept outside the data folder, which its account cannot reach",
            [LogKey.path: fallback]
        )
        return fallback
    }

    private static let sharedClusterRoot = "/var/lib/gnomon"

    /// Creates the data folder traversable but not listable by others, so that the PostgreSQL
    /// account can reach its cluster inside it while other users cannot read what else it holds.
    private static func createDataDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: path,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o711]
        )
    }

    private static func resolve(_ path: String, against workingDirectory: String) -> String {
        let absolute = path.hasPrefix("/") ? path : workingDirectory + "/" + path
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }
}
