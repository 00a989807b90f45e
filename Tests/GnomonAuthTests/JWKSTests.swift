import Foundation
import Testing

@testable import GnomonAuth

@Suite("JWKS files")
struct JWKSTests {
    /// The fixture JWKS's keys, by kid, as JSON objects.
    private static func fixtureKeys() throws -> [String: [String: Any]] {
        let data = FileManager.default.contents(atPath: Fixtures.key("jwks.json"))!
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let keys = try #require(document["keys"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: keys.map { ($0["kid"] as! String, $0) })
    }

    /// A verifier of a JWKS file holding `keys`, or why it cannot be made.
    private static func verifier(keys: [[String: Any]], in folder: TemporaryFolder) throws -> Result<
        JWTVerifier, AuthenticationError
    > {
        let data = try JSONSerialization.data(withJSONObject: ["keys": keys])
        let path = try folder.write("jwks.json", Array(data))
        do {
            return .success(
                try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [], jwksFiles: [JWKSFile(path: path)]))
            )
        } catch {
            return .failure(error)
        }
    }

    @Test("loads each key type with its kid, and the algorithms its alg or type allows")
    func loadsKeys() throws {
        let verifier = try Fixtures.makeJWKSVerifier()
        #expect(verifier.keyIDs == ["jwks-ec", "jwks-ed", "jwks-oct", "jwks-rsa"])
        #expect(verifier.skippedKeys.isEmpty)
    }

    @Test("a key whose use is not sig, or whose key_ops lack verify, is left out and named")
    func skipsEncryptionKeys() throws {
        var keys = try Self.fixtureKeys()
        keys["jwks-rsa"]?["use"] = "enc"
        keys["jwks-ec"]?["key_ops"] = ["encrypt"]
        let folder = TemporaryFolder()
        let verifier = try Self.verifier(keys: Array(keys.values), in: folder).get()
        #expect(verifier.keyIDs == ["jwks-ed", "jwks-oct"])
        #expect(verifier.skippedKeys.count == 2)
        #expect(verifier.skippedKeys.contains { $0.contains("key jwks-rsa is left out: its use is not sig") })
        Fixtures.expectRefused(Fixtures.token("valid-jwks-rs256"), .unknownKey, by: verifier)
        _ = try verifier.verify(Fixtures.token("valid-jwks-eddsa"), now: Fixtures.now)
    }

    @Test("keys of other types, curves or algorithms are left out")
    func skipsUnknownTypes() throws {
        let folder = TemporaryFolder()
        let keys: [[String: Any]] = [
            ["kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"],
            ["kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "AA"],
            ["kty": "RSA", "kid": "rs512", "alg": "RS512", "n": "AA", "e": "AQAB"],
            ["kty": "oct", "kid": "none", "alg": "none", "k": "AA"],
            ["kty": "XYZ", "kid": "xyz"],
        ]
        let verifier = try Self.verifier(keys: keys + [try Self.fixtureKeys()["jwks-ed"]!], in: folder).get()
        #expect(verifier.keyIDs == ["jwks-ed"])
        #expect(verifier.skippedKeys.count == 5)
    }

    @Test(
        "a key with private material is refused, and the file with it", arguments: ["jwks-rsa", "jwks-ec", "jwks-ed"])
    func refusesPrivateMaterial(keyID: String) throws {
        var keys = try Self.fixtureKeys()
        keys[keyID]?["d"] = "AQAB"
        let folder = TemporaryFolder()
        let error = try #require(try Self.verifier(keys: Array(keys.values), in: folder).failure)
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("holds private key material (d)"))
    }

    @Test("an EC key whose point is not on the curve is refused")
    func refusesPointOffCurve() throws {
        var keys = try Self.fixtureKeys()
        var y = Base64URL.decode(keys["jwks-ec"]!["y"] as! String)!
        y[31] ^= 1
        keys["jwks-ec"]?["y"] = Base64URL.encode(y)
        let folder = TemporaryFolder()
        let error = try #require(try Self.verifier(keys: Array(keys.values), in: folder).failure)
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("jwks-ec"))
    }

    @Test("an RSA key whose exponent is 1 or even is refused", arguments: ["AQ", "Ag", "AQAA"])
    func refusesUnsoundExponent(exponent: String) throws {
        var keys = try Self.fixtureKeys()
        keys["jwks-rsa"]?["e"] = exponent
        let folder = TemporaryFolder()
        let error = try #require(try Self.verifier(keys: Array(keys.values), in: folder).failure)
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("jwks-rsa"))
    }

    @Test("an alg that does not suit the key's type is refused, so no RSA key becomes an HMAC key")
    func refusesMismatchedAlg() throws {
        var keys = try Self.fixtureKeys()
        keys["jwks-rsa"]?["alg"] = "HS256"
        let folder = TemporaryFolder()
        let error = try #require(try Self.verifier(keys: Array(keys.values), in: folder).failure)
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("cannot verify HS256"))
    }

    @Test("a key without kid, a JWKS without keys, or invalid JSON is refused")
    func refusesMalformed() throws {
        let folder = TemporaryFolder()
        var keys = try Self.fixtureKeys()
        keys["jwks-ed"]?["kid"] = nil
        #expect(try Self.verifier(keys: Array(keys.values), in: folder).failure?.code == .invalidConfiguration)
        for text in [#"{"kids": []}"#, #"{"keys": [1]}"#, #"{"keys": [], "keys": []}"#, "not json"] {
            let path = try folder.write("jwks.json", Array(text.utf8))
            #expect(throws: AuthenticationError.self) {
                try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [], jwksFiles: [JWKSFile(path: path)]))
            }
        }
    }

    @Test("an oct key without alg allows the HMAC algorithms its length is enough for")
    func octDefaults() throws {
        let folder = TemporaryFolder()
        let secret = [UInt8](repeating: 1, count: 48)
        let keys: [[String: Any]] = [["kty": "oct", "kid": "oct", "k": Base64URL.encode(secret)]]
        let verifier = try Self.verifier(keys: keys, in: folder).get()
        let principal = Principal(tenantID: "acme", subject: "s", roles: [])
        for algorithm in [JWTAlgorithm.hs256, .hs384, .hs512] {
            let signer = try JWTSigner(algorithm: algorithm, keyID: "oct", secret: secret + secret)
            let token = try signer.sign(
                principal: principal,
                issuer: Fixtures.issuer,
                audience: Fixtures.audience,
                lifetime: .seconds(60)
            )
            // Signed with a longer secret, the token must fail; what matters is how it fails.
            let error = Fixtures.refusal(token, by: verifier, at: Date())
            #expect(error?.code == (algorithm == .hs512 ? .algorithmNotAllowed : .badSignature), "\(algorithm)")
        }
    }

    @Test("a JWKS bound to an issuer refuses its keys' tokens from other accepted issuers")
    func boundIssuer() throws {
        let file = JWKSFile(path: Fixtures.key("jwks.json"), issuer: Fixtures.partnerIssuer)
        let verifier = try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [], jwksFiles: [file]))
        Fixtures.expectRefused(Fixtures.token("valid-jwks-eddsa"), .wrongIssuer, by: verifier)
    }

    @Test("a kid used by a key file and the JWKS is refused")
    func duplicateAcrossSources() {
        let configuration = Fixtures.configuration(
            keyFiles: [JWTKeyFile(path: Fixtures.key("ec-public.pem"), keyID: "jwks-ec", algorithms: [.es256])],
            jwksFiles: [JWKSFile(path: Fixtures.key("jwks.json"))]
        )
        #expect(throws: AuthenticationError.self) { try JWTVerifier(configuration: configuration) }
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self {
            return error
        }
        return nil
    }
}
