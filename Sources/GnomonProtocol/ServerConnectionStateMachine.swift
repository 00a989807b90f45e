/// The server's side of one connection: its streams, timeouts and the rules the client must keep.
///
/// The machine does no I/O and reads no clock: the connection feeds it events, with the time
/// where it matters, and carries out the actions each event returns.
///
/// Streams:
/// - The client opens a stream with a REQUEST frame on a new odd stream id, higher than every
///   id it used before on the connection. The request carries the whole request message, so the
///   client's half of the stream closes at once; the server's half stays open until it ends the
///   call. Stream 0 is the connection and carries only PING and GOAWAY.
/// - A unary call ends with exactly one RESPONSE: a payload, or a status that is not OK. A
///   server-streaming call sends any number of STREAM_MESSAGE frames and ends with END.
/// - Before running a call the server may refuse it with a RESPONSE carrying a status, whatever
///   the method's kind: `UNIMPLEMENTED` for an unknown method, `RESOURCE_EXHAUSTED` beyond the
///   maximum of concurrent streams, `UNAVAILABLE` after GOAWAY, `INVALID_ARGUMENT` for a negative
///   timeout. The connection stays up.
/// - The client may CANCEL an open stream; the server stops the handler and sends nothing more
///   on it. A CANCEL for a stream that has already ended is ignored, since the two can cross.
/// - A request's `timeout_ms` sets a deadline from when the request arrives; when it passes the
///   handler is stopped and the call ends with `DEADLINE_EXCEEDED`.
///
/// Connection:
/// - A PING without ack is answered with a PING with ack and the same data.
/// - A GOAWAY from the client means it opens no more streams; the server closes once the
///   open streams have ended.
/// - ``beginGracefulShutdown()`` sends GOAWAY(SHUTDOWN) with the highest stream id seen; later
///   requests are refused with `UNAVAILABLE`, open streams finish, then the connection closes.
/// - With no frame within the first-frame timeout the connection closes without a word. With no
///   open stream and no frame other than PING for the idle timeout, it sends GOAWAY(IDLE_TIMEOUT)
///   and closes.
/// - A frame of unspecified or unknown kind, a frame on stream 0 other than PING and GOAWAY, a
///   PING or GOAWAY on another stream, a RESPONSE, STREAM_MESSAGE or END from the client, a
///   REQUEST on an even, reused or lower stream id, or a CANCEL for a stream never opened breaks
///   the protocol: the server sends GOAWAY(PROTOCOL_ERROR) with the reason, stops every handler
///   and closes. A frame too large or not a frame at all is handled alike, through
///   ``frameDecodingFailed(_:)``.
public struct ServerConnectionStateMachine: Sendable {
    /// Where the connection is in its life.
    enum Phase: Sendable, Hashable {
        /// Opened at the instant given; no frame has arrived yet.
        case awaitingFirstFrame(since: ContinuousClock.Instant)
        /// Accepting new streams.
        case active
        /// A GOAWAY was sent or received: open streams finish, new ones are refused.
        case draining
        /// Closed; every later event does nothing.
        case closed
    }

    /// One stream whose call is running.
    struct OpenStream: Sendable, Hashable {
        var method: MethodDescriptor
        var deadline: ContinuousClock.Instant?
        var timeoutMilliseconds: Int64
    }

    /// The limits and timeouts this machine enforces.
    public let limits: ProtocolLimits

    var phase: Phase
    var streams: [UInt64: OpenStream] = [:]
    var highestStreamID: UInt64 = 0
    var idleSince: ContinuousClock.Instant?
    var keepalive: KeepaliveStateMachine

    /// How many requests were refused because the maximum of streams was open.
    public internal(set) var refusedStreamCount = 0

    /// Creates the machine for a connection accepted at `now`.
    ///
    /// - Parameters:
    ///   - limits: The limits and timeouts to enforce.
    ///   - now: When the connection was accepted; the first-frame timeout starts here.
    public init(limits: ProtocolLimits = ProtocolLimits(), now: ContinuousClock.Instant) {
        self.limits = limits
        self.phase = .awaitingFirstFrame(since: now)
        self.idleSince = now
        self.keepalive = KeepaliveStateMachine(limits: limits, now: now)
    }

    /// How many streams have a call running.
    public var openStreamCount: Int {
        self.streams.count
    }

    /// Whether a new request would be run, limits permitting, rather than refused as too late.
    public var acceptsNewStreams: Bool {
        switch self.phase {
        case .awaitingFirstFrame, .active: return true
        case .draining, .closed: return false
        }
    }

    /// Whether the machine has closed the connection.
    public var isClosed: Bool {
        self.phase == .closed
    }

    /// Handles a frame from the client.
    ///
    /// - Parameters:
    ///   - frame: The frame, as the decoder returned it.
    ///   - now: When it arrived.
    /// - Returns: What to do, in order.
    public mutating func frameReceived(_ frame: V1.Frame, now: ContinuousClock.Instant) -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        if case .awaitingFirstFrame = self.phase {
            self.phase = .active
        }
        self.keepalive.frameReceived(now: now)

        let actions: [Action]
        if !frame.kind.isKnown {
            actions = self.protocolViolated("a frame of kind \(frame.kind.name) on stream \(frame.streamID)")
        } else if frame.streamID == V1.Frame.connectionStreamID {
            actions = self.connectionFrameReceived(frame)
        } else {
            actions = self.streamFrameReceived(frame, now: now)
        }
        if frame.kind != .ping {
            // Pings keep a connection alive but are not work: a client that only pings is idle.
            self.idleSince = self.streams.isEmpty ? now : nil
        }
        return actions
    }

    /// Handles a decoding error: the bytes can no longer be read as frames.
    ///
    /// - Parameter error: What the decoder threw.
    /// - Returns: A GOAWAY, the handlers to stop and the close.
    public mutating func frameDecodingFailed(_ error: FrameDecodingError) -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        let tooLarge = error.code == .frameTooLarge
        return self.closeForPeerError(
            goAwayReason: tooLarge ? .frameTooLarge : .protocolError,
            closeCode: tooLarge ? .frameTooLarge : .malformedFrame,
            message: error.message
        )
    }

    /// Handles the connection closing underneath the machine: every handler is stopped.
    ///
    /// - Returns: The handlers to stop.
    public mutating func connectionClosed() -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        self.phase = .closed
        return self.cancelAllHandlers(CallStatus(code: .unavailable, message: "the connection closed"))
    }

    /// Starts a graceful drain: no new streams, open ones finish, then the connection closes.
    ///
    /// - Returns: A GOAWAY(SHUTDOWN), and the close when no stream is open.
    public mutating func beginGracefulShutdown() -> [Action] {
        guard self.acceptsNewStreams else {
            return []
        }
        self.phase = .draining
        let goAway = V1.Frame.makeGoAway(
            reason: .shutdown,
            lastStreamID: self.highestStreamID,
            message: "the server is shutting down; calls in flight finish, new calls go to another connection"
        )
        return [.send(goAway)] + self.closeIfDrained()
    }
}
