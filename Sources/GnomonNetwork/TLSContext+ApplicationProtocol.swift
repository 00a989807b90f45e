import COpenSSL

extension TLSContext {
    /// Makes clients offer `gnomon/1` and servers refuse clients that do not.
    ///
    /// A server's ALPN selection callback only runs when the client offers ALPN at all, so a
    /// client-hello callback refuses clients that offer none; both send the
    /// `no_application_protocol` alert.
    func configureApplicationProtocol() {
        switch self.role {
        case .client:
            // Unlike almost every other OpenSSL call, this one returns 0 on success.
            _ = TLSConfiguration.applicationProtocolWireFormat.withUnsafeBufferPointer { wire in
                SSL_CTX_set_alpn_protos(self.handle, wire.baseAddress, UInt32(wire.count))
            }

        case .server:
            SSL_CTX_set_client_hello_cb(
                self.handle,
                { ssl, alert, _ in requireOfferedApplicationProtocol(ssl, alert) },
                nil
            )
            SSL_CTX_set_alpn_select_cb(
                self.handle,
                { ssl, selected, selectedLength, offered, offeredLength, _ in
                    selectApplicationProtocol(ssl, selected, selectedLength, offered, offeredLength)
                },
                nil
            )
        }
    }
}

private func requireOfferedApplicationProtocol(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?) -> Int32 {
    var offered: UnsafePointer<UInt8>?
    var length = 0
    let type = UInt32(TLSEXT_TYPE_application_layer_protocol_negotiation)
    if SSL_client_hello_get0_ext(ssl, type, &offered, &length) == 1 {
        return SSL_CLIENT_HELLO_SUCCESS
    }
    TLSSession.owning(ssl)?.refusal =
        "the client offered no application protocol (ALPN); it must offer \(TLSConfiguration.applicationProtocol)"
    alert?.pointee = SSL_AD_NO_APPLICATION_PROTOCOL
    return SSL_CLIENT_HELLO_ERROR
}

private func selectApplicationProtocol(
    _ ssl: OpaquePointer?,
    _ selected: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ selectedLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?,
    _ offeredLength: UInt32
) -> Int32 {
    let wanted = TLSConfiguration.applicationProtocolWireFormat
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    var names: [String] = []
    var index = 0
    // The list is a sequence of names, each preceded by its length in one byte.
    while index < list.count {
        let end = index + 1 + Int(list[index])
        guard end <= list.count else {
            break
        }
        if list[index..<end].elementsEqual(wanted) {
            selected?.pointee = list.baseAddress! + index + 1
            selectedLength?.pointee = wanted[0]
            return SSL_TLSEXT_ERR_OK
        }
        names.append(printableText(list[(index + 1)..<end]))
        index = end
    }
    TLSSession.owning(ssl)?.refusal =
        "the client offered the application protocols [\(names.prefix(8).joined(separator: ", "))] (ALPN) "
        + "but not \(TLSConfiguration.applicationProtocol)"
    return SSL_TLSEXT_ERR_ALERT_FATAL
}

/// The peer's bytes as text that is safe to log: printable ASCII, at most 64 characters.
func printableText(_ bytes: some Sequence<UInt8>) -> String {
    String(decoding: bytes.prefix(64).map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
}
