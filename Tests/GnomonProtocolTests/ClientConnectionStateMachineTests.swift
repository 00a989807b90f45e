import Testing

@testable import GnomonProtocol

private typealias Action = ClientConnectionStateMachine.Action

private let start = ContinuousClock.now
private let unary = MethodDescriptor.submitJob
private let streaming = MethodDescriptor.leaseJobs

/// The instant `milliseconds` after the connection opened.
private func at(_ milliseconds: Int64) -> ContinuousClock.Instant {
    start + .milliseconds(milliseconds)
}

private func makeClient(
    keepaliveInterval: Duration? = nil,
    keepaliveTimeout: Duration = .seconds(20)
) -> ClientConnectionStateMachine {
    let limits = ProtocolLimits(keepaliveInterval: keepaliveInterval, keepaliveTimeout: keepaliveTimeout)
    return ClientConnectionStateMachine(limits: limits, now: start)
}

extension ClientConnectionStateMachine {
    /// Starts a call at the start of time and returns its stream id.
    fileprivate mutating func startCall(
        _ method: MethodDescriptor = unary,
        deadline: ContinuousClock.Instant? = nil
    ) -> UInt64 {
        self.callStarted(method: method, metadata: V1.CallMetadata(), payload: [1], deadline: deadline, now: start)
            .streamID
    }
}

/// The streams whose calls the actions fail, in order, with the code of each.
private func failures(_ actions: [Action]) -> [UInt64: StatusCode] {
    var failed: [UInt64: StatusCode] = [:]
    for action in actions {
        if case .failCall(let streamID, let status) = action {
            failed[streamID] = status.code
        }
    }
    return failed
}

/// Whether the actions end with a close with this code, after a GOAWAY with this reason if given.
private func closes(_ actions: [Action], goAway reason: V1.GoAwayReason?, code: ConnectionCloseReason.Code) -> Bool {
    guard case .close(let closeReason) = actions.last, closeReason.code == code else {
        return false
    }
    guard let reason else {
        return true
    }
    guard case .send(let frame) = actions.first, frame.kind == .goaway else {
        return false
    }
    return frame.goaway?.reason == reason
}

private func violated(_ actions: [Action]) -> Bool {
    closes(actions, goAway: .protocolError, code: .protocolViolation)
}

@Suite("Client connection state machine: calls")
struct ClientConnectionCallTests {
    @Test("calls open streams 1, 3, 5 and so on with a REQUEST")
    func streamIDs() {
        var client = makeClient()
        for expected in [UInt64(1), 3, 5] {
            let (streamID, actions) = client.callStarted(
                method: unary,
                metadata: V1.CallMetadata(requestID: "r"),
                payload: [7],
                deadline: nil,
                now: start
            )
            #expect(streamID == expected)
            let frame = V1.Frame.makeRequest(
                streamID: expected,
                method: unary.fullName,
                metadata: V1.CallMetadata(requestID: "r"),
                payload: [7]
            )
            #expect(actions == [.send(frame)])
        }
        #expect(client.openCallCount == 3)
    }

    @Test("a deadline is sent as timeout_ms, rounded up to whole milliseconds")
    func deadlineSent() {
        var client = makeClient()
        let (_, actions) = client.callStarted(
            method: unary,
            metadata: V1.CallMetadata(timeoutMs: 99_999),
            payload: [],
            deadline: start + .microseconds(1_500),
            now: start
        )
        guard case .send(let frame) = actions.first else {
            Issue.record("expected a REQUEST, got \(actions)")
            return
        }
        #expect(frame.metadata?.timeoutMs == 2)
    }

    @Test("a deadline already past fails the call at once without sending it")
    func deadlinePassed() {
        var client = makeClient()
        let (streamID, actions) = client.callStarted(
            method: unary,
            metadata: V1.CallMetadata(),
            payload: [],
            deadline: at(5),
            now: at(5)
        )
        #expect(failures(actions) == [streamID: .deadlineExceeded])
        #expect(actions.count == 1)
        #expect(client.openCallCount == 0)
    }

    @Test("a timeout in the metadata sets the call's deadline")
    func metadataTimeout() {
        var client = makeClient()
        let (streamID, _) = client.callStarted(
            method: unary,
            metadata: V1.CallMetadata(timeoutMs: 100),
            payload: [],
            deadline: nil,
            now: at(10)
        )
        #expect(client.tick(now: at(109)) == [])
        #expect(failures(client.tick(now: at(110))) == [streamID: .deadlineExceeded])
    }

    @Test("a unary RESPONSE delivers the payload and ends the call")
    func unaryResponse() {
        var client = makeClient()
        let streamID = client.startCall()
        let actions = client.frameReceived(.makeResponse(streamID: streamID, payload: [4, 2]), now: at(1))
        #expect(actions == [.deliverResponse(streamID: streamID, payload: [4, 2])])
        #expect(client.openCallCount == 0)
    }

    @Test("a unary RESPONSE with a status that is not OK fails the call with it")
    func unaryFailure() {
        var client = makeClient()
        let streamID = client.startCall()
        let status = CallStatus(code: .permissionDenied, message: "no")
        let actions = client.frameReceived(.makeResponse(streamID: streamID, status: status), now: at(1))
        #expect(actions == [.failCall(streamID: streamID, status: status)])
    }

    @Test("a RESPONSE with an explicit OK status is a success")
    func explicitOK() {
        var client = makeClient()
        let streamID = client.startCall()
        let frame = V1.Frame(streamID: streamID, kind: .response, payload: [1], status: V1.Status(code: 0))
        #expect(client.frameReceived(frame, now: at(1)) == [.deliverResponse(streamID: streamID, payload: [1])])
    }

    @Test("a server-streaming call delivers its messages and finishes at END")
    func streamingCall() {
        var client = makeClient()
        let streamID = client.startCall(streaming)
        for index in 0..<3 {
            let frame = V1.Frame.makeStreamMessage(streamID: streamID, payload: [UInt8(index)])
            #expect(
                client.frameReceived(frame, now: at(1)) == [
                    .deliverStreamMessage(streamID: streamID, payload: [UInt8(index)])
                ])
        }
        #expect(client.frameReceived(.makeEnd(streamID: streamID), now: at(2)) == [.finishStream(streamID: streamID)])
        #expect(client.openCallCount == 0)
    }

    @Test("a server-streaming call ending with a status that is not OK fails")
    func streamingFailure() {
        var client = makeClient()
        let streamID = client.startCall(streaming)
        let status = CallStatus(code: .unavailable, message: "draining")
        let actions = client.frameReceived(.makeEnd(streamID: streamID, status: status), now: at(1))
        #expect(actions == [.failCall(streamID: streamID, status: status)])
    }

    @Test("a RESPONSE with a status refuses a server-streaming call before any message")
    func streamingRefused() {
        var client = makeClient()
        let streamID = client.startCall(streaming)
        let status = CallStatus(code: .resourceExhausted, message: "too many streams")
        let actions = client.frameReceived(.makeResponse(streamID: streamID, status: status), now: at(1))
        #expect(actions == [.failCall(streamID: streamID, status: status)])
        #expect(!client.isClosed)
    }

    @Test("a RESPONSE after a stream message, or with OK, breaks the protocol on a streaming call")
    func streamingResponseViolation() {
        var client = makeClient()
        let first = client.startCall(streaming)
        #expect(violated(client.frameReceived(.makeResponse(streamID: first, payload: [1]), now: at(1))))

        var other = makeClient()
        let second = other.startCall(streaming)
        _ = other.frameReceived(.makeStreamMessage(streamID: second, payload: []), now: at(1))
        let refusal = V1.Frame.makeResponse(streamID: second, status: CallStatus(code: .internal))
        #expect(violated(other.frameReceived(refusal, now: at(2))))
    }
}

@Suite("Client connection state machine: cancellation and deadlines")
struct ClientConnectionCancellationTests {
    @Test("cancelling a call sends CANCEL and fails it with CANCELLED")
    func cancel() {
        var client = makeClient()
        let streamID = client.startCall(streaming)
        let actions = client.callCancelled(streamID: streamID)
        #expect(actions.first == .send(.makeCancel(streamID: streamID)))
        #expect(failures(actions) == [streamID: .cancelled])
        #expect(client.callCancelled(streamID: streamID) == [])
        #expect(client.callCancelled(streamID: 99) == [])
    }

    @Test(
        "frames that arrive for a call already cancelled are ignored",
        arguments: [
            V1.Frame.makeStreamMessage(streamID: 1, payload: [1]),
            V1.Frame.makeEnd(streamID: 1),
            V1.Frame.makeResponse(streamID: 1, payload: [1]),
            V1.Frame.makeResponse(streamID: 1, status: CallStatus(code: .cancelled)),
        ])
    func lateFrames(frame: V1.Frame) {
        var client = makeClient()
        _ = client.startCall(streaming)
        _ = client.callCancelled(streamID: 1)
        #expect(client.frameReceived(frame, now: at(1)) == [])
        #expect(!client.isClosed)
    }

    @Test("a call past its deadline fails with DEADLINE_EXCEEDED and the server is told to stop")
    func deadline() {
        var client = makeClient()
        let streamID = client.startCall(deadline: at(100))
        #expect(client.tick(now: at(99)) == [])
        let actions = client.tick(now: at(100))
        #expect(actions.first == .send(.makeCancel(streamID: streamID)))
        #expect(failures(actions) == [streamID: .deadlineExceeded])
        #expect(client.frameReceived(.makeResponse(streamID: streamID, payload: []), now: at(101)) == [])
        let late = V1.Frame.makeResponse(streamID: streamID, status: CallStatus(code: .deadlineExceeded))
        #expect(client.frameReceived(late, now: at(102)) == [])
    }

    @Test("deadlines expire independently, in stream order")
    func severalDeadlines() {
        var client = makeClient()
        _ = client.startCall(deadline: at(300))
        _ = client.startCall(deadline: at(100))
        _ = client.startCall(streaming, deadline: at(100))
        _ = client.startCall()
        #expect(failures(client.tick(now: at(150))) == [3: .deadlineExceeded, 5: .deadlineExceeded])
        #expect(failures(client.tick(now: at(300))) == [1: .deadlineExceeded])
        #expect(client.openCallCount == 1)
    }
}

@Suite("Client connection state machine: connection")
struct ClientConnectionTests {
    @Test("a PING from the server is answered with the same data; an ack is not")
    func ping() {
        var client = makeClient()
        #expect(client.frameReceived(.makePing(data: 9), now: at(1)) == [.send(.makePing(data: 9, ack: true))])
        #expect(client.frameReceived(.makePing(data: 9, ack: true), now: at(1)) == [])
    }

    @Test("the client pings a quiet server and gives up when nothing comes back")
    func keepalive() {
        var client = makeClient(keepaliveInterval: .seconds(30), keepaliveTimeout: .seconds(10))
        let streamID = client.startCall(streaming)
        #expect(client.tick(now: at(29_999)) == [])
        #expect(client.tick(now: at(30_000)) == [.send(.makePing(data: 1))])
        #expect(client.tick(now: at(39_999)) == [])

        let actions = client.tick(now: at(40_000))
        #expect(failures(actions) == [streamID: .unavailable])
        #expect(closes(actions, goAway: nil, code: .keepaliveTimeout))
        #expect(client.isClosed)
        #expect(client.tick(now: at(50_000)) == [])
    }

    @Test("the ping's answer keeps the connection alive")
    func keepaliveAnswered() {
        var client = makeClient(keepaliveInterval: .seconds(30), keepaliveTimeout: .seconds(10))
        #expect(client.tick(now: at(30_000)) == [.send(.makePing(data: 1))])
        #expect(client.frameReceived(.makePing(data: 1, ack: true), now: at(30_050)) == [])
        #expect(client.tick(now: at(45_000)) == [])
        #expect(client.tick(now: at(60_050)) == [.send(.makePing(data: 2))])
    }

    @Test("GOAWAY fails the calls above its last stream id and drains the rest")
    func goAway() {
        var client = makeClient()
        let first = client.startCall()
        let second = client.startCall(streaming)
        let third = client.startCall()
        let goAway = V1.Frame.makeGoAway(reason: .shutdown, lastStreamID: second, message: "restarting")
        #expect(failures(client.frameReceived(goAway, now: at(1))) == [third: .unavailable])
        #expect(!client.acceptsNewCalls)

        let (late, refused) = client.callStarted(
            method: unary, metadata: V1.CallMetadata(), payload: [], deadline: nil, now: at(2))
        #expect(failures(refused) == [late: .unavailable])
        #expect(refused.count == 1)

        #expect(client.frameReceived(.makeResponse(streamID: first, payload: []), now: at(3)).count == 1)
        let last = client.frameReceived(.makeEnd(streamID: second), now: at(4))
        #expect(last.first == .finishStream(streamID: second))
        #expect(closes(last, goAway: nil, code: .drained))
        #expect(client.isClosed)
    }

    @Test("GOAWAY with no call in flight closes at once")
    func goAwayIdle() {
        var client = makeClient()
        let goAway = V1.Frame.makeGoAway(reason: .idleTimeout, lastStreamID: 0, message: "idle")
        #expect(closes(client.frameReceived(goAway, now: at(1)), goAway: nil, code: .drained))
    }

    @Test("a lost connection fails every call with UNAVAILABLE, and later calls too")
    func connectionLost() {
        var client = makeClient()
        _ = client.startCall()
        _ = client.startCall(streaming)
        #expect(failures(client.connectionLost()) == [1: .unavailable, 3: .unavailable])
        #expect(client.connectionLost() == [])
        let (streamID, actions) = client.callStarted(
            method: unary, metadata: V1.CallMetadata(), payload: [], deadline: nil, now: at(1))
        #expect(failures(actions) == [streamID: .unavailable])
        #expect(client.frameReceived(.makeResponse(streamID: 1, payload: []), now: at(2)) == [])
    }

    @Test("a graceful shutdown sends GOAWAY and closes when the last call is over")
    func gracefulShutdown() {
        var client = makeClient()
        let streamID = client.startCall()
        let actions = client.beginGracefulShutdown()
        #expect(actions == [.send(.makeGoAway(reason: .shutdown, lastStreamID: 0, message: "the client is closing"))])
        #expect(client.beginGracefulShutdown() == [])
        let last = client.frameReceived(.makeResponse(streamID: streamID, payload: []), now: at(1))
        #expect(closes(last, goAway: nil, code: .drained))
    }

    @Test("decoding errors send GOAWAY with the matching reason and close")
    func decodingFailed() {
        var client = makeClient()
        _ = client.startCall()
        let tooLarge = client.frameDecodingFailed(.frameTooLarge(length: 10, maximum: 5))
        #expect(closes(tooLarge, goAway: .frameTooLarge, code: .frameTooLarge))
        #expect(failures(tooLarge) == [1: .internal])

        var other = makeClient()
        let malformed = FrameDecodingError.malformedFrame(
            length: 1, underlying: ProtocolError(code: .malformedMessage, message: "x"))
        #expect(closes(other.frameDecodingFailed(malformed), goAway: .protocolError, code: .malformedFrame))
    }
}

@Suite("Client connection state machine: protocol violations")
struct ClientConnectionViolationTests {
    static let violations: [(String, V1.Frame)] = [
        ("an empty frame, of unspecified kind", V1.Frame()),
        ("a frame of unknown kind", V1.Frame(streamID: 1, kind: .unrecognized(42))),
        ("a REQUEST from the server", .makeRequest(streamID: 2, method: unary.fullName, payload: [])),
        ("a CANCEL from the server", .makeCancel(streamID: 1)),
        ("a RESPONSE on stream 0", .makeResponse(streamID: 0, payload: [])),
        ("a PING on a stream", V1.Frame(streamID: 1, kind: .ping, ping: V1.Ping())),
        ("a RESPONSE for a stream never opened", .makeResponse(streamID: 7, payload: [])),
        ("a RESPONSE on an even stream", .makeResponse(streamID: 2, payload: [])),
        ("a STREAM_MESSAGE on a unary call", .makeStreamMessage(streamID: 1, payload: [])),
        ("an END on a unary call", .makeEnd(streamID: 1)),
        ("a RESPONSE with OK on a server-streaming call", .makeResponse(streamID: 3, payload: [])),
    ]

    @Test(
        "a protocol violation sends GOAWAY(PROTOCOL_ERROR), fails every call with INTERNAL and closes",
        arguments: violations)
    func violation(_ name: String, frame: V1.Frame) {
        var client = makeClient()
        _ = client.startCall()
        _ = client.startCall(streaming)
        let actions = client.frameReceived(frame, now: at(1))
        #expect(violated(actions), "\(name): \(actions)")
        #expect(failures(actions) == [1: .internal, 3: .internal])
        #expect(client.isClosed)
        #expect(client.frameReceived(.makeResponse(streamID: 1, payload: []), now: at(2)) == [])
    }
}

/// Where a frame lands, from the client's view.
enum ClientStreamState: String, CaseIterable, Sendable {
    case connection, neverOpened, even, openUnary, openStreaming, streamingAfterMessage, cancelled

    /// The stream id of this state on a machine made by `makeClientInEveryState`.
    var streamID: UInt64 {
        switch self {
        case .connection: return 0
        case .neverOpened: return 9
        case .even: return 2
        case .openUnary: return 1
        case .openStreaming: return 3
        case .streamingAfterMessage: return 5
        case .cancelled: return 7
        }
    }
}

/// What a frame does to a client.
enum ClientFrameOutcome: Sendable, Hashable {
    case violation
    case nothing
    case delivered
}

@Suite("Client connection state machine: every frame kind in every stream state")
struct ClientConnectionMatrixTests {
    static let kinds = V1.FrameKind.allCases + [.unrecognized(99)]

    /// A machine with calls 1 (unary), 3 and 5 (streaming, 5 with a message) open and 7 cancelled.
    static func makeClientInEveryState() -> ClientConnectionStateMachine {
        var client = makeClient()
        _ = client.startCall()
        _ = client.startCall(streaming)
        _ = client.startCall(streaming)
        _ = client.frameReceived(.makeStreamMessage(streamID: 5, payload: []), now: at(0))
        _ = client.startCall()
        _ = client.callCancelled(streamID: 7)
        return client
    }

    static func expected(_ kind: V1.FrameKind, _ state: ClientStreamState) -> ClientFrameOutcome {
        switch (kind, state) {
        case (.ping, .connection): return .delivered
        case (.goaway, .connection): return .nothing
        case (.response, .openUnary): return .delivered
        case (.streamMessage, .openStreaming), (.end, .openStreaming): return .delivered
        case (.streamMessage, .streamingAfterMessage), (.end, .streamingAfterMessage): return .delivered
        case (.response, .cancelled), (.streamMessage, .cancelled), (.end, .cancelled): return .nothing
        default: return .violation
        }
    }

    @Test(
        "each frame kind in each stream state is delivered, ignored or a violation", arguments: kinds,
        ClientStreamState.allCases)
    func matrix(kind: V1.FrameKind, state: ClientStreamState) {
        var client = Self.makeClientInEveryState()
        let frame = V1.Frame(
            streamID: state.streamID,
            kind: kind,
            goaway: kind == .goaway ? V1.GoAway(reason: .shutdown, lastStreamID: 100) : nil,
            ping: kind == .ping ? V1.Ping(data: 5) : nil
        )
        let actions = client.frameReceived(frame, now: at(1))

        switch Self.expected(kind, state) {
        case .violation:
            #expect(violated(actions), "\(actions)")
            #expect(client.isClosed)

        case .nothing:
            #expect(actions == [])
            #expect(!client.isClosed)

        case .delivered:
            #expect(actions.count == 1)
            #expect(!client.isClosed)
        }
    }
}

@Suite("Durations in milliseconds")
struct DurationMillisecondsTests {
    @Test(
        "durations round up to whole milliseconds, at least 1, at most Int64.max",
        arguments: [
            (Duration.milliseconds(5), Int64(5)),
            (.microseconds(5_001), 6),
            (.nanoseconds(1), 1),
            (.zero, 1),
            (.seconds(-3), 1),
            (.seconds(Int64.max), Int64.max),
            (.seconds(86_400), 86_400_000),
        ])
    func roundsUp(duration: Duration, milliseconds: Int64) {
        #expect(duration.millisecondsRoundedUp == milliseconds)
    }
}
