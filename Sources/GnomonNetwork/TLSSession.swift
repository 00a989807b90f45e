import CGnomonShims
import COpenSSL

/// One TLS connection's state, driven with bytes rather than a socket.
///
/// The session never touches a socket. Bytes read from the socket go in through
/// ``receive(ciphertext:)``; plaintext comes out of ``readPlaintext(into:maximumCount:)``,
/// which also drives the handshake. Plaintext goes in through ``write(plaintext:)``, and the
/// bytes to send to the socket come out of ``takeCiphertext(into:)``. Every call returns at once:
/// when the session needs bytes from the peer it says so, and the caller calls again after the
/// next socket read. After any call, ``pendingCiphertextCount`` bytes may be waiting to be sent,
/// including a fatal alert after a failure, which is worth sending before closing the socket.
///
/// Not `Sendable`: an OpenSSL connection must not be used from two threads at once. A session
/// may move between threads, but is used by one at a time.
public final class TLSSession {
    let ssl: OpaquePointer
    let role: TLSContext.Role
    /// Ciphertext from the peer, waiting for OpenSSL; owned by `ssl`.
    private(set) var inbound: OpaquePointer
    /// Ciphertext from OpenSSL, waiting for the socket; owned by `ssl`.
    private(set) var outbound: OpaquePointer

    /// Why one of the context's callbacks refused the peer, for the error that follows.
    var refusal: String?
    private var failure: TLSError?
    private var handshakeVerified = false
    private var closeNotifySent = false
    private var endOfStreamReceived = false

    /// A memory buffer that grew past this size is replaced once it is empty, so that one large
    /// message does not leave an idle connection holding its memory.
    static let retainedBufferLimit = 32 * 1024

    /// Creates a session from a context.
    ///
    /// - Parameter serverName: For a client, the host name or IP address the server's
    ///   certificate must be valid for; an IPv6 address may be in brackets.
    init(context: TLSContext, serverName: String?) throws(TLSError) {
        OpenSSLError.clearQueue()
        guard let ssl = SSL_new(context.handle) else {
            throw TLSError(.internalError, "cannot create a TLS connection", openSSLCall: "SSL_new")
        }
        guard let inbound = BIO_new(BIO_s_mem()), let outbound = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError(.internalError, "cannot create the TLS connection's buffers", openSSLCall: "BIO_new")
        }
        SSL_set_bio(ssl, inbound, outbound)
        self.ssl = ssl
        self.role = context.role
        self.inbound = inbound
        self.outbound = outbound
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())

        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)

        case .client:
            SSL_set_connect_state(ssl)
            try self.expectServerName(serverName ?? "")
        }
    }

    deinit {
        SSL_free(self.ssl)
    }

    /// The session an OpenSSL callback was called for.
    static func owning(_ ssl: OpaquePointer?) -> TLSSession? {
        SSL_get_ex_data(ssl, 0).map { Unmanaged<TLSSession>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Makes the handshake verify the server's certificate for `name`, and send it as SNI.
    private func expectServerName(_ name: String) throws(TLSError) {
        let isBracketed = name.hasPrefix("[") && name.hasSuffix("]") && name.count > 2
        let host = isBracketed ? String(name.dropFirst().dropLast()) : name
        guard !host.isEmpty, !host.utf8.contains(0) else {
            throw TLSError(.invalidConfiguration, "a TLS client needs the server's host name or IP address")
        }
        let parameters = SSL_get0_param(self.ssl)
        X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))

        // An IP address is checked against the certificate's IP entries, and never sent as SNI.
        if X509_VERIFY_PARAM_set1_ip_asc(parameters, host) == 1 {
            return
        }
        OpenSSLError.clearQueue()
        guard SSL_set1_host(self.ssl, host) == 1, gnomon_ssl_set_tlsext_host_name(self.ssl, host) == 1 else {
            throw TLSError(.invalidConfiguration, "cannot verify the server name \(host)", openSSLCall: "SSL_set1_host")
        }
    }

    /// Hands the session bytes read from the socket.
    ///
    /// The bytes are copied; nothing is decrypted until the next read or write.
    public func receive(ciphertext: UnsafeRawBufferPointer) {
        guard !ciphertext.isEmpty, !self.endOfStreamReceived, self.failure == nil else {
            return
        }
        var written = 0
        OpenSSLError.clearQueue()
        if BIO_write_ex(self.inbound, ciphertext.baseAddress, ciphertext.count, &written) != 1 {
            self.failure = TLSError(
                .internalError,
                "cannot buffer \(ciphertext.count) bytes received",
                openSSLCall: "BIO_write_ex"
            )
        }
    }

    /// Tells the session that the socket reached end of stream.
    ///
    /// A peer that closes without sending close_notify first may have had its data cut off, so
    /// the next read then fails with `unexpectedEndOfStream` unless close_notify was received.
    public func receiveEndOfStream() {
        self.endOfStreamReceived = true
        gnomon_bio_set_mem_eof_return(self.inbound, 0)
    }

    /// Advances the handshake as far as the bytes received allow.
    ///
    /// A client calls this once after creating the session, to produce its first message.
    /// Reading and writing advance the handshake too.
    ///
    /// - Returns: Whether the handshake is complete.
    /// - Throws: ``TLSError`` with code `handshakeFailed` when either side refused the other.
    @discardableResult
    public func handshake() throws(TLSError) -> Bool {
        if let failure = self.failure {
            throw failure
        }
        if self.handshakeVerified {
            return true
        }
        OpenSSLError.clearQueue()
        let result = SSL_do_handshake(self.ssl)
        guard result == 1 else {
            if try self.progress(after: result, of: "SSL_do_handshake") == .closed {
                throw self.fail(TLSError(.handshakeFailed, "handshake failed: the peer closed the connection"))
            }
            return false
        }
        try self.checkNegotiatedProtocol()
        return true
    }

    /// Decrypts plaintext into a buffer, driving the handshake first.
    ///
    /// - Parameter buffer: Where plaintext is stored, from its start.
    /// - Returns: How many bytes were stored; or that more ciphertext is needed first; or that
    ///   the peer sent close_notify.
    /// - Throws: ``TLSError`` when the handshake or the connection failed; the session is then
    ///   unusable, and every later call throws the same error.
    public func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> TLSReadResult {
        guard try self.handshake() else {
            return .needsMoreCiphertext
        }
        var total = 0
        var closed = false
        while total < buffer.count {
            var read = 0
            OpenSSLError.clearQueue()
            let result = SSL_read_ex(self.ssl, buffer.baseAddress! + total, buffer.count - total, &read)
            guard result == 1 else {
                closed = try self.progress(after: result, of: "SSL_read_ex") == .closed
                break
            }
            total += read
        }
        self.releaseDrainedInbound()
        return total > 0 ? .plaintext(total) : closed ? .closed : .needsMoreCiphertext
    }

    /// Decrypts plaintext and appends it to an array, driving the handshake first.
    ///
    /// - Parameters:
    ///   - buffer: The array the plaintext is appended to.
    ///   - maximumCount: The most bytes to append in this call.
    /// - Returns: How many bytes were appended; or that more ciphertext is needed first; or that
    ///   the peer sent close_notify.
    /// - Throws: ``TLSError`` when the handshake or the connection failed.
    public func readPlaintext(into buffer: inout [UInt8], maximumCount: Int = .max) throws(TLSError) -> TLSReadResult {
        guard try self.handshake() else {
            return .needsMoreCiphertext
        }
        var total = 0
        var closed = false
        while total < maximumCount {
            // A one-byte read makes OpenSSL decrypt the next record; SSL_pending then tells how
            // much of it is left, so the array grows by exactly what is read.
            let wanted = min(max(Int(SSL_pending(self.ssl)), 1), maximumCount - total)
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: wanted))
            var read = 0
            OpenSSLError.clearQueue()
            let result = buffer.withUnsafeMutableBytes { bytes in
                SSL_read_ex(self.ssl, bytes.baseAddress! + start, wanted, &read)
            }
            buffer.removeLast(wanted - read)
            guard result == 1 else {
                closed = try self.progress(after: result, of: "SSL_read_ex") == .closed
                break
            }
            total += read
        }
        self.releaseDrainedInbound()
        return total > 0 ? .plaintext(total) : closed ? .closed : .needsMoreCiphertext
    }

    /// Encrypts plaintext, once the handshake is complete.
    ///
    /// All of it is encrypted at once; the ciphertext waits in ``pendingCiphertextCount`` until
    /// taken, so bound what is written by how much ciphertext is still pending.
    ///
    /// - Returns: How many bytes were taken: all of them, or 0 while the handshake is still
    ///   waiting for the peer, in which case write them again later.
    /// - Throws: ``TLSError`` with code `closed` after close_notify, or when the connection failed.
    public func write(plaintext: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        guard try self.handshake() else {
            return 0
        }
        if self.closeNotifySent {
            throw TLSError(.closed, "cannot write after sending close_notify")
        }
        guard !plaintext.isEmpty else {
            return 0
        }
        var written = 0
        OpenSSLError.clearQueue()
        let result = SSL_write_ex(self.ssl, plaintext.baseAddress, plaintext.count, &written)
        guard result == 1 else {
            if try self.progress(after: result, of: "SSL_write_ex") == .closed {
                throw TLSError(.closed, "cannot write after the peer sent close_notify")
            }
            return 0
        }
        return written
    }

    /// How many bytes of ciphertext wait to be sent to the peer.
    public var pendingCiphertextCount: Int {
        Int(BIO_ctrl_pending(self.outbound))
    }

    /// Moves the ciphertext waiting to be sent to the end of an array.
    ///
    /// - Returns: How many bytes were appended.
    @discardableResult
    public func takeCiphertext(into buffer: inout [UInt8]) -> Int {
        let pending = self.pendingCiphertextCount
        guard pending > 0 else {
            return 0
        }
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: pending))
        var read = 0
        _ = buffer.withUnsafeMutableBytes { bytes in
            BIO_read_ex(self.outbound, bytes.baseAddress! + start, pending, &read)
        }
        buffer.removeLast(pending - read)
        self.releaseDrainedOutbound()
        return read
    }

    /// Moves as much of the ciphertext waiting to be sent as fits into a buffer.
    ///
    /// - Returns: How many bytes were stored, from the buffer's start.
    public func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard !buffer.isEmpty else {
            return 0
        }
        var read = 0
        _ = BIO_read_ex(self.outbound, buffer.baseAddress, buffer.count, &read)
        self.releaseDrainedOutbound()
        return read
    }

    /// Sends close_notify, after which nothing more can be written.
    ///
    /// Take the ciphertext afterwards and send it before closing the socket. Does nothing
    /// before the handshake is complete or after a failure, when there is no clean close.
    public func closeNotify() {
        guard self.failure == nil, self.handshakeVerified, !self.closeNotifySent else {
            return
        }
        self.closeNotifySent = true
        OpenSSLError.clearQueue()
        _ = SSL_shutdown(self.ssl)
        OpenSSLError.clearQueue()
    }

    /// Whether the peer sent close_notify.
    public var hasReceivedCloseNotify: Bool {
        (SSL_get_shutdown(self.ssl) & SSL_RECEIVED_SHUTDOWN) != 0
    }

    /// Whether the handshake is complete and the peer was accepted.
    public var isHandshakeComplete: Bool {
        self.handshakeVerified && self.failure == nil
    }

    private enum Progress {
        case needsCiphertext
        case closed
    }

    /// What a failed OpenSSL call means: wait for the peer, the peer closed, or a failure.
    private func progress(after result: Int32, of function: String) throws(TLSError) -> Progress {
        switch SSL_get_error(self.ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .needsCiphertext

        case SSL_ERROR_ZERO_RETURN:
            return .closed

        default:
            let queue = OpenSSLError.drainQueue()
            throw self.fail(self.describeFailure(queue, in: function))
        }
    }

    /// Refuses a server that did not choose `gnomon/1`; servers have refused such clients already.
    private func checkNegotiatedProtocol() throws(TLSError) {
        let expected = TLSConfiguration.applicationProtocol
        guard let selected = self.negotiatedProtocol else {
            throw self.fail(
                TLSError(
                    .handshakeFailed,
                    "handshake failed: the peer selected no application protocol (ALPN); \(expected) is required",
                    function: "SSL_get0_alpn_selected"
                )
            )
        }
        guard selected == expected else {
            let name = printableText(selected.utf8)
            throw self.fail(
                TLSError(
                    .handshakeFailed,
                    "handshake failed: the peer selected the application protocol \(name), not \(expected)",
                    function: "SSL_get0_alpn_selected"
                )
            )
        }
        self.handshakeVerified = true
    }

    /// Remembers a failure, after which the session only ever throws it.
    private func fail(_ error: TLSError) -> TLSError {
        self.failure = error
        return error
    }

    private func releaseDrainedInbound() {
        guard BIO_ctrl_pending(self.inbound) == 0,
            gnomon_bio_mem_capacity(self.inbound) > Self.retainedBufferLimit,
            let fresh = BIO_new(BIO_s_mem())
        else {
            return
        }
        if self.endOfStreamReceived {
            gnomon_bio_set_mem_eof_return(fresh, 0)
        }
        SSL_set0_rbio(self.ssl, fresh)
        self.inbound = fresh
    }

    private func releaseDrainedOutbound() {
        guard BIO_ctrl_pending(self.outbound) == 0,
            gnomon_bio_mem_capacity(self.outbound) > Self.retainedBufferLimit,
            let fresh = BIO_new(BIO_s_mem())
        else {
            return
        }
        SSL_set0_wbio(self.ssl, fresh)
        self.outbound = fresh
    }
}
