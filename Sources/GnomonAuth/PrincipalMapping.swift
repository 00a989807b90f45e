/// Which claims of a token name the subject, the tenant and the roles of its ``Principal``.
///
/// Identity providers differ in where they put these, so the names are settings. The roles
/// claim may be an array of strings or one string of names separated by spaces, as OAuth's
/// `scope` is; role names Gnomon does not know are ignored.
public struct PrincipalMapping: Sendable, Hashable {
    /// The claim holding the subject; `sub` by default.
    public var subjectClaim: String
    /// The claim holding the tenant id; `tenant` by default.
    public var tenantClaim: String
    /// The claim holding the roles; `roles` by default.
    public var rolesClaim: String

    /// Creates a mapping.
    ///
    /// - Parameters:
    ///   - subjectClaim: The claim holding the subject.
    ///   - tenantClaim: The claim holding the tenant id.
    ///   - rolesClaim: The claim holding the roles.
    public init(subjectClaim: String = "sub", tenantClaim: String = "tenant", rolesClaim: String = "roles") {
        self.subjectClaim = subjectClaim
        self.tenantClaim = tenantClaim
        self.rolesClaim = rolesClaim
    }

    /// Reads the principal a verified token's claims describe.
    ///
    /// - Parameter claims: The token's claims.
    /// - Returns: The principal; one with no known role has an empty role set.
    /// - Throws: ``AuthenticationError`` with code `missingClaim` when the subject is missing or
    ///   a principal that is not a platform admin has no tenant, `malformed` when a claim has
    ///   the wrong type, `invalidClaim` when the tenant id is not one.
    public func principal(from claims: [String: JSONValue]) throws(AuthenticationError) -> Principal {
        guard let subjectValue = claims[self.subjectClaim] else {
            throw AuthenticationError(.missingClaim, "the token has no subject claim (\(self.subjectClaim))")
        }
        guard case .string(let subject) = subjectValue, !subject.isEmpty else {
            throw AuthenticationError(.malformed, "the token's subject claim (\(self.subjectClaim)) is not a string")
        }
        let roles = try self.roles(from: claims[self.rolesClaim])
        let tenantID = try self.tenantID(from: claims[self.tenantClaim])
        guard tenantID != nil || roles.contains(.platformAdmin) else {
            throw AuthenticationError(
                .missingClaim,
                "the token has no tenant claim (\(self.tenantClaim)); only a platform-admin may act without a tenant"
            )
        }
        return Principal(tenantID: tenantID, subject: subject, roles: roles)
    }

    private func tenantID(from value: JSONValue?) throws(AuthenticationError) -> String? {
        switch value {
        case nil, .null?:
            return nil
        case .string(let tenantID)?:
            guard Principal.isValidTenantID(tenantID) else {
                throw AuthenticationError(
                    .invalidClaim,
                    "the token's tenant claim (\(self.tenantClaim)) is not a tenant id: 1 to 63 of a-z, 0-9 and -, "
                        + "starting with a letter"
                )
            }
            return tenantID
        case let other?:
            throw AuthenticationError(
                .malformed,
                "the token's tenant claim (\(self.tenantClaim)) is \(other.typeDescription), not a string"
            )
        }
    }

    private func roles(from value: JSONValue?) throws(AuthenticationError) -> Set<Role> {
        let names: [String]
        switch value {
        case nil, .null?:
            names = []
        case .string(let text)?:
            names = text.split(separator: " ").map(String.init)
        case .array(let elements)?:
            var strings: [String] = []
            for element in elements {
                guard case .string(let name) = element else {
                    throw AuthenticationError(
                        .malformed,
                        "the token's roles claim (\(self.rolesClaim)) holds \(element.typeDescription), "
                            + "not only strings"
                    )
                }
                strings.append(name)
            }
            names = strings
        case let other?:
            throw AuthenticationError(
                .malformed,
                "the token's roles claim (\(self.rolesClaim)) is \(other.typeDescription), not an array or a string"
            )
        }
        return Set(names.compactMap(Role.init(rawValue:)))
    }

    /// The claims that describe `principal`, to sign into a token with the time claims.
    ///
    /// - Parameter principal: Who the token will speak for.
    /// - Returns: The subject, the tenant when there is one, and the roles as an array.
    public func claims(for principal: Principal) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [
            self.subjectClaim: .string(principal.subject),
            self.rolesClaim: JSONValue(principal.roles.sorted().map(\.rawValue)),
        ]
        if let tenantID = principal.tenantID {
            claims[self.tenantClaim] = .string(tenantID)
        }
        return claims
    }
}
