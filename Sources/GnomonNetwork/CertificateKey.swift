import CGnomonShims
import COpenSSL

/// A private key, and so its public key, owning its OpenSSL handle.
final class CertificateKey {
    let handle: OpaquePointer

    /// Wraps an `EVP_PKEY` handle, which is freed with this object.
    init(takingOwnership handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        EVP_PKEY_free(self.handle)
    }

    /// Makes a new EC key on the P-256 curve, which every TLS 1.2 and 1.3 peer supports.
    static func generate() throws(TLSError) -> CertificateKey {
        OpenSSLError.clearQueue()
        guard let handle = gnomon_evp_ec_p256_keygen() else {
            throw TLSError(.certificateGenerationFailed, "cannot generate a P-256 key", openSSLCall: "EVP_EC_gen")
        }
        return CertificateKey(takingOwnership: handle)
    }

    /// Reads an unencrypted private key from a PEM file.
    ///
    /// - Throws: ``TLSError`` with code `invalidCertificate` naming the file.
    static func load(fromPEMFile path: String) throws(TLSError) -> CertificateKey {
        OpenSSLError.clearQueue()
        guard let file = BIO_new_file(path, "r") else {
            throw TLSError(.invalidCertificate, "cannot read private key file \(path)", openSSLCall: "BIO_new_file")
        }
        defer { BIO_free(file) }
        // Without a callback, OpenSSL would prompt on the terminal for an encrypted key's passphrase.
        guard let handle = PEM_read_bio_PrivateKey(file, nil, { _, _, _, _ in -1 }, nil) else {
            throw TLSError(
                .invalidCertificate,
                "private key file \(path) holds no unencrypted PEM private key",
                openSSLCall: "PEM_read_bio_PrivateKey"
            )
        }
        return CertificateKey(takingOwnership: handle)
    }

    /// The key in unencrypted PKCS #8 PEM form.
    func pem() throws(TLSError) -> [UInt8] {
        let text = Certificate.writeToMemory { bio in
            PEM_write_bio_PrivateKey(bio, self.handle, nil, nil, 0, nil, nil)
        }
        guard let text else {
            throw TLSError(
                .internalError, "cannot encode a private key as PEM", openSSLCall: "PEM_write_bio_PrivateKey")
        }
        return text
    }
}
