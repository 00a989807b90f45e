/// How one attempt of a job ended.
///
/// The raw values are the outcomes the database records with each finished attempt.
public enum AttemptOutcome: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The worker reported success.
    case succeeded

    /// The worker reported a failure that may be retried.
    case failed

    /// The worker reported a failure and asked not to be retried.
    case failedFinal = "failed_final"

    /// The lease expired before the worker answered.
    case timedOut = "timed_out"

    /// The job was cancelled while the attempt ran.
    case cancelled

    /// The name the database records, such as `timed_out`.
    public var description: String {
        self.rawValue
    }
}
