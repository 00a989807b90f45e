/// An error in encoding, decoding or framing protocol messages.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of protocol error this is; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The bytes are not a valid encoding of the expected message.
        public static let malformedMessage = Code("malformed message")
        /// A message cannot be encoded as it stands, such as a string containing NUL.
        public static let invalidMessage = Code("invalid message")

        public var description: String { self.name }
    }

    /// What went wrong.
    public var code: Code
    /// What was wrong and what would be right, naming the message and field.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }
}
