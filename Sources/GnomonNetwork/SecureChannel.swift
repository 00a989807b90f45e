/// What a secure channel tells the code that speaks over it: plaintext in, room, the end.
///
/// Every method is called on the channel's event loop thread and must not block.
public protocol SecureChannelHandler: AnyObject {
    /// The TLS handshake completed and the peer agreed on the protocol; writing may start.
    func channelActive(_ channel: SecureChannel)

    /// Plaintext arrived; valid only during the call.
    func plaintextReceived(_ bytes: UnsafeRawBufferPointer, on channel: SecureChannel)

    /// The socket's write buffer crossed a watermark; see ``TCPConnectionHandler``.
    func writabilityChanged(isWritable: Bool, on channel: SecureChannel)

    /// The channel closed; no other call follows.
    ///
    /// - Parameter error: `nil` for an orderly close; otherwise a ``TLSError`` or ``SystemError``.
    func channelClosed(_ error: (any Error)?, on channel: SecureChannel)
}

/// TLS over one TCP connection, on that connection's event loop.
///
/// The channel feeds socket bytes to its ``TLSSession`` and the session's output back to the
/// socket; its handler sees only plaintext, and only after the handshake succeeded, ALPN
/// included. A handshake that does not finish within the timeout closes the connection.
public final class SecureChannel: TCPConnectionHandler {
    /// The TCP connection underneath.
    public let connection: TCPConnection
    /// The TLS state; read it for the negotiated protocol and the peer's certificate.
    public let session: TLSSession
    private let handler: any SecureChannelHandler
    private var handshakeTimer: TimerID?
    private let handshakeTimeout: Duration
    private var isActive = false
    private var closeError: (any Error)?

    /// Wraps a connection; call from the connection's handler factory.
    ///
    /// - Parameters:
    ///   - connection: The TCP connection, not yet active.
    ///   - session: A server or client session made for this connection.
    ///   - handshakeTimeout: How long the peer has to complete the handshake.
    ///   - handler: Receives the plaintext.
    public init(
        connection: TCPConnection,
        session: TLSSession,
        handshakeTimeout: Duration = .seconds(10),
        handler: any SecureChannelHandler
    ) {
        self.connection = connection
        self.session = session
        self.handshakeTimeout = handshakeTimeout
        self.handler = handler
    }

    /// The event loop the channel runs on.
    public var eventLoop: EventLoop { self.connection.eventLoop }

    /// Whether the socket's write buffer is below its high watermark.
    public var isWritable: Bool { self.connection.isWritable }

    /// Encrypts and sends plaintext; loop thread only.
    ///
    /// - Returns: Whether the socket's write buffer is still below its high watermark.
    @discardableResult
    public func write(_ plaintext: UnsafeRawBufferPointer) -> Bool {
        do {
            var offset = 0
            while offset < plaintext.count {
                let written = try self.session.write(plaintext: UnsafeRawBufferPointer(rebasing: plaintext[offset...]))
                guard written > 0 else {
                    break
                }
                offset += written
            }
        } catch {
            self.fail(error)
            return false
        }
        return self.flushCiphertext()
    }

    /// Encrypts and sends plaintext; loop thread only.
    @discardableResult
    public func write(_ plaintext: [UInt8]) -> Bool {
        plaintext.withUnsafeBytes { self.write($0) }
    }

    /// Stops or resumes reading from the socket, for backpressure.
    public func setReadingPaused(_ paused: Bool) {
        self.connection.setReadingPaused(paused)
    }

    /// Sends close_notify and closes the connection once what is buffered is written.
    public func close() {
        self.session.closeNotify()
        self.flushCiphertext()
        self.connection.close()
    }

    // MARK: - TCPConnectionHandler

    public func connectionActive(_ connection: TCPConnection) {
        self.handshakeTimer = connection.scheduleTimer(after: self.handshakeTimeout) { [weak self] in
            self?.fail(TLSError(.handshakeFailed, "the TLS handshake did not complete in time"))
        }
        // A client speaks first; a server waits for the ClientHello.
        self.advanceHandshake()
    }

    public func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {
        self.session.receive(ciphertext: bytes)
        if !self.isActive {
            self.advanceHandshake()
        }
        if self.isActive {
            self.deliverPlaintext()
        }
    }

    public func writabilityChanged(isWritable: Bool, on connection: TCPConnection) {
        self.handler.writabilityChanged(isWritable: isWritable, on: self)
    }

    public func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {
        if let timer = self.handshakeTimer {
            _ = connection.cancelTimer(timer)
        }
        self.handler.channelClosed(self.closeError ?? error, on: self)
    }

    // MARK: - Internals

    private func advanceHandshake() {
        do {
            let complete = try self.session.handshake()
            self.flushCiphertext()
            guard complete else {
                return
            }
            if let timer = self.handshakeTimer {
                _ = self.connection.cancelTimer(timer)
                self.handshakeTimer = nil
            }
            self.isActive = true
            self.handler.channelActive(self)
        } catch {
            self.fail(error)
        }
    }

    private func deliverPlaintext() {
        withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 1) { buffer in
            while self.connection.isActive {
                let result: TLSReadResult
                do {
                    result = try self.session.readPlaintext(into: buffer)
                } catch {
                    self.fail(error)
                    return
                }
                switch result {
                case .plaintext(let count):
                    self.handler.plaintextReceived(UnsafeRawBufferPointer(rebasing: buffer[..<count]), on: self)

                case .needsMoreCiphertext:
                    self.flushCiphertext()
                    return

                case .closed:
                    self.close()
                    return
                }
            }
        }
    }

    @discardableResult
    private func flushCiphertext() -> Bool {
        guard self.session.pendingCiphertextCount > 0 else {
            return self.connection.isWritable
        }
        return withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 1) { buffer in
            var writable = true
            while self.session.pendingCiphertextCount > 0 {
                let count = self.session.takeCiphertext(into: buffer)
                writable = self.connection.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
            return writable
        }
    }

    /// Sends what the session has (such as a fatal alert), then closes with `error`.
    private func fail(_ error: any Error) {
        guard self.closeError == nil else {
            return
        }
        self.closeError = error
        self.flushCiphertext()
        self.connection.close()
    }
}
