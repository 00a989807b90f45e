public import Foundation

/// Signs claims into compact JWS tokens, with an HMAC secret or a private key.
///
/// For the development server and `gnomon token mint`; production tokens come from an
/// identity provider. The header is `{"alg":…,"kid":…,"typ":"JWT"}`.
public struct JWTSigner: Sendable {
    /// The algorithm every token is signed with.
    public let algorithm: JWTAlgorithm
    /// The `kid` written into every token's header, if any.
    public let keyID: String?
    private let material: KeyMaterial

    /// Makes an HMAC signer.
    ///
    /// - Parameters:
    ///   - algorithm: HS256, HS384 or HS512.
    ///   - keyID: The `kid` to write into tokens.
    ///   - secret: At least as many bytes as the algorithm's hash.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` for another
    ///   algorithm, a short secret, or a secret that is a PEM key.
    public init(algorithm: JWTAlgorithm, keyID: String?, secret: [UInt8]) throws(AuthenticationError) {
        try JWTKeySet.check(.secret(secret), allows: [algorithm], origin: "the signing secret")
        self.algorithm = algorithm
        self.keyID = keyID
        self.material = .secret(secret)
    }

    /// Makes a signer from an unencrypted PEM private key.
    ///
    /// - Parameters:
    ///   - algorithm: RS256 or PS256 for an RSA key, ES256 for P-256, EdDSA for Ed25519.
    ///   - keyID: The `kid` to write into tokens.
    ///   - privateKeyPEM: The key in PEM form.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` when the bytes hold
    ///   no private key, or one that does not suit `algorithm`.
    public init(algorithm: JWTAlgorithm, keyID: String?, privateKeyPEM: [UInt8]) throws(AuthenticationError) {
        try self.init(algorithm: algorithm, keyID: keyID, privateKeyPEM: privateKeyPEM, origin: "the signing key")
    }

    /// Makes a signer from an unencrypted PEM private key file.
    ///
    /// - Parameters:
    ///   - algorithm: RS256 or PS256 for an RSA key, ES256 for P-256, EdDSA for Ed25519.
    ///   - keyID: The `kid` to write into tokens.
    ///   - privateKeyFile: The path of the PEM file.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` when the file cannot
    ///   be read or holds no private key that suits `algorithm`.
    public init(algorithm: JWTAlgorithm, keyID: String?, privateKeyFile: String) throws(AuthenticationError) {
        let bytes = try KeyFileSnapshot.readFile(privateKeyFile).get()
        try self.init(algorithm: algorithm, keyID: keyID, privateKeyPEM: bytes, origin: "key file \(privateKeyFile)")
    }

    private init(
        algorithm: JWTAlgorithm,
        keyID: String?,
        privateKeyPEM: [UInt8],
        origin: String
    ) throws(AuthenticationError) {
        let key = try AsymmetricKey.parse(pem: privateKeyPEM, origin: origin)
        try JWTKeySet.check(.asymmetric(key), allows: [algorithm], origin: origin)
        guard key.hasPrivateKey else {
            throw AuthenticationError(
                .invalidConfiguration, "\(origin) holds a public key; signing needs the private key")
        }
        self.algorithm = algorithm
        self.keyID = keyID
        self.material = .asymmetric(key)
    }

    /// Signs claims as they are.
    ///
    /// - Parameter claims: The token's claims; the caller includes `iss`, `aud` and `exp`.
    /// - Returns: The compact JWS: header, claims and signature, base64url, joined by dots.
    public func sign(claims: [String: JSONValue]) throws(AuthenticationError) -> String {
        var header: [String: JSONValue] = ["alg": .string(self.algorithm.rawValue), "typ": "JWT"]
        if let keyID = self.keyID {
            header["kid"] = .string(keyID)
        }
        let input =
            Base64URL.encode(JSONValue.object(header).encoded()) + "."
            + Base64URL.encode(JSONValue.object(claims).encoded())
        let signature = try JWSSignature.sign(Array(input.utf8), algorithm: self.algorithm, material: self.material)
        return input + "." + Base64URL.encode(signature)
    }

    /// Signs a token for a principal, valid from `now` for `lifetime`.
    ///
    /// - Parameters:
    ///   - principal: Who the token speaks for.
    ///   - issuer: The `iss` claim.
    ///   - audience: The `aud` claim.
    ///   - lifetime: How long the token is valid, in whole seconds.
    ///   - now: The issue time, `iat` and `nbf`.
    ///   - mapping: Which claims name the principal.
    /// - Returns: The compact JWS.
    public func sign(
        principal: Principal,
        issuer: String,
        audience: String,
        lifetime: Duration,
        now: Date = Date(),
        mapping: PrincipalMapping = PrincipalMapping()
    ) throws(AuthenticationError) -> String {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        var claims = mapping.claims(for: principal)
        claims["iss"] = .string(issuer)
        claims["aud"] = .string(audience)
        claims["iat"] = JSONValue(issuedAt)
        claims["nbf"] = JSONValue(issuedAt)
        claims["exp"] = JSONValue(issuedAt + lifetime.components.seconds)
        return try self.sign(claims: claims)
    }
}
