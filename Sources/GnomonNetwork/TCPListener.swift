import Glibc

/// A listening TCP socket that accepts on one loop and spreads connections over a group.
///
/// Connections over the server-wide cap wait in the kernel's backlog: the listener stops
/// accepting until one closes. Connections from an address already at its cap are closed
/// as soon as they are accepted. Closing the listener leaves accepted connections open;
/// shutting the group down closes them.
///
/// Threading: every public member may be used from any thread.
public final class TCPListener: @unchecked Sendable {
    /// The listening socket's options and the connections' limits.
    public struct Configuration: Sendable, Hashable {
        /// How many connections the kernel completes and holds until they are accepted.
        public var backlog: Int32
        /// The most connections open at once through this listener.
        public var maximumConnections: Int
        /// The most connections open at once from one client address.
        public var maximumConnectionsPerAddress: Int
        /// The limits and timeouts of each accepted connection.
        public var connection: TCPConnection.Configuration

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - backlog: 1,024 by default; the kernel caps it at `net.core.somaxconn`.
        ///   - maximumConnections: 10,000 by default.
        ///   - maximumConnectionsPerAddress: 256 by default.
        ///   - connection: The defaults of ``TCPConnection/Configuration`` by default.
        public init(
            backlog: Int32 = 1024,
            maximumConnections: Int = 10_000,
            maximumConnectionsPerAddress: Int = 256,
            connection: TCPConnection.Configuration = TCPConnection.Configuration()
        ) {
            self.backlog = backlog
            self.maximumConnections = maximumConnections
            self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
            self.connection = connection
        }
    }

    /// The address the listener is bound to, with the port the system chose for port 0.
    public let localAddress: SocketAddress
    /// The loop that accepts connections.
    public let eventLoop: EventLoop
    /// The counts of open connections, server-wide and per client address.
    public let limiter: ConnectionLimiter
    /// The options the listener was bound with.
    public let configuration: Configuration

    let group: EventLoopGroup
    let makeHandler: @Sendable (TCPConnection) -> any TCPConnectionHandler

    // The state below belongs to the accepting loop's thread.
    let socket: Socket
    var isAccepting = true
    var isRegistered = false
    var backoffTimer: TimerID?

    /// The port the listener is bound to.
    public var port: UInt16 {
        self.localAddress.port
    }

    private init(
        socket: Socket,
        localAddress: SocketAddress,
        group: EventLoopGroup,
        configuration: Configuration,
        makeHandler: @escaping @Sendable (TCPConnection) -> any TCPConnectionHandler
    ) {
        self.socket = socket
        self.localAddress = localAddress
        self.group = group
        self.eventLoop = group.next()
        self.configuration = configuration
        self.makeHandler = makeHandler
        self.limiter = ConnectionLimiter(
            maximumConnections: configuration.maximumConnections,
            maximumConnectionsPerAddress: configuration.maximumConnectionsPerAddress)
    }

    /// Binds to `host:port`, listens, and starts accepting on one of the group's loops.
    ///
    /// `SO_REUSEADDR` is set, so a restarted server can bind while old connections linger in
    /// `TIME_WAIT`. `::` also accepts IPv4 clients, whose addresses then read `::ffff:a.b.c.d`.
    ///
    /// - Parameters:
    ///   - host: A numeric address such as `0.0.0.0`, `127.0.0.1`, `::` or `::1`; a name is
    ///     resolved with `getaddrinfo`, which may block, and its first address is used.
    ///   - port: The port; 0 lets the system choose, as ``port`` then tells.
    ///   - group: The loops that run the connections, given out round robin.
    ///   - configuration: Backlog, connection caps and the connections' limits.
    ///   - makeHandler: Makes each connection's handler, on that connection's loop thread; the
    ///     handler uses the connection from ``TCPConnectionHandler/connectionActive(_:)`` on.
    /// - Returns: A listener that is accepting.
    /// - Throws: ``SystemError`` for `socket`, `bind` (such as `EADDRINUSE`), `listen` or `epoll_ctl`.
    public static func bind(
        host: String,
        port: UInt16,
        group: EventLoopGroup,
        configuration: Configuration = Configuration(),
        handler makeHandler: @escaping @Sendable (TCPConnection) -> any TCPConnectionHandler
    ) async throws(SystemError) -> TCPListener {
        let address = try SocketAddress.resolve(host: host, port: port)[0]
        let socket = try Socket(tcpFamily: address.family)
        try socket.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        try socket.bind(to: address)
        try socket.listen(backlog: configuration.backlog)
        let listener = TCPListener(
            socket: socket, localAddress: try socket.localAddress(), group: group,
            configuration: configuration, makeHandler: makeHandler)

        let registered = await withCheckedContinuation { continuation in
            let accepted = listener.eventLoop.execute {
                continuation.resume(returning: Result { () throws(SystemError) in try listener.register() })
            }
            if !accepted {
                continuation.resume(returning: .failure(EventLoop.shutdownError("TCPListener.bind")))
            }
        }
        try registered.get()
        return listener
    }

    /// Stops accepting and closes the listening socket; accepted connections stay open.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let accepted = self.eventLoop.execute {
                self.closeSocket()
                continuation.resume()
            }
            if !accepted {
                // The loop closed the socket as it shut down.
                continuation.resume()
            }
        }
    }

    private func register() throws(SystemError) {
        try self.eventLoop.register(
            fd: self.socket.descriptor, interest: .readable, handler: TCPListenerRegistration(listener: self))
        self.isRegistered = true
    }

    /// Deregisters and closes the listening socket; loop thread only.
    func closeSocket() {
        guard self.socket.isOpen else {
            return
        }
        if let timer = self.backoffTimer {
            self.eventLoop.cancelTimer(timer)
            self.backoffTimer = nil
        }
        if self.isRegistered {
            try? self.eventLoop.deregister(fd: self.socket.descriptor)
            self.isRegistered = false
        }
        self.socket.close()
    }
}

/// Passes a loop's readiness reports to a listener, keeping it alive while registered.
private final class TCPListenerRegistration: EventLoopIOHandler {
    let listener: TCPListener

    init(listener: TCPListener) {
        self.listener = listener
    }

    func ioEventsReady(_ events: IOEvents) {
        self.listener.acceptAvailable()
    }

    func eventLoopWillShutDown() {
        self.listener.closeSocket()
    }
}
