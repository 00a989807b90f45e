import COpenSSL

/// An X.509 certificate, owning its OpenSSL handle.
///
/// Not `Sendable`, like every wrapper of a C handle here; certificates are made and read on
/// one thread.
final class Certificate {
    let handle: OpaquePointer

    /// Wraps an `X509` handle, which is freed with this object.
    init(takingOwnership handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        X509_free(self.handle)
    }

    /// Reads the first certificate of a PEM file.
    ///
    /// - Throws: ``TLSError`` with code `invalidCertificate` naming the file.
    static func load(fromPEMFile path: String) throws(TLSError) -> Certificate {
        OpenSSLError.clearQueue()
        guard let file = BIO_new_file(path, "r") else {
            throw TLSError(.invalidCertificate, "cannot read certificate file \(path)", openSSLCall: "BIO_new_file")
        }
        defer { BIO_free(file) }
        guard let handle = PEM_read_bio_X509(file, nil, nil, nil) else {
            throw TLSError(
                .invalidCertificate,
                "certificate file \(path) holds no PEM certificate",
                openSSLCall: "PEM_read_bio_X509"
            )
        }
        return Certificate(takingOwnership: handle)
    }

    /// The subject's distinguished name in RFC 2253 form, such as `CN=localhost,O=Gnomon`.
    var subject: String {
        let text = Self.writeToMemory { bio in
            X509_NAME_print_ex(bio, X509_get_subject_name(self.handle), 0, Self.nameFormat)
        }
        return String(decoding: text ?? [], as: UTF8.self)
    }

    /// RFC 2253's order and escaping, except that UTF-8 is kept rather than escaped byte by byte.
    private static let nameFormat =
        UInt(ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT)
        | UInt(ASN1_STRFLGS_DUMP_UNKNOWN | ASN1_STRFLGS_DUMP_DER)
        | UInt(XN_FLAG_SEP_COMMA_PLUS | XN_FLAG_DN_REV | XN_FLAG_DUMP_UNKNOWN_FIELDS)

    /// The certificate in PEM form.
    func pem() throws(TLSError) -> [UInt8] {
        guard let text = Self.writeToMemory({ PEM_write_bio_X509($0, self.handle) }) else {
            throw TLSError(.internalError, "cannot encode a certificate as PEM", openSSLCall: "PEM_write_bio_X509")
        }
        return text
    }

    /// Whether the certificate stops being valid within `seconds` from now, or cannot tell.
    func expires(withinSeconds seconds: Int) -> Bool {
        var deadline = time(nil) + seconds
        return X509_cmp_time(X509_get0_notAfter(self.handle), &deadline) <= 0
    }

    /// Whether the certificate is valid for a host name or an IP address.
    func isValid(forHost host: String) -> Bool {
        if X509_check_ip_asc(self.handle, host, 0) == 1 {
            return true
        }
        return X509_check_host(self.handle, host, host.utf8.count, 0, nil) == 1
    }

    /// Whether `authority` issued this certificate and signed it with `key`.
    func isIssued(by authority: Certificate, key: CertificateKey) -> Bool {
        defer { OpenSSLError.clearQueue() }
        return X509_check_issued(authority.handle, self.handle) == X509_V_OK
            && X509_verify(self.handle, key.handle) == 1
    }

    /// Whether `key` is the private key of this certificate's public key.
    func belongs(to key: CertificateKey) -> Bool {
        defer { OpenSSLError.clearQueue() }
        return X509_check_private_key(self.handle, key.handle) == 1
    }

    /// Runs `write` on a fresh memory BIO and returns what it wrote, or nil when it failed.
    static func writeToMemory(_ write: (OpaquePointer) -> Int32) -> [UInt8]? {
        guard let bio = BIO_new(BIO_s_mem()) else {
            return nil
        }
        defer { BIO_free(bio) }
        guard write(bio) > 0 else {
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        var read = 0
        _ = bytes.withUnsafeMutableBytes { BIO_read_ex(bio, $0.baseAddress, $0.count, &read) }
        return Array(bytes.prefix(read))
    }
}
