extension JWTVerifier {
    /// Header parameters that would make the token choose or carry its own key, or demand
    /// extensions Gnomon does not implement.
    private static let forbiddenHeaderParameters = ["crit", "jku", "jwk", "x5u", "x5c"]

    /// Every check but the cache: shape, header, key, signature, then claims.
    func verifyUncached(_ bytes: [UInt8], keys: JWTKeySet, now: NumericDate) throws(AuthenticationError)
        -> VerifiedToken
    {
        let segments = try Self.segments(of: bytes)
        let header = try Self.jsonObject(segments.header, part: "header")
        let algorithm = try Self.algorithm(in: header)
        for name in Self.forbiddenHeaderParameters where header[name] != nil {
            throw AuthenticationError(
                .forbiddenHeader,
                name == "crit"
                    ? "the token's header has crit, naming extensions Gnomon does not implement"
                    : "the token's header has \(name); Gnomon verifies only with configured keys, "
                        + "never with a key the token carries or points to"
            )
        }
        let key = try Self.key(in: header, algorithm: algorithm, keys: keys)

        self.countSignatureCheck()
        try JWSSignature.verify(
            segments.signature,
            over: bytes[..<segments.signingInputEnd],
            algorithm: algorithm,
            material: key.material
        )

        let claims = try Self.jsonObject(segments.payload, part: "payload")
        let times = try self.checkClaims(claims, key: key, now: now)
        let principal = try self.configuration.principalMapping.principal(from: claims)
        return VerifiedToken(
            principal: principal,
            claims: claims,
            keyID: key.keyID,
            algorithm: algorithm,
            times: times
        )
    }

    /// The three decoded segments of a compact JWS, and where its signing input ends.
    private struct Segments {
        var header: [UInt8]
        var payload: [UInt8]
        var signature: [UInt8]
        var signingInputEnd: Int
    }

    private static func segments(of bytes: [UInt8]) throws(AuthenticationError) -> Segments {
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else {
            throw AuthenticationError(
                .malformed,
                "the token has \(dots.count + 1) dot-separated parts; a signed JWT has 3"
            )
        }
        let parts = [bytes[..<dots[0]], bytes[(dots[0] + 1)..<dots[1]], bytes[(dots[1] + 1)...]]
        var decoded: [[UInt8]] = []
        for (part, name) in zip(parts, ["header", "payload", "signature"]) {
            guard let bytes = Base64URL.decode(part) else {
                throw AuthenticationError(
                    .malformed,
                    "the token's \(name) is not unpadded base64url (A-Z, a-z, 0-9, - and _, no =)"
                )
            }
            decoded.append(bytes)
        }
        return Segments(header: decoded[0], payload: decoded[1], signature: decoded[2], signingInputEnd: dots[1])
    }

    private static func jsonObject(_ bytes: [UInt8], part: String) throws(AuthenticationError) -> [String: JSONValue] {
        var parser = JSONParser(bytes)
        let value: JSONValue
        do {
            value = try parser.parseDocument()
        } catch {
            throw AuthenticationError(.malformed, "the token's \(part) is not valid JSON: \(error.reason)")
        }
        guard let object = value.objectValue else {
            throw AuthenticationError(.malformed, "the token's \(part) is \(value.typeDescription), not a JSON object")
        }
        return object
    }

    private static func algorithm(in header: [String: JSONValue]) throws(AuthenticationError) -> JWTAlgorithm {
        guard let value = header["alg"] else {
            throw AuthenticationError(.unsupportedAlgorithm, "the token's header names no algorithm (alg)")
        }
        guard case .string(let name) = value else {
            throw AuthenticationError(.malformed, "the token's alg is \(value.typeDescription), not a string")
        }
        if name.lowercased() == "none" {
            throw AuthenticationError(
                .unsupportedAlgorithm,
                "the token is unsigned (alg none); only signed tokens are accepted"
            )
        }
        guard let algorithm = JWTAlgorithm(rawValue: name) else {
            let known = JWTAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
            throw AuthenticationError(
                .unsupportedAlgorithm,
                "the token's algorithm \(Self.printable(name)) is not one Gnomon verifies; it verifies \(known)"
            )
        }
        return algorithm
    }

    private static func key(
        in header: [String: JSONValue],
        algorithm: JWTAlgorithm,
        keys: JWTKeySet
    ) throws(AuthenticationError) -> VerificationKey {
        guard let value = header["kid"] else {
            let candidates = keys.keys(allowing: algorithm)
            guard candidates.count == 1, let only = candidates.first else {
                throw AuthenticationError(
                    .unknownKey,
                    candidates.isEmpty
                        ? "the token names no key (kid) and no configured key allows \(algorithm.rawValue)"
                        : "the token names no key (kid) and several keys could verify it; sign it with a kid"
                )
            }
            return only
        }
        guard case .string(let keyID) = value else {
            throw AuthenticationError(.malformed, "the token's kid is \(value.typeDescription), not a string")
        }
        guard let key = keys.keys[keyID] else {
            throw AuthenticationError(.unknownKey, "no configured key has the token's kid \(Self.printable(keyID))")
        }
        guard key.algorithms.contains(algorithm) else {
            let allowed = key.algorithms.sorted().map(\.rawValue).joined(separator: ", ")
            throw AuthenticationError(
                .algorithmNotAllowed,
                "key \(key.keyID) allows \(allowed), not the token's \(algorithm.rawValue)"
            )
        }
        return key
    }

    /// A name from the token, quoted, when it is short printable ASCII; otherwise a placeholder.
    ///
    /// Names the token chose reach messages and so logs: anything long or unprintable is kept out.
    static func printable(_ name: String) -> String {
        let isPrintable = name.utf8.count <= 64 && name.utf8.allSatisfy { (0x20...0x7E).contains($0) }
        return isPrintable ? "'\(name)'" : "(a name too long or unprintable to show)"
    }
}
