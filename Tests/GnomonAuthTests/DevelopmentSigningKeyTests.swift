import Foundation
import Testing

@testable import GnomonAuth

@Suite("Development signing key")
struct DevelopmentSigningKeyTests {
    @Test("is made once, owner-only, and read back with the same kid")
    func createsOnce() throws {
        let folder = TemporaryFolder()
        let directory = folder.path + "/dev"
        let first = try DevelopmentSigningKey.loadOrCreate(in: directory)
        #expect(first.path == directory + "/jwt-signing-key.pem")
        let attributes = try FileManager.default.attributesOfItem(atPath: first.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let folderAttributes = try FileManager.default.attributesOfItem(atPath: directory)
        #expect((folderAttributes[.posixPermissions] as? Int) == 0o700)
        let bytes = FileManager.default.contents(atPath: first.path)!
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))

        let second = try DevelopmentSigningKey.loadOrCreate(in: directory)
        #expect(second.keyID == first.keyID)
        #expect(FileManager.default.contents(atPath: first.path) == bytes)
        #expect(first.keyID.count == 16)
        #expect(Base64URL.decode(first.keyID) != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["jwt-signing-key.pem"])
    }

    @Test("two folders get different keys and kids")
    func distinctKeys() throws {
        let folder = TemporaryFolder()
        let one = try DevelopmentSigningKey.loadOrCreate(in: folder.path + "/one")
        let two = try DevelopmentSigningKey.loadOrCreate(in: folder.path + "/two")
        #expect(one.keyID != two.keyID)
    }

    @Test("its signer's tokens verify with its key file entry, and not with another key's")
    func signsAndVerifies() throws {
        let folder = TemporaryFolder()
        let key = try DevelopmentSigningKey.loadOrCreate(in: folder.path)
        let other = try DevelopmentSigningKey.loadOrCreate(in: folder.path + "/other")
        let principal = Principal(tenantID: "acme", subject: "dev", roles: [.admin])
        let token = try key.makeSigner().sign(
            principal: principal,
            issuer: Fixtures.issuer,
            audience: Fixtures.audience,
            lifetime: .seconds(60)
        )
        let verifier = try JWTVerifier(
            configuration: Fixtures.configuration(keyFiles: [key.keyFile(issuer: Fixtures.issuer)]))
        let verified = try verifier.verify(token)
        #expect(verified.principal == principal)
        #expect(verified.keyID == key.keyID)

        var otherFile = other.keyFile()
        otherFile.keyID = key.keyID
        let wrong = try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [otherFile]))
        Fixtures.expectRefused(token, .badSignature, by: wrong, at: Date())
    }

    @Test("PyJWT verifies a token the development key signs")
    func pyJWTVerifies() async throws {
        let folder = TemporaryFolder()
        let key = try DevelopmentSigningKey.loadOrCreate(in: folder.path)
        let token = try key.makeSigner().sign(
            principal: Principal(tenantID: "acme", subject: "dev", roles: [.admin]),
            issuer: Fixtures.issuer,
            audience: Fixtures.audience,
            lifetime: .seconds(60)
        )
        let read = try await PyJWT.check(token, key: key.path, algorithm: "EdDSA")
        #expect((read["header"] as? [String: Any])?["kid"] as? String == key.keyID)
    }

    @Test("a key file readable by others is refused")
    func refusesOpenPermissions() throws {
        let folder = TemporaryFolder()
        let key = try DevelopmentSigningKey.loadOrCreate(in: folder.path)
        chmod(key.path, 0o644)
        do {
            _ = try DevelopmentSigningKey.loadOrCreate(in: folder.path)
            Issue.record("a key readable by others was used")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("mode 644"))
        }
    }

    @Test("a file that holds another kind of key is refused")
    func refusesOtherKey() throws {
        let folder = TemporaryFolder()
        let path = try folder.copyKey("ec-private.pem", to: DevelopmentSigningKey.fileName)
        chmod(path, 0o600)
        #expect(throws: AuthenticationError.self) { try DevelopmentSigningKey.loadOrCreate(in: folder.path) }
    }
}
