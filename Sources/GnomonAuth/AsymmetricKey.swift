import CGnomonShims
import COpenSSL

/// An RSA, P-256 or Ed25519 key, public or private, owning its OpenSSL `EVP_PKEY` handle.
///
/// `Sendable` although it wraps a C handle: the key is never changed after it is made, and
/// OpenSSL 3 lets many threads sign and verify with one key at once, each with its own context.
final class AsymmetricKey: @unchecked Sendable {
    let handle: OpaquePointer
    let kind: JWTAlgorithm.KeyKind

    /// Wraps a handle, which is freed with this object, after checking it is a usable key.
    ///
    /// - Parameter origin: Where the key came from, such as `key file /etc/gnomon/rsa.pem`.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` for a key of another
    ///   type or curve, an RSA key under 2048 bits, or an EC point that is not on the curve.
    init(takingOwnership handle: OpaquePointer, origin: String) throws(AuthenticationError) {
        self.handle = handle
        switch EVP_PKEY_get_base_id(handle) {
        case EVP_PKEY_RSA:
            self.kind = .rsa
        case EVP_PKEY_EC:
            self.kind = .ecP256
        case EVP_PKEY_ED25519:
            self.kind = .ed25519
        default:
            // The handle is freed by deinit, which runs although init failed after storing it.
            self.kind = .hmac
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) holds a key that is not RSA, P-256 or Ed25519"
            )
        }
        try self.checkStrength(origin: origin)
    }

    deinit {
        EVP_PKEY_free(self.handle)
    }

    private func checkStrength(origin: String) throws(AuthenticationError) {
        switch self.kind {
        case .rsa:
            let bits = EVP_PKEY_get_bits(self.handle)
            guard bits >= 2048 else {
                throw AuthenticationError(
                    .invalidConfiguration,
                    "\(origin) holds a \(bits)-bit RSA key; RS256 and PS256 need at least 2048 bits"
                )
            }
            try self.checkPublicKey(origin: origin, problem: "an RSA public key OpenSSL finds unsound")

        case .ecP256:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            let found = EVP_PKEY_get_group_name(self.handle, &name, name.count, &length) == 1
            let group = found ? String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            guard group == "prime256v1" else {
                throw AuthenticationError(
                    .invalidConfiguration,
                    "\(origin) holds an EC key on curve \(group.isEmpty ? "unknown" : group); ES256 needs P-256"
                )
            }
            try self.checkPublicKey(origin: origin, problem: "an EC public key that is not a valid P-256 point")

        case .ed25519, .hmac:
            break
        }
    }

    /// Checks the public key as OpenSSL can: an EC point is on its curve, an RSA exponent is odd
    /// and above 1. A JWK's components need be neither.
    private func checkPublicKey(origin: String, problem: String) throws(AuthenticationError) {
        OpenSSLErrors.clear()
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, self.handle, nil) else {
            throw AuthenticationError(.internalError, "cannot check the key of \(origin)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_public_check(context) == 1 else {
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) holds \(problem)\(OpenSSLErrors.drainReason())"
            )
        }
    }

    /// Reads a PEM public key (`PUBLIC KEY`) or unencrypted private key (`PRIVATE KEY`).
    ///
    /// - Parameters:
    ///   - pem: The file's bytes.
    ///   - origin: Where the bytes came from, for messages.
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration`.
    static func parse(pem: [UInt8], origin: String) throws(AuthenticationError) -> AsymmetricKey {
        OpenSSLErrors.clear()
        if let handle = Self.readPEM(pem, { bio in PEM_read_bio_PUBKEY(bio, nil, nil, nil) }) {
            return try AsymmetricKey(takingOwnership: handle, origin: origin)
        }
        OpenSSLErrors.clear()
        // Without a callback, OpenSSL would prompt on the terminal for an encrypted key's passphrase.
        let privateKey = Self.readPEM(pem) { bio in PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in -1 }, nil) }
        if let privateKey {
            OpenSSLErrors.clear()
            return try AsymmetricKey(takingOwnership: privateKey, origin: origin)
        }
        throw AuthenticationError(
            .invalidConfiguration,
            "\(origin) holds no PEM public key and no unencrypted PEM private key\(OpenSSLErrors.drainReason())"
        )
    }

    private static func readPEM(_ pem: [UInt8], _ read: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        pem.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                return nil
            }
            defer { BIO_free(bio) }
            return read(bio)
        }
    }

    /// Makes an RSA public key from a JWK's `n` and `e`.
    static func rsaPublicKey(modulus: [UInt8], exponent: [UInt8], origin: String) throws(AuthenticationError)
        -> AsymmetricKey
    {
        OpenSSLErrors.clear()
        guard let handle = gnomon_evp_rsa_public_key(modulus, modulus.count, exponent, exponent.count) else {
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) has an RSA modulus or exponent OpenSSL refuses\(OpenSSLErrors.drainReason())"
            )
        }
        return try AsymmetricKey(takingOwnership: handle, origin: origin)
    }

    /// Makes a P-256 public key from a JWK's `x` and `y`, 32 bytes each.
    static func p256PublicKey(x: [UInt8], y: [UInt8], origin: String) throws(AuthenticationError) -> AsymmetricKey {
        let point = [0x04] + x + y
        OpenSSLErrors.clear()
        guard x.count == 32, y.count == 32, let handle = gnomon_evp_ec_p256_public_key(point, point.count) else {
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) has x and y that are not a P-256 point\(OpenSSLErrors.drainReason())"
            )
        }
        return try AsymmetricKey(takingOwnership: handle, origin: origin)
    }

    /// Makes an Ed25519 public key from a JWK's 32-byte `x`.
    static func ed25519PublicKey(_ raw: [UInt8], origin: String) throws(AuthenticationError) -> AsymmetricKey {
        OpenSSLErrors.clear()
        guard raw.count == 32, let handle = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, raw.count) else {
            throw AuthenticationError(.invalidConfiguration, "\(origin) has an x that is not an Ed25519 public key")
        }
        return try AsymmetricKey(takingOwnership: handle, origin: origin)
    }

    /// Makes a new Ed25519 key pair.
    static func generateEd25519() throws(AuthenticationError) -> AsymmetricKey {
        OpenSSLErrors.clear()
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else {
            throw AuthenticationError(.internalError, "cannot make an Ed25519 key\(OpenSSLErrors.drainReason())")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var handle: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &handle) == 1, let handle else {
            throw AuthenticationError(.internalError, "cannot make an Ed25519 key\(OpenSSLErrors.drainReason())")
        }
        return try AsymmetricKey(takingOwnership: handle, origin: "a new Ed25519 key")
    }

    /// Whether the key holds its private half, and so can sign.
    var hasPrivateKey: Bool {
        var length = 0
        switch self.kind {
        case .ed25519:
            return EVP_PKEY_get_raw_private_key(self.handle, nil, &length) == 1
        case .rsa:
            return Self.hasParameter(self.handle, "d")
        case .ecP256:
            return Self.hasParameter(self.handle, "priv")
        case .hmac:
            return false
        }
    }

    private static func hasParameter(_ handle: OpaquePointer, _ name: String) -> Bool {
        var value: OpaquePointer?
        defer { BN_clear_free(value) }
        let found = EVP_PKEY_get_bn_param(handle, name, &value) == 1
        OpenSSLErrors.clear()
        return found
    }

    /// The public key as DER SubjectPublicKeyInfo.
    func publicKeyDER() -> [UInt8] {
        let length = i2d_PUBKEY(self.handle, nil)
        guard length > 0 else {
            return []
        }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_PUBKEY(self.handle, &cursor)
        }
        return bytes
    }

    /// The private key in unencrypted PKCS #8 PEM form.
    func privateKeyPEM() throws(AuthenticationError) -> [UInt8] {
        OpenSSLErrors.clear()
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw AuthenticationError(.internalError, "cannot encode a private key as PEM")
        }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, self.handle, nil, nil, 0, nil, nil) == 1 else {
            throw AuthenticationError(
                .internalError, "cannot encode a private key as PEM\(OpenSSLErrors.drainReason())")
        }
        var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let read = BIO_read(bio, &bytes, Int32(bytes.count))
        return Array(bytes.prefix(Int(max(read, 0))))
    }
}

/// OpenSSL's per-thread error queue, cleared before each call that can fail and read after.
enum OpenSSLErrors {
    /// Forgets every entry the calling thread's queue holds.
    static func clear() {
        ERR_clear_error()
    }

    /// The oldest entry's reason as `: reason`, or an empty string; the queue is emptied.
    static func drainReason() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0, let reason = ERR_reason_error_string(code) else {
            return ""
        }
        return ": " + String(cString: reason)
    }
}
