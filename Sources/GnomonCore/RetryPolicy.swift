/// How often a job may be attempted, and how long it waits between attempts.
public struct RetryPolicy: Sendable, Hashable {
    /// The accepted range of ``maxAttempts``.
    public static let maxAttemptsRange: ClosedRange<Int> = 1...1_000

    /// At most this many attempts in all, counted when each is claimed.
    public var maxAttempts: Int

    /// How long to wait before each retry.
    public var backoff: BackoffPolicy

    /// Creates a policy without checking it; the defaults are the server's.
    ///
    /// - Parameters:
    ///   - maxAttempts: At most this many attempts in all.
    ///   - backoff: How long to wait before each retry.
    public init(maxAttempts: Int = 25, backoff: BackoffPolicy = BackoffPolicy()) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
    }

    /// Checks every setting against the range the server accepts.
    ///
    /// - Throws: A ``RetryPolicyError`` naming the first setting out of range.
    public func validate() throws(RetryPolicyError) {
        guard Self.maxAttemptsRange.contains(self.maxAttempts) else {
            throw .outOfRange(
                "max_attempts",
                from: String(Self.maxAttemptsRange.lowerBound),
                to: String(Self.maxAttemptsRange.upperBound),
                not: String(self.maxAttempts)
            )
        }
        try self.backoff.validate()
    }
}
