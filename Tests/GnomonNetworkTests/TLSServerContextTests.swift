import Dispatch
import Foundation
import Testing

@testable import GnomonNetwork

@Suite("TLS server context reloads")
struct TLSServerContextTests {
    /// Replaces the server certificate and key with new ones for `commonName`, still for localhost.
    private func rotate(_ pki: TestPKI, to commonName: String) throws {
        _ = try CertificateFiles.issueDevelopment(
            commonName: commonName,
            hostNames: ["localhost"],
            usage: .server,
            in: pki.folder,
            to: pki.files
        )
    }

    private func connect(_ server: TLSServerContext, _ client: TLSClientContext) throws -> SessionPair {
        let pair = SessionPair(
            client: try client.makeClientSession(serverName: "localhost"),
            server: try server.makeServerSession()
        )
        pair.run()
        return pair
    }

    @Test("a reload serves the new certificate to new sessions, while open sessions carry on")
    func rotation() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(configuration: pki.serverConfiguration())
        let client = try TLSClientContext(configuration: pki.clientConfiguration())
        let before = try self.connect(server, client)
        #expect(before.client.peerCertificateSubject == "CN=localhost,O=Gnomon development")
        #expect(try !server.reloadIfChanged())

        try self.rotate(pki, to: "rotated.localhost")
        #expect(try server.reloadIfChanged())
        #expect(try !server.reloadIfChanged())

        let after = try self.connect(server, client)
        #expect(after.client.peerCertificateSubject == "CN=rotated.localhost,O=Gnomon development")
        try before.client.write("old")
        try before.server.write("session")
        before.run()
        #expect(before.serverReceived == Array("old".utf8))
        #expect(before.clientReceived == Array("session".utf8))
        #expect(before.clientError == nil && before.serverError == nil)
    }

    @Test("reload reads the files even when they look unchanged, as SIGHUP asks")
    func explicitReload() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(configuration: pki.serverConfiguration())
        try server.reload()
        let client = try TLSClientContext(configuration: pki.clientConfiguration())

        #expect(try self.connect(server, client).client.isHandshakeComplete)
    }

    @Test("a broken certificate file keeps the old certificate in use, and the error names the file")
    func brokenCertificate() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(configuration: pki.serverConfiguration())
        let client = try TLSClientContext(configuration: pki.clientConfiguration())
        try Data("-----BEGIN CERTIFICATE-----\nnot base64\n".utf8).write(
            to: URL(fileURLWithPath: pki.files.certificateFile))

        let error = #expect(throws: TLSError.self) { try server.reloadIfChanged() }
        #expect(error?.code == .invalidCertificate)
        #expect(error?.message.contains(pki.files.certificateFile) == true)
        #expect(try !server.reloadIfChanged(), "a file that failed is not read again until it changes")
        #expect(throws: TLSError.self) { try server.reload() }

        let during = try self.connect(server, client)
        #expect(during.client.peerCertificateSubject == "CN=localhost,O=Gnomon development")

        try self.rotate(pki, to: "repaired.localhost")
        #expect(try server.reloadIfChanged())
        let after = try self.connect(server, client)
        #expect(after.client.peerCertificateSubject == "CN=repaired.localhost,O=Gnomon development")
    }

    @Test("a key that does not match, or a file that is gone, keeps the old certificate in use")
    func mismatchedOrMissing() throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        let server = try TLSServerContext(configuration: pki.serverConfiguration())
        let client = try TLSClientContext(configuration: pki.clientConfiguration())

        try FileManager.default.removeItem(atPath: pki.files.keyFile)
        try FileManager.default.copyItem(atPath: other.files.keyFile, toPath: pki.files.keyFile)
        let mismatch = #expect(throws: TLSError.self) { try server.reloadIfChanged() }
        #expect(mismatch?.message.contains("does not hold the key of the certificate") == true)

        try FileManager.default.removeItem(atPath: pki.files.keyFile)
        let missing = #expect(throws: TLSError.self) { try server.reloadIfChanged() }
        #expect(missing?.message == "cannot read private key file \(pki.files.keyFile): No such file or directory")

        #expect(try self.connect(server, client).client.isHandshakeComplete)
    }

    @Test("sessions are made on many threads while the context reloads")
    func concurrentReloads() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(configuration: pki.serverConfiguration())
        let client = try TLSClientContext(configuration: pki.clientConfiguration())
        let failures = Failures()

        DispatchQueue.concurrentPerform(iterations: 8) { index in
            for _ in 0..<20 {
                do {
                    if index == 0 {
                        try server.reload()
                    } else if try !self.connect(server, client).client.isHandshakeComplete {
                        failures.add("a handshake did not complete")
                    }
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty)
    }

    @Test("a client context reloads its files too")
    func clientReload() throws {
        let pki = try TestPKI()
        let client = try TLSClientContext(configuration: pki.clientConfiguration())
        #expect(try !client.reloadIfChanged())
        try client.reload()

        try FileManager.default.removeItem(atPath: pki.files.caFile)
        let error = #expect(throws: TLSError.self) { try client.reloadIfChanged() }
        #expect(error?.message == "cannot read CA file \(pki.files.caFile): No such file or directory")
    }
}

/// Messages collected from many threads.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    func add(_ message: String) {
        self.lock.withLock { self.messages.append(message) }
    }

    var all: [String] {
        self.lock.withLock { self.messages }
    }
}
