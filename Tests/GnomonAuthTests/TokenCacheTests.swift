import Foundation
import Testing

@testable import GnomonAuth

@Suite("Verified token cache")
struct TokenCacheTests {
    @Test("verifying a token twice checks its signature once, and gives the same result")
    func checksOnce() throws {
        let verifier = try Fixtures.makeVerifier()
        let first = try verifier.verify(Fixtures.token("valid-rs256"), now: Fixtures.now)
        let second = try verifier.verify(Fixtures.token("valid-rs256"), now: Fixtures.now.addingTimeInterval(10))
        #expect(verifier.signatureChecks == 1)
        #expect(first.principal == second.principal)
        #expect(first.claims == second.claims)
        _ = try verifier.verify(Fixtures.token("valid-ps256"), now: Fixtures.now)
        #expect(verifier.signatureChecks == 2)
        #expect(verifier.cachedTokenCount == 2)
    }

    @Test("a cached token is refused once its expiry passes")
    func expiredCachedToken() throws {
        let verifier = try Fixtures.makeVerifier(leeway: .zero)
        let token = Fixtures.token("valid-eddsa")
        let verified = try verifier.verify(token, now: Fixtures.now)
        Fixtures.expectRefused(token, .expired, by: verifier, at: verified.expiresAt)
        Fixtures.expectRefused(token, .expired, by: verifier, at: verified.expiresAt.addingTimeInterval(3_600))
        #expect(verifier.signatureChecks == 1)
    }

    @Test("a cached token is refused once its expiry plus the leeway passes")
    func expiredCachedTokenWithLeeway() throws {
        let verifier = try Fixtures.makeVerifier(leeway: .seconds(60))
        let token = Fixtures.token("valid-expired-within-leeway")
        _ = try verifier.verify(token, now: Fixtures.now)
        // exp is 30 s before the fixtures' moment: 29 s later it is still within the leeway.
        _ = try verifier.verify(token, now: Fixtures.now.addingTimeInterval(29))
        Fixtures.expectRefused(token, .expired, by: verifier, at: Fixtures.now.addingTimeInterval(30))
        #expect(verifier.signatureChecks == 1)
    }

    @Test("the cache holds at most its capacity, dropping expired tokens first")
    func bounded() throws {
        var configuration = Fixtures.configuration()
        configuration.cacheCapacity = 4
        let verifier = try JWTVerifier(configuration: configuration)
        let names = [
            "valid-hs256", "valid-hs384", "valid-hs512", "valid-rs256", "valid-ps256", "valid-es256", "valid-eddsa",
        ]
        for name in names {
            _ = try verifier.verify(Fixtures.token(name), now: Fixtures.now)
            #expect(verifier.cachedTokenCount <= 4)
        }
        #expect(verifier.signatureChecks == names.count)
        #expect(verifier.cachedTokenCount >= 1)
    }

    @Test("a capacity of zero turns the cache off")
    func disabled() throws {
        var configuration = Fixtures.configuration()
        configuration.cacheCapacity = 0
        let verifier = try JWTVerifier(configuration: configuration)
        for _ in 0..<3 {
            _ = try verifier.verify(Fixtures.token("valid-es256"), now: Fixtures.now)
        }
        #expect(verifier.signatureChecks == 3)
    }

    @Test("a reload forgets every cached token")
    func reloadClears() throws {
        let verifier = try Fixtures.makeVerifier()
        _ = try verifier.verify(Fixtures.token("valid-es256"), now: Fixtures.now)
        try verifier.reload()
        #expect(verifier.cachedTokenCount == 0)
        _ = try verifier.verify(Fixtures.token("valid-es256"), now: Fixtures.now)
        #expect(verifier.signatureChecks == 2)
    }

    @Test("many threads verifying at once agree, and each token's signature is checked at least once")
    func concurrent() async throws {
        let verifier = try Fixtures.makeVerifier()
        let names = ["valid-hs256", "valid-rs256", "valid-es256", "valid-eddsa", "bad-signature-eddsa"]
        let outcomes = await withTaskGroup(of: (String, AuthenticationError.Code?).self) { group in
            for round in 0..<200 {
                let name = names[round % names.count]
                group.addTask {
                    (name, Fixtures.refusal(Fixtures.token(name), by: verifier)?.code)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (name, code) in outcomes {
            #expect(code == (name.hasPrefix("bad") ? .badSignature : nil), "\(name)")
        }
        #expect(verifier.signatureChecks >= 4 + 40)
        #expect(verifier.signatureChecks < 200)
    }
}
