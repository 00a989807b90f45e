import GnomonProtocol

/// One fuzz input read as connection settings, the places the byte stream is cut, and the stream.
///
/// Byte 0 holds the settings, bit by bit as the properties below say. The low 4 bits of byte 1
/// give how many chunk lengths follow, one byte each, and its high 4 bits the local events; the
/// rest is the stream. The lengths are used in turn, over and over, until the stream is used
/// up, and a length of 0 appends nothing. Without a non-zero length the whole stream arrives in
/// one read.
struct FrameStreamInput {
    /// The maximum frame lengths that bits 0 and 1 choose from.
    static let maximumFrameLengths = [ProtocolLimits.defaultMaximumFrameLength, 0, 40, 1000]
    /// The steps of the clock after each chunk that bits 4 and 5 choose from; `nil` never ticks.
    static let tickIntervals: [Duration?] = [nil, .milliseconds(100), .seconds(15), .seconds(301)]
    /// The maximum numbers of concurrent streams that bits 6 and 7 choose from.
    static let maximumConcurrentStreams = [100, 0, 1, 2]

    /// The limits both sides enforce.
    var limits: ProtocolLimits
    /// Bit 2: the client starts calls before any frame arrives, so that frames can end them.
    var startsCalls: Bool
    /// Bit 3: the server's handlers answer each call as soon as it is delivered.
    var handlersAnswer: Bool
    /// How far the clock moves after each chunk, when both machines tick.
    var tickInterval: Duration?
    /// Byte 1, bit 4: the server starts a graceful shutdown after the first chunk.
    var serverShutsDown: Bool
    /// Byte 1, bit 5: the client starts a graceful shutdown after the first chunk.
    var clientShutsDown: Bool
    /// Byte 1, bit 6: the client cancels its call on stream 1 after the first chunk.
    var clientCancels: Bool
    /// Byte 1, bit 7: the server's handlers answer with the wrong kind of answer for their call.
    var handlersMisbehave: Bool
    /// The bytes of the connection, in order.
    var stream: [UInt8]
    /// The stream cut into the reads that deliver it.
    var chunks: [ArraySlice<UInt8>]

    /// Reads an input.
    ///
    /// - Parameter bytes: The input libFuzzer made.
    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        let settings = Int(bytes.first ?? 0)
        self.limits = ProtocolLimits(
            maximumFrameLength: Self.maximumFrameLengths[settings & 3],
            maximumConcurrentStreams: Self.maximumConcurrentStreams[settings >> 6 & 3]
        )
        self.startsCalls = settings & 4 != 0
        self.handlersAnswer = settings & 8 != 0
        self.tickInterval = Self.tickIntervals[settings >> 4 & 3]

        let events = Int(bytes.count > 1 ? bytes[1] : 0)
        self.serverShutsDown = events & 0x10 != 0
        self.clientShutsDown = events & 0x20 != 0
        self.clientCancels = events & 0x40 != 0
        self.handlersMisbehave = events & 0x80 != 0

        let lengthCount = events & 0x0F
        let lengthsStart = min(2, bytes.count)
        let streamStart = min(lengthsStart + lengthCount, bytes.count)
        self.stream = Array(bytes[streamStart...])
        self.chunks = Self.cut(self.stream, lengths: bytes[lengthsStart..<streamStart].map { Int($0) })
    }

    /// Cuts the stream into chunks of the given lengths, repeated until it is used up.
    private static func cut(_ stream: [UInt8], lengths: [Int]) -> [ArraySlice<UInt8>] {
        guard lengths.contains(where: { $0 > 0 }) else {
            return [stream[...]]
        }
        var chunks: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset < stream.count {
            let end = min(offset + lengths[chunks.count % lengths.count], stream.count)
            chunks.append(stream[offset..<end])
            offset = end
        }
        return chunks
    }
}
