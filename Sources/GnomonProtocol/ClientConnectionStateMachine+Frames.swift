extension ClientConnectionStateMachine {
    /// Handles a frame from the server.
    ///
    /// - Parameters:
    ///   - frame: The frame, as the decoder returned it.
    ///   - now: When it arrived.
    /// - Returns: What to do, in order.
    public mutating func frameReceived(_ frame: V1.Frame, now: ContinuousClock.Instant) -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        self.keepalive.frameReceived(now: now)
        guard frame.kind.isKnown else {
            return self.protocolViolated("a frame of kind \(frame.kind.name) on stream \(frame.streamID)")
        }
        if frame.streamID == V1.Frame.connectionStreamID {
            return self.connectionFrameReceived(frame)
        }
        return self.streamFrameReceived(frame)
    }

    /// Handles a decoding error: the bytes can no longer be read as frames.
    ///
    /// - Parameter error: What the decoder threw.
    /// - Returns: A GOAWAY, the calls' failures and the close.
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

    /// Handles a PING or GOAWAY on stream 0; any other kind there breaks the protocol.
    private mutating func connectionFrameReceived(_ frame: V1.Frame) -> [Action] {
        switch frame.kind {
        case .ping:
            let ping = frame.ping ?? V1.Ping()
            return ping.ack ? [] : [.send(.makePing(data: ping.data, ack: true))]

        case .goaway:
            return self.goAwayReceived(frame.goaway ?? V1.GoAway())

        default:
            return self.protocolViolated("a \(frame.kind.name) frame on stream 0, which carries only PING and GOAWAY")
        }
    }

    /// Handles a frame on a stream other than 0.
    private mutating func streamFrameReceived(_ frame: V1.Frame) -> [Action] {
        switch frame.kind {
        case .response, .streamMessage, .end:
            return self.callFrameReceived(frame)

        case .request, .cancel:
            return self.protocolViolated(
                "a \(frame.kind.name) frame from the server on stream \(frame.streamID); only the client sends it"
            )

        default:
            return self.protocolViolated(
                "a \(frame.kind.name) frame on stream \(frame.streamID); it belongs on stream 0")
        }
    }

    /// Stops new calls, fails those the server will not run, and closes once the rest are over.
    private mutating func goAwayReceived(_ goAway: V1.GoAway) -> [Action] {
        self.phase = .draining
        let message = goAway.message.truncatedForMessage(limit: 256)
        let status = CallStatus(
            code: .unavailable,
            message: "the server sent GOAWAY (\(goAway.reason)) before running the call: \(message); "
                + "retry on a new connection"
        )
        let refused = self.calls.keys.filter { $0 > goAway.lastStreamID }.sorted()
        var actions: [Action] = []
        for streamID in refused {
            self.calls[streamID] = nil
            actions.append(.failCall(streamID: streamID, status: status))
        }
        return actions + self.closeIfDrained()
    }

    /// Handles a RESPONSE, STREAM_MESSAGE or END for a call.
    private mutating func callFrameReceived(_ frame: V1.Frame) -> [Action] {
        let streamID = frame.streamID
        guard streamID % 2 == 1, streamID < self.nextStreamID else {
            return self.protocolViolated(
                "a \(frame.kind.name) frame on stream \(streamID), which the client never opened"
            )
        }
        guard let call = self.calls[streamID] else {
            // The call is already over here, cancelled or past its deadline: the frames crossed.
            return []
        }
        switch call.method.kind {
        case .unary:
            return self.unaryFrameReceived(frame, call: call)

        case .serverStreaming:
            return self.streamingFrameReceived(frame, call: call)
        }
    }

    /// Handles a frame for a unary call: only RESPONSE may come.
    private mutating func unaryFrameReceived(_ frame: V1.Frame, call: OpenCall) -> [Action] {
        guard frame.kind == .response else {
            return self.protocolViolated(
                "a \(frame.kind.name) frame on stream \(frame.streamID), "
                    + "a unary call of \(call.method.fullName), which ends with one RESPONSE"
            )
        }
        let status = CallStatus(frame.status)
        guard status.isOK else {
            return self.endCall(frame.streamID, with: .failCall(streamID: frame.streamID, status: status))
        }
        return self.endCall(frame.streamID, with: .deliverResponse(streamID: frame.streamID, payload: frame.payload))
    }

    /// Handles a frame for a server-streaming call.
    private mutating func streamingFrameReceived(_ frame: V1.Frame, call: OpenCall) -> [Action] {
        let streamID = frame.streamID
        let status = CallStatus(frame.status)
        switch frame.kind {
        case .streamMessage:
            self.calls[streamID]?.hasReceivedMessage = true
            return [.deliverStreamMessage(streamID: streamID, payload: frame.payload)]

        case .end:
            let action: Action =
                status.isOK ? .finishStream(streamID: streamID) : .failCall(streamID: streamID, status: status)
            return self.endCall(streamID, with: action)

        default:
            guard !status.isOK, !call.hasReceivedMessage else {
                return self.protocolViolated(
                    "a RESPONSE on stream \(streamID), a server-streaming call of \(call.method.fullName); "
                        + "it ends with END, and a RESPONSE may only refuse it, with a status, before any message"
                )
            }
            return self.endCall(streamID, with: .failCall(streamID: streamID, status: status))
        }
    }

    /// Forgets a call that is over and returns how it ended.
    private mutating func endCall(_ streamID: UInt64, with action: Action) -> [Action] {
        self.calls[streamID] = nil
        return [action] + self.closeIfDrained()
    }
}
