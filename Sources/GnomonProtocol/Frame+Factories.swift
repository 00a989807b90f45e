extension V1.Frame {
    /// The stream id of the connection itself, which carries only PING and GOAWAY.
    public static let connectionStreamID: UInt64 = 0

    /// Makes the REQUEST frame that opens a stream.
    ///
    /// - Parameters:
    ///   - streamID: An odd id above every id the client used before on this connection.
    ///   - method: The method's wire name, such as `gnomon.v1.JobService/SubmitJob`.
    ///   - metadata: The call's metadata, including its timeout.
    ///   - payload: The serialized request message.
    public static func makeRequest(
        streamID: UInt64,
        method: String,
        metadata: V1.CallMetadata = V1.CallMetadata(),
        payload: [UInt8]
    ) -> V1.Frame {
        V1.Frame(streamID: streamID, kind: .request, method: method, metadata: metadata, payload: payload)
    }

    /// Makes the RESPONSE frame that ends a unary call successfully.
    public static func makeResponse(streamID: UInt64, payload: [UInt8]) -> V1.Frame {
        V1.Frame(streamID: streamID, kind: .response, payload: payload)
    }

    /// Makes a RESPONSE frame that ends a call with a status and no payload.
    ///
    /// This is also how a server refuses a call of either kind before running it.
    public static func makeResponse(streamID: UInt64, status: CallStatus) -> V1.Frame {
        V1.Frame(streamID: streamID, kind: .response, status: Self.wireStatus(status))
    }

    /// Makes one STREAM_MESSAGE frame of a server-streaming call.
    public static func makeStreamMessage(streamID: UInt64, payload: [UInt8]) -> V1.Frame {
        V1.Frame(streamID: streamID, kind: .streamMessage, payload: payload)
    }

    /// Makes the END frame that ends a server-streaming call.
    public static func makeEnd(streamID: UInt64, status: CallStatus = .ok) -> V1.Frame {
        V1.Frame(streamID: streamID, kind: .end, status: Self.wireStatus(status))
    }

    /// Makes the CANCEL frame with which a client abandons a call.
    public static func makeCancel(streamID: UInt64) -> V1.Frame {
        V1.Frame(streamID: streamID, kind: .cancel)
    }

    /// Makes a PING frame, or the answer to one when `ack` is set.
    public static func makePing(data: UInt64, ack: Bool = false) -> V1.Frame {
        V1.Frame(streamID: Self.connectionStreamID, kind: .ping, ping: V1.Ping(data: data, ack: ack))
    }

    /// Makes a GOAWAY frame.
    ///
    /// - Parameters:
    ///   - reason: Why the sender is going away.
    ///   - lastStreamID: The highest stream id the sender processed or will process.
    ///   - message: For people: what happened.
    public static func makeGoAway(reason: V1.GoAwayReason, lastStreamID: UInt64, message: String) -> V1.Frame {
        let goAway = V1.GoAway(reason: reason, lastStreamID: lastStreamID, message: message)
        return V1.Frame(streamID: Self.connectionStreamID, kind: .goaway, goaway: goAway)
    }

    /// The status as a frame carries it: absent for a plain OK.
    private static func wireStatus(_ status: CallStatus) -> V1.Status? {
        status == .ok ? nil : V1.Status(status)
    }
}
