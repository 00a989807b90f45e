extension ServerConnectionStateMachine {
    /// Closes the connection because the client broke the protocol.
    mutating func protocolViolated(_ message: String) -> [Action] {
        self.closeForPeerError(goAwayReason: .protocolError, closeCode: .protocolViolation, message: message)
    }

    /// Sends GOAWAY with the reason, stops every handler and closes.
    mutating func closeForPeerError(
        goAwayReason: V1.GoAwayReason,
        closeCode: ConnectionCloseReason.Code,
        message: String
    ) -> [Action] {
        self.phase = .closed
        let goAway = V1.Frame.makeGoAway(reason: goAwayReason, lastStreamID: self.highestStreamID, message: message)
        let status = CallStatus(code: .cancelled, message: "the connection closed: \(message)")
        return [.send(goAway)] + self.cancelAllHandlers(status)
            + [.close(ConnectionCloseReason(code: closeCode, message: message))]
    }

    /// Stops every running handler, in stream order, and forgets the streams.
    mutating func cancelAllHandlers(_ status: CallStatus) -> [Action] {
        let streamIDs = self.streams.keys.sorted()
        self.streams = [:]
        return streamIDs.map { .cancelHandler(streamID: $0, status: status) }
    }

    /// Closes a draining connection once its last stream has ended.
    mutating func closeIfDrained() -> [Action] {
        guard self.phase == .draining, self.streams.isEmpty else {
            return []
        }
        self.phase = .closed
        return [.close(ConnectionCloseReason(code: .drained, message: "every stream ended after GOAWAY"))]
    }
}
