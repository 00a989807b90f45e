import Testing

@testable import gnomon_bench

@Suite("Latency distributions with lost jobs")
struct LatencyDistributionTests {
    @Test("percentiles of measured jobs use the nearest rank over every job meant to run")
    func nearestRank() {
        let latencies = LatencyDistribution(measured: (1...100).reversed().map { Int64($0) }, lost: 0)
        #expect(latencies.percentile(0.5) == 50)
        #expect(latencies.percentile(0.99) == 99)
        #expect(latencies.maximum == 100)
    }

    @Test("lost jobs rank as slowest, so a percentile that falls on them is nil")
    func lostJobsRankLast() {
        let latencies = LatencyDistribution(measured: (1...98).map { Int64($0) }, lost: 2)
        #expect(latencies.count == 100)
        #expect(latencies.percentile(0.98) == 98)
        #expect(latencies.percentile(0.99) == nil)
        #expect(latencies.maximum == nil)
        #expect(latencies.text(0.99) == "lost")
    }

    @Test("no job meant to run has no percentile")
    func empty() {
        #expect(LatencyDistribution(measured: [], lost: 0).percentile(0.5) == nil)
    }

    @Test(
        "microseconds read as µs, ms or s by size",
        arguments: [
            (812, "812 µs"),
            (4_210, "4.21 ms"),
            (9_999_000, "9999.00 ms"),
            (12_300_000, "12.3 s"),
        ] as [(Int64, String)]
    )
    func text(microseconds: Int64, expected: String) {
        #expect(LatencyDistribution.text(microseconds) == expected)
    }
}
