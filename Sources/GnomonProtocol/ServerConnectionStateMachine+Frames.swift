extension ServerConnectionStateMachine {
    /// Handles a PING or GOAWAY on stream 0; any other kind there breaks the protocol.
    mutating func connectionFrameReceived(_ frame: V1.Frame) -> [Action] {
        switch frame.kind {
        case .ping:
            let ping = frame.ping ?? V1.Ping()
            return ping.ack ? [] : [.send(.makePing(data: ping.data, ack: true))]

        case .goaway:
            return self.goAwayReceived()

        default:
            return self.protocolViolated(
                "a \(frame.kind.name) frame on stream 0, which carries only PING and GOAWAY"
            )
        }
    }

    /// Handles a frame on a stream other than 0.
    mutating func streamFrameReceived(_ frame: V1.Frame, now: ContinuousClock.Instant) -> [Action] {
        switch frame.kind {
        case .request:
            return self.requestReceived(frame, now: now)

        case .cancel:
            return self.cancelReceived(streamID: frame.streamID)

        case .response, .streamMessage, .end:
            return self.protocolViolated(
                "a \(frame.kind.name) frame from the client on stream \(frame.streamID); only the server sends it"
            )

        default:
            return self.protocolViolated(
                "a \(frame.kind.name) frame on stream \(frame.streamID); it belongs on stream 0"
            )
        }
    }

    /// The client will open no more streams: drain.
    private mutating func goAwayReceived() -> [Action] {
        guard self.phase == .active else {
            return []
        }
        self.phase = .draining
        return self.closeIfDrained()
    }

    /// Opens a stream, or refuses the call on it.
    private mutating func requestReceived(_ frame: V1.Frame, now: ContinuousClock.Instant) -> [Action] {
        let streamID = frame.streamID
        guard streamID % 2 == 1 else {
            return self.protocolViolated("a REQUEST on stream \(streamID); clients open streams with odd ids")
        }
        guard streamID > self.highestStreamID else {
            return self.protocolViolated(
                "a REQUEST on stream \(streamID), not above \(self.highestStreamID); "
                    + "each new stream needs a higher odd id than every stream before it"
            )
        }
        self.highestStreamID = streamID
        return self.openStream(frame, now: now)
    }

    /// Runs the call on a new stream if nothing stands in its way.
    private mutating func openStream(_ frame: V1.Frame, now: ContinuousClock.Instant) -> [Action] {
        guard self.acceptsNewStreams else {
            return self.refuse(frame, .unavailable, "the server sent GOAWAY; retry on a new connection")
        }
        guard let method = MethodDescriptor.named(frame.method) else {
            let name = frame.method.truncatedForMessage()
            return self.refuse(frame, .unimplemented, "the server has no method named \"\(name)\"")
        }
        guard self.streams.count < self.limits.maximumConcurrentStreams else {
            self.refusedStreamCount += 1
            let limit = self.limits.maximumConcurrentStreams
            return self.refuse(
                frame,
                .resourceExhausted,
                "\(limit) streams are open, the most a connection may have; wait for one to end"
            )
        }
        let metadata = frame.metadata ?? V1.CallMetadata()
        guard metadata.timeoutMs >= 0 else {
            return self.refuse(
                frame,
                .invalidArgument,
                "timeout_ms is \(metadata.timeoutMs); give 0 for no deadline or a positive number of milliseconds"
            )
        }

        let deadline = metadata.timeoutMs > 0 ? now + .milliseconds(metadata.timeoutMs) : nil
        self.streams[frame.streamID] = OpenStream(
            method: method,
            deadline: deadline,
            timeoutMilliseconds: metadata.timeoutMs
        )
        let request = Request(
            streamID: frame.streamID,
            method: method,
            metadata: metadata,
            payload: frame.payload,
            deadline: deadline
        )
        return [.deliverRequest(request)]
    }

    /// Ends a call before it runs, leaving the connection up.
    private func refuse(_ frame: V1.Frame, _ code: StatusCode, _ message: String) -> [Action] {
        [.send(.makeResponse(streamID: frame.streamID, status: CallStatus(code: code, message: message)))]
    }

    /// Stops the handler of an open stream; a stream that already ended is left alone.
    private mutating func cancelReceived(streamID: UInt64) -> [Action] {
        guard streamID % 2 == 1, streamID <= self.highestStreamID else {
            return self.protocolViolated("a CANCEL for stream \(streamID), which the client never opened")
        }
        guard self.streams.removeValue(forKey: streamID) != nil else {
            // The call ended while the CANCEL was on its way.
            return []
        }
        let status = CallStatus(code: .cancelled, message: "the client cancelled the call")
        return [.cancelHandler(streamID: streamID, status: status)] + self.closeIfDrained()
    }
}
