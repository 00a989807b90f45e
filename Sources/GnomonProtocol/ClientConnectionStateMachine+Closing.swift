extension ClientConnectionStateMachine {
    /// Closes the connection because the server broke the protocol.
    mutating func protocolViolated(_ message: String) -> [Action] {
        self.closeForPeerError(goAwayReason: .protocolError, closeCode: .protocolViolation, message: message)
    }

    /// Sends GOAWAY with the reason, fails every call with `INTERNAL` and closes.
    mutating func closeForPeerError(
        goAwayReason: V1.GoAwayReason,
        closeCode: ConnectionCloseReason.Code,
        message: String
    ) -> [Action] {
        self.phase = .closed
        let goAway = V1.Frame.makeGoAway(reason: goAwayReason, lastStreamID: 0, message: message)
        let status = CallStatus(code: .internal, message: "the server broke the protocol: \(message)")
        return [.send(goAway)] + self.failAllCalls(status)
            + [.close(ConnectionCloseReason(code: closeCode, message: message))]
    }

    /// Fails every call in flight, in stream order, and forgets them.
    mutating func failAllCalls(_ status: CallStatus) -> [Action] {
        let streamIDs = self.calls.keys.sorted()
        self.calls = [:]
        return streamIDs.map { .failCall(streamID: $0, status: status) }
    }

    /// Closes a draining connection once its last call is over.
    mutating func closeIfDrained() -> [Action] {
        guard self.phase == .draining, self.calls.isEmpty else {
            return []
        }
        self.phase = .closed
        return [.close(ConnectionCloseReason(code: .drained, message: "every call ended after GOAWAY"))]
    }
}
