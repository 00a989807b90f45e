public import GnomonCore
public import GnomonProtocol
import Synchronization

/// The RPC server: a TLS listener whose connections run calls through a dispatcher.
///
/// Connections are spread over the event loops of a group; each runs its frames, its TLS and
/// its state machine on its loop, and its handlers as Swift tasks.
public final class RPCServer: Sendable {
    /// Where and how the server listens.
    public struct Configuration: Sendable {
        public var host: String
        public var port: UInt16
        public var limits: ProtocolLimits
        public var listener: TCPListener.Configuration
        public var handshakeTimeout: Duration

        /// Creates a configuration; the defaults suit most deployments.
        public init(
            host: String,
            port: UInt16,
            limits: ProtocolLimits = ProtocolLimits(),
            listener: TCPListener.Configuration = TCPListener.Configuration(),
            handshakeTimeout: Duration = .seconds(10)
        ) {
            self.host = host
            self.port = port
            self.limits = limits
            self.listener = listener
            self.handshakeTimeout = handshakeTimeout
        }
    }

    /// The listening socket, whose limiter counts connections from accept on, handshake or not.
    let listener: TCPListener
    private let registry: ConnectionRegistry

    private init(listener: TCPListener, registry: ConnectionRegistry) {
        self.listener = listener
        self.registry = registry
    }

    /// The port the server listens on; the chosen one when configured with port 0.
    public var port: UInt16 { self.listener.port }

    /// How many connections are open now.
    public var connectionCount: Int { self.registry.count }

    /// Starts listening.
    ///
    /// - Parameters:
    ///   - configuration: Address, limits and timeouts.
    ///   - tls: The server's certificate and TLS settings; reloadable while running.
    ///   - group: The event loops that run the connections.
    ///   - dispatcher: Runs the calls.
    ///   - logger: Receives connection-level records.
    /// - Throws: ``SystemError`` when the address cannot be bound.
    public static func start(
        configuration: Configuration,
        tls: TLSServerContext,
        group: EventLoopGroup,
        dispatcher: any RPCDispatcher,
        logger: Logger
    ) async throws -> RPCServer {
        let registry = ConnectionRegistry()
        let limits = configuration.limits
        let handshakeTimeout = configuration.handshakeTimeout
        let listener = try await TCPListener.bind(
            host: configuration.host,
            port: configuration.port,
            group: group,
            configuration: configuration.listener
        ) { connection in
            let handler = RPCServerConnection(
                limits: limits, dispatcher: dispatcher, registry: registry, logger: logger)
            do {
                let session = try tls.makeServerSession()
                return SecureChannel(
                    connection: connection, session: session, handshakeTimeout: handshakeTimeout, handler: handler)
            } catch {
                logger.warning("could not start TLS on a connection", [LogKey.error: "\(error)"])
                return RefusingHandler()
            }
        }
        return RPCServer(listener: listener, registry: registry)
    }

    /// Stops accepting, sends GOAWAY on every connection, waits up to `timeout` for calls in
    /// flight to finish, then closes what is left.
    public func shutdown(timeout: Duration) async {
        await self.listener.close()
        self.registry.beginShutdown()
        self.registry.onEachLoop { $0.beginGracefulShutdown() }
        let deadline = ContinuousClock.now + timeout
        while self.registry.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        self.registry.onEachLoop { $0.closeNow() }
    }
}

/// The open connections of a server, so that shutdown can reach each on its own loop.
final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: (RPCServerConnection, EventLoop)] = [:]
        var isShuttingDown = false
    }

    private let state = Mutex(State())

    var count: Int {
        self.state.withLock { $0.connections.count }
    }

    /// Adds a connection whose handshake completed.
    ///
    /// - Returns: `false` when the server began shutting down meanwhile: the connection,
    ///   which the shutdown did not reach, must drain at once.
    func add(_ connection: RPCServerConnection, loop: EventLoop) -> Bool {
        self.state.withLock { state in
            state.connections[ObjectIdentifier(connection)] = (connection, loop)
            return !state.isShuttingDown
        }
    }

    func remove(_ connection: RPCServerConnection) {
        _ = self.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Makes connections that complete their handshake from now on drain at once.
    func beginShutdown() {
        self.state.withLock { $0.isShuttingDown = true }
    }

    /// Runs `body` for each connection on that connection's loop.
    func onEachLoop(_ body: @escaping @Sendable (RPCServerConnection) -> Void) {
        let all = self.state.withLock { Array($0.connections.values) }
        for (connection, loop) in all {
            _ = loop.execute { body(connection) }
        }
    }
}

/// Closes a connection that could not be given TLS.
private final class RefusingHandler: TCPConnectionHandler {
    func connectionActive(_ connection: TCPConnection) {
        connection.abort()
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {}

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {}
}
