import GnomonProtocol

extension ConnectionMachines {
    /// Checks the server's actions for one event, and keeps count of its running handlers.
    mutating func checkServer(
        _ actions: [ServerConnectionStateMachine.Action],
        wasClosed: Bool,
        underneath: Bool = false,
        event: @autoclosure () -> String
    ) {
        let closes = actions.indices.filter {
            if case .close = actions[$0] { true } else { false }
        }
        let sends = actions.filter {
            if case .send = $0 { true } else { false }
        }
        Self.checkClosing(
            "server",
            closes: closes,
            sends: sends.count,
            actionCount: actions.count,
            machine: (wasClosed, self.server.isClosed, underneath),
            event: event
        )
        for action in actions {
            self.serverActionTaken(action, event: event)
        }

        let open = self.server.openStreamCount
        require(
            open == self.serverStreams.count,
            "the server counts \(open) open streams; its actions left \(self.serverStreams.count) after \(event())"
        )
        require(
            open <= max(self.server.limits.maximumConcurrentStreams, 0),
            "the server has \(open) open streams, over its maximum of \(self.server.limits.maximumConcurrentStreams)"
        )
        require(!self.server.isClosed || open == 0, "the closed server still has \(open) open streams")
    }

    /// Checks the client's actions for one event, and keeps count of its calls.
    mutating func checkClient(
        _ actions: [ClientConnectionStateMachine.Action],
        wasClosed: Bool,
        underneath: Bool = false,
        event: @autoclosure () -> String
    ) {
        let closes = actions.indices.filter {
            if case .close = actions[$0] { true } else { false }
        }
        let sends = actions.filter {
            if case .send = $0 { true } else { false }
        }
        Self.checkClosing(
            "client",
            closes: closes,
            sends: sends.count,
            actionCount: actions.count,
            machine: (wasClosed, self.client.isClosed, underneath),
            event: event
        )
        for action in actions {
            self.clientActionTaken(action, event: event)
        }

        let open = self.client.openCallCount
        require(
            open == self.clientCalls.count,
            "the client counts \(open) open calls; its actions left \(self.clientCalls.count) after \(event())"
        )
        require(!self.client.isClosed || open == 0, "the closed client still has \(open) open calls")
    }

    private mutating func serverActionTaken(_ action: ServerConnectionStateMachine.Action, event: () -> String) {
        switch action {
        case .send(let frame):
            Self.checkSendable(frame, side: "server", event: event)
            if frame.kind == .response || frame.kind == .end {
                self.serverStreams.remove(frame.streamID)
            }

        case .deliverRequest(let request):
            require(request.streamID % 2 == 1, "the server delivered a request on even stream \(request.streamID)")
            require(
                self.deliveredStreams.insert(request.streamID).inserted,
                "the server delivered a second request on stream \(request.streamID) after \(event())"
            )
            self.serverStreams.insert(request.streamID)

        case .cancelHandler(let streamID, _):
            // The handler may already have ended its call in the same breath, as when its
            // deadline passes or it answered with the wrong kind of answer.
            require(
                self.deliveredStreams.contains(streamID),
                "the server stopped the handler of stream \(streamID), which never ran, after \(event())"
            )
            self.serverStreams.remove(streamID)

        case .close:
            break
        }
    }

    /// Checks that every call started ends exactly once, as the client's actions document.
    private mutating func clientActionTaken(_ action: ClientConnectionStateMachine.Action, event: () -> String) {
        switch action {
        case .send(let frame):
            Self.checkSendable(frame, side: "client", event: event)

        case .deliverStreamMessage(let streamID, _):
            require(
                self.clientCalls.contains(streamID),
                "the client delivered a stream message for call \(streamID), which is over, after \(event())"
            )

        case .deliverResponse(let streamID, _), .finishStream(let streamID), .failCall(let streamID, _):
            require(
                self.clientCalls.remove(streamID) != nil,
                "the client ended call \(streamID), which was over or never started, with \(action) after \(event())"
            )

        case .close:
            break
        }
    }

    /// Checks where a close stands among one event's actions.
    ///
    /// When the connection closed underneath the machine, it closes without a close action and
    /// sends nothing.
    private static func checkClosing(
        _ side: String,
        closes: [Int],
        sends: Int,
        actionCount: Int,
        machine: (wasClosed: Bool, isClosed: Bool, underneath: Bool),
        event: () -> String
    ) {
        let (wasClosed, isClosed, underneath) = machine
        if underneath {
            require(isClosed, "the \(side) machine stayed open after \(event())")
            require(closes.isEmpty && sends == 0, "the \(side) machine sent or closed after \(event())")
            return
        }
        require(!wasClosed || isClosed, "the \(side) machine opened again after \(event())")
        require(!wasClosed || actionCount == 0, "the closed \(side) machine acted on \(event())")
        require(
            closes.isEmpty || closes == [actionCount - 1],
            "the \(side) machine's close is not its one last action after \(event())"
        )
        require(
            wasClosed || closes.isEmpty != isClosed,
            "the \(side) machine closed \(isClosed ? "without" : "with") a close action after \(event())"
        )
    }

    /// A frame a machine sends must be one the encoder can write with the default limits.
    private static func checkSendable(_ frame: V1.Frame, side: String, event: () -> String) {
        do {
            _ = try FrameEncoder().encode(frame)
        } catch {
            fatalError("the \(side) machine sent a frame that cannot be encoded (\(error)) after \(event()): \(frame)")
        }
    }
}
