import Testing

@testable import gnomon_bench

@Suite("Benchmark targets")
struct BenchTargetTests {
    @Test("an upper bound is met at or under its limit and missed by the excess over it")
    func atMost() {
        let target = BenchTarget.atMost(3, "3×")
        #expect(target.verdict(for: 3) == "target ≤ 3×: met")
        #expect(target.verdict(for: 1.2) == "target ≤ 3×: met")
        #expect(target.verdict(for: 4.5) == "target ≤ 3×: missed by 50.0%")
    }

    @Test("a lower bound is met at or over its limit and missed by the shortfall under it")
    func atLeast() {
        let target = BenchTarget.atLeast(40_000, "40,000/s")
        #expect(target.verdict(for: 40_000) == "target ≥ 40,000/s: met")
        #expect(target.verdict(for: 34_369) == "target ≥ 40,000/s: missed by 14.1%")
        #expect(target.shortfall(of: 50_000) == 0)
    }
}
