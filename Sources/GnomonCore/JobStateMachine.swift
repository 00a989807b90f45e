/// The rules of a job's life: which events each state takes, and where they lead.
///
/// Pure: it reads no clock and touches no storage. The store reads the job, asks for the
/// transition, and writes it in the same transaction.
///
/// - A pending job, or one waiting to retry, is claimed once it is due; the claim starts an
///   attempt and counts it. There is no separate event for a retry falling due: a job waiting
///   to retry is simply claimable from its due time on, as a pending job is from its start.
/// - A running attempt ends by completing, failing or having its lease expire. An expired
///   lease counts as a failure that may be retried. A failure that may be retried leaves the
///   job waiting for its backoff delay while attempts remain; otherwise the job is dead.
/// - Cancelling takes effect at once in every live state. A running job is cancelled with its
///   attempt's lease revoked, so what that attempt reports later is refused; its work is not
///   undone, but the job is neither retried nor recorded as a success.
/// - A retry request brings a dead or cancelled job, or one waiting to retry, back to pending
///   and due at once. Without a reset, a job whose attempts are spent gets one more.
/// - A succeeded job takes no event.
public enum JobStateMachine {
    /// Decides what `event` does to `job`, drawing any jitter from `generator`.
    ///
    /// - Parameters:
    ///   - job: The job as it is.
    ///   - event: What happened.
    ///   - now: The time of the event, on the same clock as the job's due time.
    ///   - generator: The source of the backoff jitter; a seeded one makes retries repeatable.
    /// - Returns: The transition, or why the job cannot take the event.
    public static func transition<Instant>(
        from job: JobSnapshot<Instant>,
        on event: JobEvent,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> Result<JobTransition<Instant>, JobTransitionError> {
        switch event {
        case .claimed:
            return Self.claim(job, now: now)

        case .completed:
            guard job.state == .running else {
                return .failure(.illegal(job.state, .completed))
            }
            return .success(JobTransition(state: .succeeded, attempts: job.attempts, endedAttempt: .succeeded))

        case .failed(let retryable, _, let retryAfter):
            guard job.state == .running else {
                return .failure(.illegal(job.state, .failed))
            }
            let outcome: AttemptOutcome = retryable ? .failed : .failedFinal
            return .success(Self.endAttempt(job, outcome, retryAfter: retryAfter, now: now, using: &generator))

        case .leaseExpired:
            guard job.state == .running else {
                return .failure(.illegal(job.state, .leaseExpired))
            }
            return .success(Self.endAttempt(job, .timedOut, retryAfter: nil, now: now, using: &generator))

        case .cancelRequested:
            return Self.cancel(job)

        case .retryRequested(let resetAttempts):
            return Self.retry(job, resetAttempts: resetAttempts, now: now)
        }
    }

    /// Decides what `event` does to `job`, drawing any jitter from the system's generator.
    ///
    /// - Parameters:
    ///   - job: The job as it is.
    ///   - event: What happened.
    ///   - now: The time of the event, on the same clock as the job's due time.
    /// - Returns: The transition, or why the job cannot take the event.
    public static func transition<Instant>(
        from job: JobSnapshot<Instant>,
        on event: JobEvent,
        now: Instant
    ) -> Result<JobTransition<Instant>, JobTransitionError> {
        var generator = SystemRandomNumberGenerator()
        return Self.transition(from: job, on: event, now: now, using: &generator)
    }

    private static func claim<Instant>(
        _ job: JobSnapshot<Instant>,
        now: Instant
    ) -> Result<JobTransition<Instant>, JobTransitionError> {
        guard job.state == .pending || job.state == .retryWait else {
            return .failure(.illegal(job.state, .claimed))
        }
        if let dueAt = job.dueAt, now < dueAt {
            return .failure(.notDue(job.state))
        }
        let (next, overflow) = max(job.attempts, 0).addingReportingOverflow(1)
        return .success(JobTransition(state: .running, attempts: overflow ? .max : next))
    }

    /// Ends the running attempt with `outcome`: a retry after the backoff delay while attempts
    /// remain and the outcome allows one, the dead-letter queue otherwise.
    private static func endAttempt<Instant>(
        _ job: JobSnapshot<Instant>,
        _ outcome: AttemptOutcome,
        retryAfter: Duration?,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> JobTransition<Instant> {
        let revoked = outcome == .timedOut
        guard outcome != .failedFinal, job.attempts < job.retryPolicy.maxAttempts else {
            return JobTransition(state: .dead, attempts: job.attempts, endedAttempt: outcome, leaseRevoked: revoked)
        }

        // A delay the worker asks for is honoured up to the policy's cap, never beyond it.
        let backoff = job.retryPolicy.backoff
        let floor = min(max(retryAfter ?? .zero, .zero), backoff.cappedMaximumDelay)
        let delay = max(backoff.delay(afterAttempt: job.attempts, using: &generator), floor)
        return JobTransition(
            state: .retryWait,
            attempts: job.attempts,
            dueAt: now.advanced(by: delay),
            retryDelay: delay,
            endedAttempt: outcome,
            leaseRevoked: revoked
        )
    }

    private static func cancel<Instant>(
        _ job: JobSnapshot<Instant>
    ) -> Result<JobTransition<Instant>, JobTransitionError> {
        switch job.state {
        case .pending, .retryWait:
            return .success(JobTransition(state: .cancelled, attempts: job.attempts))

        case .running:
            return .success(
                JobTransition(state: .cancelled, attempts: job.attempts, endedAttempt: .cancelled, leaseRevoked: true))

        case .succeeded, .dead, .cancelled:
            return .failure(.illegal(job.state, .cancelRequested))
        }
    }

    private static func retry<Instant>(
        _ job: JobSnapshot<Instant>,
        resetAttempts: Bool,
        now: Instant
    ) -> Result<JobTransition<Instant>, JobTransitionError> {
        switch job.state {
        case .dead, .cancelled, .retryWait:
            return .success(JobTransition(state: .pending, attempts: resetAttempts ? 0 : job.attempts, dueAt: now))

        case .pending, .running, .succeeded:
            return .failure(.illegal(job.state, .retryRequested))
        }
    }
}
