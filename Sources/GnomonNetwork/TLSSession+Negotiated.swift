import COpenSSL

extension TLSSession {
    /// The ALPN protocol agreed on, `gnomon/1` once the handshake is complete.
    public var negotiatedProtocol: String? {
        var name: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(self.ssl, &name, &length)
        guard let name, length > 0 else {
            return nil
        }
        return String(decoding: UnsafeBufferPointer(start: name, count: Int(length)), as: UTF8.self)
    }

    /// The TLS version in use, such as `TLSv1.3`.
    public var negotiatedVersion: String {
        String(cString: SSL_get_version(self.ssl))
    }

    /// The cipher suite in use, such as `TLS_AES_256_GCM_SHA384`, once the handshake has chosen one.
    public var negotiatedCipherSuite: String? {
        guard let cipher = SSL_get_current_cipher(self.ssl) else {
            return nil
        }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    /// The subject of the peer's verified certificate, such as `CN=worker-7,O=Acme`.
    ///
    /// A client always has the server's. A server has the client's only with mutual TLS; it is
    /// nil otherwise, and before the handshake is complete.
    public var peerCertificateSubject: String? {
        guard self.isHandshakeComplete, let handle = SSL_get1_peer_certificate(self.ssl) else {
            return nil
        }
        return Certificate(takingOwnership: handle).subject
    }
}
