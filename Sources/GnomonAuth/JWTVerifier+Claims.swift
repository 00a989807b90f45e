extension JWTVerifier {
    /// The time claims, read exactly.
    struct TimeClaims: Sendable {
        var expiry: NumericDate
        var notBefore: NumericDate?
        var issuedAt: NumericDate?
    }

    /// Checks the registered claims (RFC 7519 section 4.1) and returns the token's times.
    func checkClaims(
        _ claims: [String: JSONValue],
        key: VerificationKey,
        now: NumericDate
    ) throws(AuthenticationError) -> TimeClaims {
        guard let expiry = try Self.numericDate(claims, "exp") else {
            throw AuthenticationError(
                .missingClaim,
                "the token has no expiry (exp); Gnomon accepts only tokens that expire"
            )
        }
        let times = TimeClaims(
            expiry: expiry,
            notBefore: try Self.numericDate(claims, "nbf"),
            issuedAt: try Self.numericDate(claims, "iat")
        )
        try self.checkTimes(times, now: now)
        try self.checkIssuer(claims, key: key)
        try self.checkAudience(claims)
        return times
    }

    /// Refuses a token that expired, plus the leeway, or whose nbf or iat is beyond it.
    ///
    /// Run on every use of a remembered token too: its expiry passes, and a clock set back
    /// can put a token's nbf in the future again.
    func checkTimes(_ times: TimeClaims, now: NumericDate) throws(AuthenticationError) {
        let leeway = self.configuration.leewayNanoseconds
        guard now < times.expiry.adding(nanoseconds: leeway) else {
            throw AuthenticationError(.expired, "the token expired at \(times.expiry.formatted)")
        }
        let latest = now.adding(nanoseconds: leeway)
        if let notBefore = times.notBefore, notBefore > latest {
            throw AuthenticationError(.notYetValid, "the token is not valid before \(notBefore.formatted)")
        }
        if let issuedAt = times.issuedAt, issuedAt > latest {
            throw AuthenticationError(
                .notYetValid,
                "the token was issued in the future, at \(issuedAt.formatted); check the issuer's clock"
            )
        }
    }

    /// A time claim, exactly, or `nil` when the token does not have it.
    private static func numericDate(
        _ claims: [String: JSONValue],
        _ name: String
    ) throws(AuthenticationError) -> NumericDate? {
        guard let value = claims[name] else {
            return nil
        }
        guard case .number(let number) = value else {
            throw AuthenticationError(
                .malformed,
                "the token's \(name) is \(value.typeDescription); it must be a number of seconds since 1970"
            )
        }
        guard let date = NumericDate(number) else {
            throw AuthenticationError(
                .malformed,
                "the token's \(name) is not a time from 1970 to the end of year 9999"
            )
        }
        return date
    }

    private func checkIssuer(_ claims: [String: JSONValue], key: VerificationKey) throws(AuthenticationError) {
        guard let value = claims["iss"] else {
            throw AuthenticationError(.missingClaim, "the token has no issuer (iss)")
        }
        guard case .string(let issuer) = value else {
            throw AuthenticationError(.malformed, "the token's issuer (iss) is \(value.typeDescription), not a string")
        }
        // Compared as bytes: String's == would equate different Unicode spellings of one text.
        guard self.configuration.issuers.contains(where: { $0.utf8.elementsEqual(issuer.utf8) }) else {
            let accepted = self.configuration.issuers.sorted().joined(separator: ", ")
            throw AuthenticationError(
                .wrongIssuer,
                "the token's issuer \(Self.printable(issuer)) is not accepted; accepted: \(accepted)"
            )
        }
        if let bound = key.issuer, !bound.utf8.elementsEqual(issuer.utf8) {
            throw AuthenticationError(
                .wrongIssuer,
                "the token's issuer \(Self.printable(issuer)) is not \(bound), the only issuer key \(key.keyID) "
                    + "is trusted for"
            )
        }
    }

    private func checkAudience(_ claims: [String: JSONValue]) throws(AuthenticationError) {
        let audience = self.configuration.audience
        let names: [String]
        switch claims["aud"] {
        case nil:
            throw AuthenticationError(.missingClaim, "the token has no audience (aud); it must name \(audience)")
        case .string(let name)?:
            names = [name]
        case .array(let elements)?:
            names = elements.compactMap(\.stringValue)
            guard names.count == elements.count else {
                throw AuthenticationError(.malformed, "the token's audience (aud) holds values that are not strings")
            }
        case let other?:
            throw AuthenticationError(
                .malformed,
                "the token's audience (aud) is \(other.typeDescription), not a string or an array of strings"
            )
        }
        guard names.contains(where: { $0.utf8.elementsEqual(audience.utf8) }) else {
            throw AuthenticationError(.wrongAudience, "the token's audience is not \(audience)")
        }
    }
}
