import CGnomonShims
import COpenSSL
import Glibc

/// An OpenSSL `SSL_CTX` built from a ``TLSConfiguration``, owning its handle.
///
/// `Sendable` although it wraps a C handle: it is configured once, in `init`, and then only
/// read, and OpenSSL lets many threads create connections from one context at once. A
/// connection keeps its context alive through OpenSSL's reference count, so a context
/// replaced by a reload lives on until its last connection is freed.
final class TLSContext: @unchecked Sendable {
    /// Which end of a connection the context makes.
    enum Role: Sendable {
        case server
        case client
    }

    let handle: OpaquePointer
    let role: Role
    let configuration: TLSConfiguration

    /// Builds a context, reading the configuration's files.
    ///
    /// - Throws: ``TLSError`` with code `invalidConfiguration` when the settings do not fit
    ///   the role, `invalidCertificate` naming the file that cannot be used.
    init(role: Role, configuration: TLSConfiguration) throws(TLSError) {
        try Self.validate(configuration, for: role)
        _ = TLSLibrary.initialized

        OpenSSLError.clearQueue()
        let method = role == .server ? TLS_server_method() : TLS_client_method()
        guard let handle = SSL_CTX_new(method) else {
            throw TLSError(.internalError, "cannot create a TLS context", openSSLCall: "SSL_CTX_new")
        }
        self.handle = handle
        self.role = role
        self.configuration = configuration

        try self.restrictProtocol()
        try self.loadIdentity()
        try self.configureVerification()
        self.configureApplicationProtocol()
    }

    deinit {
        SSL_CTX_free(self.handle)
    }

    private static func validate(_ configuration: TLSConfiguration, for role: Role) throws(TLSError) {
        let hasCertificate = configuration.certificateChainFile != nil
        if hasCertificate != (configuration.privateKeyFile != nil) {
            throw TLSError(
                .invalidConfiguration,
                "a certificate chain file and a private key file go together; set both or neither"
            )
        }
        if role == .server && !hasCertificate {
            throw TLSError(.invalidConfiguration, "a TLS server needs a certificate chain file and a private key file")
        }
        if role == .server && configuration.requireClientCertificate && configuration.caFile == nil {
            throw TLSError(
                .invalidConfiguration,
                "requiring client certificates needs a CA file to verify them against"
            )
        }
    }

    /// Pins versions and ciphers and turns off what the wire protocol forbids.
    private func restrictProtocol() throws(TLSError) {
        gnomon_ssl_ctx_set_protocol_restrictions(self.handle)

        let minimum = self.configuration.allowTLS12 ? TLS1_2_VERSION : TLS1_3_VERSION
        guard gnomon_ssl_ctx_set_min_proto_version(self.handle, minimum) == 1,
            gnomon_ssl_ctx_set_max_proto_version(self.handle, TLS1_3_VERSION) == 1
        else {
            throw TLSError(
                .internalError,
                "cannot limit the TLS versions",
                openSSLCall: "SSL_CTX_set_min_proto_version"
            )
        }
        guard SSL_CTX_set_ciphersuites(self.handle, TLSConfiguration.tls13CipherSuites) == 1 else {
            throw TLSError(
                .internalError,
                "cannot set the TLS 1.3 cipher suites",
                openSSLCall: "SSL_CTX_set_ciphersuites"
            )
        }
        guard SSL_CTX_set_cipher_list(self.handle, TLSConfiguration.tls12CipherList) == 1 else {
            throw TLSError(
                .internalError,
                "cannot set the TLS 1.2 cipher suites",
                openSSLCall: "SSL_CTX_set_cipher_list"
            )
        }
    }

    /// Loads this side's certificate chain and key, and checks that they belong together.
    private func loadIdentity() throws(TLSError) {
        guard let chainFile = self.configuration.certificateChainFile,
            let keyFile = self.configuration.privateKeyFile
        else {
            return
        }
        try Self.checkReadable(chainFile, kind: "certificate chain file")
        try Self.checkReadable(keyFile, kind: "private key file")

        guard SSL_CTX_use_certificate_chain_file(self.handle, chainFile) == 1 else {
            throw TLSError(
                .invalidCertificate,
                "certificate chain file \(chainFile) holds no usable PEM certificate",
                openSSLCall: "SSL_CTX_use_certificate_chain_file"
            )
        }
        let key = try CertificateKey.load(fromPEMFile: keyFile)
        guard SSL_CTX_use_PrivateKey(self.handle, key.handle) == 1, SSL_CTX_check_private_key(self.handle) == 1 else {
            throw TLSError(
                .invalidCertificate,
                "private key file \(keyFile) does not hold the key of the certificate in \(chainFile)",
                openSSLCall: "SSL_CTX_use_PrivateKey"
            )
        }
    }

    /// Makes clients verify the server, and servers verify clients when mutual TLS is on.
    private func configureVerification() throws(TLSError) {
        switch self.role {
        case .client:
            if let caFile = self.configuration.caFile {
                try self.loadTrustedAuthorities(caFile)
            } else if SSL_CTX_set_default_verify_paths(self.handle) != 1 {
                throw TLSError(
                    .invalidCertificate,
                    "cannot load the system's certificate authorities",
                    openSSLCall: "SSL_CTX_set_default_verify_paths"
                )
            }
            SSL_CTX_set_verify(self.handle, SSL_VERIFY_PEER, nil)

        case .server:
            guard self.configuration.requireClientCertificate, let caFile = self.configuration.caFile else {
                SSL_CTX_set_verify(self.handle, SSL_VERIFY_NONE, nil)
                return
            }
            try self.loadTrustedAuthorities(caFile)
            guard let names = SSL_load_client_CA_file(caFile) else {
                throw TLSError(
                    .invalidCertificate,
                    "CA file \(caFile) holds no usable PEM certificate",
                    openSSLCall: "SSL_load_client_CA_file"
                )
            }
            SSL_CTX_set_client_CA_list(self.handle, names)
            SSL_CTX_set_verify(self.handle, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
    }

    private func loadTrustedAuthorities(_ caFile: String) throws(TLSError) {
        try Self.checkReadable(caFile, kind: "CA file")
        guard SSL_CTX_load_verify_locations(self.handle, caFile, nil) == 1 else {
            throw TLSError(
                .invalidCertificate,
                "CA file \(caFile) holds no usable PEM certificate",
                openSSLCall: "SSL_CTX_load_verify_locations"
            )
        }
    }

    /// Fails early, with the system's reason, for a file OpenSSL would only call unusable.
    private static func checkReadable(_ path: String, kind: String) throws(TLSError) {
        guard access(path, R_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            throw TLSError(.invalidCertificate, "cannot read \(kind) \(path): \(reason)", function: "access")
        }
    }
}
