/// What a ``JWTVerifier`` accepts: issuers, audience, keys, clock leeway and limits.
public struct JWTVerifierConfiguration: Sendable, Hashable {
    /// The `iss` values accepted; a token's issuer must be one of them, byte for byte.
    public var issuers: Set<String>
    /// The `aud` value that names this service, such as `gnomon`.
    public var audience: String
    /// Keys read from PEM or secret files, one key each.
    public var keyFiles: [JWTKeyFile]
    /// JWKS documents, each holding any number of keys.
    public var jwksFiles: [JWKSFile]
    /// How far clocks may disagree: added to `exp`, and allowed for `nbf` and `iat`.
    public var leeway: Duration
    /// Tokens longer than this many bytes are refused before anything else is done.
    public var maximumTokenBytes: Int
    /// How many verified tokens are remembered until they expire.
    public var cacheCapacity: Int
    /// Which claims name the principal.
    public var principalMapping: PrincipalMapping

    /// Creates a configuration; every key's issuer, when set, must be among `issuers`.
    ///
    /// - Parameters:
    ///   - issuers: The accepted `iss` values.
    ///   - audience: The `aud` value naming this service.
    ///   - keyFiles: Keys read from PEM or secret files.
    ///   - jwksFiles: JWKS documents.
    ///   - leeway: How far clocks may disagree; 60 seconds by default.
    ///   - maximumTokenBytes: The largest token accepted; 8 KiB by default.
    ///   - cacheCapacity: How many verified tokens are remembered; 10,000 by default.
    ///   - principalMapping: Which claims name the principal.
    public init(
        issuers: Set<String>,
        audience: String,
        keyFiles: [JWTKeyFile] = [],
        jwksFiles: [JWKSFile] = [],
        leeway: Duration = .seconds(60),
        maximumTokenBytes: Int = 8_192,
        cacheCapacity: Int = 10_000,
        principalMapping: PrincipalMapping = PrincipalMapping()
    ) {
        self.issuers = issuers
        self.audience = audience
        self.keyFiles = keyFiles
        self.jwksFiles = jwksFiles
        self.leeway = leeway
        self.maximumTokenBytes = maximumTokenBytes
        self.cacheCapacity = cacheCapacity
        self.principalMapping = principalMapping
    }

    /// Checks the settings that do not need the key files.
    func validate() throws(AuthenticationError) {
        guard !self.issuers.isEmpty, !self.issuers.contains("") else {
            throw AuthenticationError(.invalidConfiguration, "at least one issuer is needed, and none may be empty")
        }
        guard !self.audience.isEmpty else {
            throw AuthenticationError(.invalidConfiguration, "the audience must not be empty")
        }
        guard !self.keyFiles.isEmpty || !self.jwksFiles.isEmpty else {
            throw AuthenticationError(.invalidConfiguration, "no key file and no JWKS file is configured")
        }
        guard self.leeway >= .zero, self.leeway <= .seconds(3_600) else {
            throw AuthenticationError(.invalidConfiguration, "the leeway must be from 0 to 3600 seconds")
        }
        guard self.maximumTokenBytes > 0, self.cacheCapacity >= 0 else {
            throw AuthenticationError(
                .invalidConfiguration,
                "the token size limit must be positive and the cache capacity not negative"
            )
        }
        for issuer in self.keyFiles.compactMap(\.issuer) + self.jwksFiles.compactMap(\.issuer) {
            guard self.issuers.contains(issuer) else {
                throw AuthenticationError(
                    .invalidConfiguration,
                    "a key is bound to issuer \(issuer), which is not among the accepted issuers"
                )
            }
        }
    }

    /// The leeway in nanoseconds.
    var leewayNanoseconds: Int64 {
        let (seconds, attoseconds) = self.leeway.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// One key in a file: a PEM public or private key, or an HMAC secret.
public struct JWTKeyFile: Sendable, Hashable {
    /// How the file holds its key.
    public enum Encoding: Sendable, Hashable {
        /// A PEM `PUBLIC KEY`, or an unencrypted `PRIVATE KEY` whose public half is used.
        case pem
        /// An HMAC secret: the file's bytes exactly, a trailing newline included.
        case rawSecret
        /// An HMAC secret as base64url text; whitespace around it is ignored.
        case base64URLSecret
    }

    /// The file's path.
    public var path: String
    /// The key's id, the `kid` tokens name it by.
    public var keyID: String
    /// The algorithms the key verifies; each must suit the key's type.
    public var algorithms: Set<JWTAlgorithm>
    /// The only `iss` the key is trusted for, or `nil` for any accepted issuer.
    public var issuer: String?
    /// How the file holds its key.
    public var encoding: Encoding

    /// Describes a key file.
    ///
    /// - Parameters:
    ///   - path: The file's path.
    ///   - keyID: The `kid` tokens name the key by.
    ///   - algorithms: The algorithms the key verifies.
    ///   - issuer: The only issuer the key is trusted for, if any.
    ///   - encoding: How the file holds its key.
    public init(
        path: String,
        keyID: String,
        algorithms: Set<JWTAlgorithm>,
        issuer: String? = nil,
        encoding: Encoding = .pem
    ) {
        self.path = path
        self.keyID = keyID
        self.algorithms = algorithms
        self.issuer = issuer
        self.encoding = encoding
    }
}

/// A JSON Web Key Set file (RFC 7517), whose keys each carry their own `kid`.
public struct JWKSFile: Sendable, Hashable {
    /// The file's path.
    public var path: String
    /// The only `iss` the file's keys are trusted for, or `nil` for any accepted issuer.
    public var issuer: String?

    /// Describes a JWKS file.
    ///
    /// - Parameters:
    ///   - path: The file's path.
    ///   - issuer: The only issuer its keys are trusted for, if any.
    public init(path: String, issuer: String? = nil) {
        self.path = path
        self.issuer = issuer
    }
}
