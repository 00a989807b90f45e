import Testing

@testable import gnomon_bench

@Suite("Benchmark job payloads")
struct BenchJobPayloadTests {
    @Test("a payload reads back what it wrote")
    func roundTrip() {
        let payload = BenchJobPayload(run: 7, time: 1_234_567)
        #expect(BenchJobPayload(json: payload.json) == payload)
    }

    @Test("the spaces PostgreSQL's jsonb output puts after colons are skipped")
    func jsonbSpacing() {
        #expect(BenchJobPayload(json: Array(#"{"p": 3, "t": -42}"#.utf8)) == BenchJobPayload(run: 3, time: -42))
    }

    @Test("JSON this benchmark did not write is no payload", arguments: [#"{}"#, #"{"p":1}"#, #"{"p":x,"t":1}"#, ""])
    func foreign(text: String) {
        #expect(BenchJobPayload(json: Array(text.utf8)) == nil)
    }
}
