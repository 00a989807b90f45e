/// TLS settings for one side of Gnomon's wire protocol.
///
/// What the protocol requires is not configurable: the ALPN protocol ``applicationProtocol``,
/// no renegotiation, no compression, no session resumption and so no 0-RTT data. TLS 1.3 is the
/// only version unless ``allowTLS12`` is set, and TLS 1.2 then only offers ECDHE key exchange
/// with AEAD ciphers.
///
/// A server needs ``certificateChainFile`` and ``privateKeyFile``; a client needs them only
/// for mutual TLS. A client verifies the server against ``caFile``, or against the system's
/// certificate authorities when there is none. A server verifies clients against ``caFile``
/// when ``requireClientCertificate`` is set.
public struct TLSConfiguration: Sendable, Hashable {
    /// The ALPN protocol name both sides must agree on.
    public static let applicationProtocol = "gnomon/1"

    /// A PEM file with this side's certificate first, then any intermediate certificates.
    public var certificateChainFile: String?
    /// A PEM file with the private key of the first certificate of ``certificateChainFile``.
    public var privateKeyFile: String?
    /// A PEM file of the certificate authorities that the peer's certificate must chain to.
    public var caFile: String?
    /// Whether a server refuses clients that present no certificate signed by ``caFile``.
    public var requireClientCertificate: Bool
    /// Whether TLS 1.2 is accepted besides TLS 1.3, for peers that cannot speak TLS 1.3.
    public var allowTLS12: Bool

    /// Creates settings.
    ///
    /// - Parameters:
    ///   - certificateChainFile: This side's certificate chain, PEM.
    ///   - privateKeyFile: The key of that certificate, PEM.
    ///   - caFile: The certificate authorities to verify the peer against, PEM.
    ///   - requireClientCertificate: Whether a server requires mutual TLS.
    ///   - allowTLS12: Whether TLS 1.2 is accepted besides TLS 1.3.
    public init(
        certificateChainFile: String? = nil,
        privateKeyFile: String? = nil,
        caFile: String? = nil,
        requireClientCertificate: Bool = false,
        allowTLS12: Bool = false
    ) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.caFile = caFile
        self.requireClientCertificate = requireClientCertificate
        self.allowTLS12 = allowTLS12
    }

    /// The files the settings name, which a reload reads again.
    var files: [String] {
        [self.certificateChainFile, self.privateKeyFile, self.caFile].compactMap { $0 }
    }

    /// ALPN's wire form of ``applicationProtocol``: its length, then its bytes.
    static let applicationProtocolWireFormat: [UInt8] = {
        let name = Array(Self.applicationProtocol.utf8)
        return [UInt8(name.count)] + name
    }()

    /// The TLS 1.3 cipher suites, all AEAD; pinned so a system-wide setting cannot add CCM_8.
    static let tls13CipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

    /// The TLS 1.2 cipher suites: ECDHE key exchange (forward secrecy) with AEAD ciphers only.
    static let tls12CipherList = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")
}
