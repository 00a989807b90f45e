import GnomonCore
import Testing

@Suite("Retry policy validation")
struct RetryPolicyTests {
    @Test("the server's defaults are valid")
    func defaults() throws {
        let policy = RetryPolicy()
        #expect(policy.maxAttempts == 25)
        #expect(
            policy.backoff
                == BackoffPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(3_600), multiplier: 2, jitter: 0.2))
        try policy.validate()
    }

    @Test(
        "settings at the edges of their ranges are accepted",
        arguments: [
            RetryPolicy(maxAttempts: 1, backoff: BackoffPolicy(initialDelay: .zero, maximumDelay: .zero)),
            RetryPolicy(
                maxAttempts: 1_000,
                backoff: BackoffPolicy(
                    initialDelay: BackoffPolicy.delayLimit, maximumDelay: BackoffPolicy.delayLimit, multiplier: 10,
                    jitter: 1)
            ),
            RetryPolicy(
                backoff: BackoffPolicy(initialDelay: .seconds(5), maximumDelay: .seconds(5), multiplier: 1, jitter: 0)),
        ]
    )
    func edges(policy: RetryPolicy) throws {
        try policy.validate()
    }

    @Test(
        "each setting out of range is refused, naming the field, the range and the value",
        arguments: [
            (RetryPolicy(maxAttempts: 0), "max_attempts", "max_attempts must be from 1 to 1000, not 0"),
            (RetryPolicy(maxAttempts: 1_001), "max_attempts", "max_attempts must be from 1 to 1000, not 1001"),
            (
                RetryPolicy(backoff: BackoffPolicy(initialDelay: .milliseconds(-1))), "backoff.initial_delay_ms",
                "backoff.initial_delay_ms must be from 0 to 31536000000, not -1"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(initialDelay: .seconds(366 * 86_400))), "backoff.initial_delay_ms",
                "backoff.initial_delay_ms must be from 0 to 31536000000, not 31622400000"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(1))),
                "backoff.max_delay_ms",
                "backoff.max_delay_ms must be from backoff.initial_delay_ms (2000) to 31536000000, not 1000"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(maximumDelay: .milliseconds(31_536_000_000.5))),
                "backoff.max_delay_ms",
                "backoff.max_delay_ms must be from backoff.initial_delay_ms (1000) to 31536000000, not 31536000000.5"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(multiplier: 0.5)), "backoff.multiplier",
                "backoff.multiplier must be from 1 to 10, not 0.5"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(multiplier: 10.5)), "backoff.multiplier",
                "backoff.multiplier must be from 1 to 10, not 10.5"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(multiplier: .nan)), "backoff.multiplier",
                "backoff.multiplier must be from 1 to 10, not nan"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(jitter: -0.1)), "backoff.jitter",
                "backoff.jitter must be from 0 to 1, not -0.1"
            ),
            (
                RetryPolicy(backoff: BackoffPolicy(jitter: .infinity)), "backoff.jitter",
                "backoff.jitter must be from 0 to 1, not inf"
            ),
        ] as [(RetryPolicy, String, String)]
    )
    func outOfRange(policy: RetryPolicy, field: String, message: String) {
        do {
            try policy.validate()
            Issue.record("\(policy) was accepted")
        } catch {
            #expect(error.code == .outOfRange)
            #expect(error.field == field)
            #expect(error.message == message)
            #expect(error.description == message)
        }
    }
}
