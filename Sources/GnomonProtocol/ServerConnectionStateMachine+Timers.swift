extension ServerConnectionStateMachine {
    /// Handles the passing of time: first-frame and idle timeouts, deadlines and keepalive.
    ///
    /// Call it regularly, such as every 100 milliseconds; timeouts fire at the first tick after
    /// they pass.
    ///
    /// - Parameter now: The current time.
    /// - Returns: What to do, in order.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        switch self.phase {
        case .closed:
            return []

        case .awaitingFirstFrame(let since):
            return self.firstFrameTimeoutChecked(since: since, now: now)

        case .active, .draining:
            var actions = self.expireDeadlines(now: now)
            actions += self.keepaliveTicked(now: now)
            actions += self.idleTimeoutChecked(now: now)
            return actions
        }
    }

    /// Closes a connection on which nothing arrived in time.
    private mutating func firstFrameTimeoutChecked(since: ContinuousClock.Instant, now: ContinuousClock.Instant)
        -> [Action]
    {
        guard now - since >= self.limits.firstFrameTimeout else {
            return []
        }
        self.phase = .closed
        let reason = ConnectionCloseReason(
            code: .firstFrameTimeout,
            message: "no frame arrived within \(self.limits.firstFrameTimeout) of the connection opening"
        )
        return [.close(reason)]
    }

    /// Ends every call whose deadline has passed, in stream order.
    private mutating func expireDeadlines(now: ContinuousClock.Instant) -> [Action] {
        var expired: [UInt64] = []
        for (streamID, stream) in self.streams {
            if let deadline = stream.deadline, deadline <= now {
                expired.append(streamID)
            }
        }
        guard !expired.isEmpty else {
            return []
        }

        var actions: [Action] = []
        for streamID in expired.sorted() {
            let stream = self.streams.removeValue(forKey: streamID)!
            let status = CallStatus(
                code: .deadlineExceeded,
                message: "the call's timeout of \(stream.timeoutMilliseconds) ms passed"
            )
            actions.append(.cancelHandler(streamID: streamID, status: status))
            actions.append(.send(Self.makeFinalFrame(streamID: streamID, stream: stream, status: status)))
        }
        return actions + self.closeIfDrained()
    }

    /// Pings a quiet client, or gives up on one that stopped answering.
    private mutating func keepaliveTicked(now: ContinuousClock.Instant) -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        switch self.keepalive.tick(now: now) {
        case .none:
            return []

        case .sendPing(let frame):
            return [.send(frame)]

        case .peerUnresponsive:
            self.phase = .closed
            let message = "the client sent nothing within \(self.limits.keepaliveTimeout) of a ping"
            let status = CallStatus(code: .unavailable, message: message)
            return self.cancelAllHandlers(status) + [
                .close(ConnectionCloseReason(code: .keepaliveTimeout, message: message))
            ]
        }
    }

    /// Sends GOAWAY(IDLE_TIMEOUT) and closes when no stream has been open for the idle timeout.
    private mutating func idleTimeoutChecked(now: ContinuousClock.Instant) -> [Action] {
        guard self.phase == .active, self.streams.isEmpty else {
            return []
        }
        guard let idleSince = self.idleSince else {
            // The last stream ended through a handler, which carries no time: start counting now.
            self.idleSince = now
            return []
        }
        guard now - idleSince >= self.limits.idleTimeout else {
            return []
        }
        self.phase = .closed
        let message = "the connection had no calls for \(self.limits.idleTimeout)"
        let goAway = V1.Frame.makeGoAway(reason: .idleTimeout, lastStreamID: self.highestStreamID, message: message)
        return [.send(goAway), .close(ConnectionCloseReason(code: .idleTimeout, message: message))]
    }
}
