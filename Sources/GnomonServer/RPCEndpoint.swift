import Dispatch
import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// The node's RPC side: TLS settings, event loops, the listener and the services behind it.
final class RPCEndpoint: @unchecked Sendable {
    private let server: RPCServer
    private let group: EventLoopGroup
    private let pool: PostgresPool
    private let authentication: TokenAuthentication
    private let notifications: JobNotifications
    private let reloader: Task<Void, Never>
    // Only cancelled, once, in `stop`; a dispatch source may be cancelled from any thread.
    private let hangUp: any DispatchSourceSignal

    private init(
        server: RPCServer,
        group: EventLoopGroup,
        pool: PostgresPool,
        authentication: TokenAuthentication,
        notifications: JobNotifications,
        reloader: Task<Void, Never>,
        hangUp: any DispatchSourceSignal
    ) {
        self.server = server
        self.group = group
        self.pool = pool
        self.authentication = authentication
        self.notifications = notifications
        self.reloader = reloader
        self.hangUp = hangUp
    }

    var port: UInt16 { self.server.port }

    /// Loads or makes the certificate, starts the event loops and listens.
    static func start(
        configuration: ServerConfiguration,
        dataDirectory: String,
        database: ServerNode.Database,
        connectionString: String,
        cluster: ClusterRole?,
        shardLoops: ShardLoops?,
        logger: Logger
    ) async throws -> RPCEndpoint {
        let (tlsConfiguration, caFile) = try Self.tlsConfiguration(
            configuration, dataDirectory: dataDirectory, logger: logger)
        let tls = try TLSServerContext(configuration: tlsConfiguration)
        let group = try EventLoopGroup()
        let pool = PostgresPool(connectionString: connectionString, maximumConnections: 8, logger: logger)
        let status = StatusService(
            nodeID: cluster?.nodeID ?? Self.nodeID(configuration.nodeID),
            startedAt: Date(),
            database: database,
            pool: pool,
            cluster: cluster
        )
        let development =
            try configuration.isDevelopmentMode
            ? DevelopmentCredentials.prepare(dataDirectory: dataDirectory) : nil
        let authentication = try TokenAuthentication(
            settings: configuration.auth, developmentKey: development?.key, logger: logger.forSource("auth"))
        let cursors = PageCursorSealer(key: try await Self.cursorKey(pool))
        let auditor = Auditor(pool: pool, logger: logger.forSource("audit"))
        let tenantStates = TenantStateCache { tenantID in
            try await pool.withPlatformTransaction { connection in
                do {
                    let tenant = try TenantStore.get(tenantID, on: connection)
                    return tenant.state == .active ? .active : .disabled(reason: tenant.disabledReason)
                } catch let error as StoreError where error.code == .notFound {
                    return .missing
                }
            }
        }
        let store = try await Self.jobStore(pool)
        var attemptsStarted: (@Sendable ([Int: Date]) -> Void)?
        var schedulesChanged: (@Sendable ([Int]) -> Void)?
        if let shardLoops {
            attemptsStarted = { expiries in shardLoops.attemptsStarted(expiries) }
            schedulesChanged = { shards in shardLoops.schedulesChanged(shards) }
        }
        let notifications = JobNotifications(
            connectionString: connectionString, logger: logger.forSource("notify"), attemptsStarted: attemptsStarted,
            schedulesChanged: schedulesChanged)
        notifications.start()
        let dispatcher = GnomonDispatcher(
            gate: CallGate(
                authenticator: authentication, tenants: tenantStates,
                auditDenied: { await auditor.recordDenied($0) }),
            status: status,
            tenants: TenantService(pool: pool, audit: auditor, tenants: tenantStates, cursors: cursors),
            audit: AuditService(pool: pool, cursors: cursors),
            jobs: JobService(pool: pool, store: store, audit: auditor, cursors: cursors),
            workers: WorkerService(
                pool: pool, store: store, notifications: notifications, audit: auditor, shardLoops: shardLoops,
                logger: logger.forSource("workers")),
            queues: QueueService(pool: pool, audit: auditor, cursors: cursors),
            deadLetters: DeadLetterService(pool: pool, store: store, audit: auditor, cursors: cursors),
            schedules: ScheduleService(pool: pool, store: store, audit: auditor, cursors: cursors))
        let server = try await RPCServer.start(
            configuration: RPCServer.Configuration(
                host: configuration.listenAddress.host,
                port: configuration.listenAddress.port
            ),
            tls: tls,
            group: group,
            dispatcher: dispatcher,
            logger: logger.forSource("rpc")
        )
        authentication.startWatching()
        let address = "\(configuration.listenAddress.host):\(server.port)"
        var metadata = [LogKey.address: address, "protocol": "gnomon/1"]
        if let caFile {
            metadata["ca_file"] = caFile
        }
        logger.info("listening", metadata)
        if let development {
            let tokens = try await development.issue(pool: pool, audience: configuration.auth.audience)
            Self.announce(development, tokens: tokens, address: address, caFile: caFile, logger: logger)
        }
        return RPCEndpoint(
            server: server,
            group: group,
            pool: pool,
            authentication: authentication,
            notifications: notifications,
            reloader: Self.watch(tls, logger: logger),
            hangUp: Self.reloadOnHangUp(tls, logger: logger)
        )
    }

    /// Sends GOAWAY, lets calls finish within `timeout`, then stops the loops and the pool.
    func stop(timeout: Duration) async {
        self.hangUp.cancel()
        self.reloader.cancel()
        self.authentication.stop()
        // Lease streams wake from their waits and end with the server's shutdown.
        self.notifications.stop()
        await self.server.shutdown(timeout: timeout)
        await self.group.shutdown()
        await self.pool.shutdown()
    }

    /// The configured certificate, or a development one kept in the data folder.
    private static func tlsConfiguration(
        _ configuration: ServerConfiguration,
        dataDirectory: String,
        logger: Logger
    ) throws -> (TLSConfiguration, String?) {
        if let certificate = configuration.tlsCertificateFile, let key = configuration.tlsKeyFile {
            let tls = TLSConfiguration(
                certificateChainFile: certificate,
                privateKeyFile: key,
                caFile: configuration.tlsClientCAFile,
                requireClientCertificate: configuration.tlsClientCAFile != nil,
                allowTLS12: configuration.allowsTLS12
            )
            return (tls, nil)
        }
        let files = try CertificateFiles.ensureDevelopment(in: dataDirectory + "/tls")
        if !configuration.isDevelopmentMode {
            logger.warning(
                "serving a development certificate; give --tls-certificate and --tls-key in production",
                [LogKey.path: files.certificateFile]
            )
        }
        let tls = TLSConfiguration(
            certificateChainFile: files.certificateFile,
            privateKeyFile: files.keyFile,
            caFile: configuration.tlsClientCAFile,
            requireClientCertificate: configuration.tlsClientCAFile != nil,
            allowTLS12: configuration.allowsTLS12
        )
        return (tls, files.caFile)
    }

    /// Reloads the certificate when its files change, so it can rotate under traffic.
    private static func watch(_ tls: TLSServerContext, logger: Logger) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                Self.reload(tls, logger: logger, onlyIfChanged: true)
            }
        }
    }

    private static func reloadOnHangUp(_ tls: TLSServerContext, logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "gnomon.reload"))
        source.setEventHandler { Self.reload(tls, logger: logger, onlyIfChanged: false) }
        source.resume()
        return source
    }

    private static func reload(_ tls: TLSServerContext, logger: Logger, onlyIfChanged: Bool) {
        do {
            if onlyIfChanged {
                if try tls.reloadIfChanged() {
                    logger.info("TLS certificate reloaded")
                }
            } else {
                try tls.reload()
                logger.info("TLS certificate reloaded")
            }
        } catch {
            logger.error("TLS certificate reload failed; the previous one stays in use", [LogKey.error: "\(error)"])
        }
    }

    /// The `gnomon` built beside this `gnomond`, so the command can be pasted as it is.
    /// The job store, sized to the cluster's fixed shard count.
    private static func jobStore(_ pool: PostgresPool) async throws -> JobStore {
        try await pool.withConnection { try JobStore.load(on: $0) }
    }

    /// The cluster's key for sealing page cursors, shared by every node.
    private static func cursorKey(_ pool: PostgresPool) async throws -> [UInt8] {
        try await pool.withConnection { connection in
            guard let row = try connection.query("SELECT cursor_key FROM gnomon_cluster").first else {
                throw StoreError(.unexpectedValue, "the database has no cluster row; apply the migrations first")
            }
            return try row.bytes("cursor_key")
        }
    }

    /// Tells the developer how to call the server: the command, and the tokens on standard
    /// output (never in the log, which may be collected).
    private static func announce(
        _ development: DevelopmentCredentials,
        tokens: (admin: String, platformAdmin: String),
        address: String,
        caFile: String?,
        logger: Logger
    ) {
        let ca = caFile.map { " --ca \($0)" } ?? ""
        let command = "\(Self.cliPath()) --server \(address)\(ca) --token-file \(development.adminTokenFile) status"
        logger.info(
            "connect with",
            [
                "command": command, "admin_token_file": development.adminTokenFile,
                "platform_admin_token_file": development.platformAdminTokenFile,
            ])
        print(
            """

            Development tokens for tenant '\(DevelopmentCredentials.tenantID)', valid for 30 days:
              admin (\(development.adminTokenFile)):
                \(tokens.admin)
              platform admin (\(development.platformAdminTokenFile)):
                \(tokens.platformAdmin)

            """)
        fflush(nil)
    }

    private static func cliPath() -> String {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let beside = folder + "/gnomon"
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : "gnomon"
    }

    /// The configured node name, or one made of the host name and process id.
    static func nodeID(_ configured: String) -> String {
        guard configured.isEmpty else {
            return configured
        }
        return "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }
}
