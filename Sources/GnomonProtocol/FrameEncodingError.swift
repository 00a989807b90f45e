/// An error in writing a frame.
public struct FrameEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of encoding error this is; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The encoded frame is longer than the maximum.
        public static let frameTooLarge = Code("frame too large")
        /// The frame cannot be encoded as it stands, such as a string containing NUL.
        public static let invalidFrame = Code("invalid frame")

        public var description: String { self.name }
    }

    /// What went wrong.
    public var code: Code
    /// What was wrong and what would be right.
    public var message: String
    /// The encoded length, when the error is about the length.
    public var length: Int?
    /// The maximum the encoder writes, when the error is about the length.
    public var maximumLength: Int?
    /// Why protobuf encoding failed, for an invalid frame.
    public var underlying: ProtocolError?

    /// Creates an error.
    public init(
        code: Code,
        message: String,
        length: Int? = nil,
        maximumLength: Int? = nil,
        underlying: ProtocolError? = nil
    ) {
        self.code = code
        self.message = message
        self.length = length
        self.maximumLength = maximumLength
        self.underlying = underlying
    }

    /// The frame encodes to more bytes than allowed.
    public static func frameTooLarge(length: Int, maximum: Int) -> FrameEncodingError {
        FrameEncodingError(
            code: .frameTooLarge,
            message: "the frame encodes to \(length) bytes; frames must be at most \(maximum) bytes, "
                + "so send a smaller payload",
            length: length,
            maximumLength: maximum
        )
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }
}
