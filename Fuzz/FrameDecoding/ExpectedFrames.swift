import GnomonProtocol

/// What a byte stream holds, worked out from the framing rules without ``FrameDecoder``.
///
/// Each event says how many bytes of the stream must have arrived before a decoder can report
/// it: a frame once its last byte is in, and a length over the maximum as soon as its prefix is.
/// Reading stops at the first error.
struct ExpectedFrames {
    /// One thing the decoder must report.
    enum Event {
        /// A frame, complete once `availableAfter` bytes have arrived.
        case frame(V1.Frame, availableAfter: Int)
        /// A decoding error, due once `availableAfter` bytes have arrived.
        case failure(FrameDecodingError, availableAfter: Int)

        /// How many bytes must have arrived before the event is due.
        var availableAfter: Int {
            switch self {
            case .frame(_, let availableAfter), .failure(_, let availableAfter):
                return availableAfter
            }
        }
    }

    /// The events, in stream order.
    private(set) var events: [Event] = []

    /// Reads the whole stream at once.
    ///
    /// - Parameters:
    ///   - stream: The bytes of the connection.
    ///   - maximumFrameLength: The largest body the decoder accepts.
    init(stream: [UInt8], maximumFrameLength: Int) {
        var offset = 0
        while stream.count - offset >= 4 {
            let length = stream[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let bodyStart = offset + 4
            guard length <= maximumFrameLength else {
                let error = FrameDecodingError.frameTooLarge(length: length, maximum: maximumFrameLength)
                self.events.append(.failure(error, availableAfter: bodyStart))
                return
            }
            guard stream.count - bodyStart >= length else {
                return
            }

            offset = bodyStart + length
            do {
                let frame = try V1.Frame(serializedBytes: stream[bodyStart..<offset])
                self.events.append(.frame(frame, availableAfter: offset))
            } catch {
                let failure = FrameDecodingError.malformedFrame(length: length, underlying: error)
                self.events.append(.failure(failure, availableAfter: offset))
                return
            }
        }
    }
}
