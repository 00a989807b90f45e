import GnomonCore
import Testing

/// How many distinct values `values` holds, which only a `Sendable` and `Hashable` type allows.
private func distinctCount<Value: Sendable & Hashable>(_ values: Value...) -> Int {
    Set(values).count
}

@Suite("Job types are Sendable and Hashable")
struct JobConformanceTests {
    @Test("equal values are one, different values are two")
    func hashable() {
        let now = ContinuousClock.now
        let job = JobSnapshot(state: .pending, dueAt: now)
        let transition = JobTransition<ContinuousClock.Instant>(state: .running, attempts: 1)
        let error = JobTransitionError(code: .notDue, state: .pending, event: .claimed, message: "early")
        let invalid = RetryPolicyError(code: .outOfRange, field: "max_attempts", message: "too many")

        #expect(distinctCount(JobState.pending, .pending, .dead) == 2)
        #expect(
            distinctCount(JobEvent.failed(retryable: true, message: "a"), .failed(retryable: true, message: "b")) == 2)
        #expect(
            distinctCount(JobEvent.failed(retryable: true, message: "a"), .failed(retryable: true, message: "a")) == 1)
        #expect(distinctCount(JobEvent.Kind.claimed, .claimed) == 1)
        #expect(distinctCount(AttemptOutcome.failed, .failedFinal) == 2)
        #expect(distinctCount(BackoffPolicy(), BackoffPolicy(), BackoffPolicy(jitter: 0)) == 2)
        #expect(distinctCount(RetryPolicy(), RetryPolicy(maxAttempts: 3)) == 2)
        #expect(distinctCount(job, job, JobSnapshot(state: .pending, dueAt: now.advanced(by: .seconds(1)))) == 2)
        #expect(distinctCount(transition, transition, JobTransition(state: .running, attempts: 2)) == 2)
        #expect(distinctCount(error, error) == 1)
        #expect(distinctCount(invalid, invalid) == 1)
        #expect(distinctCount(JobTransitionError.Code.notDue, .illegalTransition) == 2)
        #expect(distinctCount(RetryPolicyError.Code.outOfRange, .outOfRange) == 1)
    }

    @Test("snapshots and transitions cross tasks")
    func sendable() async throws {
        let job = JobSnapshot<TestInstant>(state: .pending)
        let transition = try await Task.detached {
            try JobStateMachine.transition(from: job, on: .claimed, now: .zero).get()
        }.value
        #expect(transition.state == .running)
    }
}
