/// Writes frames as a 4-byte big-endian length followed by the protobuf encoding of the frame.
///
/// The encoder refuses a frame whose encoding is longer than the maximum, so a peer using the
/// same limits never has to refuse it.
public struct FrameEncoder: Sendable {
    /// The largest frame body written, in bytes, not counting the length prefix.
    public let maximumFrameLength: Int

    /// Creates an encoder that writes frames of at most the limits' maximum length.
    public init(limits: ProtocolLimits = ProtocolLimits()) {
        self.maximumFrameLength = limits.effectiveMaximumFrameLength
    }

    /// Encodes one frame with its length prefix.
    ///
    /// - Parameter frame: The frame to write.
    /// - Returns: The length prefix followed by the frame's encoding.
    /// - Throws: ``FrameEncodingError`` with code `frameTooLarge` when the encoding is longer than
    ///   the maximum, or `invalidFrame` when a string field contains NUL.
    public func encode(_ frame: V1.Frame) throws(FrameEncodingError) -> [UInt8] {
        var bytes: [UInt8] = []
        try self.encode(frame, into: &bytes)
        return bytes
    }

    /// Appends one frame with its length prefix to a buffer.
    ///
    /// On error the buffer is left as it was.
    ///
    /// - Parameters:
    ///   - frame: The frame to write.
    ///   - buffer: The bytes waiting to be written; the frame is appended.
    /// - Throws: ``FrameEncodingError``, as for ``encode(_:)``.
    public func encode(_ frame: V1.Frame, into buffer: inout [UInt8]) throws(FrameEncodingError) {
        let arena = CArena()
        let message: UnsafeMutablePointer<V1.Frame.CMessage>
        do {
            message = try arena.message(frame)
        } catch {
            throw Self.invalidFrame(error)
        }
        let length = V1.Frame.packedSize(message)
        guard length <= self.maximumFrameLength else {
            throw .frameTooLarge(length: length, maximum: self.maximumFrameLength)
        }

        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: FrameHeader.length + length))
        buffer.withUnsafeMutableBufferPointer { bytes in
            FrameHeader.write(length: UInt32(length), into: bytes, at: start)
            let written = V1.Frame.pack(message, into: bytes.baseAddress! + start + FrameHeader.length)
            precondition(written == length, "protobuf-c packed \(written) bytes of a \(length)-byte frame")
        }
    }

    private static func invalidFrame(_ error: any Error) -> FrameEncodingError {
        let underlying = error as? ProtocolError
        return FrameEncodingError(
            code: .invalidFrame,
            message: "the frame cannot be encoded: \(underlying?.message ?? "\(error)")",
            underlying: underlying
        )
    }
}
