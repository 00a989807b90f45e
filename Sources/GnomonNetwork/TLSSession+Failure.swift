import COpenSSL

extension TLSSession {
    /// Turns OpenSSL's error queue for a failed call into an error a person can act on.
    ///
    /// A callback's own refusal, such as a client offering no ALPN, beats OpenSSL's generic
    /// `callback failed`; a failed certificate verification says why it failed.
    func describeFailure(_ queue: [OpenSSLError], in function: String) -> TLSError {
        let details = queue.map(\.description)
        let duringHandshake = !self.isHandshakeComplete
        let rootCause = queue.first.map { ERR_GET_REASON($0.code) }

        if rootCause == SSL_R_UNEXPECTED_EOF_WHILE_READING {
            let when = duringHandshake ? " during the handshake" : ""
            return TLSError(
                .unexpectedEndOfStream,
                "the peer ended the stream\(when) without sending close_notify",
                function: function,
                details: details
            )
        }

        var reason = queue.first?.reason ?? "OpenSSL gave no reason"
        if let refusal = self.refusal {
            reason = refusal
        } else if rootCause == SSL_R_CERTIFICATE_VERIFY_FAILED {
            let result = Int32(SSL_get_verify_result(self.ssl))
            if result != X509_V_OK {
                reason += ": " + String(cString: X509_verify_cert_error_string(Int(result)))
            }
        } else if rootCause == SSL_R_HTTP_REQUEST || rootCause == SSL_R_HTTPS_PROXY_REQUEST {
            reason += " (the peer sent plaintext HTTP, not TLS)"
        } else if rootCause == SSL_R_WRONG_VERSION_NUMBER {
            reason += " (the peer may not be speaking TLS)"
        }

        let summary = duringHandshake ? "handshake failed" : "connection failed"
        return TLSError(
            duringHandshake ? .handshakeFailed : .connectionFailed,
            "\(summary): \(reason)",
            function: function,
            details: details
        )
    }
}
