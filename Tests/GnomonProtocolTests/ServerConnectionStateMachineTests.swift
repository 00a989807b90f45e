import Testing

@testable import GnomonProtocol

private typealias Action = ServerConnectionStateMachine.Action

private let start = ContinuousClock.now
private let unary = MethodDescriptor.submitJob
private let streaming = MethodDescriptor.leaseJobs

/// The instant `milliseconds` after the connection opened.
private func at(_ milliseconds: Int64) -> ContinuousClock.Instant {
    start + .milliseconds(milliseconds)
}

/// Limits without keepalive, so only the behaviour under test produces actions.
private func quietLimits(
    maximumConcurrentStreams: Int = 100,
    firstFrameTimeout: Duration = .seconds(10),
    idleTimeout: Duration = .seconds(300)
) -> ProtocolLimits {
    ProtocolLimits(
        maximumConcurrentStreams: maximumConcurrentStreams,
        firstFrameTimeout: firstFrameTimeout,
        idleTimeout: idleTimeout,
        keepaliveInterval: nil
    )
}

private func makeServer(_ limits: ProtocolLimits = quietLimits()) -> ServerConnectionStateMachine {
    ServerConnectionStateMachine(limits: limits, now: start)
}

private func request(
    _ streamID: UInt64,
    _ method: MethodDescriptor = unary,
    timeoutMs: Int64 = 0,
    payload: [UInt8] = [1, 2]
) -> V1.Frame {
    .makeRequest(
        streamID: streamID,
        method: method.fullName,
        metadata: V1.CallMetadata(timeoutMs: timeoutMs, requestID: "r\(streamID)"),
        payload: payload
    )
}

private func delivered(
    _ streamID: UInt64,
    _ method: MethodDescriptor = unary,
    timeoutMs: Int64 = 0,
    receivedAt milliseconds: Int64 = 0
) -> Action {
    let request = ServerConnectionStateMachine.Request(
        streamID: streamID,
        method: method,
        metadata: V1.CallMetadata(timeoutMs: timeoutMs, requestID: "r\(streamID)"),
        payload: [1, 2],
        deadline: timeoutMs > 0 ? at(milliseconds + timeoutMs) : nil
    )
    return .deliverRequest(request)
}

private func refused(_ streamID: UInt64, _ code: StatusCode, _ actions: [Action]) -> Bool {
    guard actions.count == 1, case .send(let frame) = actions[0] else {
        return false
    }
    return frame.streamID == streamID && frame.kind == .response && frame.status?.code == code.rawValue
}

/// Whether the actions are a GOAWAY with this reason, any handler cancellations, then a close with this code.
private func closes(
    _ actions: [Action],
    goAway reason: V1.GoAwayReason?,
    code: ConnectionCloseReason.Code
) -> Bool {
    guard case .close(let closeReason) = actions.last, closeReason.code == code else {
        return false
    }
    guard let reason else {
        return !actions.contains { if case .send = $0 { true } else { false } }
    }
    guard case .send(let frame) = actions.first, frame.kind == .goaway else {
        return false
    }
    return frame.goaway?.reason == reason
}

/// The streams whose handlers the actions stop, in order.
private func cancelledStreams(_ actions: [Action]) -> [UInt64] {
    actions.compactMap { action -> UInt64? in
        guard case .cancelHandler(let streamID, _) = action else {
            return nil
        }
        return streamID
    }
}

private func violated(_ actions: [Action]) -> Bool {
    closes(actions, goAway: .protocolError, code: .protocolViolation)
}

@Suite("Server connection state machine: calls")
struct ServerConnectionCallTests {
    @Test("a unary request runs its handler, whose response ends the call")
    func unaryCall() {
        var server = makeServer()
        #expect(server.frameReceived(request(1), now: at(1)) == [delivered(1)])
        #expect(server.openStreamCount == 1)
        #expect(server.handlerResponded(streamID: 1, payload: [9]) == [.send(.makeResponse(streamID: 1, payload: [9]))])
        #expect(server.openStreamCount == 0)
        #expect(server.handlerResponded(streamID: 1, payload: [9]) == [])
    }

    @Test("a unary handler that fails ends the call with a RESPONSE carrying the status")
    func unaryFailure() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(1))
        let status = CallStatus(code: .notFound, message: "no job j1")
        #expect(
            server.handlerFinished(streamID: 1, status: status) == [.send(.makeResponse(streamID: 1, status: status))])
    }

    @Test("a unary handler that finishes with OK sends an empty response")
    func unaryFinishedOK() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(1))
        #expect(server.handlerFinished(streamID: 1, status: .ok) == [.send(.makeResponse(streamID: 1, payload: []))])
    }

    @Test("a server-streaming call sends its messages and ends with END")
    func streamingCall() {
        var server = makeServer()
        #expect(server.frameReceived(request(1, streaming), now: at(1)) == [delivered(1, streaming)])
        for index in 0..<3 {
            let message = V1.Frame.makeStreamMessage(streamID: 1, payload: [UInt8(index)])
            #expect(server.handlerSentStreamMessage(streamID: 1, payload: [UInt8(index)]) == [.send(message)])
        }
        #expect(server.handlerFinished(streamID: 1, status: .ok) == [.send(.makeEnd(streamID: 1))])
        #expect(server.handlerSentStreamMessage(streamID: 1, payload: [1]) == [])
        #expect(server.handlerFinished(streamID: 1, status: .ok) == [])
    }

    @Test("a handler answering with the wrong kind of frame ends its call with INTERNAL")
    func handlerMismatch() {
        var server = makeServer()
        _ = server.frameReceived(request(1, streaming), now: at(1))
        _ = server.frameReceived(request(3), now: at(1))

        let streamingAnswer = server.handlerResponded(streamID: 1, payload: [1])
        #expect(streamingAnswer.count == 2)
        #expect(
            streamingAnswer.first.map { if case .send(let frame) = $0 { frame.kind == .end } else { false } } == true)
        #expect(
            streamingAnswer.first.map { if case .send(let frame) = $0 { frame.status?.code == 13 } else { false } }
                == true)

        let unaryMessage = server.handlerSentStreamMessage(streamID: 3, payload: [1])
        #expect(refused(3, .internal, Array(unaryMessage.prefix(1))))
        #expect(server.openStreamCount == 0)
        #expect(!server.isClosed)
    }

    @Test("streams run concurrently and end in any order")
    func concurrentStreams() {
        var server = makeServer()
        for streamID in stride(from: UInt64(1), through: 9, by: 2) {
            _ = server.frameReceived(request(streamID), now: at(1))
        }
        #expect(server.openStreamCount == 5)
        for streamID in [UInt64(7), 1, 9, 3, 5] {
            #expect(server.handlerResponded(streamID: streamID, payload: []).count == 1)
        }
        #expect(server.openStreamCount == 0)
    }

    @Test("stream ids may skip numbers as long as they rise")
    func idsMaySkip() {
        var server = makeServer()
        #expect(server.frameReceived(request(5), now: at(1)) == [delivered(5)])
        #expect(server.frameReceived(request(101), now: at(1)) == [delivered(101)])
    }

    @Test("an unknown method is answered with UNIMPLEMENTED on its stream alone")
    func unknownMethod() {
        var server = makeServer()
        let frame = V1.Frame.makeRequest(streamID: 1, method: "gnomon.v1.JobService/Nope", payload: [])
        let actions = server.frameReceived(frame, now: at(1))
        #expect(refused(1, .unimplemented, actions))
        #expect(!server.isClosed)
        #expect(server.frameReceived(request(3), now: at(2)) == [delivered(3)])
    }

    @Test("a long unknown method name is quoted only in part")
    func longMethodName() throws {
        var server = makeServer()
        let name = String(repeating: "x", count: 100_000)
        let actions = server.frameReceived(.makeRequest(streamID: 1, method: name, payload: []), now: at(1))
        guard case .send(let frame) = actions.first else {
            Issue.record("expected a refusal, got \(actions)")
            return
        }
        #expect(try #require(frame.status).message.utf8.count < 300)
    }

    @Test("a request with a negative timeout is refused with INVALID_ARGUMENT")
    func negativeTimeout() {
        var server = makeServer()
        #expect(refused(1, .invalidArgument, server.frameReceived(request(1, timeoutMs: -5), now: at(1))))
        #expect(!server.isClosed)
    }

    @Test("a request without metadata runs with empty metadata and no deadline")
    func noMetadata() {
        var server = makeServer()
        let frame = V1.Frame(streamID: 1, kind: .request, method: unary.fullName, payload: [3])
        let expected = ServerConnectionStateMachine.Request(
            streamID: 1,
            method: unary,
            metadata: V1.CallMetadata(),
            payload: [3],
            deadline: nil
        )
        #expect(server.frameReceived(frame, now: at(1)) == [.deliverRequest(expected)])
    }
}

@Suite("Server connection state machine: cancellation and deadlines")
struct ServerConnectionCancellationTests {
    @Test("CANCEL stops the handler and nothing more is sent on the stream")
    func cancel() {
        var server = makeServer()
        _ = server.frameReceived(request(1, streaming), now: at(1))
        let status = CallStatus(code: .cancelled, message: "the client cancelled the call")
        #expect(
            server.frameReceived(.makeCancel(streamID: 1), now: at(2)) == [.cancelHandler(streamID: 1, status: status)])
        #expect(server.handlerSentStreamMessage(streamID: 1, payload: [1]) == [])
        #expect(server.handlerFinished(streamID: 1, status: .ok) == [])
        #expect(server.openStreamCount == 0)
    }

    @Test("a CANCEL that crosses the call's end is ignored")
    func cancelAfterEnd() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(1))
        _ = server.handlerResponded(streamID: 1, payload: [])
        #expect(server.frameReceived(.makeCancel(streamID: 1), now: at(2)) == [])
        #expect(server.frameReceived(.makeCancel(streamID: 1), now: at(3)) == [])
        #expect(!server.isClosed)
    }

    @Test("a CANCEL for a refused stream is ignored")
    func cancelAfterRefusal() {
        var server = makeServer()
        _ = server.frameReceived(.makeRequest(streamID: 1, method: "nope", payload: []), now: at(1))
        #expect(server.frameReceived(.makeCancel(streamID: 1), now: at(2)) == [])
    }

    @Test("a unary call past its deadline is stopped and answered with DEADLINE_EXCEEDED")
    func unaryDeadline() {
        var server = makeServer()
        #expect(
            server.frameReceived(request(1, timeoutMs: 100), now: at(10)) == [
                delivered(1, timeoutMs: 100, receivedAt: 10)
            ])
        #expect(server.tick(now: at(109)) == [])

        let actions = server.tick(now: at(110))
        #expect(actions.count == 2)
        guard case .cancelHandler(1, let status) = actions.first, case .send(let frame) = actions.last else {
            Issue.record("expected a cancellation and a frame, got \(actions)")
            return
        }
        #expect(status.code == .deadlineExceeded)
        #expect(frame == .makeResponse(streamID: 1, status: status))
        #expect(server.handlerResponded(streamID: 1, payload: []) == [])
        #expect(server.tick(now: at(500)) == [])
    }

    @Test("a server-streaming call past its deadline ends with END and DEADLINE_EXCEEDED")
    func streamingDeadline() {
        var server = makeServer()
        _ = server.frameReceived(request(1, streaming, timeoutMs: 50), now: at(0))
        _ = server.handlerSentStreamMessage(streamID: 1, payload: [1])
        let actions = server.tick(now: at(60))
        guard case .send(let frame) = actions.last else {
            Issue.record("expected END, got \(actions)")
            return
        }
        #expect(frame.kind == .end)
        #expect(frame.status?.code == StatusCode.deadlineExceeded.rawValue)
    }

    @Test("deadlines expire independently, in stream order")
    func severalDeadlines() {
        var server = makeServer()
        _ = server.frameReceived(request(1, timeoutMs: 300), now: at(0))
        _ = server.frameReceived(request(3, timeoutMs: 100), now: at(0))
        _ = server.frameReceived(request(5, timeoutMs: 100), now: at(0))
        _ = server.frameReceived(request(7), now: at(0))

        let first = server.tick(now: at(150))
        #expect(cancelledStreams(first) == [3, 5])
        #expect(server.openStreamCount == 2)
        let second = server.tick(now: at(300))
        #expect(cancelledStreams(second) == [1])
        #expect(server.openStreamCount == 1)
    }
}

@Suite("Server connection state machine: connection")
struct ServerConnectionTests {
    @Test("a PING is answered with an ack carrying the same data; an ack is not answered")
    func ping() {
        var server = makeServer()
        #expect(server.frameReceived(.makePing(data: 42), now: at(1)) == [.send(.makePing(data: 42, ack: true))])
        #expect(server.frameReceived(.makePing(data: 42, ack: true), now: at(2)) == [])
        #expect(server.frameReceived(V1.Frame(kind: .ping), now: at(3)) == [.send(.makePing(data: 0, ack: true))])
    }

    @Test("the server pings a quiet client and gives up when nothing comes back")
    func keepalive() {
        let limits = ProtocolLimits(keepaliveInterval: .seconds(30), keepaliveTimeout: .seconds(20))
        var server = ServerConnectionStateMachine(limits: limits, now: start)
        _ = server.frameReceived(request(1), now: at(0))
        #expect(server.tick(now: at(29_999)) == [])
        #expect(server.tick(now: at(30_000)) == [.send(.makePing(data: 1))])
        #expect(server.tick(now: at(49_999)) == [])

        let actions = server.tick(now: at(50_000))
        #expect(closes(actions, goAway: nil, code: .keepaliveTimeout))
        #expect(cancelledStreams(actions).contains(1))
        #expect(server.isClosed)
    }

    @Test("any frame from the client answers the keepalive")
    func keepaliveAnswered() {
        let limits = ProtocolLimits(keepaliveInterval: .seconds(30), keepaliveTimeout: .seconds(20))
        var server = ServerConnectionStateMachine(limits: limits, now: start)
        _ = server.frameReceived(request(1), now: at(0))
        #expect(server.tick(now: at(30_000)) == [.send(.makePing(data: 1))])
        _ = server.frameReceived(.makeCancel(streamID: 1), now: at(40_000))
        #expect(server.tick(now: at(60_000)) == [])
        #expect(server.tick(now: at(70_000)) == [.send(.makePing(data: 2))])
    }

    @Test("a connection with no frame within the first-frame timeout closes without GOAWAY")
    func firstFrameTimeout() {
        var server = makeServer(quietLimits(firstFrameTimeout: .seconds(5)))
        #expect(server.tick(now: at(4_999)) == [])
        let actions = server.tick(now: at(5_000))
        #expect(actions.count == 1)
        #expect(closes(actions, goAway: nil, code: .firstFrameTimeout))
        #expect(server.isClosed)
        #expect(server.frameReceived(request(1), now: at(5_001)) == [])
    }

    @Test("any first frame, even a PING, stops the first-frame timeout")
    func firstFrameArrives() {
        var server = makeServer(quietLimits(firstFrameTimeout: .seconds(5)))
        _ = server.frameReceived(.makePing(data: 1), now: at(4_000))
        #expect(server.tick(now: at(60_000)) == [])
        #expect(!server.isClosed)
    }

    @Test("a connection without streams for the idle timeout gets GOAWAY(IDLE_TIMEOUT) and closes")
    func idleTimeout() {
        var server = makeServer(quietLimits(idleTimeout: .seconds(60)))
        _ = server.frameReceived(request(1), now: at(1_000))
        _ = server.frameReceived(.makeCancel(streamID: 1), now: at(2_000))
        #expect(server.tick(now: at(61_999)) == [])

        let actions = server.tick(now: at(62_000))
        #expect(closes(actions, goAway: .idleTimeout, code: .idleTimeout))
        guard case .send(let goAway) = actions.first else {
            return
        }
        #expect(goAway.goaway?.lastStreamID == 1)
    }

    @Test("pings do not keep a connection from being idle")
    func pingsAreNotActivity() {
        var server = makeServer(quietLimits(idleTimeout: .seconds(60)))
        for second in stride(from: Int64(10), to: 60, by: 10) {
            _ = server.frameReceived(.makePing(data: 1), now: at(second * 1000))
        }
        #expect(closes(server.tick(now: at(60_000)), goAway: .idleTimeout, code: .idleTimeout))
    }

    @Test("an open stream keeps the connection from idling; the idle time starts when it ends")
    func streamPreventsIdle() {
        var server = makeServer(quietLimits(idleTimeout: .seconds(60)))
        _ = server.frameReceived(request(1, streaming), now: at(0))
        #expect(server.tick(now: at(120_000)) == [])
        _ = server.handlerFinished(streamID: 1, status: .ok)
        #expect(server.tick(now: at(121_000)) == [])
        #expect(server.tick(now: at(180_999)) == [])
        #expect(closes(server.tick(now: at(181_000)), goAway: .idleTimeout, code: .idleTimeout))
    }

    @Test("a graceful shutdown sends GOAWAY, refuses new streams and closes when the last one ends")
    func gracefulShutdown() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(0))
        _ = server.frameReceived(request(3, streaming), now: at(0))

        let goAway = server.beginGracefulShutdown()
        guard case .send(let frame) = goAway.first, goAway.count == 1 else {
            Issue.record("expected one GOAWAY, got \(goAway)")
            return
        }
        #expect(frame.goaway?.reason == .shutdown)
        #expect(frame.goaway?.lastStreamID == 3)
        #expect(!server.acceptsNewStreams)
        #expect(server.beginGracefulShutdown() == [])

        #expect(refused(5, .unavailable, server.frameReceived(request(5), now: at(1))))
        #expect(server.handlerResponded(streamID: 1, payload: []) == [.send(.makeResponse(streamID: 1, payload: []))])
        #expect(server.handlerSentStreamMessage(streamID: 3, payload: [1]).count == 1)
        let last = server.handlerFinished(streamID: 3, status: .ok)
        #expect(last.first == .send(.makeEnd(streamID: 3)))
        #expect(closes(Array(last.dropFirst()), goAway: nil, code: .drained))
        #expect(server.isClosed)
    }

    @Test("a graceful shutdown with no streams open closes at once")
    func gracefulShutdownIdle() {
        var server = makeServer()
        let actions = server.beginGracefulShutdown()
        #expect(closes(actions, goAway: .shutdown, code: .drained))
        #expect(actions.count == 2)
    }

    @Test("a request id still has to rise while draining")
    func drainingStillChecksIDs() {
        var server = makeServer()
        _ = server.frameReceived(request(3), now: at(0))
        _ = server.beginGracefulShutdown()
        #expect(violated(server.frameReceived(request(3), now: at(1))))
    }

    @Test("a GOAWAY from the client drains the connection")
    func clientGoAway() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(0))
        let goAway = V1.Frame.makeGoAway(reason: .shutdown, lastStreamID: 0, message: "bye")
        #expect(server.frameReceived(goAway, now: at(1)) == [])
        #expect(!server.acceptsNewStreams)
        let last = server.handlerResponded(streamID: 1, payload: [])
        #expect(closes(Array(last.dropFirst()), goAway: nil, code: .drained))
    }

    @Test("a lost connection stops every handler")
    func connectionClosed() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(0))
        _ = server.frameReceived(request(3), now: at(0))
        let status = CallStatus(code: .unavailable, message: "the connection closed")
        #expect(
            server.connectionClosed() == [
                .cancelHandler(streamID: 1, status: status), .cancelHandler(streamID: 3, status: status),
            ]
        )
        #expect(server.connectionClosed() == [])
        #expect(server.tick(now: at(1_000_000)) == [])
        #expect(server.beginGracefulShutdown() == [])
    }

    @Test("a frame too large is answered with GOAWAY(FRAME_TOO_LARGE) and the close")
    func frameTooLarge() {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(0))
        let actions = server.frameDecodingFailed(.frameTooLarge(length: 5_000_000, maximum: 4_194_304))
        #expect(closes(actions, goAway: .frameTooLarge, code: .frameTooLarge))
        #expect(cancelledStreams(actions).contains(1))
    }

    @Test("bytes that are not a frame are answered with GOAWAY(PROTOCOL_ERROR) and the close")
    func malformedFrame() {
        var server = makeServer()
        let error = FrameDecodingError.malformedFrame(
            length: 3,
            underlying: ProtocolError(code: .malformedMessage, message: "bad")
        )
        #expect(closes(server.frameDecodingFailed(error), goAway: .protocolError, code: .malformedFrame))
        #expect(server.frameDecodingFailed(error) == [])
    }
}

@Suite("Server connection state machine: protocol violations")
struct ServerConnectionViolationTests {
    static let violations: [(String, [V1.Frame])] = [
        ("an empty frame, of unspecified kind", [V1.Frame()]),
        ("a frame of unknown kind", [V1.Frame(streamID: 11, kind: .unrecognized(99))]),
        ("a REQUEST on stream 0", [V1.Frame(streamID: 0, kind: .request, method: unary.fullName)]),
        ("a CANCEL on stream 0", [.makeCancel(streamID: 0)]),
        ("a REQUEST on an even stream", [request(12)]),
        ("a reused stream id", [request(11), request(11)]),
        ("a lower stream id", [request(15), request(13)]),
        ("a stream id reused after its call ended", [request(11), .makeCancel(streamID: 11), request(11)]),
        ("a RESPONSE from the client", [request(11), .makeResponse(streamID: 11, payload: [])]),
        ("a STREAM_MESSAGE from the client", [request(11), .makeStreamMessage(streamID: 11, payload: [])]),
        ("an END from the client", [.makeEnd(streamID: 1)]),
        ("a PING on a stream", [V1.Frame(streamID: 1, kind: .ping, ping: V1.Ping(data: 1))]),
        ("a GOAWAY on a stream", [V1.Frame(streamID: 3, kind: .goaway, goaway: V1.GoAway())]),
        ("a CANCEL for a stream never opened", [.makeCancel(streamID: 17)]),
        ("a CANCEL on an even stream", [request(15), .makeCancel(streamID: 14)]),
    ]

    @Test("a protocol violation sends GOAWAY(PROTOCOL_ERROR), stops every handler and closes", arguments: violations)
    func violation(_ name: String, frames: [V1.Frame]) throws {
        var server = makeServer()
        _ = server.frameReceived(request(1, streaming), now: at(0))
        for frame in frames.dropLast() {
            _ = server.frameReceived(frame, now: at(1))
        }
        let actions = server.frameReceived(try #require(frames.last), now: at(2))

        #expect(violated(actions), "\(name): \(actions)")
        #expect(cancelledStreams(actions).contains(1))
        #expect(server.openStreamCount == 0)
        guard case .send(let goAway) = actions.first else {
            return
        }
        let opened = frames.dropLast().filter { $0.kind == .request }.map(\.streamID)
        #expect(goAway.goaway?.lastStreamID == opened.max() ?? 1)
        #expect(goAway.goaway?.message.isEmpty == false)
        #expect(server.isClosed)
        #expect(server.frameReceived(request(103), now: at(3)) == [])
        #expect(server.handlerFinished(streamID: 1, status: .ok) == [])
    }
}

/// Where a frame lands, from the server's view.
enum ServerStreamState: String, CaseIterable, Sendable {
    case connection, neverOpened, even, openUnary, openStreaming, ended, cancelled

    /// The stream id of this state on a machine made by `makeServerInEveryState`.
    var streamID: UInt64 {
        switch self {
        case .connection: return 0
        case .neverOpened: return 9
        case .even: return 4
        case .openUnary: return 1
        case .openStreaming: return 3
        case .ended: return 5
        case .cancelled: return 7
        }
    }
}

/// What a frame does.
enum ServerFrameOutcome: Sendable, Hashable {
    case violation
    case nothing
    case answered
}

@Suite("Server connection state machine: every frame kind in every stream state")
struct ServerConnectionMatrixTests {
    static let kinds = V1.FrameKind.allCases + [.unrecognized(99)]

    /// A machine with streams 1 (unary) and 3 (streaming) open, 5 ended and 7 cancelled.
    static func makeServerInEveryState() -> ServerConnectionStateMachine {
        var server = makeServer()
        _ = server.frameReceived(request(1), now: at(0))
        _ = server.frameReceived(request(3, streaming), now: at(0))
        _ = server.frameReceived(request(5), now: at(0))
        _ = server.handlerResponded(streamID: 5, payload: [])
        _ = server.frameReceived(request(7), now: at(0))
        _ = server.frameReceived(.makeCancel(streamID: 7), now: at(0))
        return server
    }

    static func expected(_ kind: V1.FrameKind, _ state: ServerStreamState) -> ServerFrameOutcome {
        switch (kind, state) {
        case (.ping, .connection): return .answered
        case (.goaway, .connection): return .nothing
        case (.request, .neverOpened): return .answered
        case (.cancel, .openUnary), (.cancel, .openStreaming): return .answered
        case (.cancel, .ended), (.cancel, .cancelled): return .nothing
        default: return .violation
        }
    }

    @Test(
        "each frame kind in each stream state is run, ignored or a violation", arguments: kinds,
        ServerStreamState.allCases)
    func matrix(kind: V1.FrameKind, state: ServerStreamState) {
        var server = Self.makeServerInEveryState()
        let frame = V1.Frame(
            streamID: state.streamID,
            kind: kind,
            method: unary.fullName,
            goaway: kind == .goaway ? V1.GoAway(reason: .shutdown) : nil,
            ping: kind == .ping ? V1.Ping(data: 5) : nil
        )
        let actions = server.frameReceived(frame, now: at(1))

        switch Self.expected(kind, state) {
        case .violation:
            #expect(violated(actions), "\(actions)")
            #expect(server.isClosed)

        case .nothing:
            #expect(actions == [])
            #expect(!server.isClosed)

        case .answered:
            #expect(!actions.isEmpty)
            #expect(!actions.contains { if case .close = $0 { true } else { false } })
            #expect(!server.isClosed)
        }
    }
}

@Suite("Server connection state machine: stream limit")
struct ServerConnectionStreamLimitTests {
    @Test("10,000 stream opens on one connection: all beyond the limit are refused and the connection stays up")
    func tenThousandStreams() {
        var server = makeServer()
        var deliveredCount = 0
        var refusedCount = 0
        for index in 0..<10_000 {
            let streamID = UInt64(index) * 2 + 1
            let actions = server.frameReceived(request(streamID), now: at(1))
            if actions == [delivered(streamID)] {
                deliveredCount += 1
            } else if refused(streamID, .resourceExhausted, actions) {
                refusedCount += 1
            } else {
                Issue.record("stream \(streamID): unexpected \(actions)")
                return
            }
        }
        #expect(deliveredCount == 100)
        #expect(refusedCount == 9_900)
        #expect(server.refusedStreamCount == 9_900)
        #expect(server.openStreamCount == 100)
        #expect(!server.isClosed)

        _ = server.handlerResponded(streamID: 1, payload: [])
        #expect(server.frameReceived(request(20_001), now: at(2)) == [delivered(20_001)])
        #expect(refused(20_003, .resourceExhausted, server.frameReceived(request(20_003), now: at(2))))
    }

    @Test("the stream limit is configurable")
    func configurableLimit() {
        var server = makeServer(quietLimits(maximumConcurrentStreams: 1))
        #expect(server.frameReceived(request(1), now: at(0)) == [delivered(1)])
        #expect(refused(3, .resourceExhausted, server.frameReceived(request(3), now: at(0))))
        _ = server.frameReceived(.makeCancel(streamID: 1), now: at(0))
        #expect(server.frameReceived(request(5), now: at(0)) == [delivered(5)])
    }
}
