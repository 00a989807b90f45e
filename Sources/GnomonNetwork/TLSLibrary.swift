import COpenSSL

/// Facts about the TLS library this build is linked against.
public enum TLSLibrary {
    /// The OpenSSL version string, such as `OpenSSL 3.0.19 27 Jan 2026`.
    public static var version: String {
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }

    /// Initializes OpenSSL once, without its exit-time cleanup.
    ///
    /// OpenSSL otherwise frees its locks and tables from an `atexit` handler, while event-loop
    /// threads may still be inside a handshake: a process calling `exit()` with connections
    /// open could then crash on its way out.
    static let initialized: Bool = {
        OPENSSL_init_ssl(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1
    }()
}
