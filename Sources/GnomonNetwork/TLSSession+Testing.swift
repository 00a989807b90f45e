import CGnomonShims
import COpenSSL

/// Ways to make a session behave like a peer that Gnomon's settings would not allow, so tests
/// can check that the other side refuses it. Nothing outside tests calls these.
extension TLSSession {
    /// Offers these ALPN protocols instead of `gnomon/1`, or none at all when empty.
    func offerApplicationProtocols(_ names: [String]) {
        let wire = names.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        _ = wire.withUnsafeBufferPointer { bytes in
            SSL_set_alpn_protos(self.ssl, wire.isEmpty ? nil : bytes.baseAddress, UInt32(bytes.count))
        }
    }

    /// Speaks TLS 1.2 only, offering the given OpenSSL cipher list.
    func limitToTLS12(ciphers: String = TLSConfiguration.tls12CipherList) {
        gnomon_ssl_set_min_proto_version(self.ssl, TLS1_2_VERSION)
        gnomon_ssl_set_max_proto_version(self.ssl, TLS1_2_VERSION)
        SSL_set_cipher_list(self.ssl, ciphers)
        OpenSSLError.clearQueue()
    }

    /// Asks the peer to renegotiate, as a TLS 1.2 peer that allows renegotiation would.
    ///
    /// - Returns: Whether OpenSSL agreed to start; it refuses for TLS 1.3.
    func requestRenegotiation() -> Bool {
        gnomon_ssl_allow_renegotiation(self.ssl)
        OpenSSLError.clearQueue()
        defer { OpenSSLError.clearQueue() }
        return SSL_renegotiate(self.ssl) == 1
    }

    /// Whether the session could be resumed, and so carry 0-RTT data, on a later connection.
    var isResumable: Bool {
        guard let session = SSL_get_session(self.ssl) else {
            return false
        }
        return SSL_SESSION_is_resumable(session) == 1 || SSL_SESSION_get_max_early_data(session) > 0
    }

    /// Whether records are compressed.
    var usesCompression: Bool {
        SSL_get_current_compression(self.ssl) != nil
    }

    /// The bytes the session's two memory buffers hold allocated, used or not.
    var bufferCapacity: Int {
        gnomon_bio_mem_capacity(self.inbound) + gnomon_bio_mem_capacity(self.outbound)
    }
}

extension TLSContext {
    /// Stops a server context from requiring, or even selecting, an ALPN protocol, as a server
    /// that does not speak Gnomon's protocol would.
    func stopNegotiatingApplicationProtocol() {
        SSL_CTX_set_client_hello_cb(self.handle, nil, nil)
        SSL_CTX_set_alpn_select_cb(self.handle, nil, nil)
    }
}
