import Foundation
import Testing

@testable import GnomonNetwork

@Suite("Development certificates")
struct CertificateFilesTests {
    private func permissions(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? -1
    }

    private func contents(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test("a CA and a server certificate are made, with keys only their owner can read")
    func creation() throws {
        let pki = try TestPKI()
        let files = pki.files

        #expect(files.caFile == "\(pki.folder)/ca.pem")
        #expect(files.certificateFile == "\(pki.folder)/server.pem")
        #expect(files.keyFile == "\(pki.folder)/server-key.pem")
        #expect(try self.permissions(files.keyFile) == 0o600)
        #expect(try self.permissions("\(pki.folder)/ca-key.pem") == 0o600)
        #expect(try self.permissions(files.certificateFile) == 0o644)

        let certificate = try Certificate.load(fromPEMFile: files.certificateFile)
        let authority = try Certificate.load(fromPEMFile: files.caFile)
        let authorityKey = try CertificateKey.load(fromPEMFile: "\(pki.folder)/ca-key.pem")
        #expect(certificate.subject == "CN=localhost,O=Gnomon development")
        #expect(authority.subject == "CN=Gnomon development CA,O=Gnomon development")
        #expect(certificate.isIssued(by: authority, key: authorityKey))
        #expect(certificate.belongs(to: try CertificateKey.load(fromPEMFile: files.keyFile)))
        #expect(!certificate.expires(withinSeconds: 300 * 86_400))
        #expect(certificate.expires(withinSeconds: 400 * 86_400))
        for host in ["localhost", "127.0.0.1", "::1"] {
            #expect(certificate.isValid(forHost: host))
        }
        #expect(!certificate.isValid(forHost: "example.com"))
    }

    @Test("valid files are reused as they are")
    func reuse() throws {
        let pki = try TestPKI()
        let before = try [pki.files.caFile, pki.files.certificateFile, pki.files.keyFile].map(self.contents)
        let again = try CertificateFiles.ensureDevelopment(in: pki.folder)
        let after = try [again.caFile, again.certificateFile, again.keyFile].map(self.contents)

        #expect(again == pki.files)
        #expect(before == after)
    }

    @Test("a missing server certificate is made anew, signed by the CA already there")
    func missingServerCertificate() throws {
        let pki = try TestPKI()
        let authority = try self.contents(pki.files.caFile)
        let oldKey = try self.contents(pki.files.keyFile)
        try FileManager.default.removeItem(atPath: pki.files.certificateFile)
        _ = try CertificateFiles.ensureDevelopment(in: pki.folder)

        #expect(try self.contents(pki.files.caFile) == authority)
        #expect(try self.contents(pki.files.keyFile) != oldKey)
        let pair = try SessionPair(pki)
        pair.run()
        #expect(pair.client.isHandshakeComplete)
    }

    @Test("a server certificate about to expire, or for other names, is made anew")
    func renewal() throws {
        let pki = try TestPKI()
        let authority = (
            certificate: try Certificate.load(fromPEMFile: pki.files.caFile),
            key: try CertificateKey.load(fromPEMFile: "\(pki.folder)/ca-key.pem")
        )
        let key = try CertificateKey.load(fromPEMFile: pki.files.keyFile)
        let expiring = try Certificate.issue(
            commonName: "localhost",
            hostNames: CertificateFiles.developmentHostNames,
            usage: .server,
            key: key,
            validDays: 10,
            issuer: authority
        )
        try CertificateFiles.writeAtomically(try expiring.pem(), to: pki.files.certificateFile, mode: 0o644)
        _ = try CertificateFiles.ensureDevelopment(in: pki.folder)
        let renewed = try Certificate.load(fromPEMFile: pki.files.certificateFile)
        #expect(!renewed.expires(withinSeconds: 300 * 86_400))

        _ = try CertificateFiles.ensureDevelopment(in: pki.folder, hostNames: ["gnomon.test", "10.1.2.3"])
        let renamed = try Certificate.load(fromPEMFile: pki.files.certificateFile)
        #expect(renamed.subject == "CN=gnomon.test,O=Gnomon development")
        #expect(renamed.isValid(forHost: "gnomon.test") && renamed.isValid(forHost: "10.1.2.3"))
        #expect(!renamed.isValid(forHost: "localhost"))
    }

    @Test("a damaged CA is replaced, and the server certificate with it")
    func damagedAuthority() throws {
        let pki = try TestPKI()
        let oldCertificate = try self.contents(pki.files.certificateFile)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: pki.files.caFile))
        _ = try CertificateFiles.ensureDevelopment(in: pki.folder)

        #expect(try self.contents(pki.files.certificateFile) != oldCertificate)
        let pair = try SessionPair(pki)
        pair.run()
        #expect(pair.client.isHandshakeComplete)
    }

    @Test("a client certificate is signed by the same CA, for clients only")
    func clientCertificate() throws {
        let pki = try TestPKI()
        let client = try CertificateFiles.issueDevelopmentClientCertificate(commonName: "worker 7/a", in: pki.folder)

        #expect(client.caFile == pki.files.caFile)
        #expect(client.certificateFile == "\(pki.folder)/client-worker_7_a.pem")
        #expect(client.keyFile == "\(pki.folder)/client-worker_7_a-key.pem")
        #expect(try self.permissions(client.keyFile) == 0o600)
        let certificate = try Certificate.load(fromPEMFile: client.certificateFile)
        #expect(certificate.subject == "CN=worker 7/a,O=Gnomon development")
    }

    @Test("the folder is created, parents included, readable by its owner only")
    func folderCreation() throws {
        let pki = try TestPKI()
        let nested = "\(pki.folder)/data/tls"
        let files = try CertificateFiles.ensureDevelopment(in: nested)

        #expect(files.caFile == "\(nested)/ca.pem")
        #expect(try self.permissions(nested) == 0o700)
    }

    @Test("host names that are empty or would smuggle in extra names are refused")
    func badHostNames() throws {
        let pki = try TestPKI()
        for hostNames in [[], [""], ["localhost,DNS:evil.example"]] {
            let error = #expect(throws: TLSError.self) {
                try CertificateFiles.ensureDevelopment(in: "\(pki.folder)/bad", hostNames: hostNames)
            }
            #expect(error?.code == .invalidConfiguration)
        }
    }
}
