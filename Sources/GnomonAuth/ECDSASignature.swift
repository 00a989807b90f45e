/// Converts ES256 signatures between JWS's form, r then s as 32 bytes each, and OpenSSL's DER.
enum ECDSASignature {
    /// The order n of P-256's base point, big-endian.
    static let p256Order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// DER `SEQUENCE { INTEGER r, INTEGER s }` for a 64-byte JWS signature.
    ///
    /// - Throws: ``AuthenticationError`` with code `badSignature` when r or s is zero or not
    ///   below the curve order: no valid signature has such values, and refusing them here
    ///   keeps them from ever reaching a DER parser.
    static func derEncoding(ofRaw raw: [UInt8]) throws(AuthenticationError) -> [UInt8] {
        let r = raw[0..<32]
        let s = raw[32..<64]
        for (name, value) in [("r", r), ("s", s)] {
            guard value.contains(where: { $0 != 0 }), value.lexicographicallyPrecedes(Self.p256Order) else {
                throw AuthenticationError(
                    .badSignature,
                    "the ES256 signature's \(name) is zero or not below the P-256 group order"
                )
            }
        }
        let body = Self.derInteger(r) + Self.derInteger(s)
        // Two integers of at most 33 bytes each fit a short-form length.
        return [0x30, UInt8(body.count)] + body
    }

    private static func derInteger(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var magnitude = Array(bytes.drop { $0 == 0 })
        if magnitude[0] & 0x80 != 0 {
            magnitude.insert(0, at: 0)
        }
        return [0x02, UInt8(magnitude.count)] + magnitude
    }

    /// The 64-byte JWS form of a DER signature OpenSSL made.
    static func raw(fromDER der: [UInt8]) throws(AuthenticationError) -> [UInt8] {
        var position = 2
        guard der.count >= 8, der[0] == 0x30, Int(der[1]) == der.count - 2 else {
            throw AuthenticationError(.internalError, "OpenSSL made an ECDSA signature that is not DER")
        }
        var raw: [UInt8] = []
        for _ in 0..<2 {
            guard position + 2 <= der.count, der[position] == 0x02 else {
                throw AuthenticationError(.internalError, "OpenSSL made an ECDSA signature that is not DER")
            }
            let length = Int(der[position + 1])
            let start = position + 2
            guard start + length <= der.count, length <= 33 else {
                throw AuthenticationError(.internalError, "OpenSSL made an ECDSA signature that is not DER")
            }
            let magnitude = der[start..<start + length].drop { $0 == 0 }
            guard magnitude.count <= 32 else {
                throw AuthenticationError(.internalError, "OpenSSL made an ECDSA signature that is not DER")
            }
            raw += [UInt8](repeating: 0, count: 32 - magnitude.count) + magnitude
            position = start + length
        }
        return raw
    }
}
