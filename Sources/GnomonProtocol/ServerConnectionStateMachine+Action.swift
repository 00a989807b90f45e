extension ServerConnectionStateMachine {
    /// What the server should do after an event, in order.
    ///
    /// Frames are written in the order given; a `close` is always last and means: flush the
    /// frames written before it, then close the connection.
    public enum Action: Sendable, Hashable {
        /// Write this frame to the client.
        case send(V1.Frame)
        /// Run the handler for a call the client opened.
        case deliverRequest(Request)
        /// Stop the handler of a stream; nothing more may be sent on it.
        case cancelHandler(streamID: UInt64, status: CallStatus)
        /// Close the connection, after the frames sent before this action.
        case close(ConnectionCloseReason)
    }

    /// A call the client opened, for its handler.
    public struct Request: Sendable, Hashable {
        /// The stream the handler answers on.
        public var streamID: UInt64
        /// The method called.
        public var method: MethodDescriptor
        /// The call's metadata: credentials, timeout, trace context.
        public var metadata: V1.CallMetadata
        /// The serialized request message.
        public var payload: [UInt8]
        /// When the server abandons the call, from the metadata's timeout; `nil` for none.
        public var deadline: ContinuousClock.Instant?

        /// Creates a request.
        public init(
            streamID: UInt64,
            method: MethodDescriptor,
            metadata: V1.CallMetadata,
            payload: [UInt8],
            deadline: ContinuousClock.Instant?
        ) {
            self.streamID = streamID
            self.method = method
            self.metadata = metadata
            self.payload = payload
            self.deadline = deadline
        }
    }
}
