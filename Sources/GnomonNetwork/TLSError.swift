/// An error from TLS: a refused handshake, a broken connection, or unusable settings or files.
///
/// The ``code`` is for programs to branch on. The ``message`` is for people: it says what was
/// wrong and, where OpenSSL knew more, ends with OpenSSL's own reasons, such as
/// `handshake failed: no application protocol`.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new codes may be added in later versions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String

        private init(_ raw: String) {
            self.raw = raw
        }

        /// The settings ask for something that cannot be done, such as mutual TLS without a CA.
        public static let invalidConfiguration = Code("invalid_configuration")
        /// A certificate, key or CA file is missing, unreadable, malformed or does not match.
        public static let invalidCertificate = Code("invalid_certificate")
        /// The handshake failed: the peer was refused, or it refused this side.
        public static let handshakeFailed = Code("handshake_failed")
        /// After the handshake, the peer sent something TLS does not allow, or an alert.
        public static let connectionFailed = Code("connection_failed")
        /// The peer's stream ended without the close_notify alert that ends TLS cleanly.
        public static let unexpectedEndOfStream = Code("unexpected_end_of_stream")
        /// Plaintext was written after this side sent, or the peer sent, close_notify.
        public static let closed = Code("closed")
        /// A development certificate could not be made or written.
        public static let certificateGenerationFailed = Code("certificate_generation_failed")
        /// OpenSSL failed in a way that does not depend on the input, such as out of memory.
        public static let internalError = Code("internal_error")

        /// The code's stable snake_case name, such as `handshake_failed`.
        public var description: String {
            self.raw
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong and what would be right, ending with OpenSSL's reasons where it gave any.
    public var message: String
    /// The OpenSSL function that failed, such as `SSL_read_ex`, when one did.
    public var function: String?
    /// OpenSSL's error queue for the failure, oldest first, as OpenSSL prints each entry.
    public var details: [String]
    /// The source file that threw, as `Module/File.swift`.
    public var file: String
    /// The line that threw.
    public var line: Int

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: What was wrong and what would be right.
    ///   - function: The OpenSSL function that failed.
    ///   - details: OpenSSL's error queue for the failure.
    public init(
        _ code: Code,
        _ message: String,
        function: String? = nil,
        details: [String] = [],
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.function = function
        self.details = details
        self.file = file
        self.line = line
    }

    /// Creates an error from what OpenSSL's error queue holds, draining the queue.
    ///
    /// The reason of the oldest entry, the root cause, is appended to `summary`:
    /// `handshake failed` becomes `handshake failed: no application protocol`.
    init(
        _ code: Code,
        _ summary: String,
        openSSLCall function: String,
        queue: [OpenSSLError] = OpenSSLError.drainQueue(),
        file: String = #fileID,
        line: Int = #line
    ) {
        var message = summary
        if let reason = queue.first?.reason {
            message += ": \(reason)"
        }
        self.init(code, message, function: function, details: queue.map(\.description), file: file, line: line)
    }

    /// The code, the message, and the failing call with OpenSSL's queue, on one line.
    public var description: String {
        var text = "TLSError.\(self.code): \(self.message)"
        if let function = self.function {
            text += " [\(function)"
            if !self.details.isEmpty {
                text += ": " + self.details.joined(separator: "; ")
            }
            text += "]"
        }
        return text
    }
}
