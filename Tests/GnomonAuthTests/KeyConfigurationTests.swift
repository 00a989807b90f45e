import Foundation
import Testing

@testable import GnomonAuth

@Suite("Key configuration")
struct KeyConfigurationTests {
    /// Why a verifier with just `keyFile` cannot be made, or `nil` when it can.
    private func refusal(_ keyFile: JWTKeyFile) -> AuthenticationError? {
        do {
            _ = try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [keyFile]))
            return nil
        } catch {
            return error
        }
    }

    @Test("an RSA key cannot be allowed an HMAC algorithm")
    func rsaKeyForHMAC() {
        let error = self.refusal(
            JWTKeyFile(path: Fixtures.key("rsa-public.pem"), keyID: "rsa", algorithms: [.rs256, .hs256]))
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("cannot verify HS256") == true)
    }

    @Test("an HMAC secret cannot be allowed an RSA algorithm")
    func secretForRSA() {
        let error = self.refusal(
            JWTKeyFile(path: Fixtures.key("hmac-secret.bin"), keyID: "hmac", algorithms: [.rs256], encoding: .rawSecret)
        )
        #expect(error?.code == .invalidConfiguration)
    }

    @Test(
        "a PEM public key configured as an HMAC secret is refused",
        arguments: ["rsa-public.pem", "ec-public.pem", "ed25519-public.pem", "rsa-private.pem"]
    )
    func pemAsSecret(file: String) {
        let error = self.refusal(
            JWTKeyFile(path: Fixtures.key(file), keyID: "k", algorithms: [.hs256], encoding: .rawSecret))
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("not an HMAC secret") == true)
        Fixtures.expectNoSecrets(in: error?.message ?? "", token: "")
    }

    @Test("keys of other types and curves cannot be used for other algorithms", arguments: JWTAlgorithm.allCases)
    func mismatchedAlgorithms(algorithm: JWTAlgorithm) {
        let files = [
            "rsa-public.pem": JWTAlgorithm.KeyKind.rsa, "ec-public.pem": .ecP256, "ed25519-public.pem": .ed25519,
        ]
        for (file, kind) in files {
            let error = self.refusal(JWTKeyFile(path: Fixtures.key(file), keyID: "k", algorithms: [algorithm]))
            #expect((error == nil) == (algorithm.keyKind == kind), "\(file) with \(algorithm)")
        }
    }

    @Test("an RSA key under 2048 bits is refused")
    func weakRSA() {
        let error = self.refusal(
            JWTKeyFile(path: Fixtures.key("rsa-1024-public.pem"), keyID: "rsa", algorithms: [.rs256]))
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("1024-bit") == true)
    }

    @Test("an EC key on P-384 cannot verify ES256")
    func wrongCurve() {
        let error = self.refusal(JWTKeyFile(path: Fixtures.key("p384-public.pem"), keyID: "ec", algorithms: [.es256]))
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("secp384r1") == true)
    }

    @Test(
        "an HMAC secret shorter than its hash is refused",
        arguments: [(JWTAlgorithm.hs256, 31), (.hs384, 47), (.hs512, 63)])
    func shortSecret(algorithm: JWTAlgorithm, length: Int) throws {
        let folder = TemporaryFolder()
        let path = try folder.write("secret", [UInt8](repeating: 7, count: length))
        let error = self.refusal(JWTKeyFile(path: path, keyID: "k", algorithms: [algorithm], encoding: .rawSecret))
        #expect(error?.code == .invalidConfiguration)
        try folder.write("secret", [UInt8](repeating: 7, count: length + 1))
        #expect(self.refusal(JWTKeyFile(path: path, keyID: "k", algorithms: [algorithm], encoding: .rawSecret)) == nil)
    }

    @Test("a base64url secret file verifies the same tokens as the raw secret")
    func base64URLSecret() throws {
        let file = JWTKeyFile(
            path: Fixtures.key("hmac-secret.b64url"),
            keyID: "hmac",
            algorithms: [.hs256, .hs512],
            encoding: .base64URLSecret
        )
        let verifier = try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [file]))
        _ = try verifier.verify(Fixtures.token("valid-hs256"), now: Fixtures.now)
        _ = try verifier.verify(Fixtures.token("valid-hs512"), now: Fixtures.now)
        Fixtures.expectRefused(Fixtures.token("valid-hs384"), .algorithmNotAllowed, by: verifier)
    }

    @Test("a base64url secret file with padding or other characters is refused")
    func badBase64URLSecret() throws {
        let folder = TemporaryFolder()
        let text = String(
            decoding: FileManager.default.contents(atPath: Fixtures.key("hmac-secret.b64url"))!, as: UTF8.self)
        let path = try folder.write("secret", Array((text.trimmingCharacters(in: .newlines) + "==").utf8))
        let error = self.refusal(JWTKeyFile(path: path, keyID: "k", algorithms: [.hs256], encoding: .base64URLSecret))
        #expect(error?.code == .invalidConfiguration)
        Fixtures.expectNoSecrets(in: error?.message ?? "", token: "")
    }

    @Test("a private key PEM verifies with its public half")
    func privateKeyFile() throws {
        let file = JWTKeyFile(path: Fixtures.key("ed25519-private.pem"), keyID: "ed25519", algorithms: [.edDSA])
        let verifier = try JWTVerifier(configuration: Fixtures.configuration(keyFiles: [file]))
        #expect(try verifier.verify(Fixtures.token("valid-eddsa"), now: Fixtures.now).keyID == "ed25519")
    }

    @Test("a missing file is refused, naming it")
    func missingFile() {
        let error = self.refusal(JWTKeyFile(path: "/nonexistent/key.pem", keyID: "k", algorithms: [.edDSA]))
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message == "cannot open key file /nonexistent/key.pem: No such file or directory")
    }

    @Test("a file that holds no PEM key is refused")
    func notPEM() throws {
        let folder = TemporaryFolder()
        let path = try folder.write("key.pem", Array("hello\n".utf8))
        let error = self.refusal(JWTKeyFile(path: path, keyID: "k", algorithms: [.edDSA]))
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.hasPrefix("key file \(path) holds no PEM public key") == true)
    }

    @Test("two keys with one kid are refused")
    func duplicateKeyID() {
        let configuration = Fixtures.configuration(keyFiles: [
            JWTKeyFile(path: Fixtures.key("ec-public.pem"), keyID: "same", algorithms: [.es256]),
            JWTKeyFile(path: Fixtures.key("ed25519-public.pem"), keyID: "same", algorithms: [.edDSA]),
        ])
        #expect(throws: AuthenticationError.self) { try JWTVerifier(configuration: configuration) }
    }

    @Test("a key with no algorithm, or bound to an issuer not accepted, is refused")
    func badKeySettings() {
        #expect(
            self.refusal(JWTKeyFile(path: Fixtures.key("ec-public.pem"), keyID: "ec", algorithms: []))?.code
                == .invalidConfiguration)
        let bound = JWTKeyFile(
            path: Fixtures.key("ec-public.pem"), keyID: "ec", algorithms: [.es256], issuer: "https://other")
        #expect(self.refusal(bound)?.code == .invalidConfiguration)
    }

    @Test("settings that cannot work are refused")
    func badSettings() {
        var configurations: [JWTVerifierConfiguration] = []
        var configuration = Fixtures.configuration()
        configuration.issuers = []
        configurations.append(configuration)
        configuration = Fixtures.configuration()
        configuration.audience = ""
        configurations.append(configuration)
        configurations.append(Fixtures.configuration(keyFiles: []))
        configurations.append(Fixtures.configuration(leeway: .seconds(-1)))
        for configuration in configurations {
            #expect(throws: AuthenticationError.self) { try JWTVerifier(configuration: configuration) }
        }
    }
}
