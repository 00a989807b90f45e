import Foundation
import Testing

@testable import GnomonAuth

@Suite("Signing")
struct JWTSignerTests {
    static let principal = Principal(tenantID: "acme", subject: "signer-test", roles: [.operator])

    /// A signer for each algorithm, with the fixture key and kid the main verifier knows it by.
    static func makeSigner(_ algorithm: JWTAlgorithm) throws -> JWTSigner {
        switch algorithm.keyKind {
        case .hmac:
            let secret = Array(FileManager.default.contents(atPath: Fixtures.key("hmac-secret.bin"))!)
            return try JWTSigner(algorithm: algorithm, keyID: "hmac", secret: secret)
        case .rsa:
            return try JWTSigner(algorithm: algorithm, keyID: "rsa", privateKeyFile: Fixtures.key("rsa-private.pem"))
        case .ecP256:
            return try JWTSigner(algorithm: algorithm, keyID: "ec", privateKeyFile: Fixtures.key("ec-private.pem"))
        case .ed25519:
            return try JWTSigner(
                algorithm: algorithm, keyID: "ed25519", privateKeyFile: Fixtures.key("ed25519-private.pem"))
        }
    }

    /// The file PyJWT verifies `algorithm` with: the public key, or the secret.
    static func verificationFile(_ algorithm: JWTAlgorithm) -> String {
        switch algorithm.keyKind {
        case .hmac: Fixtures.key("hmac-secret.bin")
        case .rsa: Fixtures.key("rsa-public.pem")
        case .ecP256: Fixtures.key("ec-public.pem")
        case .ed25519: Fixtures.key("ed25519-public.pem")
        }
    }

    @Test("a signed token verifies, with the principal and times it was signed with", arguments: JWTAlgorithm.allCases)
    func roundTrip(algorithm: JWTAlgorithm) throws {
        let now = Date(timeIntervalSince1970: 1_893_456_000)
        let token = try Self.makeSigner(algorithm).sign(
            principal: Self.principal,
            issuer: Fixtures.issuer,
            audience: Fixtures.audience,
            lifetime: .seconds(300),
            now: now
        )
        let verified = try Fixtures.makeVerifier().verify(token, now: now)
        #expect(verified.principal == Self.principal)
        #expect(verified.algorithm == algorithm)
        #expect(verified.expiresAt == now.addingTimeInterval(300))
        #expect(verified.claims["iat"] == 1_893_456_000)
        Fixtures.expectRefused(token, .expired, by: try Fixtures.makeVerifier(), at: now.addingTimeInterval(360))
    }

    @Test("the header is alg, kid and typ, in base64url JSON")
    func header() throws {
        let token = try Self.makeSigner(.edDSA).sign(claims: ["sub": "x"])
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3)
        let header = String(decoding: Base64URL.decode(String(parts[0]))!, as: UTF8.self)
        #expect(header == #"{"alg":"EdDSA","kid":"ed25519","typ":"JWT"}"#)
        #expect(String(decoding: Base64URL.decode(String(parts[1]))!, as: UTF8.self) == #"{"sub":"x"}"#)
    }

    @Test("ES256 signatures are 64 bytes of r and s, whatever their leading zeros")
    func es256Length() throws {
        let signer = try Self.makeSigner(.es256)
        for index in 0..<64 {
            let token = try signer.sign(claims: ["n": JSONValue(Int64(index))])
            #expect(Base64URL.decode(String(token.split(separator: ".")[2]))?.count == 64)
        }
    }

    @Test("a signer refuses a public key, a key of the wrong type, and a short or PEM secret")
    func refusals() throws {
        #expect(throws: AuthenticationError.self) {
            try JWTSigner(algorithm: .es256, keyID: nil, privateKeyFile: Fixtures.key("ec-public.pem"))
        }
        #expect(throws: AuthenticationError.self) {
            try JWTSigner(algorithm: .es256, keyID: nil, privateKeyFile: Fixtures.key("ed25519-private.pem"))
        }
        #expect(throws: AuthenticationError.self) {
            try JWTSigner(algorithm: .rs256, keyID: nil, secret: [UInt8](repeating: 1, count: 64))
        }
        #expect(throws: AuthenticationError.self) {
            try JWTSigner(algorithm: .hs256, keyID: nil, secret: [UInt8](repeating: 1, count: 31))
        }
        let pem = Array(FileManager.default.contents(atPath: Fixtures.key("rsa-public.pem"))!)
        #expect(throws: AuthenticationError.self) { try JWTSigner(algorithm: .hs256, keyID: nil, secret: pem) }
    }

    @Test("PyJWT verifies the tokens Gnomon signs", arguments: JWTAlgorithm.allCases)
    func pyJWTVerifies(algorithm: JWTAlgorithm) async throws {
        let token = try Self.makeSigner(algorithm).sign(
            principal: Self.principal,
            issuer: Fixtures.issuer,
            audience: Fixtures.audience,
            lifetime: .seconds(300)
        )
        let read = try await PyJWT.check(token, key: Self.verificationFile(algorithm), algorithm: algorithm.rawValue)
        let claims = try #require(read["claims"] as? [String: Any])
        let header = try #require(read["header"] as? [String: Any])
        #expect(claims["sub"] as? String == "signer-test")
        #expect(claims["tenant"] as? String == "acme")
        #expect(claims["roles"] as? [String] == ["operator"])
        #expect(header["alg"] as? String == algorithm.rawValue)
        #expect(header["kid"] as? String == (try Self.makeSigner(algorithm).keyID))
    }

    @Test("PyJWT refuses a Gnomon token whose signature was changed, so the check above can fail")
    func pyJWTRefusesTampered() async throws {
        let token = try Self.makeSigner(.es256).sign(
            principal: Self.principal,
            issuer: Fixtures.issuer,
            audience: Fixtures.audience,
            lifetime: .seconds(300)
        )
        let parts = token.split(separator: ".").map(String.init)
        var signature = Base64URL.decode(parts[2])!
        signature[10] ^= 1
        let tampered = parts[0] + "." + parts[1] + "." + Base64URL.encode(signature)
        let outcome = try await PyJWT.run([
            "check", Fixtures.key("ec-public.pem"), "ES256", Fixtures.issuer, Fixtures.audience, tampered,
        ])
        #expect(outcome.status == 1)
        #expect(outcome.errors.contains("InvalidSignatureError"))
    }

    @Test(
        "tokens PyJWT mints now, for each algorithm, verify at the current time",
        arguments: JWTAlgorithm.allCases
    )
    func livePyJWTTokens(algorithm: JWTAlgorithm) async throws {
        let key: String
        switch algorithm.keyKind {
        case .hmac: key = Fixtures.key("hmac-secret.bin")
        case .rsa: key = Fixtures.key("rsa-private.pem")
        case .ecP256: key = Fixtures.key("ec-private.pem")
        case .ed25519: key = Fixtures.key("ed25519-private.pem")
        }
        let keyID = try Self.makeSigner(algorithm).keyID!
        let token = try await PyJWT.mint(key: key, algorithm: algorithm.rawValue, keyID: keyID)
        let verified = try Fixtures.makeVerifier().verify(token)
        #expect(verified.principal == Principal(tenantID: "acme", subject: "live-check", roles: [.worker]))
        #expect(verified.expiresAt > Date())
        #expect(verified.expiresAt <= Date().addingTimeInterval(301))
        Fixtures.expectRefused(token, .expired, by: try Fixtures.makeVerifier(), at: Date().addingTimeInterval(400))
    }
}
