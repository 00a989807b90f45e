/// Reads frames from a connection's bytes as they arrive.
///
/// Bytes may arrive split at any offset, or many frames in one read. Each frame's length is
/// checked against the maximum as soon as its 4-byte prefix is in, and the buffer grows only
/// with bytes that actually arrived, so a prefix declaring 4 GiB allocates nothing. Consumed
/// bytes are dropped once they are at least half of the buffer, which keeps the cost per byte
/// constant, and a buffer that grew for a large frame is released once that frame is read.
///
/// Call ``nextFrame()`` until it returns `nil` after every ``append(_:)``: the buffer then
/// never holds more than one partial frame plus the last bytes appended. After an error the
/// decoder stays failed and the connection must be closed.
public struct FrameDecoder: Sendable {
    /// The capacity kept when the buffer empties; more than this is given back.
    static let retainedCapacity = 16 * 1024

    /// The largest frame body accepted, in bytes, not counting the length prefix.
    public let maximumFrameLength: Int

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failure: FrameDecodingError?

    /// Creates a decoder that accepts frames of at most the limits' maximum length.
    public init(limits: ProtocolLimits = ProtocolLimits()) {
        self.maximumFrameLength = limits.effectiveMaximumFrameLength
    }

    /// How many bytes are buffered and not yet part of a returned frame.
    ///
    /// Non-zero when the connection ends means the peer stopped in the middle of a frame.
    public var bufferedByteCount: Int {
        self.buffer.count - self.readIndex
    }

    /// How many bytes the buffer can hold before it has to grow.
    public var bufferCapacity: Int {
        self.buffer.capacity
    }

    /// Adds bytes read from the connection; they are ignored once decoding has failed.
    ///
    /// - Parameter bytes: The bytes, in the order they arrived.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard self.failure == nil, !bytes.isEmpty else {
            return
        }
        self.compact()
        self.buffer.append(contentsOf: bytes)
    }

    /// Returns the next complete frame, or `nil` when more bytes are needed.
    ///
    /// A frame of length 0 decodes as an empty frame, whose kind is unspecified; the
    /// connection state machines refuse it.
    ///
    /// - Returns: The frame, or `nil` when no complete frame is buffered.
    /// - Throws: ``FrameDecodingError`` with code `frameTooLarge` when a prefix declares more
    ///   than the maximum, or `malformedFrame` when a body is not a frame. The same error is
    ///   thrown by every later call.
    public mutating func nextFrame() throws(FrameDecodingError) -> V1.Frame? {
        if let failure = self.failure {
            throw failure
        }
        guard self.bufferedByteCount >= FrameHeader.length else {
            self.compact()
            return nil
        }

        let length = FrameHeader.read(from: self.buffer, at: self.readIndex)
        guard length <= self.maximumFrameLength else {
            throw self.fail(.frameTooLarge(length: length, maximum: self.maximumFrameLength))
        }
        guard self.bufferedByteCount - FrameHeader.length >= length else {
            self.compact()
            return nil
        }

        let bodyStart = self.readIndex + FrameHeader.length
        let frame: V1.Frame
        do {
            frame = try V1.Frame(serializedBytes: self.buffer[bodyStart..<bodyStart + length])
        } catch {
            throw self.fail(.malformedFrame(length: length, underlying: error))
        }
        self.readIndex = bodyStart + length
        return frame
    }

    /// Records a failure and gives back the buffer, which will never be read again.
    private mutating func fail(_ error: FrameDecodingError) -> FrameDecodingError {
        self.failure = error
        self.buffer = []
        self.readIndex = 0
        return error
    }

    /// Drops consumed bytes once they are at least half of the buffer.
    ///
    /// Moving the unread bytes costs no more than the consumed bytes being dropped, so the
    /// total work stays proportional to the bytes received.
    private mutating func compact() {
        guard self.readIndex > 0, self.readIndex >= self.bufferedByteCount else {
            return
        }
        let unread = self.bufferedByteCount
        if self.buffer.capacity > Self.retainedCapacity && unread * 4 < self.buffer.capacity {
            // A buffer that grew for one large frame is not kept for the small ones after it.
            self.buffer = Array(self.buffer[self.readIndex...])
        } else {
            self.buffer.removeSubrange(0..<self.readIndex)
        }
        self.readIndex = 0
    }
}
