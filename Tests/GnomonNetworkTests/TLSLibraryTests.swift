import GnomonNetwork
import Testing

@Suite("TLS library")
struct TLSLibraryTests {
    @Test("the linked TLS library is OpenSSL 3, which the protocol's TLS settings need")
    func linkedOpenSSL() {
        #expect(TLSLibrary.version.hasPrefix("OpenSSL 3."))
    }
}
