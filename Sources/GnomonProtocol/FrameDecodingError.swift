/// An error in reading frames from a connection's bytes.
///
/// After this error the byte stream cannot be resynchronised: the connection must be closed.
public struct FrameDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of decoding error this is; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// A length prefix declared a body longer than the maximum.
        public static let frameTooLarge = Code("frame too large")
        /// The body is not a valid protobuf encoding of a frame.
        public static let malformedFrame = Code("malformed frame")

        public var description: String { self.name }
    }

    /// What went wrong.
    public var code: Code
    /// What was wrong and what would be right.
    public var message: String
    /// The length the prefix declared, when the error is about the length.
    public var declaredLength: Int?
    /// The maximum the decoder accepts, when the error is about the length.
    public var maximumLength: Int?
    /// Why protobuf decoding failed, for a malformed frame.
    public var underlying: ProtocolError?

    /// Creates an error.
    public init(
        code: Code,
        message: String,
        declaredLength: Int? = nil,
        maximumLength: Int? = nil,
        underlying: ProtocolError? = nil
    ) {
        self.code = code
        self.message = message
        self.declaredLength = declaredLength
        self.maximumLength = maximumLength
        self.underlying = underlying
    }

    /// A length prefix declared more bytes than allowed.
    public static func frameTooLarge(length: Int, maximum: Int) -> FrameDecodingError {
        FrameDecodingError(
            code: .frameTooLarge,
            message: "a frame declared \(length) bytes; frames must be at most \(maximum) bytes",
            declaredLength: length,
            maximumLength: maximum
        )
    }

    /// A body of `length` bytes is not a frame.
    public static func malformedFrame(length: Int, underlying: ProtocolError) -> FrameDecodingError {
        FrameDecodingError(
            code: .malformedFrame,
            message: "a frame body of \(length) bytes is not a valid gnomon.v1.Frame: \(underlying.message)",
            declaredLength: length,
            underlying: underlying
        )
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }
}
