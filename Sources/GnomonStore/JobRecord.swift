public import Foundation
public import GnomonCore

extension JobState {
    /// The states of `gnomon_jobs`.
    static let live: Set<JobState> = [.pending, .running, .retryWait]
    /// The states of `gnomon_job_history`.
    static let history: Set<JobState> = [.succeeded, .cancelled]
}

/// A job as a client sees it, wherever it is kept: live, in history or dead.
public struct JobRecord: Sendable, Hashable {
    public var id: UUID
    public var tenantID: String
    public var shard: Int
    public var queue: String
    public var jobType: String
    /// The payload: a JSON document, as PostgreSQL normalised it.
    public var payloadJSON: String
    public var labels: [String: String]
    public var state: JobState
    /// Attempts started so far.
    public var attempts: Int
    public var maxAttempts: Int
    public var priority: Int
    public var backoff: BackoffSettings
    public var attemptTimeoutMilliseconds: Int64
    public var idempotencyKey: String?
    /// The HTTP target as a JSON object, for jobs the server pushes.
    public var httpTargetJSON: String?
    public var createdAt: Date
    /// When the caller asked it to start.
    public var runAt: Date
    /// When it is next due; `nil` once finished.
    public var dueAt: Date?
    /// When its first attempt started.
    public var startedAt: Date?
    /// When it succeeded, was cancelled or died; `nil` while live.
    public var finishedAt: Date?
    /// The last failure's message.
    public var lastError: String?
    /// The successful attempt's result as JSON, if the worker reported one.
    public var resultJSON: String?
    public var scheduleID: String?
    public var fireTime: Date?
    /// Why it was cancelled, as the caller gave it.
    public var cancelReason: String?
    public var traceparent: String?

    /// Creates a record; every optional field defaults to absent.
    public init(
        id: UUID,
        tenantID: String,
        shard: Int,
        queue: String,
        jobType: String = "",
        payloadJSON: String = "null",
        labels: [String: String] = [:],
        state: JobState,
        attempts: Int = 0,
        maxAttempts: Int = 25,
        priority: Int = 0,
        backoff: BackoffSettings = BackoffSettings(),
        attemptTimeoutMilliseconds: Int64 = 300_000,
        idempotencyKey: String? = nil,
        httpTargetJSON: String? = nil,
        createdAt: Date,
        runAt: Date,
        dueAt: Date? = nil,
        startedAt: Date? = nil,
        finishedAt: Date? = nil,
        lastError: String? = nil,
        resultJSON: String? = nil,
        scheduleID: String? = nil,
        fireTime: Date? = nil,
        cancelReason: String? = nil,
        traceparent: String? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.shard = shard
        self.queue = queue
        self.jobType = jobType
        self.payloadJSON = payloadJSON
        self.labels = labels
        self.state = state
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.priority = priority
        self.backoff = backoff
        self.attemptTimeoutMilliseconds = attemptTimeoutMilliseconds
        self.idempotencyKey = idempotencyKey
        self.httpTargetJSON = httpTargetJSON
        self.createdAt = createdAt
        self.runAt = runAt
        self.dueAt = dueAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.lastError = lastError
        self.resultJSON = resultJSON
        self.scheduleID = scheduleID
        self.fireTime = fireTime
        self.cancelReason = cancelReason
        self.traceparent = traceparent
    }
}

/// A position in the job list's newest-first order: a job's creation time and id.
///
/// A job keeps both wherever it moves, so a position stays valid while jobs finish, die or
/// are retried. Its ``token`` is plain text; the server seals it before a client sees it.
public struct JobCursor: Sendable, Hashable {
    /// The job's creation time in whole microseconds since the Unix epoch, exact.
    public var createdAtMicroseconds: Int64
    public var id: UUID

    /// Creates a cursor at a job.
    public init(createdAtMicroseconds: Int64, id: UUID) {
        self.createdAtMicroseconds = createdAtMicroseconds
        self.id = id
    }

    /// Reads a cursor from its ``token``; `nil` for text that is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else {
            return nil
        }
        self.init(createdAtMicroseconds: micros, id: id)
    }

    /// The cursor as text: the microseconds, a dot, and the id.
    public var token: String {
        "\(self.createdAtMicroseconds).\(self.id.uuidString.lowercased())"
    }
}

/// Which jobs to list; every condition left empty or `nil` matches all.
public struct JobFilter: Sendable, Hashable {
    public var queue: String?
    /// Only jobs in these states; empty for every state.
    public var states: Set<JobState>
    /// Only jobs that carry every one of these labels with the value given.
    public var labels: [String: String]
    public var scheduleID: String?
    /// Only jobs created at or after this instant.
    public var createdFrom: Date?
    /// Only jobs created before this instant.
    public var createdBefore: Date?

    /// Creates a filter.
    public init(
        queue: String? = nil,
        states: Set<JobState> = [],
        labels: [String: String] = [:],
        scheduleID: String? = nil,
        createdFrom: Date? = nil,
        createdBefore: Date? = nil
    ) {
        self.queue = queue
        self.states = states
        self.labels = labels
        self.scheduleID = scheduleID
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
    }
}
