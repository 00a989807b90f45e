import Testing

@testable import GnomonStore

@Suite("Rate buckets")
struct RateBucketTests {
    @Test("the wait for missing tokens is rounded up to whole milliseconds, at least one")
    func rateWait() {
        #expect(RateBucket.wait(for: 1, at: 1) == .milliseconds(1_000))
        #expect(RateBucket.wait(for: 0.5, at: 1_000) == .milliseconds(1))
        #expect(RateBucket.wait(for: 0.0001, at: 1) == .milliseconds(1))
        #expect(RateBucket.wait(for: -1, at: 1) == .milliseconds(1))
        #expect(RateBucket.wait(for: 1, at: 3) == .milliseconds(334))
        #expect(RateBucket.wait(for: 1, at: 1e-12) == .milliseconds(365 * 86_400_000))
    }
}
