/// What an event does to a job: its new state and what the store must do to get there.
public struct JobTransition<Instant: InstantProtocol>: Sendable, Hashable where Instant.Duration == Duration {
    /// The job's state after the event.
    public var state: JobState

    /// Attempts started so far, after the event: one more on a claim, zero after a retry
    /// request that resets them, otherwise unchanged.
    public var attempts: Int

    /// When the job is next due: the retry time in ``JobState/retryWait``, the moment of the
    /// request for a job retried by an operator; `nil` in every other state.
    public var dueAt: Instant?

    /// The backoff delay chosen for the next attempt, from the event to ``dueAt``; set only
    /// when the job goes to ``JobState/retryWait``.
    public var retryDelay: Duration?

    /// How the running attempt ended, when the event ended one; to be recorded with it.
    public var endedAttempt: AttemptOutcome?

    /// Whether the running attempt's lease is revoked without its worker's word.
    ///
    /// True when its lease expired and when the job was cancelled while it ran: the attempt may
    /// still be at work somewhere, and its heartbeats, completion and failure must be refused.
    public var leaseRevoked: Bool

    /// Creates a transition.
    ///
    /// - Parameters:
    ///   - state: The job's state after the event.
    ///   - attempts: Attempts started so far, after the event.
    ///   - dueAt: When the job is next due, if it waits for a time.
    ///   - retryDelay: The backoff delay before the next attempt, if it waits for a retry.
    ///   - endedAttempt: How the running attempt ended, if the event ended one.
    ///   - leaseRevoked: Whether the running attempt's lease is revoked without its worker's word.
    public init(
        state: JobState,
        attempts: Int,
        dueAt: Instant? = nil,
        retryDelay: Duration? = nil,
        endedAttempt: AttemptOutcome? = nil,
        leaseRevoked: Bool = false
    ) {
        self.state = state
        self.attempts = attempts
        self.dueAt = dueAt
        self.retryDelay = retryDelay
        self.endedAttempt = endedAttempt
        self.leaseRevoked = leaseRevoked
    }

    /// Whether the job goes to the dead-letter queue.
    ///
    /// Only a running attempt's end leads to ``JobState/dead``, so reaching that state always
    /// means entering the queue.
    public var entersDeadLetterQueue: Bool {
        self.state == .dead
    }
}
