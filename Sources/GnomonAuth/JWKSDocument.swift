/// The verification keys of a JWKS file (RFC 7517), and notes on the keys left out.
///
/// A key that is malformed, holds private material, or whose `alg` does not suit its type
/// fails the whole file. A key that is well formed but not for verifying signatures Gnomon
/// knows (`use` other than `sig`, `key_ops` without `verify`, another algorithm or curve) is
/// left out with a note, as identity providers publish encryption keys beside signing keys.
struct JWKSDocument {
    private(set) var keys: [VerificationKey] = []
    private(set) var skipped: [String] = []

    /// Members that only a private or secret key has; a JWKS for verifying holds public keys.
    private static let privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth"]

    init(_ bytes: [UInt8], file: JWKSFile) throws(AuthenticationError) {
        let origin = "JWKS file \(file.path)"
        var parser = JSONParser(bytes)
        let document: JSONValue
        do {
            document = try parser.parseDocument()
        } catch {
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) is not valid JSON: \(error.reason) at byte \(error.offset)"
            )
        }
        guard case .array(let entries)? = document.objectValue?["keys"] else {
            throw AuthenticationError(.invalidConfiguration, "\(origin) has no keys array")
        }
        for (index, entry) in entries.enumerated() {
            guard let members = entry.objectValue else {
                throw AuthenticationError(.invalidConfiguration, "\(origin): key \(index + 1) is not an object")
            }
            guard let keyID = members["kid"]?.stringValue, !keyID.isEmpty else {
                throw AuthenticationError(.invalidConfiguration, "\(origin): key \(index + 1) has no kid")
            }
            let keyOrigin = "\(origin), key \(keyID)"
            if let reason = Self.reasonToSkip(members) {
                self.skipped.append("\(keyOrigin) is left out: \(reason)")
                continue
            }
            guard let key = try Self.key(members, keyID: keyID, issuer: file.issuer, origin: keyOrigin) else {
                self.skipped.append("\(keyOrigin) is left out: its key type or curve is not one Gnomon verifies with")
                continue
            }
            self.keys.append(key)
        }
    }

    /// Why a well-formed key is not for verifying signatures Gnomon knows, if it is not.
    private static func reasonToSkip(_ members: [String: JSONValue]) -> String? {
        if let use = members["use"], use != .string("sig") {
            return "its use is not sig"
        }
        if let operations = members["key_ops"], case .array(let list) = operations, !list.contains(.string("verify")) {
            return "its key_ops do not include verify"
        }
        if let algorithm = members["alg"] {
            guard let name = algorithm.stringValue, JWTAlgorithm(rawValue: name) != nil else {
                return "its alg is not one Gnomon verifies"
            }
        }
        return nil
    }

    private static func key(
        _ members: [String: JSONValue],
        keyID: String,
        issuer: String?,
        origin: String
    ) throws(AuthenticationError) -> VerificationKey? {
        guard let material = try Self.material(members, origin: origin) else {
            return nil
        }
        let algorithms: Set<JWTAlgorithm>
        if let name = members["alg"]?.stringValue, let algorithm = JWTAlgorithm(rawValue: name) {
            algorithms = [algorithm]
        } else {
            algorithms = Self.defaultAlgorithms(for: material)
        }
        try JWTKeySet.check(material, allows: algorithms, origin: origin)
        return VerificationKey(
            keyID: keyID,
            algorithms: algorithms,
            issuer: issuer,
            material: material,
            origin: origin
        )
    }

    /// Without `alg`, a key verifies every algorithm of its type; a secret only those it is long enough for.
    private static func defaultAlgorithms(for material: KeyMaterial) -> Set<JWTAlgorithm> {
        let suitable = JWTAlgorithm.allCases.filter { $0.keyKind == material.kind }
        guard case .secret(let secret) = material else {
            return Set(suitable)
        }
        let fitting = suitable.filter { secret.count >= ($0.fixedSignatureLength ?? 0) }
        // An empty set is refused by the check that follows, which names the shortfall.
        return Set(fitting.isEmpty ? [.hs256] : fitting)
    }

    /// The key's material, or `nil` for a key type or curve Gnomon does not verify with.
    private static func material(
        _ members: [String: JSONValue],
        origin: String
    ) throws(AuthenticationError) -> KeyMaterial? {
        let type = members["kty"]?.stringValue
        if type != "oct", let member = Self.privateMembers.first(where: { members[$0] != nil }) {
            throw AuthenticationError(
                .invalidConfiguration,
                "\(origin) holds private key material (\(member)); publish only public keys in a JWKS"
            )
        }
        switch type {
        case "RSA":
            return .asymmetric(
                try AsymmetricKey.rsaPublicKey(
                    modulus: try Self.bytes(members, "n", origin: origin),
                    exponent: try Self.bytes(members, "e", origin: origin),
                    origin: origin
                )
            )

        case "EC":
            guard members["crv"] == .string("P-256") else {
                return nil
            }
            return .asymmetric(
                try AsymmetricKey.p256PublicKey(
                    x: try Self.bytes(members, "x", origin: origin),
                    y: try Self.bytes(members, "y", origin: origin),
                    origin: origin
                )
            )

        case "OKP":
            guard members["crv"] == .string("Ed25519") else {
                return nil
            }
            return .asymmetric(
                try AsymmetricKey.ed25519PublicKey(try Self.bytes(members, "x", origin: origin), origin: origin))

        case "oct":
            return .secret(try Self.bytes(members, "k", origin: origin))

        default:
            return nil
        }
    }

    private static func bytes(
        _ members: [String: JSONValue],
        _ name: String,
        origin: String
    ) throws(AuthenticationError) -> [UInt8] {
        guard let text = members[name]?.stringValue, let bytes = Base64URL.decode(text), !bytes.isEmpty else {
            throw AuthenticationError(.invalidConfiguration, "\(origin) has no base64url \(name)")
        }
        return bytes
    }
}
