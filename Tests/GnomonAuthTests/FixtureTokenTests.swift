import Foundation
import Testing

@testable import GnomonAuth

@Suite("Tokens PyJWT signed, verified at the fixtures' moment")
struct FixtureTokenTests {
    @Test(
        "a valid token of each algorithm verifies with its configured key",
        arguments: [
            ("valid-hs256", "hmac", JWTAlgorithm.hs256),
            ("valid-hs384", "hmac", .hs384),
            ("valid-hs512", "hmac", .hs512),
            ("valid-rs256", "rsa", .rs256),
            ("valid-ps256", "rsa", .ps256),
            ("valid-es256", "ec", .es256),
            ("valid-eddsa", "ed25519", .edDSA),
        ]
    )
    func validPerAlgorithm(name: String, keyID: String, algorithm: JWTAlgorithm) throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token(name), now: Fixtures.now)
        #expect(verified.keyID == keyID)
        #expect(verified.algorithm == algorithm)
        #expect(verified.principal == Principal(tenantID: "acme", subject: "alice", roles: [.operator, .viewer]))
        #expect(verified.expiresAt == Date(timeIntervalSince1970: 4_102_444_800))
        #expect(verified.claims["iss"] == .string(Fixtures.issuer))
    }

    @Test(
        "a valid token of each JWKS key type verifies with the JWKS",
        arguments: [
            ("valid-jwks-rs256", JWTAlgorithm.rs256),
            ("valid-jwks-es256", .es256),
            ("valid-jwks-eddsa", .edDSA),
            ("valid-jwks-hs256", .hs256),
        ]
    )
    func validFromJWKS(name: String, algorithm: JWTAlgorithm) throws {
        let verified = try Fixtures.makeJWKSVerifier().verify(Fixtures.token(name), now: Fixtures.now)
        #expect(verified.algorithm == algorithm)
        #expect(verified.keyID.hasPrefix("jwks-"))
        #expect(verified.principal.subject == "alice")
    }

    @Test("a token of a PEM key's kid is unknown to a verifier with only the JWKS")
    func pemKeyUnknownToJWKS() throws {
        Fixtures.expectRefused(Fixtures.token("valid-eddsa"), .unknownKey, by: try Fixtures.makeJWKSVerifier())
    }

    @Test("a partner key verifies tokens of the issuer it is bound to")
    func partnerKey() throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token("valid-partner"), now: Fixtures.now)
        #expect(verified.keyID == "partner")
        #expect(verified.claims["iss"] == .string(Fixtures.partnerIssuer))
    }

    @Test("a key bound to no issuer verifies tokens of any accepted issuer")
    func unboundKey() throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token("main-key-partner-issuer"), now: Fixtures.now)
        #expect(verified.keyID == "ec")
    }

    @Test("without a kid, the one key that allows the algorithm verifies")
    func noKidSingleCandidate() throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token("valid-no-kid-eddsa"), now: Fixtures.now)
        #expect(verified.keyID == "ed25519")
    }

    @Test("an audience array naming gnomon among others is accepted")
    func audienceArray() throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token("valid-audience-array"), now: Fixtures.now)
        #expect(verified.claims["aud"] == ["billing", "gnomon"])
    }

    @Test("decimal time claims are read exactly")
    func decimalTimes() throws {
        let verifier = try Fixtures.makeVerifier(leeway: .zero)
        let verified = try verifier.verify(Fixtures.token("valid-decimal-times"), now: Fixtures.now)
        #expect(verified.expiresAt == Date(timeIntervalSince1970: 4_102_444_800.75))
        // nbf is now - 0.5 s: half a second earlier, with no leeway, it is not yet valid.
        Fixtures.expectRefused(
            Fixtures.token("valid-decimal-times"),
            .notYetValid,
            by: verifier,
            at: Fixtures.now.addingTimeInterval(-0.75)
        )
    }

    @Test("an exp written with an exponent, 4.1e9, is read as 4100000000")
    func exponentExpiry() throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token("valid-exponent-exp"), now: Fixtures.now)
        #expect(verified.expiresAt == Date(timeIntervalSince1970: 4_100_000_000))
    }

    @Test(
        "times within the leeway are accepted, and refused without leeway",
        arguments: [
            ("valid-expired-within-leeway", AuthenticationError.Code.expired),
            ("valid-nbf-within-leeway", .notYetValid),
            ("valid-iat-within-leeway", .notYetValid),
        ]
    )
    func leeway(name: String, codeWithoutLeeway: AuthenticationError.Code) throws {
        _ = try Fixtures.makeVerifier().verify(Fixtures.token(name), now: Fixtures.now)
        Fixtures.expectRefused(Fixtures.token(name), codeWithoutLeeway, by: try Fixtures.makeVerifier(leeway: .zero))
    }

    @Test("a valid token is refused once its exp plus the leeway has passed")
    func expiresAtItsTime() throws {
        let verifier = try Fixtures.makeVerifier(leeway: .seconds(60))
        let exp = Date(timeIntervalSince1970: 4_102_444_800)
        _ = try verifier.verify(Fixtures.token("valid-es256"), now: exp.addingTimeInterval(59))
        Fixtures.expectRefused(Fixtures.token("valid-rs256"), .expired, by: verifier, at: exp.addingTimeInterval(60))
    }

    @Test("the expiry message names the moment in UTC")
    func expiredMessage() throws {
        let error = Fixtures.refusal(Fixtures.token("expired"), by: try Fixtures.makeVerifier())
        #expect(error?.code == .expired)
        #expect(error?.message == "the token expired at 2029-12-31T23:00:00Z")
    }

    @Test("the audience message names the audience expected")
    func audienceMessage() throws {
        let error = Fixtures.refusal(Fixtures.token("wrong-aud"), by: try Fixtures.makeVerifier())
        #expect(error?.code == .wrongAudience)
        #expect(error?.message == "the token's audience is not gnomon")
    }

    @Test("no fixture is left untested")
    func everyFixtureListed() {
        let listed = Set(Self.refusals.map(\.0) + Self.valid + Self.jwksRefusals.map(\.0))
        let unlisted = Set(Fixtures.tokens.keys).subtracting(listed).subtracting(Self.testedElsewhere)
        #expect(unlisted.isEmpty, "fixtures no test checks: \(unlisted.sorted())")
    }

    /// Valid for the main verifier at the fixtures' moment.
    static let valid = [
        "valid-hs256", "valid-hs384", "valid-hs512", "valid-rs256", "valid-ps256", "valid-es256", "valid-eddsa",
        "valid-partner", "valid-no-kid-eddsa", "valid-audience-array", "valid-decimal-times", "valid-exponent-exp",
        "valid-expired-within-leeway", "valid-nbf-within-leeway", "valid-iat-within-leeway", "valid-roles-string",
        "valid-roles-unknown", "valid-no-roles", "valid-platform-admin", "main-key-partner-issuer",
    ]

    static let testedElsewhere: Set<String> = [
        "valid-jwks-rs256", "valid-jwks-es256", "valid-jwks-eddsa", "valid-jwks-hs256",
    ]

    @Test("every valid fixture verifies", arguments: Self.valid)
    func everyValid(name: String) throws {
        let verified = try Fixtures.makeVerifier().verify(Fixtures.token(name), now: Fixtures.now)
        #expect(verified.principal.subject == "alice")
    }

    /// Refused by the main verifier, with the code expected.
    static let refusals: [(String, AuthenticationError.Code)] = [
        ("expired", .expired),
        ("not-yet-valid", .notYetValid),
        ("issued-in-future", .notYetValid),
        ("missing-exp", .missingClaim),
        ("exp-string", .malformed),
        ("exp-boolean", .malformed),
        ("exp-null", .malformed),
        ("exp-huge", .malformed),
        ("exp-after-year-9999", .malformed),
        ("exp-giant-integer", .malformed),
        ("exp-negative", .malformed),
        ("nbf-string", .malformed),
        ("missing-iss", .missingClaim),
        ("wrong-iss", .wrongIssuer),
        ("missing-aud", .missingClaim),
        ("wrong-aud", .wrongAudience),
        ("wrong-aud-array", .wrongAudience),
        ("partner-key-main-issuer", .wrongIssuer),
        ("missing-sub", .missingClaim),
        ("tenant-uppercase", .invalidClaim),
        ("tenant-leading-digit", .invalidClaim),
        ("tenant-too-long", .invalidClaim),
        ("tenant-missing", .missingClaim),
        ("roles-not-strings", .malformed),
        ("alg-none", .unsupportedAlgorithm),
        ("alg-None", .unsupportedAlgorithm),
        ("alg-NONE", .unsupportedAlgorithm),
        ("alg-nOnE", .unsupportedAlgorithm),
        ("alg-none-with-signature", .unsupportedAlgorithm),
        ("alg-missing", .unsupportedAlgorithm),
        ("alg-unknown", .unsupportedAlgorithm),
        ("alg-lowercase", .unsupportedAlgorithm),
        ("rs-hs-confusion", .algorithmNotAllowed),
        ("rs-hs-confusion-no-kid", .badSignature),
        ("unknown-kid", .unknownKey),
        ("no-kid-ambiguous", .unknownKey),
        ("kid-not-string", .malformed),
        ("header-jku", .forbiddenHeader),
        ("header-x5u", .forbiddenHeader),
        ("header-x5c", .forbiddenHeader),
        ("header-crit", .forbiddenHeader),
        ("header-jwk", .forbiddenHeader),
        ("bad-signature-hs256", .badSignature),
        ("bad-signature-rs256", .badSignature),
        ("bad-signature-ps256", .badSignature),
        ("bad-signature-es256", .badSignature),
        ("bad-signature-eddsa", .badSignature),
        ("signed-by-other-key", .badSignature),
        ("es256-r-zero", .badSignature),
        ("es256-s-zero", .badSignature),
        ("es256-r-order", .badSignature),
        ("es256-s-order", .badSignature),
        ("es256-s-above-order", .badSignature),
        ("es256-r-all-ones", .badSignature),
        ("es256-der-signature", .badSignature),
        ("es256-short-signature", .badSignature),
        ("rs256-short-signature", .badSignature),
        ("rs256-long-signature", .badSignature),
        ("hs256-short-signature", .badSignature),
        ("hs256-empty-signature", .badSignature),
        ("eddsa-short-signature", .badSignature),
        ("too-large", .tooLarge),
        ("base64-padding", .malformed),
        ("base64-standard-alphabet", .malformed),
        ("base64-invalid-character", .malformed),
        ("base64-impossible-length", .malformed),
        ("base64-noncanonical-bits", .malformed),
        ("two-segments", .malformed),
        ("four-segments", .malformed),
        ("empty-header", .malformed),
        ("whitespace", .malformed),
        ("header-not-json", .malformed),
        ("header-json-array", .malformed),
        ("header-duplicate-alg", .malformed),
        ("payload-not-json", .malformed),
        ("payload-json-array", .malformed),
        ("payload-trailing-garbage", .malformed),
        ("payload-duplicate-key", .malformed),
        ("payload-invalid-utf8", .malformed),
        ("payload-lone-surrogate", .malformed),
        ("payload-deep-nesting", .malformed),
    ]

    @Test("each bad token is refused with its code, and the message holds no secret", arguments: Self.refusals)
    func refused(name: String, code: AuthenticationError.Code) throws {
        Fixtures.expectRefused(Fixtures.token(name), code, by: try Fixtures.makeVerifier())
    }

    /// Refused by the JWKS verifier.
    static let jwksRefusals: [(String, AuthenticationError.Code)] = [
        ("alg-not-allowed-for-jwks-key", .algorithmNotAllowed),
        ("rs-hs-confusion-jwks", .algorithmNotAllowed),
    ]

    @Test("a JWKS key's alg restricts it to that algorithm", arguments: Self.jwksRefusals)
    func refusedByJWKS(name: String, code: AuthenticationError.Code) throws {
        Fixtures.expectRefused(Fixtures.token(name), code, by: try Fixtures.makeJWKSVerifier())
    }

    @Test("a refused token is never cached: the second try is checked and refused again")
    func refusalsNotCached() throws {
        let verifier = try Fixtures.makeVerifier()
        for _ in 0..<2 {
            Fixtures.expectRefused(Fixtures.token("bad-signature-eddsa"), .badSignature, by: verifier)
        }
        #expect(verifier.signatureChecks == 2)
        #expect(verifier.cachedTokenCount == 0)
    }

    @Test("the size limit is configurable and applies before anything else")
    func sizeLimit() throws {
        var configuration = Fixtures.configuration()
        configuration.maximumTokenBytes = 100
        let verifier = try JWTVerifier(configuration: configuration)
        Fixtures.expectRefused(Fixtures.token("valid-eddsa"), .tooLarge, by: verifier)
        #expect(verifier.signatureChecks == 0)
    }
}
