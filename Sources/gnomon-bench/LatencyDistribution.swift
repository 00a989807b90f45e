import Foundation

/// Latencies of jobs that were meant to run, counting the ones that never arrived as slowest.
///
/// An open-loop run knows every job it meant to start. A job whose submission failed, or that
/// no worker received before the run stopped waiting, has no latency; leaving it out would
/// flatter the tail, so it ranks above every measured one and a percentile that falls on it
/// reads as lost.
struct LatencyDistribution: Sendable {
    /// Measured latencies in microseconds, sorted.
    let measured: [Int64]
    /// Jobs meant to run that have no latency.
    let lost: Int

    /// Sorts the measured latencies.
    init(measured: [Int64], lost: Int) {
        self.measured = measured.sorted()
        self.lost = max(lost, 0)
    }

    /// Every job meant to run.
    var count: Int {
        self.measured.count + self.lost
    }

    /// The nearest-rank percentile in microseconds: `nil` when it falls on a lost job or no job
    /// was meant to run.
    func percentile(_ fraction: Double) -> Int64? {
        guard self.count > 0 else {
            return nil
        }
        // The epsilon keeps a product such as 0.07 × 100 = 7.000000000000001 from rounding up to 8.
        let rank = Int((fraction * Double(self.count) - 1e-9).rounded(.up)) - 1
        let index = min(max(rank, 0), self.count - 1)
        return index < self.measured.count ? self.measured[index] : nil
    }

    /// The largest latency, or `nil` when a job was lost.
    var maximum: Int64? {
        self.lost > 0 ? nil : self.measured.last
    }

    /// A percentile as the report writes it, such as `4.21 ms`, or `lost`.
    func text(_ fraction: Double) -> String {
        Self.text(self.percentile(fraction))
    }

    /// Microseconds as the report writes them: `812 µs` below a millisecond, `4.21 ms` below
    /// ten seconds, then `12.3 s`; `lost` for `nil`.
    static func text(_ microseconds: Int64?) -> String {
        guard let microseconds else {
            return "lost"
        }
        if abs(microseconds) < 1_000 {
            return "\(microseconds) µs"
        }
        if abs(microseconds) < 10_000_000 {
            return String(format: "%.2f ms", Double(microseconds) / 1_000)
        }
        return String(format: "%.1f s", Double(microseconds) / 1_000_000)
    }
}
