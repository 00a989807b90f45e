import GnomonCore
import Testing

/// A job's life, one event at a time, on a made-up clock.
private struct Run {
    var job: JobSnapshot<TestInstant>
    var now = TestInstant.seconds(1_000)
    var generator = SeededGenerator(seed: 7)

    init(_ job: JobSnapshot<TestInstant>) {
        self.job = job
    }

    /// Sends `event`, keeps the job it leads to, and returns the transition.
    mutating func send(_ event: JobEvent) throws -> JobTransition<TestInstant> {
        let transition = try JobStateMachine.transition(
            from: self.job, on: event, now: self.now, using: &self.generator
        ).get()
        self.job = self.job.applying(transition)
        return transition
    }

    /// Moves the clock to the job's due time, if it has one.
    mutating func waitUntilDue() {
        if let dueAt = self.job.dueAt {
            self.now = max(self.now, dueAt)
        }
    }
}

private func threeAttempts(jitter: Double = 0) -> RetryPolicy {
    RetryPolicy(
        maxAttempts: 3,
        backoff: BackoffPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60), multiplier: 2, jitter: jitter)
    )
}

@Suite("Job state machine: attempts, due times, cancellation and retries")
struct JobStateMachineTests {
    @Test("three failures in a row use up three attempts and send the job to the dead-letter queue")
    func failuresExhaustAttempts() throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts()))
        var delays: [Duration?] = []
        for attempt in 1...3 {
            run.waitUntilDue()
            #expect(try run.send(.claimed).attempts == attempt)
            let failure = try run.send(.failed(retryable: true, message: "attempt \(attempt) failed"))
            #expect(failure.endedAttempt == .failed)
            #expect(!failure.leaseRevoked)
            delays.append(failure.retryDelay)
        }
        #expect(run.job.state == .dead)
        #expect(run.job.attempts == 3)
        #expect(delays == [.seconds(1), .seconds(2), nil])
    }

    @Test("a worker that vanishes on every attempt still reaches the dead-letter queue")
    func expiredLeasesExhaustAttempts() throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts()))
        var states: [JobState] = []
        for _ in 1...3 {
            run.waitUntilDue()
            _ = try run.send(.claimed)
            let expiry = try run.send(.leaseExpired)
            #expect(expiry.endedAttempt == .timedOut)
            #expect(expiry.leaseRevoked)
            states.append(expiry.state)
        }
        #expect(states == [.retryWait, .retryWait, .dead])
        #expect(run.job.attempts == 3)
    }

    @Test("a failure that asks for no retry is final on the first attempt")
    func finalFailure() throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts()))
        _ = try run.send(.claimed)
        let failure = try run.send(.failed(retryable: false, message: "the payload is not valid"))
        #expect(failure.state == .dead)
        #expect(failure.entersDeadLetterQueue)
        #expect(failure.endedAttempt == .failedFinal)
        #expect(failure.attempts == 1)
    }

    @Test("a job of one attempt is dead after its first retryable failure")
    func singleAttempt() throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: RetryPolicy(maxAttempts: 1)))
        _ = try run.send(.claimed)
        #expect(try run.send(.failed(retryable: true, message: "no")).state == .dead)
    }

    @Test("a job waiting for its start or its retry cannot be claimed before it is due")
    func claimBeforeDue() throws {
        for state in [JobState.pending, .retryWait] {
            var run = Run(JobSnapshot(state: state, attempts: 1, dueAt: .seconds(1_010), retryPolicy: threeAttempts()))
            #expect(throws: JobTransitionError.self) { try run.send(.claimed) }
            let early = JobStateMachine.transition(from: run.job, on: .claimed, now: run.now)
            guard case .failure(let error) = early else {
                Issue.record("an early claim of \(state) was accepted")
                continue
            }
            #expect(error.code == .notDue)
            #expect(error.event == .claimed)
            #expect(error.message.hasSuffix("cannot be claimed before it is due"))

            run.now = .seconds(1_010)
            #expect(try run.send(.claimed).state == .running)
        }
    }

    @Test("the retry waits for the backoff delay, from the moment of the failure")
    func retryDueTime() throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts(jitter: 0.5)))
        _ = try run.send(.claimed)
        run.now = .seconds(1_234)
        let failure = try run.send(.failed(retryable: true, message: "busy"))
        let delay = try #require(failure.retryDelay)
        #expect(delay >= .milliseconds(500) && delay <= .seconds(1))
        #expect(failure.dueAt == TestInstant.seconds(1_234).advanced(by: delay))
    }

    @Test("the same seed chooses the same retry times")
    func repeatableJitter() throws {
        func dueTimes(seed: UInt64) throws -> [TestInstant?] {
            var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts(jitter: 1)))
            run.generator = SeededGenerator(seed: seed)
            var times: [TestInstant?] = []
            for _ in 1...2 {
                run.waitUntilDue()
                _ = try run.send(.claimed)
                times.append(try run.send(.leaseExpired).dueAt)
            }
            return times
        }
        #expect(try dueTimes(seed: 42) == dueTimes(seed: 42))
        #expect(try dueTimes(seed: 42) != dueTimes(seed: 43))
    }

    @Test(
        "a delay the worker asks for is honoured up to the policy's cap",
        arguments: [
            (nil, Duration.seconds(1)),
            (.seconds(30), .seconds(30)),
            (.milliseconds(200), .seconds(1)),
            (.seconds(-5), .seconds(1)),
            (.seconds(7_200), .seconds(60)),
            (.seconds(Int64.max), .seconds(60)),
        ] as [(Duration?, Duration)]
    )
    func retryAfter(asked: Duration?, expected: Duration) throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts()))
        _ = try run.send(.claimed)
        let failure = try run.send(.failed(retryable: true, message: "rate limited", retryAfter: asked))
        #expect(failure.retryDelay == expected)
        #expect(failure.dueAt == run.now.advanced(by: expected))
    }

    @Test("cancelling a running job ends it at once and refuses what its attempt reports later")
    func cancelRunning() throws {
        var run = Run(JobSnapshot(state: .pending, retryPolicy: threeAttempts()))
        _ = try run.send(.claimed)
        let cancellation = try run.send(.cancelRequested(reason: "submitted twice"))
        #expect(cancellation.state == .cancelled)
        #expect(cancellation.endedAttempt == .cancelled)
        #expect(cancellation.leaseRevoked)
        #expect(!cancellation.entersDeadLetterQueue)
        for late in [JobEvent.completed, .failed(retryable: true, message: "late"), .leaseExpired] {
            #expect(throws: JobTransitionError.self) { try run.send(late) }
        }
        #expect(run.job.state == .cancelled)
    }

    @Test("a dead job retried without a reset gets exactly one more attempt")
    func retryWithoutReset() throws {
        var run = Run(JobSnapshot(state: .dead, attempts: 3, retryPolicy: threeAttempts()))
        let retry = try run.send(.retryRequested(resetAttempts: false))
        #expect(retry.state == .pending)
        #expect(retry.dueAt == run.now)
        #expect(try run.send(.claimed).attempts == 4)
        #expect(try run.send(.failed(retryable: true, message: "still broken")).state == .dead)
    }

    @Test("a dead job retried with a reset gets all its attempts again")
    func retryWithReset() throws {
        var run = Run(JobSnapshot(state: .dead, attempts: 3, retryPolicy: threeAttempts()))
        #expect(try run.send(.retryRequested(resetAttempts: true)).attempts == 0)
        var states: [JobState] = []
        for _ in 1...3 {
            run.waitUntilDue()
            _ = try run.send(.claimed)
            states.append(try run.send(.leaseExpired).state)
        }
        #expect(states == [.retryWait, .retryWait, .dead])
    }

    @Test("a retry request makes a job waiting to retry due at once")
    func retryWaitingJob() throws {
        var run = Run(JobSnapshot(state: .retryWait, attempts: 1, dueAt: .seconds(5_000), retryPolicy: threeAttempts()))
        #expect(throws: JobTransitionError.self) { try run.send(.claimed) }
        _ = try run.send(.retryRequested(resetAttempts: false))
        #expect(try run.send(.claimed).attempts == 2)
    }

    @Test("attempt counts at the edges of Int neither overflow nor go negative")
    func attemptCountEdges() throws {
        var full = Run(JobSnapshot(state: .pending, attempts: .max, retryPolicy: threeAttempts()))
        #expect(try full.send(.claimed).attempts == .max)
        var negative = Run(JobSnapshot(state: .pending, attempts: -4, retryPolicy: threeAttempts()))
        #expect(try negative.send(.claimed).attempts == 1)
    }

    @Test("a retry after the longest delay the limit allows gets a due time without trapping")
    func dueTimeAtTheLimit() throws {
        let policy = RetryPolicy(
            maxAttempts: 1_000,
            backoff: BackoffPolicy(
                initialDelay: .seconds(Int64.max), maximumDelay: .seconds(Int64.max), multiplier: 1e300)
        )
        let job = JobSnapshot<TestInstant>(state: .running, attempts: 999, retryPolicy: policy)
        let transition = try JobStateMachine.transition(
            from: job, on: .failed(retryable: true, message: "x", retryAfter: .seconds(Int64.max)), now: .zero
        ).get()
        #expect(transition.retryDelay == BackoffPolicy.delayLimit)
        #expect(transition.dueAt == TestInstant.zero.advanced(by: BackoffPolicy.delayLimit))
    }

    @Test("finished states are succeeded, dead and cancelled, named as the database names them")
    func stateNames() {
        #expect(JobState.allCases.filter(\.isFinished) == [.succeeded, .dead, .cancelled])
        #expect(
            JobState.allCases.map(\.description) == [
                "pending", "running", "retry_wait", "succeeded", "dead", "cancelled",
            ])
        #expect(
            AttemptOutcome.allCases.map(\.rawValue) == [
                "succeeded", "failed", "failed_final", "timed_out", "cancelled",
            ])
        #expect(JobEvent.leaseExpired.kind.description == "lease_expired")
    }
}
