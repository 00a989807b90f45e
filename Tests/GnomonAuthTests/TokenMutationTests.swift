import Testing

@testable import GnomonAuth

/// A small deterministic generator, so that a failure names inputs that can be replayed.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var value = self.state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

@Suite("Changed tokens")
struct TokenMutationTests {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".utf8)

    @Test(
        "no change of one character, one insertion or one deletion leaves a token valid",
        arguments: ["valid-hs256", "valid-rs256", "valid-ps256", "valid-es256", "valid-eddsa"]
    )
    func singleEdits(name: String) throws {
        let verifier = try Fixtures.makeVerifier()
        let original = Array(Fixtures.token(name).utf8)
        var random = SplitMix64(state: UInt64(original.count))
        for _ in 0..<300 {
            var bytes = original
            let position = Int.random(in: 0..<bytes.count, using: &random)
            let replacement = Self.alphabet.randomElement(using: &random)!
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes[position] = replacement
            case 1: bytes.insert(replacement, at: position)
            default: bytes.remove(at: position)
            }
            guard bytes != original else {
                continue
            }
            let token = String(decoding: bytes, as: UTF8.self)
            let error = Fixtures.refusal(token, by: verifier)
            #expect(error != nil, "an edited token at \(position) was accepted")
        }
    }

    @Test("random bytes never crash the JSON parser, and what it accepts it encodes and reads back")
    func parserOnRandomBytes() {
        var random = SplitMix64(state: 42)
        let pieces = Array(#"{}[]",:0123456789-+.eEtrufalsn\u"ab "#.utf8)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<24, using: &random)
            let bytes = (0..<length).map { _ in pieces.randomElement(using: &random)! }
            var parser = JSONParser(bytes)
            guard let value = try? parser.parseDocument() else {
                continue
            }
            var again = JSONParser(value.encoded())
            #expect((try? again.parseDocument()) == value)
        }
    }
}
