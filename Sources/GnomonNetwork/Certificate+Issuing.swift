import COpenSSL
import Glibc

extension Certificate {
    /// What a certificate is for, which decides its extensions.
    enum Usage {
        /// A certificate authority that signs server and client certificates.
        case authority
        /// A TLS server, valid for the host names in its subject alternative names.
        case server
        /// A TLS client presenting its certificate for mutual TLS.
        case client
    }

    /// Makes a certificate for `key` and signs it with SHA-256.
    ///
    /// - Parameters:
    ///   - commonName: The subject's common name.
    ///   - hostNames: Host names and IP addresses a server certificate is valid for.
    ///   - usage: What the certificate is for.
    ///   - key: The key whose public half the certificate certifies.
    ///   - validDays: How long the certificate is valid, from an hour ago to allow for clock skew.
    ///   - issuer: The authority that signs it, or nil for one that signs itself with `key`.
    /// - Throws: ``TLSError`` with code `certificateGenerationFailed`.
    static func issue(
        commonName: String,
        hostNames: [String] = [],
        usage: Usage,
        key: CertificateKey,
        validDays: Int,
        issuer: (certificate: Certificate, key: CertificateKey)?
    ) throws(TLSError) -> Certificate {
        OpenSSLError.clearQueue()
        guard let handle = X509_new() else {
            throw TLSError(.certificateGenerationFailed, "cannot create a certificate", openSSLCall: "X509_new")
        }
        let certificate = Certificate(takingOwnership: handle)
        var serial: UInt64 = 0
        guard RAND_bytes(&serial, 8) == 1,
            X509_set_version(handle, Int(X509_VERSION_3)) == 1,
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(handle), serial >> 1) == 1,
            X509_gmtime_adj(X509_getm_notBefore(handle), -3600) != nil,
            X509_gmtime_adj(X509_getm_notAfter(handle), validDays * 86_400) != nil,
            X509_set_pubkey(handle, key.handle) == 1
        else {
            throw TLSError(.certificateGenerationFailed, "cannot fill in a certificate", openSSLCall: "X509_set_pubkey")
        }

        try certificate.setSubject(commonName: commonName, issuer: issuer?.certificate)
        for (nid, value) in try Self.extensions(for: usage, hostNames: hostNames) {
            try certificate.addExtension(nid, value, issuer: issuer?.certificate)
        }
        guard X509_sign(handle, (issuer?.key ?? key).handle, EVP_sha256()) > 0 else {
            throw TLSError(.certificateGenerationFailed, "cannot sign a certificate", openSSLCall: "X509_sign")
        }
        return certificate
    }

    private static func extensions(for usage: Usage, hostNames: [String]) throws(TLSError) -> [(Int32, String)] {
        switch usage {
        case .authority:
            return [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ]

        case .server, .client:
            var extensions: [(Int32, String)] = [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, usage == .server ? "serverAuth" : "clientAuth"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ]
            if !hostNames.isEmpty {
                extensions.append((NID_subject_alt_name, try Self.subjectAlternativeNames(hostNames)))
            }
            return extensions
        }
    }

    /// `DNS:` and `IP:` entries in OpenSSL's configuration syntax.
    private static func subjectAlternativeNames(_ hostNames: [String]) throws(TLSError) -> String {
        var entries: [String] = []
        for name in hostNames {
            try Self.checkHostName(name)
            var address = in6_addr()
            let isAddress = inet_pton(AF_INET, name, &address) == 1 || inet_pton(AF_INET6, name, &address) == 1
            entries.append((isAddress ? "IP:" : "DNS:") + name)
        }
        return entries.joined(separator: ",")
    }

    /// Refuses a name that cannot go into a subject alternative name as it is.
    static func checkHostName(_ name: String) throws(TLSError) {
        // Commas separate entries, so a name holding one could smuggle in another.
        guard !name.isEmpty, !name.contains(","), !name.utf8.contains(0) else {
            throw TLSError(.invalidConfiguration, "\"\(name)\" is not a host name or IP address")
        }
    }

    private func setSubject(commonName: String, issuer: Certificate?) throws(TLSError) {
        let name = X509_get_subject_name(self.handle)
        guard X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, "Gnomon development", -1, -1, 0) == 1,
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1
        else {
            throw TLSError(
                .certificateGenerationFailed,
                "cannot use \"\(commonName)\" as a common name",
                openSSLCall: "X509_NAME_add_entry_by_txt"
            )
        }
        let issuerName = issuer.map { X509_get_subject_name($0.handle) } ?? name
        guard X509_set_issuer_name(self.handle, issuerName) == 1 else {
            throw TLSError(.certificateGenerationFailed, "cannot set an issuer", openSSLCall: "X509_set_issuer_name")
        }
    }

    private func addExtension(_ nid: Int32, _ value: String, issuer: Certificate?) throws(TLSError) {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, (issuer ?? self).handle, self.handle, nil, nil, 0)
        guard let made = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
            throw TLSError(
                .certificateGenerationFailed,
                "cannot make the extension \(value)",
                openSSLCall: "X509V3_EXT_conf_nid"
            )
        }
        defer { X509_EXTENSION_free(made) }
        guard X509_add_ext(self.handle, made, -1) == 1 else {
            throw TLSError(
                .certificateGenerationFailed, "cannot add the extension \(value)", openSSLCall: "X509_add_ext")
        }
    }
}
