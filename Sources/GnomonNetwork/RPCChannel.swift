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
        /// The frame size, timeouts and stream limit; calls beyond the server's limit of open
        /// streams, which these limits should match, wait for a call to end.
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
        /// The connection attempt under way, which every call needing a connection waits for.
        var connecting: Task<Result<RPCClientConnection, CallStatus>, Never>?
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
        let ticket = CallTicket()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8], CallStatus>, Never>) in
                let accepted = connection.eventLoop.execute {
                    guard !ticket.isCancelled else {
                        continuation.resume(returning: .failure(CallTicket.cancelledStatus))
                        return
                    }
                    let streamID = connection.start(
                        method: method, metadata: metadata, payload: payload, deadline: deadline,
                        pending: .unary(continuation))
                    if !ticket.started(streamID, on: connection) {
                        connection.cancel(streamID: streamID)
                    }
                }
                if !accepted {
                    continuation.resume(
                        returning: .failure(CallStatus(code: .unavailable, message: "the client is shut down")))
                }
            }
        } onCancel: {
            // A task cancelled before the call started is caught by the ticket when it starts.
            if let (connection, streamID) = ticket.cancel() {
                _ = connection.eventLoop.execute { connection.cancel(streamID: streamID) }
            }
        }
        return try result.get()
    }

    /// Makes a server-streaming call.
    ///
    /// The call starts at once. Its messages arrive through the stream, which finishes when
    /// the server ends the call with OK and throws the call's ``CallStatus`` otherwise.
    /// Cancelling the task that iterates, or dropping the stream before it finishes, cancels
    /// the call on the server too.
    ///
    /// - Parameters:
    ///   - method: A server-streaming method, from ``MethodDescriptor``.
    ///   - payload: The serialized request.
    ///   - metadata: Credentials, idempotency key and trace context.
    ///   - deadline: When to give up; the server is told, and gives up too.
    /// - Returns: The serialized stream messages, in order.
    public func serverStreaming(
        _ method: MethodDescriptor,
        payload: [UInt8],
        metadata: V1.CallMetadata = V1.CallMetadata(),
        deadline: ContinuousClock.Instant? = nil
    ) -> AsyncThrowingStream<[UInt8], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let ticket = CallTicket()
        continuation.onTermination = { termination in
            guard case .cancelled = termination, let (connection, streamID) = ticket.cancel() else {
                return
            }
            _ = connection.eventLoop.execute { connection.cancel(streamID: streamID) }
        }
        Task {
            let connection: RPCClientConnection
            do {
                connection = try await self.connection(deadline: deadline)
            } catch {
                continuation.finish(throwing: error)
                return
            }
            let accepted = connection.eventLoop.execute {
                guard !ticket.isCancelled else {
                    continuation.finish(throwing: CallTicket.cancelledStatus)
                    return
                }
                let streamID = connection.start(
                    method: method, metadata: metadata, payload: payload, deadline: deadline,
                    pending: .streaming(continuation))
                if !ticket.started(streamID, on: connection) {
                    connection.cancel(streamID: streamID)
                }
            }
            if !accepted {
                continuation.finish(throwing: CallStatus(code: .unavailable, message: "the client is shut down"))
            }
        }
        return stream
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
    ///
    /// Calls that find no usable connection share one attempt to make it, so a burst of calls
    /// opens one connection rather than one each.
    private func connection(deadline: ContinuousClock.Instant?) async throws(CallStatus) -> RPCClientConnection {
        while true {
            let (current, closed, retryAfter, attempt) = self.state.withLock {
                ($0.connection, $0.closed, $0.retryAfter, $0.connecting)
            }
            if closed {
                throw CallStatus(code: .unavailable, message: "the channel is closed")
            }
            if let attempt {
                return try await Self.outcome(of: attempt, before: deadline)
            }
            if let current, current.acceptsNewCalls {
                return current
            }
            if let retryAfter, retryAfter > .now {
                if let deadline, deadline < retryAfter {
                    throw CallStatus(code: .unavailable, message: "the server is unreachable; retrying later")
                }
                try? await Task.sleep(until: retryAfter, clock: .continuous)
            }
            if Task.isCancelled {
                throw CallTicket.cancelledStatus
            }
            let started = self.state.withLock { state in
                // Another call may have connected, or started connecting, while this one looked.
                if state.connecting == nil && state.connection === current && !state.closed {
                    state.connecting = Task { await self.connectAndRecord() }
                }
                return state.connecting
            }
            if let started {
                return try await Self.outcome(of: started, before: deadline)
            }
        }
    }

    /// Waits for a shared connection attempt, but not past the call's deadline or its cancellation.
    ///
    /// The attempt goes on for the calls still waiting on it.
    private static func outcome(
        of attempt: Task<Result<RPCClientConnection, CallStatus>, Never>,
        before deadline: ContinuousClock.Instant?
    ) async throws(CallStatus) -> RPCClientConnection {
        let race = FirstOutcome<Result<RPCClientConnection, CallStatus>>()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                race.begin(continuation)
                Task { race.finish(with: await attempt.value) }
                if let deadline {
                    race.cancelWhenFinished(
                        Task {
                            try? await Task.sleep(until: deadline, clock: .continuous)
                            race.finish(with: nil)
                        })
                }
            }
        } onCancel: {
            race.finish(with: nil)
        }
        switch result {
        case .some(let outcome):
            return try outcome.get()
        case .none where Task.isCancelled:
            throw CallTicket.cancelledStatus
        case .none:
            throw CallStatus(
                code: .deadlineExceeded, message: "the call's deadline passed while connecting to the server")
        }
    }

    /// Connects, and records the outcome for the calls that follow.
    private func connectAndRecord() async -> Result<RPCClientConnection, CallStatus> {
        let result: Result<RPCClientConnection, CallStatus>
        do {
            result = .success(try await self.connect())
        } catch {
            result = .failure(error)
        }
        let unwanted = self.state.withLock { state -> RPCClientConnection? in
            state.connecting = nil
            switch result {
            case .success(let connection):
                state.failures = 0
                state.retryAfter = nil
                guard !state.closed else {
                    return connection
                }
                state.connection = connection

            case .failure:
                state.failures += 1
                state.retryAfter = .now + self.backoff(failures: state.failures)
            }
            return nil
        }
        if let unwanted {
            _ = unwanted.eventLoop.execute { unwanted.close() }
            return .failure(CallStatus(code: .unavailable, message: "the channel is closed"))
        }
        return result
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

/// Where one call stands, so that a cancellation from any thread reaches it on its loop.
private final class CallTicket: Sendable {
    private enum State {
        case waiting
        case started(RPCClientConnection, streamID: UInt64)
        case cancelled
    }

    static let cancelledStatus = CallStatus(code: .cancelled, message: "the call was cancelled by the caller")

    private let state = Mutex(State.waiting)

    /// Whether the caller cancelled before the call started.
    var isCancelled: Bool {
        self.state.withLock { state in
            if case .cancelled = state {
                return true
            }
            return false
        }
    }

    /// Records where the call runs.
    ///
    /// - Returns: `false` when the caller cancelled meanwhile: cancel the call now.
    func started(_ streamID: UInt64, on connection: RPCClientConnection) -> Bool {
        self.state.withLock { state in
            guard case .waiting = state else {
                return false
            }
            state = .started(connection, streamID: streamID)
            return true
        }
    }

    /// Records the caller's cancellation.
    ///
    /// - Returns: Where the call runs, when it has started: cancel it there.
    func cancel() -> (RPCClientConnection, UInt64)? {
        self.state.withLock { state in
            switch state {
            case .waiting:
                state = .cancelled
                return nil
            case .started(let connection, let streamID):
                return (connection, streamID)
            case .cancelled:
                return nil
            }
        }
    }
}

/// The first of several racers to finish; later ones are ignored.
private final class FirstOutcome<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value?, Never>?
        var early: Value??
        var timer: Task<Void, Never>?
    }
    private let state = Mutex(State())

    /// Keeps a task to cancel once an outcome is in; cancels it now if one already is.
    func cancelWhenFinished(_ timer: Task<Void, Never>) {
        let finished = self.state.withLock { state in
            state.timer = timer
            return state.early != nil
        }
        if finished {
            timer.cancel()
        }
    }

    /// Takes the continuation to resume, or resumes it at once if a racer already finished.
    func begin(_ continuation: CheckedContinuation<Value?, Never>) {
        let early = self.state.withLock { state -> Value?? in
            guard let early = state.early else {
                state.continuation = continuation
                return nil
            }
            return early
        }
        if let early {
            continuation.resume(returning: early)
        }
    }

    /// Records an outcome; `nil` for the deadline or cancellation.
    func finish(with value: Value?) {
        let (continuation, timer) = self.state.withLock { state in
            guard state.early == nil else {
                return (CheckedContinuation<Value?, Never>?.none, Task<Void, Never>?.none)
            }
            state.early = .some(value)
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(returning: value)
    }
}
