import GnomonProtocol
import Testing

@testable import GnomonNetwork

/// A client that drives TLS by hand, or speaks no TLS at all, so a test can send the server
/// any bytes: frames the real client would never send, broken frames, or no frames.
///
/// The handler runs on its connection's loop; the test reads what it saw through recorders
/// and acts on the connection through methods that hop onto the loop.
final class RawRPCClient: TCPConnectionHandler, @unchecked Sendable {
    /// How the client opens the conversation.
    enum Opening: Sendable {
        /// No TLS: bytes go to the socket as they are.
        case plaintext
        /// TLS offering `gnomon/1`, or the given ALPN protocols (none when empty).
        case tls(alpn: [String]? = nil)
        /// TLS offering `gnomon/1`, with the ClientHello held back until ``startHandshake()``.
        case deferredTLS
    }

    /// Frames decoded from the server's plaintext, in order.
    let frames = Recorder<[V1.Frame]>([])
    /// Whether the TLS handshake completed.
    let isHandshakeComplete = Recorder(false)
    /// The TLS or decoding failure this side saw, if any.
    let failure = Recorder<String?>(nil)
    /// Whether the connection closed.
    let isClosed = Recorder(false)
    /// Whether PINGs from the server are answered, as a live client would.
    let answersPings = Recorder(true)

    private let context: TLSClientContext?
    private let alpn: [String]?
    private let defersHandshake: Bool
    private let keptPayloadBytes: Int
    // The members below belong to the connection's loop.
    private var session: TLSSession?
    private var connection: TCPConnection?
    private var decoder = FrameDecoder(limits: ProtocolLimits(maximumFrameLength: 64 * 1024 * 1024))
    private let encoder = FrameEncoder(limits: ProtocolLimits(maximumFrameLength: 64 * 1024 * 1024))

    private init(context: TLSClientContext?, alpn: [String]?, defersHandshake: Bool, keptPayloadBytes: Int) {
        self.context = context
        self.alpn = alpn
        self.defersHandshake = defersHandshake
        self.keptPayloadBytes = keptPayloadBytes
    }

    /// Connects to 127.0.0.1:`port`; a TLS opening other than deferred starts the handshake at once.
    ///
    /// - Parameter keptPayloadBytes: How much of each frame's payload ``frames`` keeps, so a
    ///   long stream does not pile up in the test's memory.
    static func connect(
        port: UInt16,
        group: EventLoopGroup,
        opening: Opening,
        context: TLSClientContext? = nil,
        keptPayloadBytes: Int = .max
    ) async throws -> RawRPCClient {
        var tls: TLSClientContext?
        var alpn: [String]?
        var defersHandshake = false
        switch opening {
        case .plaintext:
            break
        case .tls(let offered):
            tls = try Self.required(context)
            alpn = offered
        case .deferredTLS:
            tls = try Self.required(context)
            defersHandshake = true
        }
        let client = RawRPCClient(
            context: tls, alpn: alpn, defersHandshake: defersHandshake, keptPayloadBytes: keptPayloadBytes)
        _ = try await TCPConnection.connect(host: "127.0.0.1", port: port, on: group.next(), timeout: .seconds(5)) {
            _ in client
        }
        return client
    }

    private static func required(_ context: TLSClientContext?) throws -> TLSClientContext {
        guard let context else {
            throw TLSError(.invalidConfiguration, "a TLS opening needs a client context")
        }
        return context
    }

    /// Connects with TLS and `gnomon/1`, and waits for the handshake.
    static func connectSecurely(to server: RPCTestServer, keptPayloadBytes: Int = .max) async throws -> RawRPCClient {
        let client = try await Self.connect(
            port: server.port, group: server.group, opening: .tls(), context: try server.makeClientContext(),
            keptPayloadBytes: keptPayloadBytes)
        try #require(await eventually(timeout: .seconds(5)) { client.isHandshakeComplete.current })
        return client
    }

    // MARK: - Acting, from the test

    /// Encodes frames, however broken, and sends them through TLS in one write.
    func send(_ frames: [V1.Frame]) async throws {
        var bytes: [UInt8] = []
        for frame in frames {
            try self.encoder.encode(frame, into: &bytes)
        }
        try await self.send(plaintext: bytes)
    }

    /// Sends the ClientHello of a deferred TLS opening.
    func startHandshake() async throws {
        try await self.onLoop { client in
            if let session = client.session, let connection = client.connection {
                client.advance(session, connection)
            }
        }
    }

    /// Sends bytes through TLS.
    func send(plaintext: [UInt8]) async throws {
        try await self.onLoop { client in
            guard let session = client.session, let connection = client.connection else {
                return
            }
            _ = try plaintext.withUnsafeBytes { try session.write(plaintext: $0) }
            client.flushCiphertext(session, connection)
        }
    }

    /// Sends bytes to the socket as they are, bypassing TLS.
    func send(raw bytes: [UInt8]) async throws {
        try await self.onLoop { client in
            client.connection?.write(bytes)
        }
    }

    /// Stops or resumes reading from the socket.
    func setReadingPaused(_ paused: Bool) async throws {
        try await self.onLoop { client in
            client.connection?.setReadingPaused(paused)
        }
    }

    /// Sends close_notify if TLS is up, then closes the socket after what is buffered.
    func close() async throws {
        try await self.onLoop { client in
            if let session = client.session, let connection = client.connection {
                session.closeNotify()
                client.flushCiphertext(session, connection)
            }
            client.connection?.close()
        }
    }

    /// Waits up to `timeout` for a frame matching `predicate`.
    ///
    /// Call it outside `#expect` and `#require`: with Swift 6.3.1, a closure literal passed to an
    /// awaited call inside `#expect`, within another closure, can be called in place of the
    /// closure given to the next such call (the next wait then matches the wrong frame).
    func frame(
        within timeout: Duration = .seconds(5),
        where predicate: (V1.Frame) -> Bool
    ) async -> V1.Frame? {
        _ = await eventually(timeout: timeout) { self.frames.current.contains(where: predicate) }
        return self.frames.current.first(where: predicate)
    }

    /// How many RESPONSE frames arrived.
    var responseCount: Int {
        self.frames.current.count { $0.kind == .response }
    }

    /// Waits up to `timeout` for a GOAWAY.
    func goAway(within timeout: Duration = .seconds(5)) async -> V1.GoAway? {
        await self.frame(within: timeout) { $0.kind == .goaway }?.goaway
    }

    /// Waits up to `timeout` for the connection to close.
    func closed(within timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout: timeout) { self.isClosed.current }
    }

    private func onLoop(_ body: @escaping @Sendable (RawRPCClient) throws -> Void) async throws {
        let connection = try #require(await self.currentConnection())
        try await connection.eventLoop.submit { try body(self) }
    }

    private func currentConnection() async -> TCPConnection? {
        _ = await eventually(timeout: .seconds(5)) { self.connectionRecorder.current != nil }
        return self.connectionRecorder.current
    }

    /// The connection, published for hopping onto its loop.
    private let connectionRecorder = Recorder<TCPConnection?>(nil)

    // MARK: - TCPConnectionHandler

    func connectionActive(_ connection: TCPConnection) {
        self.connection = connection
        self.connectionRecorder.update { $0 = connection }
        guard let context = self.context else {
            return
        }
        do {
            let session = try context.makeClientSession(serverName: "127.0.0.1")
            if let alpn = self.alpn {
                session.offerApplicationProtocols(alpn)
            }
            self.session = session
            if !self.defersHandshake {
                self.advance(session, connection)
            }
        } catch {
            self.failure.update { $0 = "\(error)" }
        }
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {
        guard let session = self.session else {
            return
        }
        session.receive(ciphertext: bytes)
        self.advance(session, connection)
    }

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {
        self.isClosed.update { $0 = true }
        self.connection = nil
    }

    /// Drives the handshake, reads what plaintext there is, and sends what TLS has to say.
    private func advance(_ session: TLSSession, _ connection: TCPConnection) {
        defer { self.flushCiphertext(session, connection) }
        do {
            guard try session.handshake() else {
                return
            }
            self.isHandshakeComplete.update { $0 = true }
            try withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 1) { buffer in
                while case .plaintext(let count) = try session.readPlaintext(into: buffer) {
                    self.decoder.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                }
            }
            while var frame = try self.decoder.nextFrame() {
                if frame.payload.count > self.keptPayloadBytes {
                    frame.payload.removeLast(frame.payload.count - self.keptPayloadBytes)
                }
                self.frames.update { $0.append(frame) }
                if frame.kind == .ping, let ping = frame.ping, !ping.ack, self.answersPings.current {
                    _ = try self.encoder.encode(.makePing(data: ping.data, ack: true)).withUnsafeBytes {
                        try session.write(plaintext: $0)
                    }
                }
            }
        } catch {
            self.failure.update { $0 = $0 ?? "\(error)" }
        }
    }

    private func flushCiphertext(_ session: TLSSession, _ connection: TCPConnection) {
        var ciphertext: [UInt8] = []
        session.takeCiphertext(into: &ciphertext)
        if !ciphertext.isEmpty {
            connection.write(ciphertext)
        }
    }
}

extension V1.Frame {
    /// The frame's status, OK when it carries none.
    var callStatus: CallStatus {
        CallStatus(self.status)
    }
}
