extension TCPConnection {
    /// Opens a connection to `host:port` on `loop`, reporting the outcome to `completion`.
    ///
    /// A host name is resolved off the loop; its addresses are tried in the order the system
    /// prefers, each with a non-blocking `connect`. The timeout covers resolution and every
    /// attempt. On success the handler is made and told ``TCPConnectionHandler/connectionActive(_:)``
    /// before `completion` runs.
    ///
    /// - Parameters:
    ///   - host: A host name or numeric address, without brackets.
    ///   - port: The TCP port.
    ///   - loop: The loop that will own the connection.
    ///   - configuration: The connection's limits and timeouts.
    ///   - timeout: How long to try before failing with `ETIMEDOUT`.
    ///   - makeHandler: Makes the connection's handler, on the loop's thread; the handler
    ///     uses the connection from ``TCPConnectionHandler/connectionActive(_:)`` on.
    ///   - completion: Called once, on the loop's thread; or on the caller's when the loop has
    ///     shut down. Failures are ``SystemError``s such as `ECONNREFUSED` or `ETIMEDOUT`.
    public static func connect(
        host: String,
        port: UInt16,
        on loop: EventLoop,
        configuration: Configuration = Configuration(),
        timeout: Duration = .seconds(10),
        handler makeHandler: @escaping @Sendable (TCPConnection) -> any TCPConnectionHandler,
        completion: @escaping @Sendable (Result<TCPConnection, SystemError>) -> Void
    ) {
        let accepted = loop.execute {
            let connector = TCPConnector(
                eventLoop: loop, configuration: configuration, makeHandler: makeHandler, completion: completion)
            connector.start(host: host, port: port, timeout: timeout)
        }
        if !accepted {
            completion(.failure(EventLoop.shutdownError("connect")))
        }
    }

    /// Opens a connection to `host:port` on `loop`, as the completion-handler form does.
    ///
    /// - Returns: The connection, already active with its handler.
    /// - Throws: ``SystemError``, such as `ECONNREFUSED`, or `ETIMEDOUT` once `timeout` passed.
    public static func connect(
        host: String,
        port: UInt16,
        on loop: EventLoop,
        configuration: Configuration = Configuration(),
        timeout: Duration = .seconds(10),
        handler makeHandler: @escaping @Sendable (TCPConnection) -> any TCPConnectionHandler
    ) async throws(SystemError) -> TCPConnection {
        let result = await withCheckedContinuation { continuation in
            Self.connect(
                host: host, port: port, on: loop, configuration: configuration, timeout: timeout,
                handler: makeHandler, completion: { continuation.resume(returning: $0) })
        }
        return try result.get()
    }
}
