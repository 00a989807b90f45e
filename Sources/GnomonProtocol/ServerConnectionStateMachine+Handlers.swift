extension ServerConnectionStateMachine {
    /// Handles a unary handler's response: the call ends with it.
    ///
    /// Nothing is sent when the stream has already ended, such as after a CANCEL.
    ///
    /// - Parameters:
    ///   - streamID: The stream of the call.
    ///   - payload: The serialized response message.
    /// - Returns: The RESPONSE to send, and the close when a drain completes.
    public mutating func handlerResponded(streamID: UInt64, payload: [UInt8]) -> [Action] {
        guard let stream = self.streams[streamID] else {
            return []
        }
        guard stream.method.kind == .unary else {
            return self.handlerMisbehaved(streamID: streamID, "answered a server-streaming call with one response")
        }
        return self.endStream(streamID, with: .makeResponse(streamID: streamID, payload: payload))
    }

    /// Handles one message of a server-streaming handler.
    ///
    /// - Parameters:
    ///   - streamID: The stream of the call.
    ///   - payload: The serialized stream message.
    /// - Returns: The STREAM_MESSAGE to send, or nothing when the stream has ended.
    public mutating func handlerSentStreamMessage(streamID: UInt64, payload: [UInt8]) -> [Action] {
        guard let stream = self.streams[streamID] else {
            return []
        }
        guard stream.method.kind == .serverStreaming else {
            return self.handlerMisbehaved(streamID: streamID, "sent a stream message on a unary call")
        }
        return [.send(.makeStreamMessage(streamID: streamID, payload: payload))]
    }

    /// Handles a handler finishing with a status.
    ///
    /// A unary call ends with a RESPONSE carrying the status (an empty payload when it is OK); a
    /// server-streaming call ends with END.
    ///
    /// - Parameters:
    ///   - streamID: The stream of the call.
    ///   - status: How the call ended.
    /// - Returns: The frame to send, and the close when a drain completes.
    public mutating func handlerFinished(streamID: UInt64, status: CallStatus) -> [Action] {
        guard let stream = self.streams[streamID] else {
            return []
        }
        return self.endStream(streamID, with: Self.makeFinalFrame(streamID: streamID, stream: stream, status: status))
    }

    /// The frame that ends a call of the stream's kind with a status.
    static func makeFinalFrame(streamID: UInt64, stream: OpenStream, status: CallStatus) -> V1.Frame {
        switch stream.method.kind {
        case .unary:
            return status.isOK
                ? .makeResponse(streamID: streamID, payload: []) : .makeResponse(streamID: streamID, status: status)

        case .serverStreaming:
            return .makeEnd(streamID: streamID, status: status)
        }
    }

    /// Sends a call's last frame and forgets its stream.
    private mutating func endStream(_ streamID: UInt64, with frame: V1.Frame) -> [Action] {
        self.streams[streamID] = nil
        return [.send(frame)] + self.closeIfDrained()
    }

    /// Ends a call whose handler used the wrong kind of answer, and stops the handler.
    private mutating func handlerMisbehaved(streamID: UInt64, _ what: String) -> [Action] {
        let status = CallStatus(code: .internal, message: "the server's handler \(what)")
        let stream = self.streams.removeValue(forKey: streamID)!
        let frame = Self.makeFinalFrame(streamID: streamID, stream: stream, status: status)
        return [.send(frame), .cancelHandler(streamID: streamID, status: status)] + self.closeIfDrained()
    }
}
