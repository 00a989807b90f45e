/// Where a job is in its life, from submission to one of its three ends.
///
/// The raw values are the names the database and logs use. The first three are live: the job
/// sits in the live table and can still run. The last three are finished: the job has left the
/// live table for history (`succeeded`, `cancelled`) or for the dead-letter queue (`dead`).
public enum JobState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Waiting for its start time or for a worker to claim it.
    case pending

    /// An attempt holds a lease and is running.
    case running

    /// An attempt failed; the next one may be claimed once the backoff delay has passed.
    case retryWait = "retry_wait"

    /// An attempt succeeded.
    case succeeded

    /// Attempts ran out or one failed without retry: the job is in the dead-letter queue.
    case dead

    /// Cancelled before it finished.
    case cancelled

    /// Whether the job has left the live table and no attempt of it can start.
    ///
    /// A dead or cancelled job can still be brought back by a retry request.
    public var isFinished: Bool {
        switch self {
        case .pending, .running, .retryWait:
            return false
        case .succeeded, .dead, .cancelled:
            return true
        }
    }

    /// The name the database and logs use, such as `retry_wait`.
    public var description: String {
        self.rawValue
    }

    /// The state as the subject of a sentence, such as "a job waiting to retry".
    var subject: String {
        switch self {
        case .pending:
            return "a pending job"
        case .running:
            return "a running job"
        case .retryWait:
            return "a job waiting to retry"
        case .succeeded:
            return "a succeeded job"
        case .dead:
            return "a dead job"
        case .cancelled:
            return "a cancelled job"
        }
    }
}
