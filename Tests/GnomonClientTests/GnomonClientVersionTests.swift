import GnomonClient
import Testing

@Suite("GnomonClient version")
struct GnomonClientVersionTests {
    @Test("the SDK reports a semantic version")
    func semanticVersion() {
        let core = GnomonClient.version.split(separator: "-").first ?? ""
        let parts = core.split(separator: ".")
        #expect(parts.count == 3)
        #expect(parts.allSatisfy { Int($0) != nil })
    }
}
