import GnomonCore
import GnomonProtocol

/// What a client call is waiting for: one answer, or a stream of messages.
enum PendingCall {
    case unary(CheckedContinuation<Result<[UInt8], CallStatus>, Never>)
    case streaming(AsyncThrowingStream<[UInt8], any Error>.Continuation)
}

/// One client connection: calls out, frames in, answers back to the waiting tasks.
///
/// Lives on its connection's event loop; every member is used on that thread only, except
/// where a method says it hops there.
final class RPCClientConnection: SecureChannelHandler, @unchecked Sendable {
    private var decoder: FrameDecoder
    private let encoder: FrameEncoder
    private var machine: ClientConnectionStateMachine
    private var calls: [UInt64: PendingCall] = [:]
    private var channel: SecureChannel?
    private var outbound: [UInt8] = []
    private var tickTimer: TimerID?
    private var activation: CheckedContinuation<Void, any Error>?
    let eventLoop: EventLoop

    init(limits: ProtocolLimits, eventLoop: EventLoop) {
        self.decoder = FrameDecoder(limits: limits)
        self.encoder = FrameEncoder(limits: limits)
        self.machine = ClientConnectionStateMachine(limits: limits, now: .now)
        self.eventLoop = eventLoop
    }

    /// Whether new calls may start on this connection; loop thread only.
    var acceptsNewCalls: Bool {
        self.channel != nil && self.machine.acceptsNewCalls
    }

    /// Waits for the TLS handshake, or throws why the connection failed.
    func waitUntilActive() async throws {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = self.eventLoop.execute {
                if self.channel != nil {
                    continuation.resume()
                } else if self.machine.isClosed {
                    continuation.resume(throwing: CallStatus(code: .unavailable, message: "the connection closed"))
                } else {
                    self.activation = continuation
                }
            }
            if !accepted {
                continuation.resume(throwing: CallStatus(code: .unavailable, message: "the client is shut down"))
            }
        }
    }

    /// Starts a call on this connection; loop thread only.
    func start(
        method: MethodDescriptor,
        metadata: V1.CallMetadata,
        payload: [UInt8],
        deadline: ContinuousClock.Instant?,
        pending: PendingCall
    ) -> UInt64 {
        let (streamID, actions) = self.machine.callStarted(
            method: method, metadata: metadata, payload: payload, deadline: deadline, now: .now)
        self.calls[streamID] = pending
        self.perform(actions)
        self.flush()
        return streamID
    }

    /// Abandons a call; loop thread only.
    func cancel(streamID: UInt64) {
        self.perform(self.machine.callCancelled(streamID: streamID))
        self.flush()
    }

    /// Closes the connection; calls in flight fail with `UNAVAILABLE`.
    func close() {
        self.channel?.close()
    }

    // MARK: - SecureChannelHandler

    func channelActive(_ channel: SecureChannel) {
        self.channel = channel
        self.activation?.resume()
        self.activation = nil
        self.scheduleTick()
    }

    func plaintextReceived(_ bytes: UnsafeRawBufferPointer, on channel: SecureChannel) {
        self.decoder.append(bytes)
        while !self.machine.isClosed {
            let frame: V1.Frame?
            do {
                frame = try self.decoder.nextFrame()
            } catch {
                self.perform(self.machine.frameDecodingFailed(error))
                break
            }
            guard let frame else {
                break
            }
            self.perform(self.machine.frameReceived(frame, now: .now))
        }
        self.flush()
    }

    func writabilityChanged(isWritable: Bool, on channel: SecureChannel) {}

    func channelClosed(_ error: (any Error)?, on channel: SecureChannel) {
        self.channel = nil
        self.perform(self.machine.connectionLost())
        let reason = error.map { "\($0)" } ?? "the connection closed"
        self.activation?.resume(throwing: CallStatus(code: .unavailable, message: reason))
        self.activation = nil
        // Whatever the machine did not know about fails too.
        for call in self.calls.values {
            Self.fail(call, CallStatus(code: .unavailable, message: "the connection to the server was lost"))
        }
        self.calls.removeAll()
    }

    /// Called when the connection could not even be opened.
    func connectFailed(_ error: any Error) {
        _ = self.machine.connectionLost()
        self.activation?.resume(throwing: CallStatus(code: .unavailable, message: "cannot connect: \(error)"))
        self.activation = nil
    }

    // MARK: - Actions

    private func perform(_ actions: [ClientConnectionStateMachine.Action]) {
        for action in actions {
            switch action {
            case .send(let frame):
                do {
                    try self.encoder.encode(frame, into: &self.outbound)
                } catch {
                    let status = CallStatus(
                        code: .invalidArgument, message: "the request cannot be sent: \(error.message)")
                    self.perform(self.machine.callCancelled(streamID: frame.streamID))
                    self.calls.removeValue(forKey: frame.streamID).map { Self.fail($0, status) }
                }

            case .deliverResponse(let streamID, let payload):
                if case .unary(let continuation) = self.calls.removeValue(forKey: streamID) {
                    continuation.resume(returning: .success(payload))
                }

            case .deliverStreamMessage(let streamID, let payload):
                if case .streaming(let continuation) = self.calls[streamID] {
                    continuation.yield(payload)
                }

            case .finishStream(let streamID):
                if case .streaming(let continuation) = self.calls.removeValue(forKey: streamID) {
                    continuation.finish()
                }

            case .failCall(let streamID, let status):
                self.calls.removeValue(forKey: streamID).map { Self.fail($0, status) }

            case .close:
                self.flush()
                self.channel?.close()
            }
        }
    }

    private static func fail(_ call: PendingCall, _ status: CallStatus) {
        switch call {
        case .unary(let continuation):
            continuation.resume(returning: .failure(status))
        case .streaming(let continuation):
            continuation.finish(throwing: status)
        }
    }

    private func flush() {
        guard !self.outbound.isEmpty, let channel = self.channel else {
            return
        }
        channel.write(self.outbound)
        self.outbound.removeAll(keepingCapacity: self.outbound.capacity <= 65_536)
    }

    private func scheduleTick() {
        guard let channel = self.channel else {
            return
        }
        self.tickTimer = channel.connection.scheduleTimer(after: .milliseconds(100)) { [weak self] in
            guard let self, !self.machine.isClosed else {
                return
            }
            self.perform(self.machine.tick(now: .now))
            self.flush()
            self.scheduleTick()
        }
    }
}
