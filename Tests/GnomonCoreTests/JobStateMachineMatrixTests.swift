import GnomonCore
import Testing

/// What the table expects one event to do to a job in one state.
private enum Expected: Hashable {
    /// The job cannot take the event.
    case refused

    /// The job moves to `state`; every field of the transition is checked.
    case moves(JobState, attempts: Int, due: Due = .never, ended: AttemptOutcome? = nil, revoked: Bool = false)

    /// When the job is next due after the transition.
    enum Due: Hashable {
        case never
        case now
        case afterBackoff
    }
}

private let retryableFailure = JobEvent.failed(retryable: true, message: "the upstream timed out")
private let finalFailure = JobEvent.failed(retryable: false, message: "the payload is not valid")
private let cancel = JobEvent.cancelRequested(reason: "submitted twice")
private let retryKeepingAttempts = JobEvent.retryRequested(resetAttempts: false)
private let retryResettingAttempts = JobEvent.retryRequested(resetAttempts: true)

/// The events the matrix sends, every kind with each variant that decides differently.
///
/// The switch is exhaustive: a new kind of event does not compile until it is given samples.
private func samples(of kind: JobEvent.Kind) -> [JobEvent] {
    switch kind {
    case .claimed:
        return [.claimed]
    case .completed:
        return [.completed]
    case .failed:
        return [retryableFailure, finalFailure]
    case .leaseExpired:
        return [.leaseExpired]
    case .cancelRequested:
        return [cancel]
    case .retryRequested:
        return [retryKeepingAttempts, retryResettingAttempts]
    }
}

/// Every state against every event, decided by hand. Each job has made one of its three
/// attempts and, when it waits, is already due.
private let expectations: [JobState: [JobEvent: Expected]] = [
    .pending: [
        .claimed: .moves(.running, attempts: 2),
        .completed: .refused,
        retryableFailure: .refused,
        finalFailure: .refused,
        .leaseExpired: .refused,
        cancel: .moves(.cancelled, attempts: 1),
        retryKeepingAttempts: .refused,
        retryResettingAttempts: .refused,
    ],
    .running: [
        .claimed: .refused,
        .completed: .moves(.succeeded, attempts: 1, ended: .succeeded),
        retryableFailure: .moves(.retryWait, attempts: 1, due: .afterBackoff, ended: .failed),
        finalFailure: .moves(.dead, attempts: 1, ended: .failedFinal),
        .leaseExpired: .moves(.retryWait, attempts: 1, due: .afterBackoff, ended: .timedOut, revoked: true),
        cancel: .moves(.cancelled, attempts: 1, ended: .cancelled, revoked: true),
        retryKeepingAttempts: .refused,
        retryResettingAttempts: .refused,
    ],
    .retryWait: [
        .claimed: .moves(.running, attempts: 2),
        .completed: .refused,
        retryableFailure: .refused,
        finalFailure: .refused,
        .leaseExpired: .refused,
        cancel: .moves(.cancelled, attempts: 1),
        retryKeepingAttempts: .moves(.pending, attempts: 1, due: .now),
        retryResettingAttempts: .moves(.pending, attempts: 0, due: .now),
    ],
    .succeeded: [
        .claimed: .refused,
        .completed: .refused,
        retryableFailure: .refused,
        finalFailure: .refused,
        .leaseExpired: .refused,
        cancel: .refused,
        retryKeepingAttempts: .refused,
        retryResettingAttempts: .refused,
    ],
    .dead: [
        .claimed: .refused,
        .completed: .refused,
        retryableFailure: .refused,
        finalFailure: .refused,
        .leaseExpired: .refused,
        cancel: .refused,
        retryKeepingAttempts: .moves(.pending, attempts: 1, due: .now),
        retryResettingAttempts: .moves(.pending, attempts: 0, due: .now),
    ],
    .cancelled: [
        .claimed: .refused,
        .completed: .refused,
        retryableFailure: .refused,
        finalFailure: .refused,
        .leaseExpired: .refused,
        cancel: .refused,
        retryKeepingAttempts: .moves(.pending, attempts: 1, due: .now),
        retryResettingAttempts: .moves(.pending, attempts: 0, due: .now),
    ],
]

/// How each state's name starts the sentence of a refusal.
private let subjects: [JobState: String] = [
    .pending: "a pending job",
    .running: "a running job",
    .retryWait: "a job waiting to retry",
    .succeeded: "a succeeded job",
    .dead: "a dead job",
    .cancelled: "a cancelled job",
]

private let now = TestInstant.seconds(1_000)
private let backoff = Duration.seconds(10)
private let policy = RetryPolicy(
    maxAttempts: 3,
    backoff: BackoffPolicy(initialDelay: backoff, maximumDelay: .seconds(60), multiplier: 2, jitter: 0)
)

private func job(in state: JobState) -> JobSnapshot<TestInstant> {
    let waits = state == .pending || state == .retryWait
    return JobSnapshot(state: state, attempts: 1, dueAt: waits ? .seconds(999) : nil, retryPolicy: policy)
}

@Suite("Job state machine: every state against every event")
struct JobStateMachineMatrixTests {
    @Test("the table decides every state and every event, and nothing else")
    func tableIsComplete() {
        let allSamples = Set(JobEvent.Kind.allCases.flatMap(samples(of:)))
        #expect(Set(expectations.keys) == Set(JobState.allCases))
        for state in JobState.allCases {
            let row = expectations[state] ?? [:]
            #expect(Set(row.keys) == allSamples, "the row of \(state)")
        }
    }

    @Test("each sample is of the kind it is listed under")
    func sampleKinds() {
        for kind in JobEvent.Kind.allCases {
            #expect(samples(of: kind).allSatisfy { $0.kind == kind })
        }
    }

    @Test("every transition is the one the table expects", arguments: JobState.allCases, JobEvent.Kind.allCases)
    func transition(state: JobState, kind: JobEvent.Kind) throws {
        for event in samples(of: kind) {
            let expected = try #require(expectations[state]?[event], "no decision for \(state) on \(event)")
            let result = JobStateMachine.transition(from: job(in: state), on: event, now: now)
            switch (expected, result) {
            case (.refused, .failure(let error)):
                #expect(error.code == .illegalTransition)
                #expect(error.state == state)
                #expect(error.event == kind)
                #expect(error.message.hasPrefix("\(subjects[state] ?? "?") cannot "), "\(error.message)")

            case (.moves(let next, let attempts, let due, let ended, let revoked), .success(let transition)):
                #expect(transition.state == next, "\(state) on \(event)")
                #expect(transition.attempts == attempts, "\(state) on \(event)")
                #expect(transition.endedAttempt == ended, "\(state) on \(event)")
                #expect(transition.leaseRevoked == revoked, "\(state) on \(event)")
                #expect(transition.entersDeadLetterQueue == (next == .dead), "\(state) on \(event)")
                switch due {
                case .never:
                    #expect(transition.dueAt == nil && transition.retryDelay == nil, "\(state) on \(event)")
                case .now:
                    #expect(transition.dueAt == now && transition.retryDelay == nil, "\(state) on \(event)")
                case .afterBackoff:
                    #expect(transition.dueAt == now.advanced(by: backoff), "\(state) on \(event)")
                    #expect(transition.retryDelay == backoff, "\(state) on \(event)")
                }

            default:
                Issue.record("\(state) on \(event): expected \(expected), got \(result)")
            }
        }
    }

    @Test("refusals name the state and the event and say what would be accepted")
    func refusalMessages() {
        let cases: [(JobState, JobEvent, String)] = [
            (
                .succeeded, .claimed,
                "a succeeded job cannot be claimed: only pending jobs and jobs waiting to retry can be"
            ),
            (.pending, .completed, "a pending job cannot be completed: only a running job has an attempt that can end"),
            (
                .retryWait, finalFailure,
                "a job waiting to retry cannot fail: only a running job has an attempt that can end"
            ),
            (
                .dead, .leaseExpired,
                "a dead job cannot have its lease expire: only a running job has an attempt that can end"
            ),
            (.cancelled, cancel, "a cancelled job cannot be cancelled: only pending, running and waiting jobs can be"),
            (
                .running, retryKeepingAttempts,
                "a running job cannot be retried: only dead and cancelled jobs and jobs waiting to retry can be"
            ),
        ]
        for (state, event, message) in cases {
            let result = JobStateMachine.transition(from: job(in: state), on: event, now: now)
            guard case .failure(let error) = result else {
                Issue.record("\(state) on \(event) was accepted")
                continue
            }
            #expect(error.message == message)
            #expect(error.description == message)
        }
    }
}
