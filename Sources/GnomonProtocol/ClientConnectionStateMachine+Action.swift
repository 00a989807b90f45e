extension ClientConnectionStateMachine {
    /// What the client should do after an event, in order.
    ///
    /// Every call started ends with exactly one of `deliverResponse`, `finishStream` or
    /// `failCall`. Frames are written in the order given; a `close` is always last and means:
    /// flush the frames written before it, then close the connection.
    public enum Action: Sendable, Hashable {
        /// Write this frame to the server.
        case send(V1.Frame)
        /// A unary call succeeded with this response; the call is over.
        case deliverResponse(streamID: UInt64, payload: [UInt8])
        /// A server-streaming call received a message; more may follow.
        case deliverStreamMessage(streamID: UInt64, payload: [UInt8])
        /// A server-streaming call ended with OK; the call is over.
        case finishStream(streamID: UInt64)
        /// A call failed with a status that is not OK; the call is over.
        case failCall(streamID: UInt64, status: CallStatus)
        /// Close the connection, after the frames sent before this action.
        case close(ConnectionCloseReason)
    }
}
