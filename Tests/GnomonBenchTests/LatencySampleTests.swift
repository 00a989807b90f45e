import Testing

@testable import gnomon_bench

@Suite("Latency sample percentiles")
struct LatencySampleTests {
    /// A sample holding 1 µs to `count` µs, recorded in reverse so that sorting matters.
    private func sample(upTo count: Int) -> LatencySample {
        LatencySample(durations: (1...count).reversed().map { .microseconds($0) })
    }

    @Test(
        "the nearest rank is the smallest value with that share at or below it",
        arguments: [
            (100, 0.5, 50),
            (100, 0.99, 99),
            (100, 0.07, 7),
            (1_000, 0.999, 999),
            (20_000, 0.999, 19_980),
            (3, 0.5, 2),
            (1, 0.99, 1),
        ] as [(Int, Double, Int)]
    )
    func nearestRank(count: Int, fraction: Double, expected: Int) {
        #expect(self.sample(upTo: count).percentile(fraction) == .microseconds(expected))
    }

    @Test("fractions at the ends give the smallest and the largest value")
    func ends() {
        let sample = self.sample(upTo: 10)
        #expect(sample.percentile(0) == .microseconds(1))
        #expect(sample.percentile(1) == .microseconds(10))
    }

    @Test("an empty sample has zero for every percentile")
    func empty() {
        #expect(LatencySample().percentile(0.5) == .zero)
    }

    @Test("merging keeps the runs and rows of both samples")
    func merging() {
        var first = LatencySample()
        first.record(.microseconds(3), rows: 2)
        var second = LatencySample()
        second.record(.microseconds(1), rows: 4)
        second.record(.microseconds(2))
        first.merge(second)
        #expect(first.count == 3)
        #expect(first.averageRows == 2)
        #expect(first.percentile(0.5) == .microseconds(2))
    }
}
