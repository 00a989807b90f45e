import Foundation
import Testing

@testable import GnomonAuth

@Suite("Key reloads")
struct KeyReloadTests {
    /// A verifier of one Ed25519 key file in `folder`, under kid `current`.
    private func makeVerifier(_ folder: TemporaryFolder) throws -> JWTVerifier {
        let file = JWTKeyFile(path: folder.path + "/current.pem", keyID: "current", algorithms: [.edDSA])
        return try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [file]))
    }

    /// Two Ed25519 keys with their tokens, both under kid `current`.
    private func makeKeys(_ folder: TemporaryFolder) throws -> (
        old: String, new: String, oldToken: String, newToken: String
    ) {
        let old = try DevelopmentSigningKey.loadOrCreate(in: folder.path + "/old")
        let new = try DevelopmentSigningKey.loadOrCreate(in: folder.path + "/new")
        let principal = Principal(tenantID: "acme", subject: "rotation", roles: [.worker])
        func token(_ key: DevelopmentSigningKey) throws -> String {
            let signer = try JWTSigner(algorithm: .edDSA, keyID: "current", privateKeyFile: key.path)
            return try signer.sign(
                principal: principal,
                issuer: Fixtures.issuer,
                audience: Fixtures.audience,
                lifetime: .seconds(3_600)
            )
        }
        return (old.path, new.path, try token(old), try token(new))
    }

    private func contents(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: path)!)
    }

    @Test("a rotated key file is picked up by reloadIfChanged, and only once")
    func rotation() throws {
        let folder = TemporaryFolder()
        let keys = try self.makeKeys(folder)
        try folder.write("current.pem", self.contents(keys.old))
        let verifier = try self.makeVerifier(folder)
        _ = try verifier.verify(keys.oldToken)
        Fixtures.expectRefused(keys.newToken, .badSignature, by: verifier, at: Date())
        #expect(try verifier.reloadIfChanged() == false)

        try folder.write("current.pem", self.contents(keys.new))
        #expect(try verifier.reloadIfChanged() == true)
        _ = try verifier.verify(keys.newToken)
        // The old token was cached; the reload forgot it, so it is checked again and refused.
        Fixtures.expectRefused(keys.oldToken, .badSignature, by: verifier, at: Date())
        #expect(try verifier.reloadIfChanged() == false)
    }

    @Test("a file rewritten with the same size within the same second is still seen as changed")
    func sameSizeSameSecond() throws {
        let folder = TemporaryFolder()
        let keys = try self.makeKeys(folder)
        let path = try folder.write("current.pem", self.contents(keys.old))
        let verifier = try self.makeVerifier(folder)
        let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate]
        try folder.write("current.pem", self.contents(keys.new))
        try FileManager.default.setAttributes([.modificationDate: modified!], ofItemAtPath: path)
        #expect(self.contents(keys.old).count == self.contents(keys.new).count)
        #expect(try verifier.reloadIfChanged() == true)
        _ = try verifier.verify(keys.newToken)
    }

    @Test("a broken key file keeps the old keys, reports the error once, and a fix is picked up")
    func brokenFile() throws {
        let folder = TemporaryFolder()
        let keys = try self.makeKeys(folder)
        try folder.write("current.pem", self.contents(keys.old))
        let verifier = try self.makeVerifier(folder)
        _ = try verifier.verify(keys.oldToken)

        try folder.write("current.pem", Array("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n".utf8))
        #expect(throws: AuthenticationError.self) { try verifier.reloadIfChanged() }
        #expect(try verifier.reloadIfChanged() == false)
        #expect(verifier.keyIDs == ["current"])
        _ = try verifier.verify(keys.oldToken)
        #expect(throws: AuthenticationError.self) { try verifier.reload() }
        _ = try verifier.verify(keys.oldToken)

        try folder.write("current.pem", self.contents(keys.new))
        #expect(try verifier.reloadIfChanged() == true)
        _ = try verifier.verify(keys.newToken)
    }

    @Test("a deleted key file keeps the old keys and names the file")
    func deletedFile() throws {
        let folder = TemporaryFolder()
        let keys = try self.makeKeys(folder)
        let path = try folder.write("current.pem", self.contents(keys.old))
        let verifier = try self.makeVerifier(folder)
        try FileManager.default.removeItem(atPath: path)
        do {
            try verifier.reloadIfChanged()
            Issue.record("a reload without its key file succeeded")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(path))
        }
        _ = try verifier.verify(keys.oldToken)
    }

    @Test("a JWKS that gains a key is picked up")
    func jwksGainsKey() throws {
        let folder = TemporaryFolder()
        let data = FileManager.default.contents(atPath: Fixtures.key("jwks.json"))!
        var document = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let allKeys = document["keys"] as! [[String: Any]]
        document["keys"] = allKeys.filter { $0["kid"] as? String != "jwks-ed" }
        let path = try folder.write("jwks.json", Array(try JSONSerialization.data(withJSONObject: document)))
        let verifier = try JWTVerifier(
            configuration: Fixtures.configuration(keyFiles: [], jwksFiles: [JWKSFile(path: path)]))
        Fixtures.expectRefused(Fixtures.token("valid-jwks-eddsa"), .unknownKey, by: verifier)

        try folder.write("jwks.json", Array(data))
        #expect(try verifier.reloadIfChanged() == true)
        _ = try verifier.verify(Fixtures.token("valid-jwks-eddsa"), now: Fixtures.now)
    }
}
