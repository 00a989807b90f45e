import Foundation
import Testing

@testable import GnomonAuth

/// The keys and tokens scripts/mint-test-tokens made with PyJWT, read by path.
enum Fixtures {
    /// Tests/GnomonAuthTests/Fixtures.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        .path
    /// The package's root folder.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    private struct Document: Decodable {
        var now: Double
        var issuer: String
        var partnerIssuer: String
        var audience: String
        var tokens: [String: String]
    }

    private static let document: Document = {
        let data = FileManager.default.contents(atPath: Self.folder + "/tokens.json")!
        return try! JSONDecoder().decode(Document.self, from: data)
    }()

    /// The moment the fixture tokens were made for: 2030-01-01T00:00:00Z.
    static let now = Date(timeIntervalSince1970: Self.document.now)
    static let issuer = Self.document.issuer
    static let partnerIssuer = Self.document.partnerIssuer
    static let audience = Self.document.audience

    /// Every fixture token, by name.
    static let tokens = Self.document.tokens

    /// One fixture token.
    static func token(_ name: String) -> String {
        guard let token = Self.tokens[name] else {
            Issue.record("no fixture token \(name); run scripts/mint-test-tokens")
            return ""
        }
        return token
    }

    /// The path of a file in Fixtures/keys.
    static func key(_ name: String) -> String {
        Self.folder + "/keys/" + name
    }

    /// The key files of the main verifier: one key per type, and a partner key bound to its issuer.
    static let keyFiles = [
        JWTKeyFile(path: Self.key("rsa-public.pem"), keyID: "rsa", algorithms: [.rs256, .ps256]),
        JWTKeyFile(path: Self.key("ec-public.pem"), keyID: "ec", algorithms: [.es256]),
        JWTKeyFile(path: Self.key("ed25519-public.pem"), keyID: "ed25519", algorithms: [.edDSA]),
        JWTKeyFile(
            path: Self.key("hmac-secret.bin"),
            keyID: "hmac",
            algorithms: [.hs256, .hs384, .hs512],
            encoding: .rawSecret
        ),
        JWTKeyFile(
            path: Self.key("partner-ec-public.pem"),
            keyID: "partner",
            algorithms: [.es256],
            issuer: Self.partnerIssuer
        ),
    ]

    /// Accepts both fixture issuers and the fixture audience, with the given key sources.
    static func configuration(
        keyFiles: [JWTKeyFile] = Self.keyFiles,
        jwksFiles: [JWKSFile] = [],
        leeway: Duration = .seconds(60)
    ) -> JWTVerifierConfiguration {
        JWTVerifierConfiguration(
            issuers: [Self.issuer, Self.partnerIssuer],
            audience: Self.audience,
            keyFiles: keyFiles,
            jwksFiles: jwksFiles,
            leeway: leeway
        )
    }

    /// A verifier with the PEM and secret key files.
    static func makeVerifier(leeway: Duration = .seconds(60)) throws -> JWTVerifier {
        try JWTVerifier(configuration: Self.configuration(leeway: leeway))
    }

    /// A verifier with only the JWKS file.
    static func makeJWKSVerifier() throws -> JWTVerifier {
        try JWTVerifier(
            configuration: Self.configuration(keyFiles: [], jwksFiles: [JWKSFile(path: Self.key("jwks.json"))]))
    }

    /// Texts no error message may hold: every key file's contents, whole and line by line.
    static let secretTexts: [String] = {
        var texts: [String] = []
        let names = try! FileManager.default.contentsOfDirectory(atPath: Self.folder + "/keys")
        for name in names {
            let bytes = FileManager.default.contents(atPath: Self.key(name))!
            texts.append(Base64URL.encode(Array(bytes)))
            guard let text = String(data: bytes, encoding: .utf8) else {
                continue
            }
            texts += text.split(whereSeparator: \.isNewline).map(String.init).filter {
                $0.count >= 16 && !$0.hasPrefix("-----") && !$0.hasPrefix("{") && !$0.hasPrefix("}")
            }
        }
        return texts
    }()

    /// Why `verifier` refuses `token`, or `nil` when it accepts it.
    static func refusal(_ token: String, by verifier: JWTVerifier, at now: Date = Self.now) -> AuthenticationError? {
        do {
            _ = try verifier.verify(token, now: now)
            return nil
        } catch {
            return error
        }
    }

    /// Expects a refusal with `code`, and a message that holds neither the token nor any key.
    static func expectRefused(
        _ token: String,
        _ code: AuthenticationError.Code,
        by verifier: JWTVerifier,
        at now: Date = Self.now,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let verified = try verifier.verify(token, now: now)
            Issue.record("accepted, for \(verified.principal.subject)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            expectNoSecrets(in: error.message, token: token, sourceLocation: sourceLocation)
        }
    }

    /// Expects that `message` holds no part of `token` and no key material.
    static func expectNoSecrets(
        in message: String,
        token: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(!message.isEmpty, sourceLocation: sourceLocation)
        if !token.isEmpty {
            #expect(!message.contains(token), sourceLocation: sourceLocation)
        }
        for segment in token.split(separator: ".") where segment.count >= 8 {
            #expect(!message.contains(segment), "the message holds a part of the token", sourceLocation: sourceLocation)
        }
        for secret in Self.secretTexts {
            #expect(!message.contains(secret), "the message holds key material", sourceLocation: sourceLocation)
        }
    }
}

/// A folder under /tmp, removed with everything in it when the value is freed.
final class TemporaryFolder {
    let path: String

    init() {
        var template = Array("/tmp/gnomon-auth-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "cannot make a temporary folder")
        self.path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }

    /// Writes `bytes` to `name` in the folder, replacing any file there, and returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = self.path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }

    /// Copies a fixture key file into the folder under `name`, and returns its path.
    @discardableResult
    func copyKey(_ fixture: String, to name: String) throws -> String {
        try self.write(name, Array(FileManager.default.contents(atPath: Fixtures.key(fixture))!))
    }
}
