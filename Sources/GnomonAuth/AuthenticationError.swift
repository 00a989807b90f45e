/// Why a token was refused, or why keys or a signer could not be set up.
///
/// The ``code`` is for programs to branch on, and for the wire. The ``message`` is for people:
/// it names what was wrong, such as `the token expired at 2026-12-03T10:00:00Z`, and never holds
/// the token, its signature or any key material, so it may be logged and shown to the caller.
public struct AuthenticationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new codes may be added in later versions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String

        private init(_ raw: String) {
            self.raw = raw
        }

        /// The token is not a compact JWS of base64url JSON, or a claim has the wrong type.
        public static let malformed = Code("malformed")
        /// The token is larger than the configured limit.
        public static let tooLarge = Code("too_large")
        /// The header names no algorithm, `none`, or one Gnomon does not verify.
        public static let unsupportedAlgorithm = Code("unsupported_algorithm")
        /// The key the token names does not allow the token's algorithm.
        public static let algorithmNotAllowed = Code("algorithm_not_allowed")
        /// The header has a parameter Gnomon refuses: `crit`, `jwk`, `jku`, `x5u` or `x5c`.
        public static let forbiddenHeader = Code("forbidden_header")
        /// No configured key has the token's `kid`, or without a `kid` no single key fits.
        public static let unknownKey = Code("unknown_key")
        /// The signature does not verify with the key, or has the wrong length or range.
        public static let badSignature = Code("bad_signature")
        /// The token's `exp` has passed.
        public static let expired = Code("expired")
        /// The token's `nbf` or `iat` is in the future.
        public static let notYetValid = Code("not_yet_valid")
        /// The token's `iss` is not an accepted issuer, or not the issuer its key is bound to.
        public static let wrongIssuer = Code("wrong_issuer")
        /// The token's `aud` does not name this service.
        public static let wrongAudience = Code("wrong_audience")
        /// A claim the token must have is missing.
        public static let missingClaim = Code("missing_claim")
        /// A claim has a value of the right type that is not allowed, such as a bad tenant id.
        public static let invalidClaim = Code("invalid_claim")
        /// A key file, a JWKS file or the verifier's settings cannot be used.
        public static let invalidConfiguration = Code("invalid_configuration")
        /// OpenSSL failed in a way that does not depend on the input, such as out of memory.
        public static let internalError = Code("internal_error")

        /// The code's stable snake_case name, such as `bad_signature`.
        public var description: String {
            self.raw
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong and what would be right; never the token or key material.
    public var message: String
    /// The source file that threw, as `Module/File.swift`.
    public var file: String
    /// The line that threw.
    public var line: Int

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: What was wrong and what would be right, holding no secret.
    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The code and the message, such as `expired: the token expired at 2026-12-03T10:00:00Z`.
    public var description: String {
        "\(self.code): \(self.message)"
    }
}
