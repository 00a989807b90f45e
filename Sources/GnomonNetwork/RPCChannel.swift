public import GnomonProtocol
import Synchronization

/// A client's way to a server: one TLS connection that many calls share, made again when lost.
///
/// Calls from any task are multiplexed on the connection. When it drops, calls in flight fail
/// with `UNAVAILABLE`, and the next call connects again after an exponential backoff with
/// jitter. Cancelling a task cancels its call on the server too.
public final class RPCChannel: Sendable {
    /// Where the server is and how to reach it.
    public struct Configuration: Sendable {
        public var host: String
        public var port: UInt16
        /// The name the server's certificate must be valid for; the host by default.
        public var serverName: String?
        public var limits: ProtocolLimits
        public var connectTimeout: Duration
        /// The first and the longest wait before reconnecting after failures.
        public var initialReconnectDelay: Duration
        public var maximumReconnectDelay: Duration

        /// Creates a configuration.
        public init(
            host: String,
            port: UInt16,
            serverName: String? = nil,
            limits: ProtocolLimits = ProtocolLimits(),
            connectTimeout: Duration = .seconds(10),
            initialReconnectDelay: Duration = .milliseconds(100),
            maximumReconnectDelay: Duration = .seconds(10)
        ) {
            self.host = host
            self.port = port
            self.serverName = serverName
            self.limits = limits
            self.connectTimeout = connectTimeout
            self.initialReconnectDelay = initialReconnectDelay
            self.maximumReconnectDelay = maximumReconnectDelay
        }
    }

    private struct State {
        var connection: RPCClientConnection?
        var failures = 0
        var retryAfter: ContinuousClock.Instant?
        var closed = false
    }

    private let configuration: Configuration
    private let tls: TLSClientContext
    private let group: EventLoopGroup
    private let state = Mutex(State())

    /// Creates a channel; nothing connects until the first call.
    public init(configuration: Configuration, tls: TLSClientContext, group: EventLoopGroup) {
        self.configuration = configuration
        self.tls = tls
        self.group = group
    }

    /// Makes a unary call.
    ///
    /// - Parameters:
    ///   - method: The method, from ``MethodDescriptor``.
    ///   - payload: The serialized request.
    ///   - metadata: Credentials, idempotency key and trace context.
    ///   - deadline: When to give up; the server is told, and gives up too.
    /// - Returns: The serialized response.
    /// - Throws: ``CallStatus`` with the server's status, or `UNAVAILABLE`, `DEADLINE_EXCEEDED`
    ///   or `CANCELLED` from the client's side.
    public func unary(
        _ method: MethodDescriptor,
        payload: [UInt8],
        metadata: V1.CallMetadata = V1.CallMetadata(),
        deadline: ContinuousClock.Instant? = nil
    ) async throws(CallStatus) -> [UInt8] {
        let connection = try await self.connection(deadline: deadline)
        let streamID = Mutex<UInt64?>(nil)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let accepted = connection.eventLoop.execute {
                    let id = connection.start(
                        method: method, metadata: metadata, payload: payload, deadline: deadline,
                        pending: .unary(continuation))
                    streamID.withLock { $0 = id }
                }
                if !accepted {
                    continuation.resume(
                        returning: .failure(CallStatus(code: .unavailable, message: "the client is shut down")))
                }
            }
        } onCancel: {
            _ = connection.eventLoop.execute {
                if let id = streamID.withLock({ $0 }) {
                    connection.cancel(streamID: id)
                }
            }
        }
        return try result.get()
    }

    /// Closes the connection; calls in flight fail with `UNAVAILABLE`, later calls too.
    public func close() {
        let connection = self.state.withLock { state in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        if let connection {
            _ = connection.eventLoop.execute { connection.close() }
        }
    }

    /// The current connection, or a new one once the backoff allows.
    private func connection(deadline: ContinuousClock.Instant?) async throws(CallStatus) -> RPCClientConnection {
        while true {
            let (current, closed, retryAfter) = self.state.withLock { ($0.connection, $0.closed, $0.retryAfter) }
            if closed {
                throw CallStatus(code: .unavailable, message: "the channel is closed")
            }
            if let current, await Self.isUsable(current) {
                return current
            }
            if let retryAfter, retryAfter > .now {
                if let deadline, deadline < retryAfter {
                    throw CallStatus(code: .unavailable, message: "the server is unreachable; retrying later")
                }
                try? await Task.sleep(until: retryAfter, clock: .continuous)
            }
            if Task.isCancelled {
                throw CallStatus(code: .cancelled, message: "the call was cancelled by the caller")
            }
            do {
                let connection = try await self.connect()
                self.state.withLock { state in
                    state.connection = connection
                    state.failures = 0
                    state.retryAfter = nil
                }
                return connection
            } catch {
                let delay = self.state.withLock { state in
                    state.failures += 1
                    let delay = self.backoff(failures: state.failures)
                    state.retryAfter = .now + delay
                    return delay
                }
                _ = delay
                throw error
            }
        }
    }

    private func connect() async throws(CallStatus) -> RPCClientConnection {
        let loop = self.group.next()
        let client = RPCClientConnection(limits: self.configuration.limits, eventLoop: loop)
        let session: TLSSession
        do {
            session = try self.tls.makeClientSession(
                serverName: self.configuration.serverName ?? self.configuration.host)
        } catch {
            throw CallStatus(code: .unavailable, message: "cannot start TLS: \(error)")
        }
        let holder = SessionHolder(session)
        do {
            _ = try await TCPConnection.connect(
                host: self.configuration.host,
                port: self.configuration.port,
                on: loop,
                timeout: self.configuration.connectTimeout
            ) { connection in
                SecureChannel(connection: connection, session: holder.take(), handler: client)
            }
        } catch {
            throw CallStatus(
                code: .unavailable,
                message: "cannot connect to \(self.configuration.host):\(self.configuration.port): \(error)")
        }
        do {
            try await client.waitUntilActive()
        } catch let status as CallStatus {
            throw status
        } catch {
            throw CallStatus(code: .unavailable, message: "\(error)")
        }
        return client
    }

    private static func isUsable(_ connection: RPCClientConnection) async -> Bool {
        (try? await connection.eventLoop.submit { connection.acceptsNewCalls }) ?? false
    }

    /// Exponential in the failures so far, capped, with up to half of it taken off at random.
    private func backoff(failures: Int) -> Duration {
        let initial = self.configuration.initialReconnectDelay
        let exponent = min(failures - 1, 16)
        let delay = min(initial * (1 << exponent), self.configuration.maximumReconnectDelay)
        return delay * Double.random(in: 0.5...1.0)
    }
}

/// Hands a session created off the loop to the channel made on it.
private final class SessionHolder: @unchecked Sendable {
    private var session: TLSSession?

    init(_ session: TLSSession) {
        self.session = session
    }

    func take() -> TLSSession {
        defer { self.session = nil }
        return self.session!
    }
}
