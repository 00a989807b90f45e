import COpenSSL

/// Facts about the TLS library this build is linked against.
public enum TLSLibrary {
    /// The OpenSSL version string, such as `OpenSSL 3.0.19 27 Jan 2026`.
    public static var version: String {
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }
}
