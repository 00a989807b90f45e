import GnomonCore
import GnomonProtocol
import Synchronization

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
    private let limits: ProtocolLimits
    private var calls: [UInt64: PendingCall] = [:]
    /// Streams whose REQUEST went out and whose call is not over yet.
    private var sentStreams: Set<UInt64> = []
    /// REQUESTs held back while the server's limit of open streams is reached.
    private var heldRequests = HeldRequests()
    private var channel: SecureChannel?
    private var outbound: [UInt8] = []
    private var tickTimer: TimerID?
    private var tickInterval = Duration.zero
    private var activation: CheckedContinuation<Void, any Error>?
    /// Why the connection closed, for a caller that starts waiting only afterwards.
    private var closeReason: String?
    let eventLoop: EventLoop

    init(limits: ProtocolLimits, eventLoop: EventLoop) {
        self.decoder = FrameDecoder(limits: limits)
        self.encoder = FrameEncoder(limits: limits)
        self.machine = ClientConnectionStateMachine(limits: limits, now: .now)
        self.limits = limits
        self.eventLoop = eventLoop
    }

    /// Whether new calls may start on this connection, as of the loop's last change; any thread.
    ///
    /// A call that starts just as the connection stops accepting fails with `UNAVAILABLE`.
    var acceptsNewCalls: Bool {
        self.accepting.load(ordering: .acquiring)
    }

    /// ``acceptsNewCalls``, published by the loop so callers need not hop there to ask.
    private let accepting = Atomic<Bool>(false)

    private func publishAcceptance() {
        self.accepting.store(self.channel != nil && self.machine.acceptsNewCalls, ordering: .releasing)
    }

    /// Waits for the TLS handshake, or throws why the connection failed.
    func waitUntilActive() async throws {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = self.eventLoop.execute {
                if self.channel != nil {
                    continuation.resume()
                } else if self.machine.isClosed {
                    let reason = self.closeReason ?? "the connection closed"
                    continuation.resume(throwing: CallStatus(code: .unavailable, message: reason))
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
        self.tickSoonIfIdle()
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
        self.publishAcceptance()
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
        self.closeReason = reason
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
        self.closeReason = "cannot connect: \(error)"
        self.activation?.resume(throwing: CallStatus(code: .unavailable, message: "cannot connect: \(error)"))
        self.activation = nil
    }

    // MARK: - Actions

    private func perform(_ actions: [ClientConnectionStateMachine.Action]) {
        defer { self.publishAcceptance() }
        for action in actions {
            switch action {
            case .send(let frame):
                self.send(frame)

            case .deliverResponse(let streamID, let payload):
                if case .unary(let continuation) = self.calls.removeValue(forKey: streamID) {
                    continuation.resume(returning: .success(payload))
                }
                self.callEnded(streamID)

            case .deliverStreamMessage(let streamID, let payload):
                if case .streaming(let continuation) = self.calls[streamID] {
                    continuation.yield(payload)
                }

            case .finishStream(let streamID):
                if case .streaming(let continuation) = self.calls.removeValue(forKey: streamID) {
                    continuation.finish()
                }
                self.callEnded(streamID)

            case .failCall(let streamID, let status):
                self.calls.removeValue(forKey: streamID).map { Self.fail($0, status) }
                self.callEnded(streamID)

            case .close:
                self.flush()
                self.channel?.close()
            }
        }
    }

    /// Sends a frame, holding a REQUEST back while the server's limit of open streams is reached.
    ///
    /// The server refuses a stream beyond its limit with `RESOURCE_EXHAUSTED`; waiting for a
    /// call to end instead lets a burst of calls share the connection. REQUESTs leave in
    /// stream order, and a CANCEL for one still held is not sent, since the server never saw it.
    private func send(_ frame: V1.Frame) {
        switch frame.kind {
        case .request where !self.heldRequests.isEmpty || self.sentStreams.count >= self.streamLimit:
            self.heldRequests.hold(frame, now: .now)
        case .cancel where self.heldRequests.remove(frame.streamID):
            break
        default:
            self.write(frame)
        }
    }

    /// Encodes a frame for the next flush; a REQUEST that cannot be framed fails its call alone.
    private func write(_ frame: V1.Frame) {
        do {
            try self.encoder.encode(frame, into: &self.outbound)
            if frame.kind == .request {
                self.sentStreams.insert(frame.streamID)
            }
        } catch {
            self.requestUnsendable(frame, error)
        }
    }

    /// Forgets a call that is over, and sends the REQUESTs its stream made room for.
    private func callEnded(_ streamID: UInt64) {
        _ = self.heldRequests.remove(streamID)
        guard self.sentStreams.remove(streamID) != nil, !self.machine.isClosed else {
            return
        }
        while self.sentStreams.count < self.streamLimit, let frame = self.heldRequests.next(now: .now) {
            self.write(frame)
        }
    }

    private var streamLimit: Int {
        max(1, self.machine.limits.maximumConcurrentStreams)
    }

    /// Fails a call whose REQUEST cannot be framed, and leaves the connection as it was.
    ///
    /// The server never heard of the stream, so the machine's CANCEL for it is not sent: a
    /// CANCEL for a stream never opened breaks the protocol and would close the connection.
    private func requestUnsendable(_ frame: V1.Frame, _ error: FrameEncodingError) {
        guard frame.kind == .request else {
            return
        }
        let streamID = frame.streamID
        let status = CallStatus(code: .invalidArgument, message: "the request cannot be sent: \(error.message)")
        let rest = self.machine.callCancelled(streamID: streamID).filter { action in
            switch action {
            case .send(let cancel) where cancel.streamID == streamID:
                return false
            case .failCall(let failed, _) where failed == streamID:
                return false
            default:
                return true
            }
        }
        self.calls.removeValue(forKey: streamID).map { Self.fail($0, status) }
        self.perform(rest)
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
        let interval = self.limits.tickInterval(openCalls: self.machine.openCallCount)
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

/// REQUESTs waiting for a stream, in the order they must go out, each removable by stream id.
private struct HeldRequests {
    private var frames: [UInt64: (frame: V1.Frame, since: ContinuousClock.Instant)] = [:]
    private var order: [UInt64] = []
    private var start = 0

    var isEmpty: Bool {
        self.frames.isEmpty
    }

    mutating func hold(_ frame: V1.Frame, now: ContinuousClock.Instant) {
        self.frames[frame.streamID] = (frame, now)
        self.order.append(frame.streamID)
    }

    /// Drops a REQUEST still held; `false` when it was not held.
    mutating func remove(_ streamID: UInt64) -> Bool {
        self.frames.removeValue(forKey: streamID) != nil
    }

    /// The oldest REQUEST held, its timeout shortened by the time it waited.
    mutating func next(now: ContinuousClock.Instant) -> V1.Frame? {
        while self.start < self.order.count {
            let streamID = self.order[self.start]
            self.start += 1
            guard let held = self.frames.removeValue(forKey: streamID) else {
                continue
            }
            var frame = held.frame
            if self.start * 2 > self.order.count {
                self.order.removeFirst(self.start)
                self.start = 0
            }
            if let timeout = frame.metadata?.timeoutMs, timeout > 0 {
                let waited = Int64((now - held.since) / .milliseconds(1))
                frame.metadata?.timeoutMs = max(1, timeout - waited)
            }
            return frame
        }
        self.order.removeAll(keepingCapacity: true)
        self.start = 0
        return nil
    }
}
