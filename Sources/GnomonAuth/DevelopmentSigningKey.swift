import Glibc

/// An Ed25519 key kept in a folder, for `gnomond --dev` and `gnomon token mint` to share.
///
/// Made once, on first use, as `jwt-signing-key.pem` readable by its owner only; later uses
/// read it back, so tokens minted yesterday still verify today. Its `kid` is derived from the
/// public key, so a new key never reuses an old key's id.
public struct DevelopmentSigningKey: Sendable {
    /// The file name the key is kept under.
    public static let fileName = "jwt-signing-key.pem"

    /// The PEM private key file.
    public let path: String
    /// The key's id: the first 16 characters of the base64url SHA-256 of its DER public key.
    public let keyID: String
    /// The algorithm it signs with, EdDSA.
    public let algorithm: JWTAlgorithm = .edDSA

    /// Reads the key in `directory`, making the folder and the key first when they are missing.
    ///
    /// - Parameter directory: The folder to keep the key in, such as `.gnomon`.
    /// - Returns: The key's path and id.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` when the folder or
    ///   the file cannot be written or read, the file holds no Ed25519 private key, or it is
    ///   readable by others than its owner.
    public static func loadOrCreate(in directory: String) throws(AuthenticationError) -> DevelopmentSigningKey {
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        if access(path, F_OK) != 0 {
            try Self.create(at: path, directory: directory)
        }
        try Self.checkPermissions(path)
        let bytes = try KeyFileSnapshot.readFile(path).get()
        let key = try AsymmetricKey.parse(pem: bytes, origin: "development key file \(path)")
        guard key.kind == .ed25519, key.hasPrivateKey else {
            throw AuthenticationError(
                .invalidConfiguration,
                "development key file \(path) holds no Ed25519 private key; remove it to have a new one made"
            )
        }
        let keyID = String(Base64URL.encode(SHA256.hash(key.publicKeyDER()) ?? []).prefix(16))
        return DevelopmentSigningKey(path: path, keyID: keyID)
    }

    private init(path: String, keyID: String) {
        self.path = path
        self.keyID = keyID
    }

    /// The key file entry a ``JWTVerifierConfiguration`` verifies this key's tokens with.
    ///
    /// - Parameter issuer: The only issuer the key is trusted for, if any.
    public func keyFile(issuer: String? = nil) -> JWTKeyFile {
        JWTKeyFile(path: self.path, keyID: self.keyID, algorithms: [self.algorithm], issuer: issuer)
    }

    /// A signer with this key and its id.
    ///
    /// - Throws: ``AuthenticationError`` when the file can no longer be read.
    public func makeSigner() throws(AuthenticationError) -> JWTSigner {
        try JWTSigner(algorithm: self.algorithm, keyID: self.keyID, privateKeyFile: self.path)
    }

    /// Writes a new key to a temporary file and links it into place.
    ///
    /// `link` fails when the name exists, so of two processes creating the key at once one
    /// wins and both then read the winner's key.
    private static func create(at path: String, directory: String) throws(AuthenticationError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw Self.failure("cannot make folder \(directory)")
        }
        let pem = try AsymmetricKey.generateEd25519().privateKeyPEM()
        var template = Array((path + ".XXXXXX").utf8CString)
        // mkstemp makes the file with mode 0600.
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw Self.failure("cannot create a file in \(directory)")
        }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(temporary) }
        let written = pem.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == pem.count, synced else {
            throw Self.failure("cannot write \(temporary)")
        }
        if link(temporary, path) != 0 && errno != EEXIST {
            throw Self.failure("cannot create \(path)")
        }
    }

    private static func checkPermissions(_ path: String) throws(AuthenticationError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw Self.failure("cannot read development key file \(path)")
        }
        guard status.st_mode & 0o077 == 0 else {
            let mode = String(status.st_mode & 0o777, radix: 8)
            throw AuthenticationError(
                .invalidConfiguration,
                "development key file \(path) is readable by others (mode \(mode)); run chmod 600 on it"
            )
        }
    }

    private static func failure(_ summary: String) -> AuthenticationError {
        AuthenticationError(.invalidConfiguration, summary + ": " + String(cString: strerror(errno)))
    }
}
