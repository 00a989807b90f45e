import GnomonAuth
import Testing

@Suite("Base64url")
struct Base64URLTests {
    @Test(
        "encodes without padding, with - and _",
        arguments: [
            ([UInt8](), ""),
            ([0x66], "Zg"),
            ([0x66, 0x6F], "Zm8"),
            ([0x66, 0x6F, 0x6F], "Zm9v"),
            ([0xFB, 0xFF, 0xBF], "-_-_"),
        ]
    )
    func encodes(bytes: [UInt8], text: String) {
        #expect(Base64URL.encode(bytes) == text)
        #expect(Base64URL.decode(text) == bytes)
    }

    @Test("every byte string of up to 3 bytes round-trips")
    func roundTrips() {
        for length in 0...3 {
            for seed in 0..<256 {
                let bytes = (0..<length).map { UInt8(truncatingIfNeeded: seed &* 37 &+ $0 &* 101) }
                #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
            }
        }
    }

    @Test(
        "refuses every non-canonical spelling",
        arguments: [
            "Zg==",  // padding
            "Zg=",
            "Zm9v+A",  // the standard alphabet's + and /
            "Zm9v/A",
            "Zm9 v",  // whitespace
            "Zm9v\n",
            "Z",  // a length that leaves one character over
            "Zm9vZ",
            "Zh",  // unused low bits set: "Zg" is the only spelling of 0x66
            "Zm9",  // unused low bits set: "Zm8" is the only spelling of 0x66 0x6F
            "Zm-",  // unused low bits set
            "é",
        ]
    )
    func refusesNonCanonical(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}
