/// What the state machine needs to know about a job to decide its next state.
///
/// Generic over the clock's instant so the core reads no clock of its own: the store passes
/// instants on the database's clock, tests pass made-up ones.
public struct JobSnapshot<Instant: InstantProtocol>: Sendable, Hashable where Instant.Duration == Duration {
    /// Where the job is in its life.
    public var state: JobState

    /// Attempts started so far; while running, the running attempt's number.
    public var attempts: Int

    /// When a pending job may start, or when a job waiting to retry may be claimed again.
    ///
    /// `nil` means at once, and is what every other state has.
    public var dueAt: Instant?

    /// How often the job may be attempted, and how long it waits between attempts.
    public var retryPolicy: RetryPolicy

    /// Creates a snapshot.
    ///
    /// - Parameters:
    ///   - state: Where the job is in its life.
    ///   - attempts: Attempts started so far.
    ///   - dueAt: When a pending or waiting job may be claimed; `nil` for at once.
    ///   - retryPolicy: How often the job may be attempted, and how long it waits between.
    public init(state: JobState, attempts: Int = 0, dueAt: Instant? = nil, retryPolicy: RetryPolicy = RetryPolicy()) {
        self.state = state
        self.attempts = attempts
        self.dueAt = dueAt
        self.retryPolicy = retryPolicy
    }

    /// The job as it is after `transition`, with the same retry policy.
    ///
    /// - Parameter transition: A transition the state machine decided for this job.
    /// - Returns: The snapshot with the transition's state, attempts and due time.
    public func applying(_ transition: JobTransition<Instant>) -> JobSnapshot {
        JobSnapshot(
            state: transition.state,
            attempts: transition.attempts,
            dueAt: transition.dueAt,
            retryPolicy: self.retryPolicy
        )
    }
}
