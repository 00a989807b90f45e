import GnomonCore
public import GnomonProtocol

/// A call as its handler sees it: the method, the request, who asked and until when.
public struct IncomingCall: Sendable {
    /// The method called.
    public var method: MethodDescriptor
    /// Credentials, trace context, idempotency key.
    public var metadata: V1.CallMetadata
    /// The serialized request message.
    public var payload: [UInt8]
    /// When the server abandons the call; `nil` for never.
    public var deadline: ContinuousClock.Instant?
    /// The client's address, as `host:port`.
    public var peerAddress: String
    /// The subject of the client's certificate, under mutual TLS.
    public var peerCertificateSubject: String?
}

/// Runs the calls of every connection of an ``RPCServer``.
///
/// Handlers run as Swift tasks, never on the I/O threads; a task is cancelled when its call is
/// cancelled, passes its deadline or loses its connection.
public protocol RPCDispatcher: Sendable {
    /// Answers a unary call with the serialized response, or a status that is not OK.
    func unary(_ call: IncomingCall) async -> Result<[UInt8], CallStatus>

    /// Runs a server-streaming call, sending messages through `send`, and returns its final status.
    ///
    /// `send` returns `false` once the call has ended (cancelled or closed); stop then.
    func serverStreaming(_ call: IncomingCall, send: @escaping @Sendable ([UInt8]) async -> Bool) async -> CallStatus
}

/// One client connection of the RPC server: frames in, calls out, answers back.
///
/// Lives on its connection's event loop; every member is used on that thread only.
final class RPCServerConnection: SecureChannelHandler, @unchecked Sendable {
    private var decoder: FrameDecoder
    private let encoder: FrameEncoder
    private var machine: ServerConnectionStateMachine
    private let limits: ProtocolLimits
    private let dispatcher: any RPCDispatcher
    private let logger: Logger
    private let registry: ConnectionRegistry
    private var channel: SecureChannel?
    private var handlers: [UInt64: Task<Void, Never>] = [:]
    /// Streaming handlers waiting for room in the write buffer, by stream.
    private var blockedSenders: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    private var tickTimer: TimerID?
    private var tickInterval = Duration.zero
    private var outbound: [UInt8] = []
    /// The largest answer that fits in a frame with room for the frame's other fields.
    private let maximumPayload: Int

    init(limits: ProtocolLimits, dispatcher: any RPCDispatcher, registry: ConnectionRegistry, logger: Logger) {
        self.maximumPayload = limits.maximumFrameLength - 1_024
        self.decoder = FrameDecoder(limits: limits)
        self.encoder = FrameEncoder(limits: limits)
        self.machine = ServerConnectionStateMachine(limits: limits, now: .now)
        self.limits = limits
        self.dispatcher = dispatcher
        self.registry = registry
        self.logger = logger
    }

    // MARK: - SecureChannelHandler

    func channelActive(_ channel: SecureChannel) {
        self.channel = channel
        // The handshake had its own timeout; the first frame's starts now, so a slow handshake
        // does not eat into the client's time to send it.
        self.machine = ServerConnectionStateMachine(limits: self.limits, now: .now)
        let isServing = self.registry.add(self, loop: channel.eventLoop)
        self.scheduleTick()
        if !isServing {
            // Accepted before the server began shutting down, and past the handshake only after.
            self.beginGracefulShutdown()
        }
    }

    func plaintextReceived(_ bytes: UnsafeRawBufferPointer, on channel: SecureChannel) {
        self.decoder.append(bytes)
        while !self.machine.isClosed {
            let frame: V1.Frame?
            do {
                frame = try self.decoder.nextFrame()
            } catch {
                self.logger.info("closing a connection that broke the protocol", [LogKey.error: error.message])
                self.perform(self.machine.frameDecodingFailed(error))
                return
            }
            guard let frame else {
                break
            }
            self.perform(self.machine.frameReceived(frame, now: .now))
        }
        self.flush()
    }

    func writabilityChanged(isWritable: Bool, on channel: SecureChannel) {
        // A client that does not read its answers stops being read from, and streamed to.
        channel.setReadingPaused(!isWritable)
        if isWritable {
            let blocked = self.blockedSenders.values
            self.blockedSenders.removeAll()
            for sender in blocked {
                sender.resume(returning: true)
            }
        }
    }

    func channelClosed(_ error: (any Error)?, on channel: SecureChannel) {
        if self.channel == nil, let error {
            let fields = [LogKey.address: "\(channel.connection.remoteAddress)", LogKey.error: "\(error)"]
            if error is TLSError {
                // Plaintext, a missing ALPN or an untrusted certificate: one line, then nothing more.
                self.logger.info("refused a connection whose TLS handshake failed", fields)
            } else {
                // A peer that hung up mid-handshake, such as a port check: nothing was refused.
                self.logger.debug("a connection closed during its TLS handshake", fields)
            }
        }
        _ = self.machine.connectionClosed()
        for streamID in Array(self.handlers.keys) {
            self.stopHandler(streamID: streamID)
        }
        self.registry.remove(self)
        self.channel = nil
    }

    /// Sends GOAWAY and lets calls in flight finish; loop thread only.
    func beginGracefulShutdown() {
        self.perform(self.machine.beginGracefulShutdown())
        self.flush()
    }

    /// Closes at once, cancelling calls in flight; loop thread only.
    func closeNow() {
        self.channel?.close()
    }

    // MARK: - Actions

    private func perform(_ actions: [ServerConnectionStateMachine.Action]) {
        for action in actions {
            switch action {
            case .send(let frame):
                self.enqueue(frame)

            case .deliverRequest(let request):
                self.start(request)
                self.tickSoonIfIdle()

            case .cancelHandler(let streamID, _):
                self.stopHandler(streamID: streamID)

            case .close(let reason):
                self.flush()
                // Decoding failures were logged where they were found; other breaches are logged here.
                if reason.code == .protocolViolation {
                    self.logger.info("closing a connection that broke the protocol", [LogKey.error: reason.description])
                } else if reason.code != .drained {
                    self.logger.debug("closing a connection", [LogKey.error: reason.description])
                }
                self.channel?.close()
            }
        }
    }

    private func enqueue(_ frame: V1.Frame) {
        do {
            try self.encoder.encode(frame, into: &self.outbound)
        } catch {
            // A handler's answer too large for a frame fails its call, not the connection.
            let status = CallStatus(code: .internal, message: "the answer could not be framed: \(error.message)")
            self.perform(self.machine.handlerFinished(streamID: frame.streamID, status: status))
        }
    }

    /// Cancels a handler's task and wakes it if it waits to send; loop thread only.
    private func stopHandler(streamID: UInt64) {
        self.handlers.removeValue(forKey: streamID)?.cancel()
        self.blockedSenders.removeValue(forKey: streamID)?.resume(returning: false)
    }

    private func flush() {
        guard !self.outbound.isEmpty, let channel = self.channel else {
            return
        }
        channel.write(self.outbound)
        self.outbound.removeAll(keepingCapacity: self.outbound.capacity <= 65_536)
    }

    private func start(_ request: ServerConnectionStateMachine.Request) {
        guard let channel = self.channel else {
            return
        }
        let call = IncomingCall(
            method: request.method,
            metadata: request.metadata,
            payload: request.payload,
            deadline: request.deadline,
            peerAddress: "\(channel.connection.remoteAddress)",
            peerCertificateSubject: channel.session.peerCertificateSubject
        )
        let loop = channel.eventLoop
        let streamID = request.streamID
        let dispatcher = self.dispatcher
        switch request.method.kind {
        case .unary:
            self.handlers[streamID] = Task {
                let result = await dispatcher.unary(call)
                _ = loop.execute { self.unaryFinished(streamID: streamID, result: result) }
            }

        case .serverStreaming:
            self.handlers[streamID] = Task {
                let status = await dispatcher.serverStreaming(call) { payload in
                    await self.sendStreamMessage(streamID: streamID, payload: payload, loop: loop)
                }
                _ = loop.execute { self.streamFinished(streamID: streamID, status: status) }
            }
        }
    }

    private func unaryFinished(streamID: UInt64, result: Result<[UInt8], CallStatus>) {
        guard self.handlers.removeValue(forKey: streamID) != nil else {
            return
        }
        switch result {
        case .success(let payload) where payload.count > self.maximumPayload:
            self.perform(self.machine.handlerFinished(streamID: streamID, status: self.tooLarge(payload.count)))
        case .success(let payload):
            self.perform(self.machine.handlerResponded(streamID: streamID, payload: payload))
        case .failure(let status):
            self.perform(self.machine.handlerFinished(streamID: streamID, status: status))
        }
        self.flush()
    }

    private func streamFinished(streamID: UInt64, status: CallStatus) {
        guard self.handlers.removeValue(forKey: streamID) != nil else {
            return
        }
        self.perform(self.machine.handlerFinished(streamID: streamID, status: status))
        self.flush()
    }

    private func sendStreamMessage(streamID: UInt64, payload: [UInt8], loop: EventLoop) async -> Bool {
        await withCheckedContinuation { continuation in
            let accepted = loop.execute {
                guard self.handlers[streamID] != nil else {
                    continuation.resume(returning: false)
                    return
                }
                guard payload.count <= self.maximumPayload else {
                    self.handlers.removeValue(forKey: streamID)?.cancel()
                    self.perform(self.machine.handlerFinished(streamID: streamID, status: self.tooLarge(payload.count)))
                    self.flush()
                    continuation.resume(returning: false)
                    return
                }
                self.perform(self.machine.handlerSentStreamMessage(streamID: streamID, payload: payload))
                self.flush()
                guard self.handlers[streamID] != nil else {
                    continuation.resume(returning: false)
                    return
                }
                if self.channel?.isWritable ?? false {
                    continuation.resume(returning: true)
                } else {
                    // The client reads slower than the handler writes: the handler waits for room.
                    self.blockedSenders[streamID] = continuation
                }
            }
            if !accepted {
                continuation.resume(returning: false)
            }
        }
    }

    private func tooLarge(_ count: Int) -> CallStatus {
        CallStatus(
            code: .internal,
            message: "the server's answer of \(count) bytes exceeds the largest frame; ask for less at a time"
        )
    }

    private func scheduleTick() {
        guard let channel = self.channel else {
            return
        }
        let interval = self.limits.tickInterval(openCalls: self.machine.openStreamCount)
        self.tickInterval = interval
        self.tickTimer = channel.connection.scheduleTimer(after: interval) { [weak self] in
            guard let self, !self.machine.isClosed else {
                return
            }
            self.perform(self.machine.tick(now: .now))
            self.flush()
            self.scheduleTick()
        }
    }

    /// Brings the next tick within the busy interval once a call opens on an idle connection,
    /// so its deadline is checked on time.
    private func tickSoonIfIdle() {
        guard let channel = self.channel, let timer = self.tickTimer,
            self.tickInterval > self.limits.tickInterval(openCalls: 1)
        else {
            return
        }
        _ = channel.connection.cancelTimer(timer)
        self.scheduleTick()
    }
}
