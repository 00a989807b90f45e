import Foundation

/// A figure's target, such as "at most 3×", and how a measured value compares with it.
struct BenchTarget: Sendable {
    /// Which side of the limit meets the target.
    enum Bound: Sendable {
        case atMost
        case atLeast
    }

    var bound: Bound
    var limit: Double
    /// The limit as the report writes it, such as `3×` or `40,000/s`.
    var limitText: String

    /// A target met by values at or under `limit`.
    static func atMost(_ limit: Double, _ limitText: String) -> BenchTarget {
        BenchTarget(bound: .atMost, limit: limit, limitText: limitText)
    }

    /// A target met by values at or over `limit`.
    static func atLeast(_ limit: Double, _ limitText: String) -> BenchTarget {
        BenchTarget(bound: .atLeast, limit: limit, limitText: limitText)
    }

    /// Whether `value` meets the target.
    func isMet(by value: Double) -> Bool {
        switch self.bound {
        case .atMost: value <= self.limit
        case .atLeast: value >= self.limit
        }
    }

    /// How far `value` falls short, as a share of the limit; zero when it meets the target.
    func shortfall(of value: Double) -> Double {
        guard !self.isMet(by: value), self.limit != 0 else {
            return 0
        }
        return abs(value - self.limit) / abs(self.limit)
    }

    /// The verdict as the report writes it: `target ≤ 3×: met` or `target ≤ 3×: missed by 12.5%`.
    func verdict(for value: Double) -> String {
        let sign = self.bound == .atMost ? "≤" : "≥"
        let outcome =
            self.isMet(by: value) ? "met" : String(format: "missed by %.1f%%", self.shortfall(of: value) * 100)
        return "target \(sign) \(self.limitText): \(outcome)"
    }
}
