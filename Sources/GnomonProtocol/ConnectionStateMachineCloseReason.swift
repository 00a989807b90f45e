/// Why a connection state machine closed its connection.
public struct ConnectionCloseReason: Sendable, Hashable, CustomStringConvertible {
    /// What kind of close this is; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The peer broke the protocol; a GOAWAY with `PROTOCOL_ERROR` was sent first.
        public static let protocolViolation = Code("protocol violation")
        /// The peer sent a frame longer than the maximum; a GOAWAY with `FRAME_TOO_LARGE` was sent first.
        public static let frameTooLarge = Code("frame too large")
        /// The peer sent bytes that are not a frame; a GOAWAY with `PROTOCOL_ERROR` was sent first.
        public static let malformedFrame = Code("malformed frame")
        /// The client sent no frame within the first-frame timeout.
        public static let firstFrameTimeout = Code("first frame timeout")
        /// The connection had no streams for the idle timeout; a GOAWAY with `IDLE_TIMEOUT` was sent first.
        public static let idleTimeout = Code("idle timeout")
        /// The peer sent nothing, not even a ping's answer, within the keepalive timeout.
        public static let keepaliveTimeout = Code("keepalive timeout")
        /// A GOAWAY was sent or received and every stream has finished.
        public static let drained = Code("drained")

        public var description: String { self.name }
    }

    /// What kind of close this is.
    public var code: Code
    /// What happened, for the log.
    public var message: String

    /// Creates a reason.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }
}
