/// The client's side of one connection: its calls, their deadlines and the server's rules.
///
/// The machine does no I/O and reads no clock: the connection feeds it events, with the time
/// where it matters, and carries out the actions each event returns.
///
/// - Each call opens a stream with a REQUEST on the next odd stream id: 1, 3, 5 and so on.
/// - A unary call ends with one RESPONSE. A server-streaming call receives STREAM_MESSAGE frames
///   and ends with END; a RESPONSE with a status that is not OK before any message also ends it,
///   since that is how a server refuses a call whose method it may not know.
/// - A RESPONSE, STREAM_MESSAGE or END for a call already over (cancelled, past its deadline) is
///   ignored, since frames cross on the wire. For a stream never opened, or of the wrong kind for
///   the call, it breaks the protocol.
/// - A call's deadline is sent as `timeout_ms`; when it passes the call fails locally with
///   `DEADLINE_EXCEEDED` and a CANCEL tells the server to stop.
/// - After a GOAWAY from the server, calls on streams above its `last_stream_id` fail with
///   `UNAVAILABLE` (the server never ran them, so they can be retried elsewhere), new calls fail
///   likewise, and the connection closes once the remaining calls are over.
/// - A PING without ack is answered; the client pings when it has heard nothing for the
///   keepalive interval and gives up on the connection when nothing arrives within the timeout.
/// - A REQUEST or CANCEL from the server, a frame of unknown kind, and anything but PING and
///   GOAWAY on stream 0 break the protocol: the client sends GOAWAY(PROTOCOL_ERROR), fails every
///   call with `INTERNAL` and closes.
public struct ClientConnectionStateMachine: Sendable {
    /// Where the connection is in its life.
    enum Phase: Sendable, Hashable {
        /// Starting calls.
        case active
        /// A GOAWAY was sent or received: calls in flight finish, new ones fail.
        case draining
        /// Closed; every later event does nothing.
        case closed
    }

    /// One call in flight.
    struct OpenCall: Sendable, Hashable {
        var method: MethodDescriptor
        var deadline: ContinuousClock.Instant?
        var hasReceivedMessage = false
    }

    /// The limits and timeouts this machine enforces.
    public let limits: ProtocolLimits

    var phase: Phase = .active
    var calls: [UInt64: OpenCall] = [:]
    var nextStreamID: UInt64 = 1
    var keepalive: KeepaliveStateMachine

    /// Creates the machine for a connection established at `now`.
    ///
    /// - Parameters:
    ///   - limits: The limits and timeouts to enforce.
    ///   - now: When the connection was established; keepalive counts from here.
    public init(limits: ProtocolLimits = ProtocolLimits(), now: ContinuousClock.Instant) {
        self.limits = limits
        self.keepalive = KeepaliveStateMachine(limits: limits, now: now)
    }

    /// How many calls are in flight.
    public var openCallCount: Int {
        self.calls.count
    }

    /// Whether a new call would be sent rather than failed with `UNAVAILABLE`.
    public var acceptsNewCalls: Bool {
        self.phase == .active
    }

    /// Whether the machine has closed the connection, or seen it lost.
    public var isClosed: Bool {
        self.phase == .closed
    }

    /// Starts a call on a new stream.
    ///
    /// The deadline, when given, replaces the metadata's `timeout_ms`; without one a positive
    /// `timeout_ms` in the metadata sets the deadline.
    ///
    /// - Parameters:
    ///   - method: The method to call.
    ///   - metadata: The call's metadata.
    ///   - payload: The serialized request message.
    ///   - deadline: When to give up on the call; `nil` for never.
    ///   - now: The current time.
    /// - Returns: The call's stream id, and the REQUEST to send or the call's failure.
    public mutating func callStarted(
        method: MethodDescriptor,
        metadata: V1.CallMetadata,
        payload: [UInt8],
        deadline: ContinuousClock.Instant?,
        now: ContinuousClock.Instant
    ) -> (streamID: UInt64, actions: [Action]) {
        let streamID = self.nextStreamID
        self.nextStreamID += 2
        guard self.phase == .active else {
            let status = CallStatus(code: .unavailable, message: "the connection is closing; retry on a new connection")
            return (streamID, [.failCall(streamID: streamID, status: status)])
        }

        var metadata = metadata
        var deadline = deadline
        if let deadline {
            guard deadline > now else {
                let status = CallStatus(
                    code: .deadlineExceeded, message: "the deadline passed before the call was sent")
                return (streamID, [.failCall(streamID: streamID, status: status)])
            }
            metadata.timeoutMs = (deadline - now).millisecondsRoundedUp
        } else if metadata.timeoutMs > 0 {
            deadline = now + .milliseconds(metadata.timeoutMs)
        }

        self.calls[streamID] = OpenCall(method: method, deadline: deadline)
        let frame = V1.Frame.makeRequest(
            streamID: streamID,
            method: method.fullName,
            metadata: metadata,
            payload: payload
        )
        return (streamID, [.send(frame)])
    }

    /// Abandons a call: the server is told to stop, and the call fails with `CANCELLED`.
    ///
    /// - Parameter streamID: The call's stream id.
    /// - Returns: The CANCEL and the call's failure; nothing when the call is already over.
    public mutating func callCancelled(streamID: UInt64) -> [Action] {
        guard self.calls.removeValue(forKey: streamID) != nil else {
            return []
        }
        let status = CallStatus(code: .cancelled, message: "the call was cancelled by the caller")
        return [.send(.makeCancel(streamID: streamID)), .failCall(streamID: streamID, status: status)]
            + self.closeIfDrained()
    }

    /// Handles the connection being lost: every call fails with `UNAVAILABLE`.
    ///
    /// - Returns: The failures of the calls in flight.
    public mutating func connectionLost() -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        self.phase = .closed
        return self.failAllCalls(CallStatus(code: .unavailable, message: "the connection to the server was lost"))
    }

    /// Starts closing the connection: no new calls, calls in flight finish, then it closes.
    ///
    /// - Returns: A GOAWAY(SHUTDOWN), and the close when no call is in flight.
    public mutating func beginGracefulShutdown() -> [Action] {
        guard self.phase == .active else {
            return []
        }
        self.phase = .draining
        // Servers open no streams, so the client has processed none: its last stream id is 0.
        let goAway = V1.Frame.makeGoAway(reason: .shutdown, lastStreamID: 0, message: "the client is closing")
        return [.send(goAway)] + self.closeIfDrained()
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded up, at least 1 and at most `Int64.max`.
    var millisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = self.components
        let (wholeMilliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow, seconds >= 0 else {
            return seconds < 0 ? 1 : Int64.max
        }
        let fraction = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        let (total, sumOverflow) = wholeMilliseconds.addingReportingOverflow(fraction)
        return sumOverflow ? Int64.max : max(total, 1)
    }
}
