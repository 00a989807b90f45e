import Foundation
public import GnomonCore

/// A PostgreSQL cluster in a folder of its own, started and stopped by this process.
///
/// The first ``start()`` creates the cluster with `initdb`, later ones reuse it. The server is
/// started with `pg_ctl start`, so it outlives this process unless ``stop()`` or ``remove()``
/// is called; the next start of the same data directory stops such an orphaned server, and
/// clears what a crash left behind, before starting afresh.
///
/// When this process is root, which PostgreSQL refuses, the server runs as
/// ``Configuration/unprivilegedUser`` (`postgres`), which must be able to reach the data directory.
/// Each cluster listens on a private socket folder under `/tmp`, so clusters of different data
/// directories run side by side.
public actor EmbeddedPostgres {
    let configuration: Configuration
    let logger: Logger
    /// The absolute data directory, spelled as the server's command line shows it.
    let dataDirectory: String
    let files: ClusterFiles
    let processes: ClusterProcesses
    var tools: ServerTools?
    private var endpoint: PostgresEndpoint?
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Creates a launcher; nothing is touched until ``start()``.
    ///
    /// - Parameters:
    ///   - configuration: Where the cluster lives and how it is reached.
    ///   - logger: Receives start, stop and initialisation records; never the password.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.dataDirectory = configuration.absoluteDataDirectory
        self.files = ClusterFiles(dataDirectory: self.dataDirectory)
        self.processes = ClusterProcesses(dataDirectory: self.dataDirectory, clusterName: configuration.clusterName)
    }

    /// Starts the server, creating the cluster and its database on first use.
    ///
    /// Returns at once when this launcher's server is already running.
    ///
    /// - Returns: How to connect to the server.
    /// - Throws: ``StoreError``, such as `binariesNotFound`, `permissionDenied`, `initdbFailed`
    ///   or `startFailed`, with the failing command's output in its message.
    public func start() async throws -> PostgresEndpoint {
        await self.acquire()
        defer { self.release() }
        if let endpoint = self.endpoint, case .running = self.lockHolder() {
            return endpoint
        }
        self.endpoint = nil
        let endpoint = try await self.startServer()
        self.endpoint = endpoint
        return endpoint
    }

    /// Stops the server with a fast shutdown, whichever launcher started it; does nothing if stopped.
    ///
    /// - Throws: ``StoreError`` with code `stopFailed` when the server would not stop.
    public func stop() async throws {
        await self.acquire()
        defer { self.release() }
        try await self.stopServer()
    }

    /// Stops the server if running, then deletes the data directory and the socket folder.
    ///
    /// - Throws: ``StoreError`` when the server would not stop or the folder cannot be deleted.
    public func remove() async throws {
        await self.acquire()
        defer { self.release() }
        try await self.stopServer()
        guard FileManager.default.fileExists(atPath: self.dataDirectory) else {
            return
        }
        do {
            try FileManager.default.removeItem(atPath: self.dataDirectory)
        } catch {
            throw StoreError(.permissionDenied, "could not delete \(self.dataDirectory)", underlying: error)
        }
        self.logger.debug("embedded PostgreSQL removed", [LogKey.path: self.dataDirectory])
    }

    private func startServer() async throws -> PostgresEndpoint {
        try self.configuration.validate()
        let tools = try await self.loadTools()
        try self.prepareDataDirectory(tools.account)
        if let orphan = try await self.bringDown() {
            self.logger.warning(
                "stopped an orphaned embedded PostgreSQL",
                [LogKey.path: self.dataDirectory, LogKey.pid: String(orphan)]
            )
        }

        let socketDirectory = try self.makeSocketDirectory(tools.account)
        do {
            return try await self.startServer(tools, socketDirectory: socketDirectory)
        } catch {
            _ = try? await self.bringDown()
            try? FileManager.default.removeItem(atPath: socketDirectory)
            throw error
        }
    }

    private func startServer(_ tools: ServerTools, socketDirectory: String) async throws -> PostgresEndpoint {
        if !FileManager.default.fileExists(atPath: self.files.version) {
            try await self.initialise(tools, scratch: socketDirectory)
        }
        try self.recordSocketDirectory(socketDirectory, account: tools.account)
        let endpoint = try await self.launch(tools, socketDirectory: socketDirectory)

        var maintenance = endpoint
        maintenance.database = "postgres"
        let created = try await PostgresProbe.createDatabaseIfMissing(
            self.configuration.database,
            maintenanceConnectionString: maintenance.socketConnectionString
        )
        self.logStarted(endpoint, createdDatabase: created)
        return endpoint
    }

    private func stopServer() async throws {
        self.endpoint = nil
        guard FileManager.default.fileExists(atPath: self.dataDirectory) else {
            return
        }
        if let pid = try await self.bringDown() {
            self.logger.info("embedded PostgreSQL stopped", [LogKey.path: self.dataDirectory, LogKey.pid: String(pid)])
        }
    }

    private func logStarted(_ endpoint: PostgresEndpoint, createdDatabase: Bool) {
        let address =
            endpoint.listensOnTCP
            ? "127.0.0.1:\(endpoint.port)" : "\(endpoint.socketDirectory)/.s.PGSQL.\(endpoint.port)"
        var pid = "unknown"
        if case .running(let serverPID) = self.lockHolder() {
            pid = String(serverPID)
        }
        if createdDatabase {
            self.logger.debug("created the database", [LogKey.path: self.dataDirectory])
        }
        self.logger.info(
            "embedded PostgreSQL started",
            [LogKey.path: endpoint.socketDirectory, LogKey.address: address, LogKey.pid: pid]
        )
    }

    /// Waits until no other start, stop or remove of this launcher is in progress.
    ///
    /// The actor alone would let them interleave at every `await`.
    private func acquire() async {
        guard self.busy else {
            self.busy = true
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    private func release() {
        if self.waiters.isEmpty {
            self.busy = false
        } else {
            self.waiters.removeFirst().resume()
        }
    }
}
