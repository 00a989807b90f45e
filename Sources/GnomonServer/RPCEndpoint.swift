import Dispatch
import Foundation
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// The node's RPC side: TLS settings, event loops, the listener and the services behind it.
final class RPCEndpoint: @unchecked Sendable {
    private let server: RPCServer
    private let group: EventLoopGroup
    private let pool: PostgresPool
    private let reloader: Task<Void, Never>
    // Only cancelled, once, in `stop`; a dispatch source may be cancelled from any thread.
    private let hangUp: any DispatchSourceSignal

    private init(
        server: RPCServer,
        group: EventLoopGroup,
        pool: PostgresPool,
        reloader: Task<Void, Never>,
        hangUp: any DispatchSourceSignal
    ) {
        self.server = server
        self.group = group
        self.pool = pool
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
        logger: Logger
    ) async throws -> RPCEndpoint {
        let (tlsConfiguration, caFile) = try Self.tlsConfiguration(
            configuration, dataDirectory: dataDirectory, logger: logger)
        let tls = try TLSServerContext(configuration: tlsConfiguration)
        let group = try EventLoopGroup()
        let pool = PostgresPool(connectionString: connectionString, maximumConnections: 8, logger: logger)
        let status = StatusService(
            nodeID: Self.nodeID(configuration.nodeID),
            startedAt: Date(),
            database: database,
            pool: pool
        )
        let server = try await RPCServer.start(
            configuration: RPCServer.Configuration(
                host: configuration.listenAddress.host,
                port: configuration.listenAddress.port
            ),
            tls: tls,
            group: group,
            dispatcher: GnomonDispatcher(status: status),
            logger: logger.forSource("rpc")
        )
        var metadata = [LogKey.address: "\(configuration.listenAddress.host):\(server.port)", "protocol": "gnomon/1"]
        if let caFile {
            metadata["ca_file"] = caFile
        }
        logger.info("listening", metadata)
        if let caFile {
            let address = "\(configuration.listenAddress.host):\(server.port)"
            logger.info("connect with", ["command": "\(Self.cliPath()) --server \(address) --ca \(caFile) status"])
        }
        return RPCEndpoint(
            server: server,
            group: group,
            pool: pool,
            reloader: Self.watch(tls, logger: logger),
            hangUp: Self.reloadOnHangUp(tls, logger: logger)
        )
    }

    /// Sends GOAWAY, lets calls finish within `timeout`, then stops the loops and the pool.
    func stop(timeout: Duration) async {
        self.hangUp.cancel()
        self.reloader.cancel()
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
    private static func cliPath() -> String {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let beside = folder + "/gnomon"
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : "gnomon"
    }

    private static func nodeID(_ configured: String) -> String {
        guard configured.isEmpty else {
            return configured
        }
        return "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }
}
