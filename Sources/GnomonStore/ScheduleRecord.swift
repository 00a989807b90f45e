public import Foundation

/// Everything about a schedule that its owner chooses, as the store keeps it.
///
/// The policies are kept by name (`skip`, `run_after`, `once`, `twice`, `latest`, `all`,
/// `allow`, `buffer_one`, `cancel_previous`), as the schema's checks accept them; the server
/// validates the expression, zone and job template before they get here.
public struct ScheduleDefinition: Sendable, Hashable {
    /// A cron expression, a macro such as `@daily`, or an interval such as `every 90s`.
    public var expression: String
    /// An IANA time zone.
    public var timeZone: String
    /// The job each fire creates, as a JSON object.
    public var jobTemplateJSON: String
    public var dstGapPolicy: String
    public var dstOverlapPolicy: String
    public var catchUpPolicy: String
    /// With the `all` catch-up policy, the most missed fires run.
    public var catchUpLimit: Int
    public var overlapPolicy: String
    /// The largest delay added to a fire, in milliseconds.
    public var jitterMilliseconds: Int64
    /// No fire before this instant.
    public var startAt: Date?
    /// No fire after this instant.
    public var endAt: Date?
    public var description: String
    public var labels: [String: String]

    /// Creates a definition; every parameter but the expression and template has the schema's default.
    public init(
        expression: String,
        timeZone: String = "UTC",
        jobTemplateJSON: String,
        dstGapPolicy: String = "run_after",
        dstOverlapPolicy: String = "once",
        catchUpPolicy: String = "latest",
        catchUpLimit: Int = 100,
        overlapPolicy: String = "skip",
        jitterMilliseconds: Int64 = 0,
        startAt: Date? = nil,
        endAt: Date? = nil,
        description: String = "",
        labels: [String: String] = [:]
    ) {
        self.expression = expression
        self.timeZone = timeZone
        self.jobTemplateJSON = jobTemplateJSON
        self.dstGapPolicy = dstGapPolicy
        self.dstOverlapPolicy = dstOverlapPolicy
        self.catchUpPolicy = catchUpPolicy
        self.catchUpLimit = catchUpLimit
        self.overlapPolicy = overlapPolicy
        self.jitterMilliseconds = jitterMilliseconds
        self.startAt = startAt
        self.endAt = endAt
        self.description = description
        self.labels = labels
    }
}

/// What a schedule did with its fire times so far.
public struct ScheduleCounts: Sendable, Hashable {
    /// Fires that started a job.
    public var fired: Int64
    /// Fires the overlap policy skipped because an earlier fire's job was unfinished, and
    /// buffered fires dropped by a pause.
    public var skipped: Int64
    /// Fire times missed while the schedule could not fire, dropped by the catch-up policy.
    public var missed: Int64
    /// Missed fire times run late by the catch-up policy.
    public var caughtUp: Int64

    /// Creates counts; all zero by default.
    public init(fired: Int64 = 0, skipped: Int64 = 0, missed: Int64 = 0, caughtUp: Int64 = 0) {
        self.fired = fired
        self.skipped = skipped
        self.missed = missed
        self.caughtUp = caughtUp
    }
}

/// A schedule as stored: its definition, whether it fires, and what it did.
public struct ScheduleRecord: Sendable, Hashable {
    public var tenantID: String
    public var scheduleID: String
    /// The shard whose loop fires it.
    public var shard: Int
    public var definition: ScheduleDefinition
    public var paused: Bool
    public var pauseReason: String
    /// The next fire time, policies applied; `nil` when paused or ended.
    public var nextFireAt: Date?
    public var lastFireAt: Date?
    /// The job the last fire created.
    public var lastJobID: UUID?
    /// Grows on every change; an update may name the revision it expects.
    public var revision: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var counts: ScheduleCounts
}
