import Testing

@testable import GnomonAuth

@Suite("Claims to principal")
struct PrincipalMappingTests {
    private func principal(_ name: String) throws -> Principal {
        try Fixtures.makeVerifier().verify(Fixtures.token(name), now: Fixtures.now).principal
    }

    @Test("roles may be one string of names separated by spaces")
    func rolesString() throws {
        #expect(try self.principal("valid-roles-string").roles == [.admin, .worker])
    }

    @Test("role names Gnomon does not know are ignored, and names are case-sensitive")
    func unknownRoles() throws {
        #expect(try self.principal("valid-roles-unknown").roles == [.viewer])
    }

    @Test("a token with no roles claim gives a principal with no roles")
    func noRoles() throws {
        let principal = try self.principal("valid-no-roles")
        #expect(principal.roles.isEmpty)
        #expect(principal.tenantID == "acme")
        #expect(!principal.isPlatformAdmin)
    }

    @Test("a platform admin needs no tenant")
    func platformAdmin() throws {
        let principal = try self.principal("valid-platform-admin")
        #expect(principal == Principal(tenantID: nil, subject: "alice", roles: [.platformAdmin]))
        #expect(principal.isPlatformAdmin)
    }

    @Test(
        "tenant ids follow the database's gnomon_tenant_id domain",
        arguments: [
            ("a", true), ("acme", true), ("acme-2", true), ("a-", true), (String(repeating: "a", count: 63), true),
            ("", false), ("1acme", false), ("-acme", false), ("Acme", false), ("ac_me", false), ("ac me", false),
            ("acmé", false), (String(repeating: "a", count: 64), false),
        ]
    )
    func tenantIDs(text: String, valid: Bool) {
        #expect(Principal.isValidTenantID(text) == valid)
    }

    @Test("claim names are settings")
    func customClaims() throws {
        let mapping = PrincipalMapping(subjectClaim: "email", tenantClaim: "org", rolesClaim: "scope")
        let claims: [String: JSONValue] = ["email": "a@example.test", "org": "acme", "scope": "viewer openid"]
        #expect(
            try mapping.principal(from: claims)
                == Principal(tenantID: "acme", subject: "a@example.test", roles: [.viewer]))
        #expect(throws: AuthenticationError.self) { try mapping.principal(from: ["sub": "a", "org": "acme"]) }
    }

    @Test(
        "claims of the wrong type are refused",
        arguments: [
            (["sub": 7, "tenant": "acme"], AuthenticationError.Code.malformed),
            (["sub": "", "tenant": "acme"], .malformed),
            (["sub": "a", "tenant": 7], .malformed),
            (["sub": "a", "tenant": "acme", "roles": 7], .malformed),
            (["sub": "a", "tenant": "acme", "roles": ["admin", nil]], .malformed),
            (["tenant": "acme"], .missingClaim),
            (["sub": "a", "roles": ["admin"]], .missingClaim),
        ] as [([String: JSONValue], AuthenticationError.Code)]
    )
    func wrongTypes(claims: [String: JSONValue], code: AuthenticationError.Code) {
        do {
            _ = try PrincipalMapping().principal(from: claims)
            Issue.record("accepted")
        } catch {
            #expect(error.code == code)
        }
    }

    @Test("a principal's claims read back as the same principal")
    func roundTrip() throws {
        let mapping = PrincipalMapping(tenantClaim: "https://gnomon.example/tenant")
        for principal in [
            Principal(tenantID: "acme", subject: "svc", roles: [.worker, .viewer]),
            Principal(tenantID: nil, subject: "root", roles: [.platformAdmin]),
        ] {
            #expect(try mapping.principal(from: mapping.claims(for: principal)) == principal)
        }
    }
}
