/// A JWS signature algorithm Gnomon signs and verifies with (RFC 7518, RFC 8037).
///
/// `none` is not among them, in any spelling: an unsigned token is never accepted.
public enum JWTAlgorithm: String, Sendable, Hashable, CaseIterable, Comparable {
    /// HMAC with SHA-256, with a shared secret of at least 32 bytes.
    case hs256 = "HS256"
    /// HMAC with SHA-384, with a shared secret of at least 48 bytes.
    case hs384 = "HS384"
    /// HMAC with SHA-512, with a shared secret of at least 64 bytes.
    case hs512 = "HS512"
    /// RSASSA-PKCS1-v1_5 with SHA-256, with an RSA key of at least 2048 bits.
    case rs256 = "RS256"
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt.
    case ps256 = "PS256"
    /// ECDSA on P-256 with SHA-256; the signature is r and s, 32 bytes each.
    case es256 = "ES256"
    /// EdDSA with Ed25519.
    case edDSA = "EdDSA"

    /// The kind of key an algorithm needs.
    public enum KeyKind: Sendable, Hashable {
        /// A shared secret.
        case hmac
        /// An RSA key.
        case rsa
        /// An EC key on the P-256 curve.
        case ecP256
        /// An Ed25519 key.
        case ed25519

        /// The kind with an article, such as `an RSA key`, for messages.
        var phrase: String {
            switch self {
            case .hmac: "an HMAC secret"
            case .rsa: "an RSA key"
            case .ecP256: "a P-256 EC key"
            case .ed25519: "an Ed25519 key"
            }
        }
    }

    /// The kind of key this algorithm signs and verifies with.
    public var keyKind: KeyKind {
        switch self {
        case .hs256, .hs384, .hs512: .hmac
        case .rs256, .ps256: .rsa
        case .es256: .ecP256
        case .edDSA: .ed25519
        }
    }

    /// The bytes of a signature, where that is fixed by the algorithm alone.
    var fixedSignatureLength: Int? {
        switch self {
        case .hs256: 32
        case .hs384: 48
        case .hs512: 64
        case .es256: 64
        case .edDSA: 64
        case .rs256, .ps256: nil
        }
    }

    /// Orders algorithms by name, for stable messages.
    public static func < (lhs: JWTAlgorithm, rhs: JWTAlgorithm) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
