import Testing

@testable import GnomonProtocol

/// Frames of every kind, as a connection carries them.
private let sampleFrames: [V1.Frame] = [
    .makeRequest(
        streamID: 1,
        method: "gnomon.v1.JobService/SubmitJob",
        metadata: V1.CallMetadata(authorization: "Bearer t", timeoutMs: 1500, requestID: "r-1"),
        payload: Array(0..<200)
    ),
    .makeResponse(streamID: 1, payload: [1, 2, 3]),
    .makeResponse(streamID: 3, status: CallStatus(code: .notFound, message: "no job j1")),
    .makeStreamMessage(streamID: 5, payload: Array(repeating: 0xAB, count: 1000)),
    .makeEnd(streamID: 5),
    .makeEnd(streamID: 7, status: CallStatus(code: .deadlineExceeded, message: "late")),
    .makeCancel(streamID: 9),
    .makePing(data: 0xDEAD_BEEF),
    .makePing(data: 7, ack: true),
    .makeGoAway(reason: .shutdown, lastStreamID: 9, message: "bye"),
    V1.Frame(),
]

/// The encoding of every sample frame, one after the other.
private func encodedSampleStream() throws -> [UInt8] {
    let encoder = FrameEncoder()
    var bytes: [UInt8] = []
    for frame in sampleFrames {
        try encoder.encode(frame, into: &bytes)
    }
    return bytes
}

/// Every frame the decoder can return now.
private func drain(_ decoder: inout FrameDecoder) throws -> [V1.Frame] {
    var frames: [V1.Frame] = []
    while let frame = try decoder.nextFrame() {
        frames.append(frame)
    }
    return frames
}

/// A big-endian length prefix.
private func header(_ length: UInt32) -> [UInt8] {
    [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
}

/// A frame whose encoding is exactly `length` bytes.
private func frame(encodingTo length: Int) throws -> V1.Frame {
    var payloadLength = length
    for _ in 0..<4 {
        let frame = V1.Frame.makeStreamMessage(streamID: 1, payload: Array(repeating: 7, count: payloadLength))
        let encodedLength = try frame.serializedBytes().count
        if encodedLength == length {
            return frame
        }
        payloadLength -= encodedLength - length
    }
    throw FrameDecodingError(code: .malformedFrame, message: "no frame encodes to \(length) bytes")
}

@Suite("Frame encoder")
struct FrameEncoderTests {
    @Test("a frame is a big-endian length followed by its protobuf encoding")
    func knownAnswer() throws {
        let frame = V1.Frame(streamID: 1, kind: .request, method: "x", payload: [0xAA])
        let body: [UInt8] = [0x08, 0x01, 0x10, 0x01, 0x1A, 0x01, 0x78, 0x2A, 0x01, 0xAA]
        #expect(try FrameEncoder().encode(frame) == [0, 0, 0, 10] + body)
    }

    @Test("an empty frame encodes as a zero length and nothing else")
    func emptyFrame() throws {
        #expect(try FrameEncoder().encode(V1.Frame()) == [0, 0, 0, 0])
    }

    @Test("encoding into a buffer appends after what is there")
    func appends() throws {
        var buffer: [UInt8] = [9, 9]
        try FrameEncoder().encode(.makeCancel(streamID: 3), into: &buffer)
        #expect(buffer == [9, 9] + (try FrameEncoder().encode(.makeCancel(streamID: 3))))
    }

    @Test("a frame of exactly the maximum is written; one byte more is refused")
    func maximum() throws {
        let encoder = FrameEncoder(limits: ProtocolLimits(maximumFrameLength: 300))
        #expect(try encoder.encode(frame(encodingTo: 300)).count == 304)

        var buffer: [UInt8] = [1]
        let error = #expect(throws: FrameEncodingError.self) {
            try encoder.encode(frame(encodingTo: 301), into: &buffer)
        }
        #expect(error?.code == .frameTooLarge)
        #expect(error?.length == 301)
        #expect(error?.maximumLength == 300)
        #expect(buffer == [1])
    }

    @Test("the default maximum is 4 MiB of frame body")
    func defaultMaximum() throws {
        #expect(FrameEncoder().maximumFrameLength == 4 * 1024 * 1024)
        let atMaximum = try frame(encodingTo: 4 * 1024 * 1024)
        #expect(try FrameEncoder().encode(atMaximum).count == 4 * 1024 * 1024 + 4)
        var tooLarge = atMaximum
        tooLarge.payload.append(0)
        #expect(throws: FrameEncodingError.self) { try FrameEncoder().encode(tooLarge) }
    }

    @Test("a string with NUL is refused as an invalid frame, leaving the buffer as it was")
    func invalidFrame() {
        var buffer: [UInt8] = [1, 2]
        let error = #expect(throws: FrameEncodingError.self) {
            try FrameEncoder().encode(.makeRequest(streamID: 1, method: "a\u{0}b", payload: []), into: &buffer)
        }
        #expect(error?.code == .invalidFrame)
        #expect(error?.underlying?.code == .invalidMessage)
        #expect(buffer == [1, 2])
    }
}

@Suite("Frame decoder")
struct FrameDecoderTests {
    @Test("frames of every kind round-trip through the encoder and decoder")
    func roundTrip() throws {
        var decoder = FrameDecoder()
        decoder.append(try encodedSampleStream())
        #expect(try drain(&decoder) == sampleFrames)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("a stream split in two at every offset decodes to the same frames")
    func splitAtEveryOffset() throws {
        let bytes = try encodedSampleStream()
        for offset in 0...bytes.count {
            var decoder = FrameDecoder()
            decoder.append(bytes[..<offset])
            var frames = try drain(&decoder)
            decoder.append(bytes[offset...])
            frames += try drain(&decoder)
            #expect(frames == sampleFrames, "split at \(offset)")
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test("a stream arriving one byte at a time decodes to the same frames")
    func oneByteAtATime() throws {
        var decoder = FrameDecoder()
        var frames: [V1.Frame] = []
        for byte in try encodedSampleStream() {
            decoder.append(CollectionOfOne(byte))
            frames += try drain(&decoder)
        }
        #expect(frames == sampleFrames)
    }

    @Test("a thousand frames coalesced into one read all decode")
    func coalesced() throws {
        let encoder = FrameEncoder()
        var bytes: [UInt8] = []
        for index in 0..<1000 {
            try encoder.encode(.makeStreamMessage(streamID: 1, payload: [UInt8(index % 256)]), into: &bytes)
        }
        var decoder = FrameDecoder()
        decoder.append(bytes)
        let frames = try drain(&decoder)
        #expect(frames.count == 1000)
        #expect(frames.map(\.payload) == (0..<1000).map { [UInt8($0 % 256)] })
    }

    @Test("a length of 0 is an empty frame, of unspecified kind")
    func zeroLength() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0])
        let frame = try decoder.nextFrame()
        #expect(frame == V1.Frame())
        #expect(frame?.kind == .unspecified)
        #expect(try decoder.nextFrame() == nil)
    }

    @Test("a frame of exactly the maximum decodes")
    func maximum() throws {
        let limits = ProtocolLimits(maximumFrameLength: 300)
        let atMaximum = try frame(encodingTo: 300)
        var decoder = FrameDecoder(limits: limits)
        decoder.append(try FrameEncoder(limits: limits).encode(atMaximum))
        #expect(try decoder.nextFrame() == atMaximum)
    }

    @Test("a length of the maximum plus one is refused from its prefix alone")
    func maximumPlusOne() {
        var decoder = FrameDecoder(limits: ProtocolLimits(maximumFrameLength: 300))
        decoder.append(header(301))
        let error = #expect(throws: FrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error?.code == .frameTooLarge)
        #expect(error?.declaredLength == 301)
        #expect(error?.maximumLength == 300)
    }

    @Test("a length of 0xFFFFFFFF with no body is refused without allocating for it")
    func hugeDeclaredLength() {
        var decoder = FrameDecoder()
        decoder.append(header(0xFFFF_FFFF))
        let error = #expect(throws: FrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error?.code == .frameTooLarge)
        #expect(error?.declaredLength == 0xFFFF_FFFF)
        #expect(error?.maximumLength == 4 * 1024 * 1024)
        #expect(decoder.bufferCapacity < 1024)
    }

    @Test("a decoder that failed keeps failing and ignores further bytes")
    func staysFailed() throws {
        var decoder = FrameDecoder()
        decoder.append(header(0xFFFF_FFFF))
        #expect(throws: FrameDecodingError.self) { try decoder.nextFrame() }
        decoder.append(try FrameEncoder().encode(.makePing(data: 1)))
        #expect(decoder.bufferedByteCount == 0)
        let error = #expect(throws: FrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error?.code == .frameTooLarge)
    }

    @Test("a declared body that has not arrived allocates only for the bytes that did")
    func slowBody() throws {
        var decoder = FrameDecoder()
        decoder.append(header(4 * 1024 * 1024))
        for _ in 0..<100 {
            decoder.append([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
            #expect(try decoder.nextFrame() == nil)
        }
        #expect(decoder.bufferedByteCount == 1004)
        #expect(decoder.bufferCapacity < 4096)
    }

    @Test(
        "bytes that are not a frame are refused as malformed",
        arguments: [
            [0xFF, 0xFF, 0xFF],
            [0x08],
            [0x2A, 0x05, 0x01],
            [0x1A, 0x02, 0xC3, 0x28],
            [0x3A, 0x02, 0x08],
        ] as [[UInt8]])
    func garbage(body: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.append(header(UInt32(body.count)) + body)
        let error = #expect(throws: FrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error?.code == .malformedFrame)
        #expect(error?.underlying?.code == .malformedMessage)
    }

    @Test("a partial frame at the end is counted as buffered bytes")
    func truncated() throws {
        let bytes = try FrameEncoder().encode(.makePing(data: 1))
        var decoder = FrameDecoder()
        decoder.append(bytes.dropLast())
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedByteCount == bytes.count - 1)
    }

    @Test("the buffer stays bounded over a long stream read in chunks")
    func boundedBuffer() throws {
        let encoder = FrameEncoder()
        var bytes: [UInt8] = []
        for index in 0..<5_000 {
            try encoder.encode(
                .makeStreamMessage(streamID: 1, payload: Array(repeating: 1, count: index % 300)), into: &bytes)
        }
        var decoder = FrameDecoder()
        var count = 0
        var largestCapacity = 0
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 4096, bytes.count)
            decoder.append(bytes[offset..<end])
            offset = end
            count += try drain(&decoder).count
            largestCapacity = max(largestCapacity, decoder.bufferCapacity)
        }
        #expect(count == 5_000)
        #expect(largestCapacity <= 16 * 1024)
    }

    @Test("the buffer grown for a large frame is given back once it is read")
    func releasesLargeBuffer() throws {
        let large = try FrameEncoder().encode(
            .makeStreamMessage(streamID: 1, payload: Array(repeating: 1, count: 1_000_000)))
        let small = try FrameEncoder().encode(.makePing(data: 1))
        var decoder = FrameDecoder()
        decoder.append(large + small.prefix(3))
        #expect(try decoder.nextFrame()?.payload.count == 1_000_000)
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferCapacity <= FrameDecoder.retainedCapacity)
        decoder.append(small.dropFirst(3))
        #expect(try decoder.nextFrame() == .makePing(data: 1))
    }
}
