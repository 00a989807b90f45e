import GnomonProtocol

/// Feeds a stream to a ``FrameDecoder`` chunk by chunk, as a connection would.
///
/// After every read the decoder is drained, as its documentation asks. Each frame or error must
/// be the next of ``ExpectedFrames`` and due by then; when the decoder asks for more bytes,
/// nothing due may be left and exactly the bytes after the last frame must be buffered.
struct DecodingRun {
    private let input: FrameStreamInput
    private let expected: ExpectedFrames
    private var decoder: FrameDecoder
    private var machines: ConnectionMachines
    /// How many bytes of the stream were appended.
    private var received = 0
    /// Where the last frame returned ends in the stream.
    private var consumed = 0
    private var nextEvent = 0

    /// Prepares a run over one input.
    init(_ input: FrameStreamInput) {
        self.input = input
        self.expected = ExpectedFrames(stream: input.stream, maximumFrameLength: input.limits.maximumFrameLength)
        self.decoder = FrameDecoder(limits: input.limits)
        self.machines = ConnectionMachines(input)
    }

    /// Appends every chunk and reads what it completes, until the stream ends or decoding fails.
    mutating func run() {
        for (index, chunk) in self.input.chunks.enumerated() {
            self.decoder.append(chunk)
            self.received += chunk.count
            guard self.readFrames() else {
                return
            }
            if index == 0 {
                self.machines.localEventsHappen()
            }
            self.machines.tick()
        }
        self.machines.connectionEnded()
    }

    /// Reads frames until the decoder needs more bytes; `false` once decoding has failed.
    private mutating func readFrames() -> Bool {
        while true {
            let frame: V1.Frame?
            do {
                frame = try self.decoder.nextFrame()
            } catch {
                self.decodingFailed(error)
                return false
            }
            guard let frame else {
                self.checkWaiting()
                return true
            }
            self.frameRead(frame)
        }
    }

    private mutating func frameRead(_ frame: V1.Frame) {
        let event = self.takeExpectedEvent()
        guard case .frame(let expectedFrame, let end) = event else {
            fatalError("the decoder returned a frame where the stream holds \(event); frame: \(frame)")
        }
        require(frame == expectedFrame, "the decoder returned \(frame) where the stream holds \(expectedFrame)")
        require(end <= self.received, "the decoder returned a frame ending at \(end) after \(self.received) bytes")
        self.consumed = end
        self.machines.frameReceived(frame)
    }

    private mutating func decodingFailed(_ error: FrameDecodingError) {
        let event = self.takeExpectedEvent()
        guard case .failure(let expectedError, let due) = event else {
            fatalError("the decoder threw \(error) where the stream holds \(event)")
        }
        require(error == expectedError, "the decoder threw \(error) where \(expectedError) was expected")
        require(due <= self.received, "the decoder threw \(error) after \(self.received) bytes, before \(due)")

        self.decoder.append([0, 0, 0, 0])
        do {
            let frame = try self.decoder.nextFrame()
            fatalError("a failed decoder returned \(String(describing: frame)) instead of its error")
        } catch {
            require(error == expectedError, "a failed decoder threw \(error), not its first error \(expectedError)")
        }
        self.machines.decodingFailed(error)
    }

    /// The next event of the stream; trapping when the stream holds no more.
    private mutating func takeExpectedEvent() -> ExpectedFrames.Event {
        require(
            self.nextEvent < self.expected.events.count,
            "the decoder reported more than the \(self.expected.events.count) events the stream holds"
        )
        defer { self.nextEvent += 1 }
        return self.expected.events[self.nextEvent]
    }

    /// Checks the decoder's state when it asks for more bytes.
    private func checkWaiting() {
        if self.nextEvent < self.expected.events.count {
            let event = self.expected.events[self.nextEvent]
            require(
                event.availableAfter > self.received,
                "the decoder asked for more bytes after \(self.received), but \(event) was due after "
                    + "\(event.availableAfter)"
            )
        }
        require(
            self.decoder.bufferedByteCount == self.received - self.consumed,
            "the decoder buffers \(self.decoder.bufferedByteCount) bytes; "
                + "\(self.received - self.consumed) arrived after the last frame"
        )
    }
}
