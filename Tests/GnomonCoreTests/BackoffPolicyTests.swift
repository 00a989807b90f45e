import GnomonCore
import Testing

@Suite("Backoff policy")
struct BackoffPolicyTests {
    @Test("base delays grow from the initial delay by the multiplier, up to the cap")
    func exponentialGrowth() {
        let policy = BackoffPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60), multiplier: 2, jitter: 0)
        let delays = (1...8).map { policy.baseDelay(afterAttempt: $0) }
        let seconds: [Int64] = [1, 2, 4, 8, 16, 32, 60, 60]
        #expect(delays == seconds.map { .seconds($0) })
    }

    @Test("fractional multipliers grow the delay as exactly as the arithmetic allows")
    func fractionalMultiplier() {
        let policy = BackoffPolicy(initialDelay: .seconds(4), maximumDelay: .seconds(100), multiplier: 1.5, jitter: 0)
        #expect(policy.baseDelay(afterAttempt: 2) == .seconds(6))
        #expect(policy.baseDelay(afterAttempt: 3) == .seconds(9))
        #expect(policy.baseDelay(afterAttempt: 4) == .milliseconds(13_500))
    }

    @Test("attempt numbers below 1 count as the first", arguments: [0, -1, Int.min])
    func lowAttemptNumbers(attempt: Int) {
        let policy = BackoffPolicy(initialDelay: .seconds(3), jitter: 0)
        #expect(policy.baseDelay(afterAttempt: attempt) == .seconds(3))
    }

    @Test("a multiplier of 1 keeps every delay at the initial delay")
    func constantDelay() {
        let policy = BackoffPolicy(initialDelay: .seconds(5), maximumDelay: .seconds(60), multiplier: 1, jitter: 0)
        #expect(
            [1, 2, 50, 1_000_000].map { policy.baseDelay(afterAttempt: $0) } == Array(repeating: .seconds(5), count: 4))
    }

    @Test("a zero initial delay retries at once, jitter or not")
    func zeroDelay() {
        var generator = SeededGenerator(seed: 1)
        let policy = BackoffPolicy(initialDelay: .zero, maximumDelay: .seconds(60), multiplier: 2, jitter: 1)
        #expect(policy.baseDelay(afterAttempt: 100) == .zero)
        #expect(policy.delay(afterAttempt: 100, using: &generator) == .zero)
    }

    @Test(
        "base delays never decrease from one attempt to the next and never pass the cap",
        arguments: [1.0, 1.000_1, 1.5, 2, 3.7, 10]
    )
    func monotonicCap(multiplier: Double) {
        let maximum = Duration.seconds(86_400)
        let policy = BackoffPolicy(
            initialDelay: .milliseconds(7), maximumDelay: maximum, multiplier: multiplier, jitter: 0)
        var previous = Duration.zero
        for attempt in 1...2_000 {
            let delay = policy.baseDelay(afterAttempt: attempt)
            #expect(delay >= previous, "attempt \(attempt)")
            #expect(delay <= maximum, "attempt \(attempt)")
            previous = delay
        }
        #expect(policy.baseDelay(afterAttempt: 1_000_000) == (multiplier == 1 ? .milliseconds(7) : maximum))
    }

    @Test("jittered delays stay between base × (1 − jitter) and base over 10,000 draws", arguments: [0.2, 0.5, 1])
    func jitterBounds(jitter: Double) {
        var generator = SeededGenerator(seed: 20_240_229)
        let policy = BackoffPolicy(
            initialDelay: .milliseconds(250), maximumDelay: .seconds(30), multiplier: 3, jitter: jitter)
        for attempt in [1, 3, 9] {
            let base = policy.baseDelay(afterAttempt: attempt)
            let lowest = base * (1 - jitter)
            var drawn: [Duration] = []
            for _ in 0..<10_000 {
                drawn.append(policy.delay(afterAttempt: attempt, using: &generator))
            }
            #expect(drawn.allSatisfy { $0 >= lowest && $0 <= base }, "attempt \(attempt)")

            // Uniform draws cover the whole range: 10,000 of them all missing its bottom or top
            // hundredth would happen about once in 10^43 runs.
            let margin = (base - lowest) / 100
            #expect(drawn.min()! < lowest + margin, "attempt \(attempt)")
            #expect(drawn.max()! > base - margin, "attempt \(attempt)")
        }
    }

    @Test("without jitter every delay is the base delay")
    func noJitter() {
        var generator = SeededGenerator(seed: 3)
        let policy = BackoffPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(60), multiplier: 2, jitter: 0)
        for attempt in 1...10 {
            #expect(policy.delay(afterAttempt: attempt, using: &generator) == policy.baseDelay(afterAttempt: attempt))
        }
    }

    @Test("the same seed draws the same delays")
    func repeatable() {
        let policy = BackoffPolicy()
        func draws(seed: UInt64) -> [Duration] {
            var generator = SeededGenerator(seed: seed)
            return (1...20).map { policy.delay(afterAttempt: $0, using: &generator) }
        }
        #expect(draws(seed: 9) == draws(seed: 9))
        #expect(draws(seed: 9) != draws(seed: 10))
    }

    @Test(
        "no setting, however extreme, traps or yields a delay outside zero to the cap",
        arguments: [1.0, 10, 1e10, 1e308, .greatestFiniteMagnitude, .infinity, .nan, 0, -3, -.infinity]
    )
    func extremeSettings(multiplier: Double) {
        let bounds: [Duration] = [
            .zero, Duration(secondsComponent: 0, attosecondsComponent: 1), .milliseconds(1), .seconds(3_600),
            .seconds(Int64.max), .seconds(Int64.min), BackoffPolicy.delayLimit,
        ]
        let attempts = [Int.min, 0, 1, 2, 1_000, 1_000_000, Int.max]
        let jitters: [Double] = [0, 0.5, 1, 7, -1, .nan, .infinity]
        var generator = SeededGenerator(seed: 11)
        for initial in bounds {
            for maximum in bounds {
                let cap = min(max(maximum, .zero), BackoffPolicy.delayLimit)
                for jitter in jitters {
                    let policy = BackoffPolicy(
                        initialDelay: initial, maximumDelay: maximum, multiplier: multiplier, jitter: jitter)
                    for attempt in attempts {
                        let base = policy.baseDelay(afterAttempt: attempt)
                        let delay = policy.delay(afterAttempt: attempt, using: &generator)
                        #expect(base >= .zero && base <= cap, "\(policy), attempt \(attempt)")
                        #expect(delay >= .zero && delay <= base, "\(policy), attempt \(attempt)")
                    }
                }
            }
        }
    }

    @Test("attempt 1,000,000 with the largest accepted multiplier waits the cap")
    func millionthAttempt() {
        let policy = BackoffPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(3_600), multiplier: 10, jitter: 0)
        #expect(policy.baseDelay(afterAttempt: 1_000_000) == .seconds(3_600))
        #expect(policy.baseDelay(afterAttempt: .max) == .seconds(3_600))
    }
}
