/// How long a job waits before each retry: exponential, capped, with jitter.
///
/// The delay after failed attempt `n` (1 for the first) starts from
/// `min(maximumDelay, initialDelay × multiplier^(n − 1))`, the *base delay*. Jitter then takes
/// a random part of it off: the delay is drawn uniformly from `base × (1 − jitter)` to `base`.
/// So `jitter` is the fraction of each delay that is random, as in the job spec: 0 keeps the
/// base delay exactly, 1 is "full jitter" (anything from zero to the base delay), 0.2 spreads
/// retries over the last fifth. Jitter only ever shortens a delay, so `maximumDelay` is a
/// hard bound and the base delays never decrease from one attempt to the next.
///
/// Delays are computed for any settings, valid or not, without trapping: huge attempt
/// numbers and multipliers reach the cap instead of overflowing, a negative or NaN setting
/// counts as its least accepted value, and no delay exceeds ``delayLimit``.
/// ``validate()`` is what refuses settings outside the accepted ranges.
public struct BackoffPolicy: Sendable, Hashable {
    /// The longest delay accepted for either bound: 365 days.
    ///
    /// It also keeps every due time far from the end of any clock's range.
    public static let delayLimit: Duration = .seconds(365 * 86_400)

    /// The accepted range of ``multiplier``.
    public static let multiplierRange: ClosedRange<Double> = 1...10

    /// The accepted range of ``jitter``.
    public static let jitterRange: ClosedRange<Double> = 0...1

    /// The base delay after the first failed attempt; 0 to ``maximumDelay``.
    public var initialDelay: Duration

    /// No delay is longer than this; ``initialDelay`` to ``delayLimit``.
    public var maximumDelay: Duration

    /// Each base delay is this many times the one before; 1 to 10.
    public var multiplier: Double

    /// The fraction of each delay drawn at random; 0 to 1.
    public var jitter: Double

    /// Creates a policy without checking it; the defaults are the server's.
    ///
    /// - Parameters:
    ///   - initialDelay: The base delay after the first failed attempt.
    ///   - maximumDelay: No delay is longer than this.
    ///   - multiplier: Each base delay is this many times the one before.
    ///   - jitter: The fraction of each delay drawn at random.
    public init(
        initialDelay: Duration = .seconds(1),
        maximumDelay: Duration = .seconds(3_600),
        multiplier: Double = 2,
        jitter: Double = 0.2
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// Checks every setting against the range the server accepts.
    ///
    /// - Throws: A ``RetryPolicyError`` naming the first setting out of range.
    public func validate() throws(RetryPolicyError) {
        let limit = Self.milliseconds(Self.delayLimit)
        guard self.initialDelay >= .zero, self.initialDelay <= Self.delayLimit else {
            throw .outOfRange(
                "backoff.initial_delay_ms", from: "0", to: limit, not: Self.milliseconds(self.initialDelay))
        }
        guard self.maximumDelay >= self.initialDelay, self.maximumDelay <= Self.delayLimit else {
            throw .outOfRange(
                "backoff.max_delay_ms",
                from: "backoff.initial_delay_ms (\(Self.milliseconds(self.initialDelay)))",
                to: limit,
                not: Self.milliseconds(self.maximumDelay)
            )
        }
        guard Self.multiplierRange.contains(self.multiplier) else {
            throw .outOfRange("backoff.multiplier", from: "1", to: "10", not: "\(self.multiplier)")
        }
        guard Self.jitterRange.contains(self.jitter) else {
            throw .outOfRange("backoff.jitter", from: "0", to: "1", not: "\(self.jitter)")
        }
    }

    /// The delay after failed attempt `attempt`, before jitter.
    ///
    /// - Parameter attempt: The number of the attempt that failed, 1 for the first; lower
    ///   numbers count as 1.
    /// - Returns: `min(maximumDelay, initialDelay × multiplier^(attempt − 1))`.
    public func baseDelay(afterAttempt attempt: Int) -> Duration {
        let maximum = self.cappedMaximumDelay
        let initial = min(max(self.initialDelay, .zero), maximum)
        guard initial > .zero else {
            return .zero
        }

        // The cap is reached once the growth factor passes the ratio of the bounds; the factor is
        // computed only that far, so it never overflows however large the attempt number.
        let headroom = maximum / initial
        let growth = Self.power(self.effectiveMultiplier, max(attempt, 1) - 1, reaching: headroom)
        guard growth < headroom else {
            return maximum
        }
        return min(initial * growth, maximum)
    }

    /// The delay after failed attempt `attempt`, with jitter drawn from `generator`.
    ///
    /// - Parameters:
    ///   - attempt: The number of the attempt that failed, 1 for the first.
    ///   - generator: The source of the jitter; a seeded one makes delays repeatable.
    /// - Returns: A delay from `base × (1 − jitter)` to `base`, where `base` is
    ///   ``baseDelay(afterAttempt:)``.
    public func delay(
        afterAttempt attempt: Int,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let base = self.baseDelay(afterAttempt: attempt)
        let jitter = self.effectiveJitter
        guard jitter > 0, base > .zero else {
            return base
        }
        let kept = 1 - jitter * Double.random(in: 0...1, using: &generator)
        return min(max(base * kept, .zero), base)
    }

    /// The delay after failed attempt `attempt`, with jitter from the system's generator.
    ///
    /// - Parameter attempt: The number of the attempt that failed, 1 for the first.
    /// - Returns: A delay from `base × (1 − jitter)` to `base`.
    public func delay(afterAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return self.delay(afterAttempt: attempt, using: &generator)
    }

    /// The maximum delay, kept within zero to ``delayLimit``.
    var cappedMaximumDelay: Duration {
        min(max(self.maximumDelay, .zero), Self.delayLimit)
    }

    private var effectiveMultiplier: Double {
        self.multiplier >= 1 ? self.multiplier : 1
    }

    private var effectiveJitter: Double {
        self.jitter > 0 ? min(self.jitter, 1) : 0
    }

    /// `base` to the power `exponent`, or any value at least `limit` once it gets that far.
    ///
    /// `base` is at least 1, so the running product only grows and can stop at `limit`;
    /// squaring keeps the loop to one step per bit of the exponent.
    private static func power(_ base: Double, _ exponent: Int, reaching limit: Double) -> Double {
        var result = 1.0
        var square = base
        var remaining = exponent
        while remaining > 0, result < limit {
            if remaining & 1 == 1 {
                result *= square
            }
            square *= square
            remaining >>= 1
        }
        return result
    }

    /// `duration` in milliseconds, for messages: whole when it is whole.
    private static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) * 1_000 + Double(attoseconds) / 1e15
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}
