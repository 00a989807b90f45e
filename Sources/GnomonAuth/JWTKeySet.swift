/// A key a token may be verified with, and what it may verify.
struct VerificationKey: Sendable {
    /// The `kid` tokens name it by.
    var keyID: String
    var algorithms: Set<JWTAlgorithm>
    /// The only issuer the key is trusted for, if any.
    var issuer: String?
    var material: KeyMaterial
    /// Where the key came from, such as `key file /etc/gnomon/rsa.pem`, for messages.
    var origin: String
}

/// Every configured key, by `kid`, built from one snapshot of the key files.
struct JWTKeySet: Sendable {
    private(set) var keys: [String: VerificationKey] = [:]
    /// A sentence for each JWKS key left out because it is not for verifying signatures.
    private(set) var skipped: [String] = []

    /// Builds the keys from the files' bytes.
    ///
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` naming the first file
    ///   or key that cannot be used; no key is ever taken from a set that failed.
    init(snapshot: KeyFileSnapshot, configuration: JWTVerifierConfiguration) throws(AuthenticationError) {
        for file in configuration.keyFiles {
            let bytes = try snapshot.contents(of: file.path)
            try self.add(try Self.key(from: bytes, file: file))
        }
        for file in configuration.jwksFiles {
            let bytes = try snapshot.contents(of: file.path)
            let document = try JWKSDocument(bytes, file: file)
            self.skipped += document.skipped
            for key in document.keys {
                try self.add(key)
            }
        }
    }

    private mutating func add(_ key: VerificationKey) throws(AuthenticationError) {
        if let existing = self.keys[key.keyID] {
            throw AuthenticationError(
                .invalidConfiguration,
                "key id \(key.keyID) is used by both \(existing.origin) and \(key.origin); each kid must be unique"
            )
        }
        self.keys[key.keyID] = key
    }

    /// The keys that allow `algorithm`.
    func keys(allowing algorithm: JWTAlgorithm) -> [VerificationKey] {
        self.keys.values.filter { $0.algorithms.contains(algorithm) }
    }

    private static func key(from bytes: [UInt8], file: JWTKeyFile) throws(AuthenticationError) -> VerificationKey {
        let origin = "key file \(file.path)"
        guard !file.keyID.isEmpty else {
            throw AuthenticationError(.invalidConfiguration, "\(origin) has an empty key id")
        }
        let material: KeyMaterial
        switch file.encoding {
        case .pem:
            material = .asymmetric(try AsymmetricKey.parse(pem: bytes, origin: origin))
        case .rawSecret:
            material = .secret(bytes)
        case .base64URLSecret:
            let text = bytes.drop { Self.isWhitespace($0) }.reversed().drop { Self.isWhitespace($0) }.reversed()
            guard let secret = Base64URL.decode(Array(text)) else {
                throw AuthenticationError(.invalidConfiguration, "\(origin) does not hold unpadded base64url text")
            }
            material = .secret(secret)
        }
        try Self.check(material, allows: file.algorithms, origin: origin)
        return VerificationKey(
            keyID: file.keyID,
            algorithms: file.algorithms,
            issuer: file.issuer,
            material: material,
            origin: origin
        )
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Checks every algorithm suits the key, so that no key verifies a token of another kind.
    ///
    /// An HMAC secret that looks like PEM is refused outright: that is the mark of a public key
    /// configured as a secret, which would let anyone who has the public key sign tokens.
    static func check(
        _ material: KeyMaterial,
        allows algorithms: Set<JWTAlgorithm>,
        origin: String
    ) throws(AuthenticationError) {
        guard !algorithms.isEmpty else {
            throw AuthenticationError(.invalidConfiguration, "\(origin) allows no algorithm; name at least one")
        }
        for algorithm in algorithms.sorted() where algorithm.keyKind != material.kind {
            let suitable = JWTAlgorithm.allCases.filter { $0.keyKind == material.kind }.map(\.rawValue)
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) holds \(material.kind.phrase), which cannot verify \(algorithm.rawValue); "
                    + "it suits \(suitable.joined(separator: ", "))"
            )
        }
        guard case .secret(let secret) = material else {
            return
        }
        if secret.firstRange(of: Array("-----BEGIN".utf8)) != nil {
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) holds a PEM key, not an HMAC secret; a public key must never be used as a secret"
            )
        }
        for algorithm in algorithms.sorted() {
            let minimum = algorithm.fixedSignatureLength ?? 0
            guard secret.count >= minimum else {
                throw AuthenticationError(
                    .invalidConfiguration,
                    "\(origin) holds a \(secret.count)-byte secret; \(algorithm.rawValue) needs at least \(minimum)"
                )
            }
        }
    }
}
