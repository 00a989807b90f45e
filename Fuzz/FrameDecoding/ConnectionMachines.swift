import GnomonProtocol

/// The moment every run starts from; the machines only ever compare instants.
private let start = ContinuousClock.now

/// Both sides' connection state machines, fed the same frames and checked after every event.
///
/// The rules checked are those the machines document: no action once closed, a `close` only as
/// the last action and exactly when the machine closes, every frame they send can be encoded,
/// and their counts of open calls match the calls their actions started and ended.
struct ConnectionMachines {
    var server: ServerConnectionStateMachine
    var client: ClientConnectionStateMachine
    let input: FrameStreamInput
    var now = start
    /// The streams whose handler the server ever started.
    var deliveredStreams: Set<UInt64> = []
    /// The streams whose handler the server started and has not stopped or answered for good.
    var serverStreams: Set<UInt64> = []
    /// The client's calls that have not ended.
    var clientCalls: Set<UInt64> = []

    /// Creates both machines with the input's limits, and starts the client's calls if it says so.
    init(_ input: FrameStreamInput) {
        self.server = ServerConnectionStateMachine(limits: input.limits, now: start)
        self.client = ClientConnectionStateMachine(limits: input.limits, now: start)
        self.input = input
        if input.startsCalls {
            self.startCalls()
        }
    }

    /// Hands a decoded frame to both machines.
    mutating func frameReceived(_ frame: V1.Frame) {
        let serverWasClosed = self.server.isClosed
        let serverActions = self.server.frameReceived(frame, now: self.now)
        self.checkServer(serverActions, wasClosed: serverWasClosed, event: "\(frame)")
        self.answerRequests(in: serverActions)

        let clientWasClosed = self.client.isClosed
        let clientActions = self.client.frameReceived(frame, now: self.now)
        self.checkClient(clientActions, wasClosed: clientWasClosed, event: "\(frame)")
    }

    /// Tells both machines the bytes can no longer be read; both must close.
    mutating func decodingFailed(_ error: FrameDecodingError) {
        let serverWasClosed = self.server.isClosed
        self.checkServer(self.server.frameDecodingFailed(error), wasClosed: serverWasClosed, event: "\(error)")
        let clientWasClosed = self.client.isClosed
        self.checkClient(self.client.frameDecodingFailed(error), wasClosed: clientWasClosed, event: "\(error)")
        require(self.server.isClosed && self.client.isClosed, "a machine stayed open after \(error)")
    }

    /// Moves the clock on by the input's interval, if it has one, and lets both machines tick.
    mutating func tick() {
        guard let interval = self.input.tickInterval else {
            return
        }
        self.now += interval
        let serverWasClosed = self.server.isClosed
        self.checkServer(self.server.tick(now: self.now), wasClosed: serverWasClosed, event: "a tick")
        let clientWasClosed = self.client.isClosed
        self.checkClient(self.client.tick(now: self.now), wasClosed: clientWasClosed, event: "a tick")
    }

    /// Lets the local events the input asks for happen: shutdowns and a cancelled call.
    mutating func localEventsHappen() {
        if self.input.serverShutsDown {
            let wasClosed = self.server.isClosed
            self.checkServer(self.server.beginGracefulShutdown(), wasClosed: wasClosed, event: "a shutdown")
        }
        if self.input.clientCancels {
            let wasClosed = self.client.isClosed
            self.checkClient(self.client.callCancelled(streamID: 1), wasClosed: wasClosed, event: "a cancel")
        }
        if self.input.clientShutsDown {
            let wasClosed = self.client.isClosed
            self.checkClient(self.client.beginGracefulShutdown(), wasClosed: wasClosed, event: "a shutdown")
        }
    }

    /// Closes the connection under both machines: every handler stops and every call fails.
    mutating func connectionEnded() {
        let serverActions = self.server.connectionClosed()
        self.checkServer(serverActions, wasClosed: false, underneath: true, event: "the connection closing")
        let clientActions = self.client.connectionLost()
        self.checkClient(clientActions, wasClosed: false, underneath: true, event: "the connection closing")
    }

    /// Starts a unary call, a server-streaming call and a unary call with a deadline: streams 1, 3, 5.
    private mutating func startCalls() {
        let calls: [(MethodDescriptor, ContinuousClock.Instant?)] = [
            (.getServerStatus, nil),
            (.leaseJobs, nil),
            (.submitJob, start + .seconds(1)),
        ]
        for (method, deadline) in calls {
            let (streamID, actions) = self.client.callStarted(
                method: method,
                metadata: V1.CallMetadata(requestID: "fuzz"),
                payload: [1, 2, 3],
                deadline: deadline,
                now: start
            )
            self.clientCalls.insert(streamID)
            self.checkClient(actions, wasClosed: false, event: "starting a call of \(method)")
        }
    }

    /// Lets the handler of every delivered request answer at once, if the input says so.
    ///
    /// A misbehaving handler answers a unary call with a stream message and a server-streaming
    /// call with a response; the server must end the call with `INTERNAL` either way.
    private mutating func answerRequests(in actions: [ServerConnectionStateMachine.Action]) {
        guard self.input.handlersAnswer else {
            return
        }
        for case .deliverRequest(let request) in actions {
            let isUnary = request.method.kind == .unary
            if isUnary != self.input.handlersMisbehave {
                self.handlerResponds(request.streamID, payload: request.payload)
            } else {
                self.handlerStreams(request.streamID, payload: request.payload)
            }
        }
    }

    private mutating func handlerResponds(_ streamID: UInt64, payload: [UInt8]) {
        let wasClosed = self.server.isClosed
        let answer = self.server.handlerResponded(streamID: streamID, payload: payload)
        self.checkServer(answer, wasClosed: wasClosed, event: "a handler's response")
    }

    private mutating func handlerStreams(_ streamID: UInt64, payload: [UInt8]) {
        var wasClosed = self.server.isClosed
        let message = self.server.handlerSentStreamMessage(streamID: streamID, payload: payload)
        self.checkServer(message, wasClosed: wasClosed, event: "a handler's stream message")
        wasClosed = self.server.isClosed
        let end = self.server.handlerFinished(streamID: streamID, status: .ok)
        self.checkServer(end, wasClosed: wasClosed, event: "a handler's end")
    }
}
