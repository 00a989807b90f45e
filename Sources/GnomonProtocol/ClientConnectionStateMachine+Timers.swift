extension ClientConnectionStateMachine {
    /// Handles the passing of time: call deadlines and keepalive.
    ///
    /// Call it regularly, such as every 100 milliseconds; deadlines fire at the first tick after
    /// they pass.
    ///
    /// - Parameter now: The current time.
    /// - Returns: What to do, in order.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        guard self.phase != .closed else {
            return []
        }
        return self.expireDeadlines(now: now) + self.keepaliveTicked(now: now)
    }

    /// Fails every call whose deadline has passed, in stream order, and tells the server.
    private mutating func expireDeadlines(now: ContinuousClock.Instant) -> [Action] {
        var expired: [UInt64] = []
        for (streamID, call) in self.calls {
            if let deadline = call.deadline, deadline <= now {
                expired.append(streamID)
            }
        }
        guard !expired.isEmpty else {
            return []
        }

        var actions: [Action] = []
        let status = CallStatus(code: .deadlineExceeded, message: "the call's deadline passed")
        for streamID in expired.sorted() {
            self.calls[streamID] = nil
            actions.append(.send(.makeCancel(streamID: streamID)))
            actions.append(.failCall(streamID: streamID, status: status))
        }
        return actions + self.closeIfDrained()
    }

    /// Pings a quiet server, or gives up on one that stopped answering.
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
            let message = "the server sent nothing within \(self.limits.keepaliveTimeout) of a ping"
            return self.failAllCalls(CallStatus(code: .unavailable, message: message))
                + [.close(ConnectionCloseReason(code: .keepaliveTimeout, message: message))]
        }
    }
}
