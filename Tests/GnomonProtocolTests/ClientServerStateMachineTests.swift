import Testing

@testable import GnomonProtocol

private let start = ContinuousClock.now

/// A client and a server machine joined through the frame codec, with no I/O.
///
/// Every frame crosses as bytes, split into small pieces, so the codec and both machines are
/// checked together. The server's handlers answer at once: a unary call with its payload
/// reversed, a server-streaming call with one message per payload byte.
private struct Loopback {
    var client: ClientConnectionStateMachine
    var server: ServerConnectionStateMachine
    var bytesToServer: [UInt8] = []
    var bytesToClient: [UInt8] = []
    var serverDecoder = FrameDecoder()
    var clientDecoder = FrameDecoder()
    var responses: [UInt64: [UInt8]] = [:]
    var streamMessages: [UInt64: [[UInt8]]] = [:]
    var finished: Set<UInt64> = []
    var failed: [UInt64: CallStatus] = [:]
    var clientClosed: ConnectionCloseReason?
    var serverClosed: ConnectionCloseReason?
    var heldRequests: [ServerConnectionStateMachine.Request] = []
    var holdsRequests = false

    init(limits: ProtocolLimits = ProtocolLimits(keepaliveInterval: nil)) {
        self.client = ClientConnectionStateMachine(limits: limits, now: start)
        self.server = ServerConnectionStateMachine(limits: limits, now: start)
    }

    mutating func call(_ method: MethodDescriptor, payload: [UInt8], deadline: ContinuousClock.Instant? = nil) throws
        -> UInt64
    {
        let (streamID, actions) = self.client.callStarted(
            method: method,
            metadata: V1.CallMetadata(),
            payload: payload,
            deadline: deadline,
            now: start
        )
        try self.runClient(actions)
        return streamID
    }

    mutating func runClient(_ actions: [ClientConnectionStateMachine.Action]) throws {
        for action in actions {
            switch action {
            case .send(let frame):
                try FrameEncoder().encode(frame, into: &self.bytesToServer)
            case .deliverResponse(let streamID, let payload):
                self.responses[streamID] = payload
            case .deliverStreamMessage(let streamID, let payload):
                self.streamMessages[streamID, default: []].append(payload)
            case .finishStream(let streamID):
                self.finished.insert(streamID)
            case .failCall(let streamID, let status):
                self.failed[streamID] = status
            case .close(let reason):
                self.clientClosed = reason
            }
        }
    }

    mutating func runServer(_ actions: [ServerConnectionStateMachine.Action]) throws {
        for action in actions {
            switch action {
            case .send(let frame):
                try FrameEncoder().encode(frame, into: &self.bytesToClient)
            case .deliverRequest(let request):
                if self.holdsRequests {
                    self.heldRequests.append(request)
                } else {
                    try self.answer(request)
                }
            case .cancelHandler:
                break
            case .close(let reason):
                self.serverClosed = reason
            }
        }
    }

    mutating func answer(_ request: ServerConnectionStateMachine.Request) throws {
        switch request.method.kind {
        case .unary:
            try self.runServer(
                self.server.handlerResponded(streamID: request.streamID, payload: request.payload.reversed()))
        case .serverStreaming:
            for byte in request.payload {
                try self.runServer(self.server.handlerSentStreamMessage(streamID: request.streamID, payload: [byte]))
            }
            try self.runServer(self.server.handlerFinished(streamID: request.streamID, status: .ok))
        }
    }

    /// Moves bytes both ways, in pieces of `chunk` bytes, until none are left.
    mutating func pump(now: ContinuousClock.Instant = start, chunk: Int = 7) throws {
        while !self.bytesToServer.isEmpty || !self.bytesToClient.isEmpty {
            let toServer = self.bytesToServer
            self.bytesToServer = []
            for piece in toServer.chunks(of: chunk) {
                self.serverDecoder.append(piece)
                while let frame = try self.serverDecoder.nextFrame() {
                    try self.runServer(self.server.frameReceived(frame, now: now))
                }
            }
            let toClient = self.bytesToClient
            self.bytesToClient = []
            for piece in toClient.chunks(of: chunk) {
                self.clientDecoder.append(piece)
                while let frame = try self.clientDecoder.nextFrame() {
                    try self.runClient(self.client.frameReceived(frame, now: now))
                }
            }
        }
    }
}

extension Array {
    fileprivate func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: size).map { self[$0..<Swift.min($0 + size, self.count)] }
    }
}

@Suite("Client and server machines through the frame codec")
struct ClientServerStateMachineTests {
    @Test("a thousand unary calls and a streaming call all complete on one connection")
    func manyCalls() throws {
        var loopback = Loopback(limits: ProtocolLimits(maximumConcurrentStreams: 2_000, keepaliveInterval: nil))
        var expected: [UInt64: [UInt8]] = [:]
        for index in 0..<1_000 {
            let payload = [UInt8(index % 256), UInt8(index / 256), 7]
            expected[try loopback.call(.submitJob, payload: payload)] = payload.reversed()
        }
        let stream = try loopback.call(.leaseJobs, payload: [1, 2, 3])
        try loopback.pump()

        #expect(loopback.responses == expected)
        #expect(loopback.streamMessages[stream] == [[1], [2], [3]])
        #expect(loopback.finished == [stream])
        #expect(loopback.failed.isEmpty)
        #expect(loopback.client.openCallCount == 0)
        #expect(loopback.server.openStreamCount == 0)
    }

    @Test("calls beyond the stream limit fail with RESOURCE_EXHAUSTED and the rest complete")
    func streamLimit() throws {
        var loopback = Loopback(limits: ProtocolLimits(maximumConcurrentStreams: 10, keepaliveInterval: nil))
        loopback.holdsRequests = true
        for index in 0..<50 {
            _ = try loopback.call(.getJob, payload: [UInt8(index)])
        }
        try loopback.pump()
        #expect(loopback.failed.count == 40)
        #expect(loopback.failed.values.allSatisfy { $0.code == .resourceExhausted })

        for request in loopback.heldRequests {
            try loopback.answer(request)
        }
        try loopback.pump()
        #expect(loopback.responses.count == 10)
        #expect(loopback.clientClosed == nil)
        #expect(loopback.serverClosed == nil)
    }

    @Test("a graceful shutdown lets the running calls finish, then both sides close")
    func gracefulShutdown() throws {
        var loopback = Loopback()
        loopback.holdsRequests = true
        let running = try loopback.call(.submitJob, payload: [1])
        try loopback.pump()
        try loopback.runServer(loopback.server.beginGracefulShutdown())
        let late = try loopback.call(.submitJob, payload: [2])
        try loopback.pump()

        #expect(loopback.failed[late]?.code == .unavailable)
        try loopback.answer(loopback.heldRequests[0])
        try loopback.pump()
        #expect(loopback.responses[running] == [1])
        #expect(loopback.serverClosed?.code == .drained)
        #expect(loopback.clientClosed?.code == .drained)
    }

    @Test("a call cancelled by its deadline ignores the answer that crosses the CANCEL")
    func deadlineRace() throws {
        var loopback = Loopback()
        loopback.holdsRequests = true
        let streamID = try loopback.call(.submitJob, payload: [1], deadline: start + .milliseconds(50))
        try loopback.pump()

        // The handler answers while the client's deadline passes: the frames cross.
        try loopback.answer(loopback.heldRequests[0])
        try loopback.runClient(loopback.client.tick(now: start + .milliseconds(50)))
        try loopback.pump(now: start + .milliseconds(51))

        #expect(loopback.failed[streamID]?.code == .deadlineExceeded)
        #expect(loopback.responses[streamID] == nil)
        #expect(loopback.clientClosed == nil)
        #expect(loopback.serverClosed == nil)
    }
}
