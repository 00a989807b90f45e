import Foundation
import Testing

@testable import GnomonNetwork

/// Development certificates in a temporary folder, removed when the object goes away.
final class TestPKI {
    let folder: String
    let files: CertificateFiles

    init(hostNames: [String] = CertificateFiles.developmentHostNames) throws {
        var template = Array("\(NSTemporaryDirectory())/gnomon-tls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw TLSError(.internalError, "cannot create a temporary folder")
        }
        self.folder = String(cString: made)
        self.files = try CertificateFiles.ensureDevelopment(in: self.folder, hostNames: hostNames)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.folder)
    }

    /// A server presenting the development certificate.
    func serverConfiguration(allowTLS12: Bool = false) -> TLSConfiguration {
        TLSConfiguration(
            certificateChainFile: self.files.certificateFile,
            privateKeyFile: self.files.keyFile,
            allowTLS12: allowTLS12
        )
    }

    /// A server that requires client certificates signed by this folder's CA.
    func mutualServerConfiguration() -> TLSConfiguration {
        TLSConfiguration(
            certificateChainFile: self.files.certificateFile,
            privateKeyFile: self.files.keyFile,
            caFile: self.files.caFile,
            requireClientCertificate: true
        )
    }

    /// A client trusting this folder's CA.
    func clientConfiguration(allowTLS12: Bool = false) -> TLSConfiguration {
        TLSConfiguration(caFile: self.files.caFile, allowTLS12: allowTLS12)
    }
}

/// A client and a server session joined in memory, with what each received.
final class SessionPair {
    let client: TLSSession
    let server: TLSSession
    var clientReceived: [UInt8] = []
    var serverReceived: [UInt8] = []
    var clientError: TLSError?
    var serverError: TLSError?
    var clientSawClose = false
    var serverSawClose = false

    init(client: TLSSession, server: TLSSession) {
        self.client = client
        self.server = server
    }

    convenience init(
        _ pki: TestPKI,
        server: TLSConfiguration? = nil,
        client: TLSConfiguration? = nil,
        serverName: String = "localhost"
    ) throws {
        let serverContext = try TLSServerContext(configuration: server ?? pki.serverConfiguration())
        let clientContext = try TLSClientContext(configuration: client ?? pki.clientConfiguration())
        self.init(
            client: try clientContext.makeClientSession(serverName: serverName),
            server: try serverContext.makeServerSession()
        )
    }

    /// Reads on both sides and moves ciphertext between them until neither has more to say.
    ///
    /// - Parameter chunkSize: The most bytes moved at once, to split records across reads.
    func run(chunkSize: Int = .max) {
        for _ in 0..<100_000 {
            self.read(self.client, into: &self.clientReceived, error: &self.clientError, closed: &self.clientSawClose)
            self.read(self.server, into: &self.serverReceived, error: &self.serverError, closed: &self.serverSawClose)
            let toServer = Self.move(from: self.client, to: self.server, chunkSize: chunkSize)
            let toClient = Self.move(from: self.server, to: self.client, chunkSize: chunkSize)
            if !toServer && !toClient {
                return
            }
        }
        Issue.record("the sessions kept exchanging bytes")
    }

    private func read(_ session: TLSSession, into buffer: inout [UInt8], error: inout TLSError?, closed: inout Bool) {
        guard error == nil else {
            return
        }
        do {
            while case .plaintext = try session.readPlaintext(into: &buffer) {}
            closed = session.hasReceivedCloseNotify
        } catch let failure {
            error = failure
        }
    }

    private static func move(from sender: TLSSession, to receiver: TLSSession, chunkSize: Int) -> Bool {
        var bytes: [UInt8] = []
        sender.takeCiphertext(into: &bytes)
        for start in stride(from: 0, to: bytes.count, by: chunkSize) {
            bytes[start..<min(start + chunkSize, bytes.count)].withUnsafeBytes { receiver.receive(ciphertext: $0) }
        }
        return !bytes.isEmpty
    }
}

extension TLSSession {
    /// Writes all of `bytes`, expecting the handshake to be complete.
    func write(_ bytes: [UInt8]) throws {
        let written = try bytes.withUnsafeBytes { try self.write(plaintext: $0) }
        #expect(written == bytes.count)
    }

    func write(_ text: String) throws {
        try self.write(Array(text.utf8))
    }
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

@Suite("TLS sessions")
struct TLSSessionTests {
    @Test("a TLS 1.3 handshake agrees on gnomon/1 and carries data both ways, 1 MiB included")
    func handshakeAndData() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()

        #expect(pair.clientError == nil && pair.serverError == nil)
        for session in [pair.client, pair.server] {
            #expect(session.isHandshakeComplete)
            #expect(session.negotiatedProtocol == "gnomon/1")
            #expect(session.negotiatedVersion == "TLSv1.3")
            #expect(session.negotiatedCipherSuite?.hasPrefix("TLS_") == true)
        }
        #expect(pair.client.peerCertificateSubject == "CN=localhost,O=Gnomon development")
        #expect(pair.server.peerCertificateSubject == nil)

        try pair.client.write("ping")
        pair.run()
        try pair.server.write("pong")
        pair.run()
        #expect(pair.serverReceived == Array("ping".utf8))
        #expect(pair.clientReceived == Array("pong".utf8))

        let upload = randomBytes(1 << 20)
        let download = randomBytes(1 << 20)
        try pair.client.write(upload)
        try pair.server.write(download)
        pair.run()
        #expect(pair.serverReceived.dropFirst(4).elementsEqual(upload))
        #expect(pair.clientReceived.dropFirst(4).elementsEqual(download))
    }

    @Test("a handshake fed one byte at a time completes, as bytes split at any offset must")
    func oneByteAtATime() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run(chunkSize: 1)
        try pair.client.write("split")
        pair.run(chunkSize: 1)

        #expect(pair.client.isHandshakeComplete && pair.server.isHandshakeComplete)
        #expect(pair.serverReceived == Array("split".utf8))
    }

    @Test("reading into a raw buffer stores plaintext from its start and stops when it is full")
    func rawBufferReads() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()
        try pair.client.write("0123456789")
        var ciphertext: [UInt8] = []
        pair.client.takeCiphertext(into: &ciphertext)
        ciphertext.withUnsafeBytes { pair.server.receive(ciphertext: $0) }

        var buffer = [UInt8](repeating: 0, count: 4)
        let first = try buffer.withUnsafeMutableBytes { try pair.server.readPlaintext(into: $0) }
        #expect(first == .plaintext(4) && buffer == Array("0123".utf8))
        var rest: [UInt8] = []
        #expect(try pair.server.readPlaintext(into: &rest) == .plaintext(6))
        #expect(rest == Array("456789".utf8))
        #expect(try pair.server.readPlaintext(into: &rest) == .needsMoreCiphertext)
    }

    @Test("ciphertext taken into a raw buffer comes out in order, as much as fits each time")
    func rawBufferCiphertext() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        try pair.client.handshake()
        let pending = pair.client.pendingCiphertextCount
        #expect(pending > 0)

        var buffer = [UInt8](repeating: 0, count: 100)
        var taken: [UInt8] = []
        while pair.client.pendingCiphertextCount > 0 {
            let count = buffer.withUnsafeMutableBytes { pair.client.takeCiphertext(into: $0) }
            taken += buffer.prefix(count)
        }
        #expect(taken.count == pending)
        taken.withUnsafeBytes { pair.server.receive(ciphertext: $0) }
        pair.run()
        #expect(pair.client.isHandshakeComplete && pair.server.isHandshakeComplete)
    }

    @Test("writing before the handshake completes takes nothing, and writing again afterwards works")
    func writeBeforeHandshake() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        let early = try Array("early".utf8).withUnsafeBytes { try pair.client.write(plaintext: $0) }
        #expect(early == 0)
        #expect(pair.client.pendingCiphertextCount > 0)

        pair.run()
        try pair.client.write("early")
        pair.run()
        #expect(pair.serverReceived == Array("early".utf8))
    }

    @Test("close_notify delivers the data before it, then ends the stream, and the other side may answer")
    func closeNotify() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()
        try pair.client.write("bye")
        pair.client.closeNotify()
        pair.run()

        #expect(pair.serverReceived == Array("bye".utf8))
        #expect(pair.serverSawClose && pair.server.hasReceivedCloseNotify)
        var more: [UInt8] = []
        #expect(try pair.server.readPlaintext(into: &more) == .closed)
        #expect(throws: TLSError.self) { try pair.client.write("after close") }

        try pair.server.write("last words")
        pair.server.closeNotify()
        pair.run()
        #expect(pair.clientReceived == Array("last words".utf8))
        #expect(pair.clientSawClose && pair.clientError == nil && pair.serverError == nil)
    }

    @Test("a stream that ends without close_notify is reported as cut off, not as a clean close")
    func truncation() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()
        pair.server.receiveEndOfStream()

        var buffer: [UInt8] = []
        let error = #expect(throws: TLSError.self) { try pair.server.readPlaintext(into: &buffer) }
        #expect(error?.code == .unexpectedEndOfStream)
        #expect(error?.message.contains("without sending close_notify") == true)
    }

    @Test("plaintext HTTP sent to a server fails its handshake with an error that says so")
    func plaintextHTTP() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(configuration: pki.serverConfiguration()).makeServerSession()
        Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8).withUnsafeBytes { server.receive(ciphertext: $0) }

        var buffer: [UInt8] = []
        let error = #expect(throws: TLSError.self) { try server.readPlaintext(into: &buffer) }
        #expect(error?.code == .handshakeFailed)
        #expect(error?.message == "handshake failed: http request (the peer sent plaintext HTTP, not TLS)")
        #expect(error?.function == "SSL_do_handshake")
        #expect(error?.details.first?.contains("http request") == true)

        let again = #expect(throws: TLSError.self) { try server.readPlaintext(into: &buffer) }
        #expect(again?.message == error?.message)
        #expect(!server.isHandshakeComplete)
    }

    @Test("random bytes sent to a server fail its handshake without harm")
    func randomGarbage() throws {
        let pki = try TestPKI()
        let context = try TLSServerContext(configuration: pki.serverConfiguration())
        for size in [1, 5, 100, 65_536] {
            let server = try context.makeServerSession()
            randomBytes(size).withUnsafeBytes { server.receive(ciphertext: $0) }
            var buffer: [UInt8] = []
            do {
                // A byte or a few may look like the start of a record that has not arrived yet.
                #expect(try server.readPlaintext(into: &buffer) == .needsMoreCiphertext)
                #expect(size < 100)
            } catch {
                #expect(error.code == .handshakeFailed)
            }
        }
    }

    @Test("a record altered after the handshake fails the connection and is not delivered")
    func corruptedRecord() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()
        try pair.client.write("secret")
        var ciphertext: [UInt8] = []
        pair.client.takeCiphertext(into: &ciphertext)
        ciphertext[ciphertext.count - 1] ^= 0x01
        ciphertext.withUnsafeBytes { pair.server.receive(ciphertext: $0) }

        var buffer: [UInt8] = []
        let error = #expect(throws: TLSError.self) { try pair.server.readPlaintext(into: &buffer) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.hasPrefix("connection failed: ") == true)
        #expect(buffer.isEmpty)
        #expect(pair.server.pendingCiphertextCount > 0, "the fatal alert waits to be sent")
    }

    @Test("a session gives back memory a large message made it allocate, once its buffers are empty")
    func buffersShrink() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()
        try pair.client.write(randomBytes(1 << 20))
        try pair.server.write(randomBytes(1 << 20))
        pair.run()

        try pair.client.write("small")
        pair.run()
        #expect(pair.client.bufferCapacity <= 2 * TLSSession.retainedBufferLimit)
        #expect(pair.server.bufferCapacity <= 2 * TLSSession.retainedBufferLimit)
    }
}
