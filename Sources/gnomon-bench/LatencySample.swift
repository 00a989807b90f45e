/// Client-side timings of one query or call, run many times.
struct LatencySample: Sendable {
    private(set) var durations: [Duration] = []
    private(set) var rows = 0

    /// Creates a sample, empty or holding timings taken elsewhere.
    init(durations: [Duration] = []) {
        self.durations = durations
    }

    /// Records one run and the rows it returned.
    mutating func record(_ duration: Duration, rows: Int = 0) {
        self.durations.append(duration)
        self.rows += rows
    }

    /// Adds the runs of another sample.
    mutating func merge(_ other: LatencySample) {
        self.durations += other.durations
        self.rows += other.rows
    }

    /// How many runs were recorded.
    var count: Int {
        self.durations.count
    }

    /// The duration below which a share `fraction` of the runs fall, such as 0.99 for p99.
    ///
    /// The nearest-rank percentile: the smallest recorded duration with at least that share
    /// of the runs at or below it; zero for an empty sample.
    func percentile(_ fraction: Double) -> Duration {
        guard !self.durations.isEmpty else {
            return .zero
        }
        let sorted = self.durations.sorted()
        // The epsilon keeps a product such as 0.07 × 100 = 7.000000000000001 from rounding up to 8.
        let rank = Int((fraction * Double(sorted.count) - 1e-9).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// The average number of rows a run returned.
    var averageRows: Double {
        Double(self.rows) / Double(max(self.durations.count, 1))
    }
}
