/// Something that happens to a job and may move it to another state.
///
/// Each case is named after what happened, not after the state it leads to: the state
/// machine decides the state from the event and the job as it was.
public enum JobEvent: Sendable, Hashable {
    /// A worker, or the server's HTTP executor, took a lease on the job for a new attempt.
    ///
    /// The attempt is counted here, when the lease is taken, and not when it ends: a job that
    /// kills its worker every time still uses up its attempts and reaches the dead-letter queue.
    case claimed

    /// The running attempt reported success.
    case completed

    /// The running attempt reported a failure.
    ///
    /// - Parameters:
    ///   - retryable: Whether another attempt may follow; `false` sends the job straight to the
    ///     dead-letter queue whatever attempts remain.
    ///   - message: What the worker or endpoint reported, kept as the job's last error.
    ///   - retryAfter: The least delay the worker or endpoint asked for before the retry, such as
    ///     an HTTP `Retry-After`; the backoff policy decides when `nil`.
    case failed(retryable: Bool, message: String, retryAfter: Duration? = nil)

    /// The running attempt's lease expired without a heartbeat or an answer.
    ///
    /// The worker is taken to have vanished, and the attempt to have failed in a way that may be
    /// retried.
    case leaseExpired

    /// An operator asked for the job to be cancelled.
    ///
    /// - Parameter reason: Why, as the operator gave it; kept with the job.
    case cancelRequested(reason: String)

    /// An operator asked for a dead, cancelled or waiting job to run again now.
    ///
    /// - Parameter resetAttempts: Whether to count attempts from zero again.
    case retryRequested(resetAttempts: Bool)

    /// An event without its details, for tables, logs and errors.
    public enum Kind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// ``JobEvent/claimed``.
        case claimed
        /// ``JobEvent/completed``.
        case completed
        /// ``JobEvent/failed(retryable:message:retryAfter:)``.
        case failed
        /// ``JobEvent/leaseExpired``.
        case leaseExpired = "lease_expired"
        /// ``JobEvent/cancelRequested(reason:)``.
        case cancelRequested = "cancel_requested"
        /// ``JobEvent/retryRequested(resetAttempts:)``.
        case retryRequested = "retry_requested"

        /// The name logs use, such as `lease_expired`.
        public var description: String {
            self.rawValue
        }
    }

    /// The kind of event this is, without its details.
    public var kind: Kind {
        switch self {
        case .claimed:
            return .claimed
        case .completed:
            return .completed
        case .failed:
            return .failed
        case .leaseExpired:
            return .leaseExpired
        case .cancelRequested:
            return .cancelRequested
        case .retryRequested:
            return .retryRequested
        }
    }
}
