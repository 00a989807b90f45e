import COpenSSL

/// What a key verifies or signs with: a shared secret, or an OpenSSL key.
enum KeyMaterial: Sendable {
    case secret([UInt8])
    case asymmetric(AsymmetricKey)

    var kind: JWTAlgorithm.KeyKind {
        switch self {
        case .secret: .hmac
        case .asymmetric(let key): key.kind
        }
    }
}

/// JWS signatures (RFC 7515, RFC 7518 section 3) made and checked with OpenSSL.
enum JWSSignature {
    /// Checks `signature` over `input` with `material`, which the caller matched to `algorithm`.
    ///
    /// - Throws: ``AuthenticationError`` with code `badSignature` when the signature has the
    ///   wrong length or range or does not verify; the message never holds the signature.
    static func verify(
        _ signature: [UInt8],
        over input: ArraySlice<UInt8>,
        algorithm: JWTAlgorithm,
        material: KeyMaterial
    ) throws(AuthenticationError) {
        let expectedLength = Self.signatureLength(algorithm, material)
        guard signature.count == expectedLength else {
            throw AuthenticationError(
                .badSignature,
                "the signature is \(signature.count) bytes long; an \(algorithm.rawValue) signature with this key "
                    + "is \(expectedLength)"
            )
        }
        let valid: Bool
        switch material {
        case .secret(let secret):
            let expected = try Self.hmac(algorithm, secret: secret, input: input)
            valid = CRYPTO_memcmp(expected, signature, expected.count) == 0

        case .asymmetric(let key):
            var checked = signature
            if algorithm == .es256 {
                checked = try ECDSASignature.derEncoding(ofRaw: signature)
            }
            valid = try Self.verifyDigest(checked, over: input, algorithm: algorithm, key: key)
        }
        guard valid else {
            throw AuthenticationError(.badSignature, "the signature does not verify with the key")
        }
    }

    /// Signs `input`, returning the signature as JWS carries it.
    static func sign(
        _ input: [UInt8],
        algorithm: JWTAlgorithm,
        material: KeyMaterial
    ) throws(AuthenticationError) -> [UInt8] {
        switch material {
        case .secret(let secret):
            return try Self.hmac(algorithm, secret: secret, input: input[...])

        case .asymmetric(let key):
            let signature = try Self.signDigest(input, algorithm: algorithm, key: key)
            return algorithm == .es256 ? try ECDSASignature.raw(fromDER: signature) : signature
        }
    }

    private static func signatureLength(_ algorithm: JWTAlgorithm, _ material: KeyMaterial) -> Int {
        if let fixed = algorithm.fixedSignatureLength {
            return fixed
        }
        if case .asymmetric(let key) = material {
            return Int(EVP_PKEY_get_size(key.handle))
        }
        return 0
    }

    private static func digest(_ algorithm: JWTAlgorithm) -> OpaquePointer? {
        switch algorithm {
        case .hs256, .rs256, .ps256, .es256: EVP_sha256()
        case .hs384: EVP_sha384()
        case .hs512: EVP_sha512()
        // Ed25519 hashes the message itself.
        case .edDSA: nil
        }
    }

    private static func hmac(
        _ algorithm: JWTAlgorithm,
        secret: [UInt8],
        input: ArraySlice<UInt8>
    ) throws(AuthenticationError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        OpenSSLErrors.clear()
        let result = input.withUnsafeBufferPointer { data in
            HMAC(Self.digest(algorithm), secret, Int32(secret.count), data.baseAddress, data.count, &output, &length)
        }
        guard result != nil else {
            throw AuthenticationError(.internalError, "cannot compute an HMAC\(OpenSSLErrors.drainReason())")
        }
        return Array(output.prefix(Int(length)))
    }

    /// Sets up a digest context for `key`, with PSS padding for PS256.
    private static func withContext<Result>(
        algorithm: JWTAlgorithm,
        key: AsymmetricKey,
        signing: Bool,
        _ body: (OpaquePointer) -> Result
    ) throws(AuthenticationError) -> Result {
        OpenSSLErrors.clear()
        guard let context = EVP_MD_CTX_new() else {
            throw AuthenticationError(.internalError, "cannot allocate a digest context")
        }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        let digest = Self.digest(algorithm)
        let initialized =
            signing
            ? EVP_DigestSignInit(context, &keyContext, digest, nil, key.handle)
            : EVP_DigestVerifyInit(context, &keyContext, digest, nil, key.handle)
        guard initialized == 1 else {
            throw AuthenticationError(
                .internalError,
                "cannot set up \(algorithm.rawValue) with the key\(OpenSSLErrors.drainReason())"
            )
        }
        if algorithm == .ps256 {
            // RFC 7518 section 3.5: MGF1 with the same hash, and a salt as long as the hash.
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(keyContext, EVP_sha256()) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, 32) == 1
            else {
                throw AuthenticationError(.internalError, "cannot set up PSS padding\(OpenSSLErrors.drainReason())")
            }
        }
        return body(context)
    }

    private static func verifyDigest(
        _ signature: [UInt8],
        over input: ArraySlice<UInt8>,
        algorithm: JWTAlgorithm,
        key: AsymmetricKey
    ) throws(AuthenticationError) -> Bool {
        let result = try Self.withContext(algorithm: algorithm, key: key, signing: false) { context in
            input.withUnsafeBufferPointer { data in
                EVP_DigestVerify(context, signature, signature.count, data.baseAddress, data.count)
            }
        }
        // 0 is a signature that does not verify; below 0 one OpenSSL could not even parse.
        OpenSSLErrors.clear()
        return result == 1
    }

    private static func signDigest(
        _ input: [UInt8],
        algorithm: JWTAlgorithm,
        key: AsymmetricKey
    ) throws(AuthenticationError) -> [UInt8] {
        let signature = try Self.withContext(algorithm: algorithm, key: key, signing: true) { context -> [UInt8]? in
            var length = 0
            guard EVP_DigestSign(context, nil, &length, input, input.count) == 1 else {
                return nil
            }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(context, &signature, &length, input, input.count) == 1 else {
                return nil
            }
            return Array(signature.prefix(length))
        }
        guard let signature else {
            throw AuthenticationError(
                .internalError,
                "cannot sign with \(algorithm.rawValue)\(OpenSSLErrors.drainReason())"
            )
        }
        return signature
    }
}
