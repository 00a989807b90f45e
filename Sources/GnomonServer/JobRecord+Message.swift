import Foundation
import GnomonCore
import GnomonProtocol
import GnomonStore

extension JobRecord {
    /// The job as the protocol carries it, every field the store keeps filled in.
    var message: V1.Job {
        var spec = V1.JobSpec(
            queue: self.queue,
            jobType: self.jobType,
            payloadJSON: Array(self.payloadJSON.utf8),
            labels: self.labels,
            priority: Int32(clamping: self.priority),
            maxAttempts: UInt32(clamping: self.maxAttempts),
            backoff: V1.BackoffPolicy(
                initialDelayMs: self.backoff.initialDelayMilliseconds,
                maxDelayMs: self.backoff.maximumDelayMilliseconds,
                multiplier: self.backoff.multiplier,
                jitter: self.backoff.jitter),
            attemptTimeoutMs: self.attemptTimeoutMilliseconds,
            idempotencyKey: self.idempotencyKey ?? "")
        spec.start = .runAtUnixMs(self.runAt.unixMilliseconds)
        // TODO: fill in spec.httpTarget from httpTargetJSON once the HTTP executor defines
        // that JSON form; submissions refuse HTTP targets until then, so no job has one.
        return V1.Job(
            id: self.id.uuidString.lowercased(),
            tenantID: self.tenantID,
            spec: spec,
            state: V1.JobState(self.state),
            attempts: UInt32(clamping: self.attempts),
            createdAtUnixMs: self.createdAt.unixMilliseconds,
            dueAtUnixMs: self.dueAt?.unixMilliseconds ?? 0,
            startedAtUnixMs: self.startedAt?.unixMilliseconds ?? 0,
            finishedAtUnixMs: self.finishedAt?.unixMilliseconds ?? 0,
            lastError: self.lastError ?? "",
            resultJSON: self.resultJSON.map { Array($0.utf8) } ?? [],
            scheduleID: self.scheduleID ?? "",
            fireTimeUnixMs: self.fireTime?.unixMilliseconds ?? 0,
            cancelReason: self.cancelReason ?? "",
            traceparent: self.traceparent ?? "")
    }
}

extension JobAttempt {
    /// The finished attempt as the protocol carries it.
    var message: V1.Attempt {
        V1.Attempt(
            number: UInt32(clamping: self.number),
            outcome: V1.AttemptOutcome(self.outcome),
            startedAtUnixMs: self.startedAt.unixMilliseconds,
            finishedAtUnixMs: self.finishedAt.unixMilliseconds,
            workerID: self.workerID,
            errorMessage: self.errorMessage ?? "",
            httpStatus: UInt32(clamping: self.httpStatus ?? 0))
    }
}

extension RunningAttempt {
    /// The running attempt as the protocol carries it: no finish time yet.
    var message: V1.Attempt {
        V1.Attempt(
            number: UInt32(clamping: self.number),
            outcome: .running,
            startedAtUnixMs: self.startedAt.unixMilliseconds,
            workerID: self.workerID)
    }
}

extension V1.JobState {
    /// The protocol's name for a state of the core's job state machine.
    init(_ state: JobState) {
        switch state {
        case .pending: self = .pending
        case .running: self = .running
        case .retryWait: self = .retryWait
        case .succeeded: self = .succeeded
        case .dead: self = .dead
        case .cancelled: self = .cancelled
        }
    }
}

extension JobState {
    /// The core's state for a protocol state; `nil` for `UNSPECIFIED` and unknown numbers.
    init?(_ state: V1.JobState) {
        switch state {
        case .pending: self = .pending
        case .running: self = .running
        case .retryWait: self = .retryWait
        case .succeeded: self = .succeeded
        case .dead: self = .dead
        case .cancelled: self = .cancelled
        case .unspecified, .unrecognized: return nil
        }
    }
}

extension V1.AttemptOutcome {
    /// The protocol's name for how an attempt ended.
    init(_ outcome: AttemptOutcome) {
        switch outcome {
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .failedFinal: self = .failedFinal
        case .timedOut: self = .timedOut
        case .cancelled: self = .cancelled
        }
    }
}

extension Date {
    /// Whole milliseconds since the Unix epoch, rounded down, as `_unix_ms` fields carry them.
    var unixMilliseconds: Int64 {
        Int64((self.timeIntervalSince1970 * 1_000).rounded(.down))
    }
}
