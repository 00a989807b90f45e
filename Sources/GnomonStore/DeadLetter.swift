public import Foundation
public import GnomonCore

/// One finished attempt at running a job.
public struct JobAttempt: Sendable, Hashable {
    /// 1 for the first attempt.
    public var number: Int
    public var outcome: AttemptOutcome
    /// The worker that ran it; empty when none was recorded.
    public var workerID: String
    public var startedAt: Date
    public var finishedAt: Date
    /// What the worker or endpoint reported on failure.
    public var errorMessage: String?
    /// The HTTP status of a push attempt; `nil` for worker attempts.
    public var httpStatus: Int?

    /// Creates an attempt.
    public init(
        number: Int,
        outcome: AttemptOutcome,
        workerID: String = "",
        startedAt: Date,
        finishedAt: Date,
        errorMessage: String? = nil,
        httpStatus: Int? = nil
    ) {
        self.number = number
        self.outcome = outcome
        self.workerID = workerID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.errorMessage = errorMessage
        self.httpStatus = httpStatus
    }
}

/// A dead job, with the attempt that killed it.
public struct DeadLetter: Sendable, Hashable {
    /// The job, in state ``JobState/dead``.
    public var job: JobRecord
    public var lastAttempt: JobAttempt
    public var deadAt: Date
    /// When retention deletes it.
    public var expiresAt: Date

    /// Creates a dead letter.
    public init(job: JobRecord, lastAttempt: JobAttempt, deadAt: Date, expiresAt: Date) {
        self.job = job
        self.lastAttempt = lastAttempt
        self.deadAt = deadAt
        self.expiresAt = expiresAt
    }
}

/// A position in the dead-letter queue's newest-first order: a dead job's time of death
/// and id.
///
/// Its ``token`` is plain text; the server seals it before a client sees it.
public struct DeadLetterCursor: Sendable, Hashable {
    /// When the job died, in whole microseconds since the Unix epoch, exact.
    public var deadAtMicroseconds: Int64
    public var id: UUID

    /// Creates a cursor at a dead job.
    public init(deadAtMicroseconds: Int64, id: UUID) {
        self.deadAtMicroseconds = deadAtMicroseconds
        self.id = id
    }

    /// Reads a cursor from its ``token``; `nil` for text that is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else {
            return nil
        }
        self.init(deadAtMicroseconds: micros, id: id)
    }

    /// The cursor as text: the microseconds, a dot, and the id.
    public var token: String {
        "\(self.deadAtMicroseconds).\(self.id.uuidString.lowercased())"
    }
}

/// Which dead jobs to redrive; every condition given applies.
public struct DeadLetterSelection: Sendable, Hashable {
    /// Only these jobs; empty for every dead job that matches the other conditions.
    public var jobIDs: [UUID]
    public var queue: String?
    /// Only jobs that carry every one of these labels with the value given.
    public var labels: [String: String]

    /// Creates a selection; with no arguments it selects every dead job of the tenant.
    public init(jobIDs: [UUID] = [], queue: String? = nil, labels: [String: String] = [:]) {
        self.jobIDs = jobIDs
        self.queue = queue
        self.labels = labels
    }
}

/// What a redrive did.
public struct RedriveOutcome: Sendable, Hashable {
    /// The jobs that became pending again, oldest dead first.
    public var jobIDs: [UUID]
    /// Whether dead jobs matching the selection remain.
    public var more: Bool

    /// Creates an outcome.
    public init(jobIDs: [UUID], more: Bool) {
        self.jobIDs = jobIDs
        self.more = more
    }

    /// How many jobs became pending again.
    public var count: Int {
        self.jobIDs.count
    }
}
