import COpenSSL

/// SHA-256, for cache keys, key-file fingerprints and key ids.
enum SHA256 {
    /// The 32-byte digest of `bytes`, or `nil` in the unlikely case OpenSSL fails (no memory).
    static func hash(_ bytes: [UInt8]) -> [UInt8]? {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let done = bytes.withUnsafeBytes { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &digest, &length, EVP_sha256(), nil) == 1
        }
        return done && length == 32 ? digest : nil
    }
}
